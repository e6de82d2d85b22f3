//! Dtype conversion with PyTorch's rules (float to int truncates toward zero, nonzero is true).

use crate::cpu::map_strided;
use crate::dtype::DType;
use crate::error::Result;
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
            Storage::Cpu(s) => Storage::Cpu(match (s, dtype) {
                (CpuStorage::F32(x), DType::I64) => {
                    CpuStorage::I64(map_strided("to", x, layout, |v| v as i64)?)
                }
                (CpuStorage::F32(x), DType::Bool) => {
                    CpuStorage::Bool(map_strided("to", x, layout, |v| v != 0.0)?)
                }
                (CpuStorage::I64(x), DType::F32) => {
                    CpuStorage::F32(map_strided("to", x, layout, |v| v as f32)?)
                }
                (CpuStorage::I64(x), DType::Bool) => {
                    CpuStorage::Bool(map_strided("to", x, layout, |v| v != 0)?)
                }
                (CpuStorage::Bool(x), DType::F32) => {
                    CpuStorage::F32(map_strided("to", x, layout, |v| v as u8 as f32)?)
                }
                (CpuStorage::Bool(x), DType::I64) => {
                    CpuStorage::I64(map_strided("to", x, layout, |v| v as i64)?)
                }
                // Returned early above: the tensor already has the dtype.
                (same @ CpuStorage::F32(_), DType::F32)
                | (same @ CpuStorage::I64(_), DType::I64)
                | (same @ CpuStorage::Bool(_), DType::Bool) => same.clone(),
            }),
            Storage::Cuda(s) => Storage::Cuda(copy::cuda::strided("to", s, layout, dtype)?),
        };
        Ok(Tensor::from_storage(out, self.shape()))
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
