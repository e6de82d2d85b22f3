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
        (DType::I64, UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sqrt)
        | (DType::BF16 | DType::Bool, _) => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::binary::BinaryOp;
    use crate::ops::copy::cases::{assert_same_gradients, cases_of, SHAPES};
    use crate::testing::{assert_same_values, cuda_test};
    use crate::Tensor;

    const OPS: [UnaryOp; 5] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
    ];

    cuda_test!(fn cuda_unary_ops_match_the_cpu_on_every_dtype_and_layout(device) {
        for shape in SHAPES {
            for dtype in [DType::F32, DType::I64, DType::Bool] {
                for case in cases_of(dtype, shape, 1, device) {
                    for op in OPS {
                        let want = case.cpu.unary(op);
                        let got = case.dev.unary(op);
                        let what = format!("{} of {dtype} {shape:?} ({})", op.name(), case.layout);
                        match (got, want) {
                            (Ok(got), Ok(want)) => assert_same_values(&got, &want, 1e-5),
                            (Err(got), Err(want)) => assert_eq!(got.to_string(), want.to_string(), "{what}"),
                            (got, want) => panic!("{what}: {got:?} on the device, {want:?} on the CPU"),
                        }
                    }
                }
            }
        }
        let specials = Tensor::from_f32(
            vec![0.0, -0.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 88.0, -104.0, 1e-38],
            &[9],
        )
        .unwrap();
        let ints = Tensor::from_i64(vec![i64::MIN, i64::MAX, -1, 0], &[4]).unwrap();
        for host in [specials, ints] {
            for op in OPS {
                let got = host.to_device(device).unwrap().unary(op).unwrap();
                assert_same_values(&got, &host.unary(op).unwrap(), 1e-5);
            }
        }
    });

    cuda_test!(fn cuda_unary_gradients_match_the_cpu(device) {
        for op in OPS {
            assert_same_gradients(&[&[7, 5]], device, |x| {
                // Away from 0, where abs has a kink and log and sqrt are not defined.
                let positive = x[0].abs()?.binary_scalar(BinaryOp::Add, 0.2)?;
                let input = if matches!(op, UnaryOp::Log | UnaryOp::Sqrt) { positive } else { x[0].clone() };
                input.transpose(0, 1)?.unary(op)
            });
        }
    });
}
