//! The bf16 kernels on CPU storages: each operand float32 or bf16 as it lies, each result in the
//! dtype the op asks for (the forward's bf16, a gradient in its input's dtype).

use half::bf16;

use super::Bf16Gemm;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::nn::conv::{ConvShape, OP};
use crate::storage::CpuStorage;

/// A float operand's elements.
#[derive(Clone, Copy)]
pub(crate) enum Floats<'a> {
    F32(&'a [f32]),
    Bf16(&'a [bf16]),
}

impl<'a> Floats<'a> {
    /// The elements of a contiguous float tensor.
    pub(crate) fn of(s: &'a CpuStorage, layout: &Layout) -> Result<Self> {
        Ok(match s {
            CpuStorage::F32(_) => Floats::F32(s.slice(OP, layout)?),
            CpuStorage::BF16(_) => Floats::Bf16(s.slice(OP, layout)?),
            CpuStorage::I64(_) | CpuStorage::Bool(_) => {
                return Err(Error::dtype(OP, "float32 or bfloat16 tensors", s.dtype()))
            }
        })
    }
}

/// `$body` with `$x` bound to the elements of `$floats`, whichever type they have.
macro_rules! with_floats {
    ($floats:expr, $x:ident => $body:expr) => {
        match $floats {
            Floats::F32($x) => $body,
            Floats::Bf16($x) => $body,
        }
    };
}

/// `$body` with `$y` the element type of `$dtype`, its result stored as that dtype.
macro_rules! into_dtype {
    ($dtype:expr, $y:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $y = f32;
                CpuStorage::F32($body)
            }
            DType::BF16 => {
                type $y = bf16;
                CpuStorage::BF16($body)
            }
            other @ (DType::I64 | DType::Bool) => {
                return Err(Error::dtype(OP, "float32 or bfloat16 tensors", other))
            }
        }
    };
}

/// The forward, giving bf16.
pub(crate) fn forward(s: &ConvShape, x: Floats, w: Floats, bias: Option<Floats>) -> CpuStorage {
    CpuStorage::BF16(with_floats!(x, x => with_floats!(w, w => match bias {
        None => super::forward::<_, _, f32, bf16>(&Bf16Gemm, s, x, w, None),
        Some(b) => with_floats!(b, b => super::forward(&Bf16Gemm, s, x, w, Some(b))),
    })))
}

/// The input's gradient, in `dtype` (the input's).
pub(crate) fn backward_input(
    s: &ConvShape,
    dy: Floats,
    w: Floats,
    dtype: DType,
) -> Result<CpuStorage> {
    Ok(
        into_dtype!(dtype, Y => with_floats!(dy, dy => with_floats!(w, w =>
        super::backward_input::<_, _, Y>(&Bf16Gemm, s, dy, w)))),
    )
}

/// The weight's gradient, in `dtype` (the weight's).
pub(crate) fn backward_weight(
    s: &ConvShape,
    x: Floats,
    dy: Floats,
    dtype: DType,
) -> Result<CpuStorage> {
    Ok(
        into_dtype!(dtype, Y => with_floats!(x, x => with_floats!(dy, dy =>
        super::backward_weight::<_, _, Y>(&Bf16Gemm, s, x, dy)))),
    )
}

/// The bias's gradient, in `dtype` (the bias's).
pub(crate) fn backward_bias(s: &ConvShape, dy: Floats, dtype: DType) -> Result<CpuStorage> {
    Ok(into_dtype!(dtype, Y => with_floats!(dy, dy => super::backward_bias::<_, Y>(s, dy))))
}
