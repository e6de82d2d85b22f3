//! The CUDA kernels of the unary ops (`unary.cu`): a strided input into a dense output.

use super::UnaryOp;
use crate::cuda::{self, CudaStorage, LaunchConfig, Module};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::copy::cuda::{base, kernel_strides, tag};

pub(crate) static MODULE: Module = Module::new("unary", include_str!("unary.cu"));

/// `op` over every element of `input` viewed through `layout`, which was converted to the op's
/// kernel dtype (see `compute_dtype`): float32 for every op, int64 for neg and abs.
pub(super) fn unary(op: UnaryOp, input: &CudaStorage, layout: &Layout) -> Result<CudaStorage> {
    let name = op.name();
    match (input.dtype(), op) {
        (DType::F32, _) | (DType::I64, UnaryOp::Neg | UnaryOp::Abs) => {}
        (DType::I64, UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sqrt) | (DType::Bool, _) => {
            return Err(Error::Internal {
                op: name,
                detail: "input was not converted to a kernel dtype".into(),
            })
        }
    }
    let n = layout.numel();
    let out = CudaStorage::alloc_dtype(input.device(), input.dtype(), n)?;
    if n == 0 {
        return Ok(out);
    }
    let [strides] = kernel_strides(name, layout.shape(), [(layout, input.len())])?;
    let (x, y, count) = (base(name, input)?, base(name, &out)?, n as i64);
    let kernel = format!("unary_{name}_{}", tag(input.dtype()));
    // SAFETY: `unary_<op>_<dtype>(const T*, Strides, T*, long long)` matches the arguments; `x`
    // is the base of the live input, whose view `kernel_strides` checked lies inside it, and `y`
    // a fresh storage of `n` elements of the same dtype. Queued after the input's writers.
    unsafe {
        input.device().launch(
            name,
            &MODULE,
            &kernel,
            LaunchConfig::elementwise(n),
            &mut cuda::args![x, strides, y, count],
        )?;
    }
    Ok(out)
}
