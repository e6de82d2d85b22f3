//! Dtype conversion with PyTorch's rules (float to int truncates toward zero, nonzero is true,
//! float32 to bfloat16 rounds to nearest even). A cast between float dtypes is differentiable
//! (`ToCopyBackward0`): the gradient is cast back.

use half::bf16;

use crate::autograd::{record, Backward};
use crate::cpu::map_strided;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::copy;
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// This tensor in `dtype`; the tensor itself (no copy) when it already has that dtype.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let layout = self.layout();
        let out = match &*self.storage().read() {
            Storage::Cpu(s) => Storage::Cpu(cast_cpu(s, layout, dtype)?),
            Storage::Cuda(s) => Storage::Cuda(copy::cuda::strided("to", s, layout, dtype)?),
        };
        let out = Tensor::from_storage(out, self.shape());
        Ok(record(out, &[self], || ToCopyBackward {
            input: self.clone(),
        }))
    }

    /// For ops whose kernels are float32 only: runs `op` on a float32 copy of this bfloat16 tensor
    /// and rounds a float32 result back, as PyTorch computes bf16 elementwise ops in float32 and
    /// rounds once. Other dtypes go to `op` as they are.
    pub(crate) fn through_f32(&self, op: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        if self.dtype() != DType::BF16 {
            return op(self);
        }
        let out = op(&self.to_dtype(DType::F32)?)?;
        match out.dtype() {
            DType::F32 => out.to_dtype(DType::BF16),
            DType::BF16 | DType::I64 | DType::Bool => Ok(out),
        }
    }
}

fn cast_cpu(s: &CpuStorage, layout: &Layout, dtype: DType) -> Result<CpuStorage> {
    use CpuStorage as S;
    Ok(match (s, dtype) {
        (S::F32(x), DType::BF16) => S::BF16(map_strided("to", x, layout, bf16::from_f32)?),
        (S::F32(x), DType::I64) => S::I64(map_strided("to", x, layout, |v| v as i64)?),
        (S::F32(x), DType::Bool) => S::Bool(map_strided("to", x, layout, |v| v != 0.0)?),
        (S::BF16(x), DType::F32) => S::F32(map_strided("to", x, layout, bf16::to_f32)?),
        (S::BF16(x), DType::I64) => S::I64(map_strided("to", x, layout, |v| v.to_f32() as i64)?),
        (S::BF16(x), DType::Bool) => S::Bool(map_strided("to", x, layout, |v| v.to_f32() != 0.0)?),
        (S::I64(x), DType::F32) => S::F32(map_strided("to", x, layout, |v| v as f32)?),
        (S::I64(x), DType::BF16) => {
            S::BF16(map_strided("to", x, layout, |v| bf16::from_f32(v as f32))?)
        }
        (S::I64(x), DType::Bool) => S::Bool(map_strided("to", x, layout, |v| v != 0)?),
        (S::Bool(x), DType::F32) => S::F32(map_strided("to", x, layout, |v| v as u8 as f32)?),
        (S::Bool(x), DType::BF16) => S::BF16(map_strided("to", x, layout, |v| {
            bf16::from_f32(v as u8 as f32)
        })?),
        (S::Bool(x), DType::I64) => S::I64(map_strided("to", x, layout, |v| v as i64)?),
        // `to_dtype` returns early when the tensor already has the dtype.
        (same @ S::F32(_), DType::F32)
        | (same @ S::BF16(_), DType::BF16)
        | (same @ S::I64(_), DType::I64)
        | (same @ S::Bool(_), DType::Bool) => same.clone(),
    })
}

/// The gradient of a cast between float dtypes: cast back to the input's dtype.
struct ToCopyBackward {
    input: Tensor,
}

impl Backward for ToCopyBackward {
    fn name(&self) -> &'static str {
        "ToCopyBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.to_dtype(self.input.dtype())?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_device;

    test_device!(fn float_to_int_truncates_toward_zero(device) {
        let t = Tensor::from_f32(vec![1.9, -1.9, 0.0], &[3])
            .unwrap()
            .to_device(device)
            .unwrap();
        assert_eq!(
            t.to_dtype(DType::I64).unwrap().to_vec_i64().unwrap(),
            vec![1, -1, 0]
        );
        let b = t
            .to_dtype(DType::Bool)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        assert_eq!(b.to_vec_f32().unwrap(), vec![1.0, 1.0, 0.0]);
    });
}

#[cfg(test)]
mod bf16_tests {
    use super::*;
    use crate::testing::{leaf_on, test_device};
    use crate::BinaryOp;

    test_device!(fn float32_rounds_to_the_nearest_even_bfloat16(device) {
        // bf16 keeps 8 significant bits: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and
        // rounds to the even 1; 1 + 3 * 2^-8 lies halfway up from 1 + 2^-7 and rounds to 1 + 2^-6.
        let tie = 2f32.powi(-8);
        let x = Tensor::from_f32(
            vec![1.0 + tie, 1.0 + 3.0 * tie, -2.5, f32::MAX, f32::INFINITY, 1e-40],
            &[6],
        )
        .unwrap()
        .to_device(device)
        .unwrap();
        let h = x.to_dtype(DType::BF16).unwrap();
        assert_eq!(h.dtype(), DType::BF16);
        let back = h.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap();
        assert_eq!(back[..5], [1.0, 1.0 + 4.0 * tie, -2.5, f32::INFINITY, f32::INFINITY]);
        // Subnormals keep their upper bits, as PyTorch's conversion does.
        assert_eq!(back[5], bf16::from_f32(1e-40).to_f32());
        let nan = Tensor::from_f32(vec![f32::NAN], &[1]).unwrap().to_device(device).unwrap();
        assert!(nan.to_dtype(DType::BF16).unwrap().item().unwrap().is_nan());
        let ints = h.to_dtype(DType::I64).unwrap().to_vec_i64().unwrap();
        assert_eq!(ints[..3], [1, 1, -2]);
    });

    test_device!(fn float_casts_pass_gradients_back_in_the_input_dtype(device) {
        let x = leaf_on(&[3, 4], 1, device);
        let y = x.to_dtype(DType::BF16).unwrap();
        assert_eq!(y.grad_fn_name(), Some("ToCopyBackward0"));
        y.to_dtype(DType::F32).unwrap().sum(&[], false).unwrap().backward(None, false).unwrap();
        let g = x.grad().unwrap();
        assert_eq!(g.dtype(), DType::F32);
        assert_eq!(g.to_vec_f32().unwrap(), vec![1.0; 12]);
    });

    test_device!(fn bf16_elementwise_ops_compute_in_float32_and_round_once(device) {
        let a = Tensor::from_f32(vec![1.0, 3.0, -2.0], &[3]).unwrap().to_device(device).unwrap();
        let h = a.to_dtype(DType::BF16).unwrap();
        let third = h.binary_scalar(BinaryOp::Div, 3.0).unwrap();
        assert_eq!(third.dtype(), DType::BF16);
        assert_eq!(third.to_vec_f64().unwrap()[0], bf16::from_f32(1.0 / 3.0).to_f64());
        // bf16 with bf16 stays bf16; with float32 it promotes, as in PyTorch.
        assert_eq!(h.add(&h).unwrap().dtype(), DType::BF16);
        assert_eq!(h.add(&a).unwrap().dtype(), DType::F32);
        assert_eq!(h.binary(BinaryOp::Gt, &a).unwrap().dtype(), DType::Bool);
        assert_eq!(h.relu().unwrap().to_vec_f64().unwrap(), vec![1.0, 3.0, 0.0]);
        assert_eq!(h.sum(&[], false).unwrap().dtype(), DType::BF16);
        assert_eq!(h.exp().unwrap().dtype(), DType::BF16);
    });
}
