//! In-place updates of a tensor's storage: parameter loading, optimizer steps and running
//! statistics. They are not recorded by autograd, so they refuse leaves that require grad
//! while grad mode is on, as PyTorch does.

use crate::autograd::is_grad_enabled;
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// How many in-place changes this tensor's storage has had (PyTorch's `_version`); views
    /// share the count.
    pub fn version(&self) -> u64 {
        self.storage().version()
    }

    /// Runs `f` on the elements of this float32 tensor in row-major order (a copy is made first
    /// when the tensor is not contiguous).
    pub fn read_f32<R>(&self, op: &'static str, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(op, "a float32 tensor", self.dtype()));
        }
        let t = self.contiguous()?;
        let storage = t.storage().read();
        let Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
            return Err(Error::Internal {
                op,
                detail: "float32 tensor without float32 storage".into(),
            });
        };
        let start = t.layout().offset();
        Ok(f(&data[start..start + t.numel()]))
    }

    /// Runs `f` on the elements of this contiguous float32 tensor, in place.
    pub fn write_f32<R>(&self, op: &'static str, f: impl FnOnce(&mut [f32]) -> R) -> Result<R> {
        self.check_writable(op)?;
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(op, "a float32 tensor", self.dtype()));
        }
        if !self.is_contiguous() {
            return Err(Error::invalid(
                op,
                "in-place updates need a contiguous tensor",
            ));
        }
        let mut storage = self.storage().write();
        let Storage::Cpu(CpuStorage::F32(data)) = &mut *storage else {
            return Err(Error::Internal {
                op,
                detail: "float32 tensor without float32 storage".into(),
            });
        };
        let start = self.layout().offset();
        Ok(f(&mut data[start..start + self.numel()]))
    }

    fn check_writable(&self, op: &'static str) -> Result<()> {
        if is_grad_enabled() && self.requires_grad() && self.is_leaf() {
            return Err(Error::invalid(op, "a leaf tensor that requires grad cannot be changed in place while grad mode is on; use noGrad()"));
        }
        Ok(())
    }

    /// Copies `src` (broadcast to this shape, converted to this dtype) into this tensor's storage.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        self.check_writable("copy_")?;
        self.same_device("copy_", src)?;
        if !self.is_contiguous() {
            return Err(Error::invalid(
                "copy_",
                "in-place updates need a contiguous tensor",
            ));
        }
        let shape: Vec<i64> = self.shape().iter().map(|&d| d as i64).collect();
        let values = src
            .detach()
            .to_dtype(self.dtype())?
            .expand(&shape)
            .map_err(|_| {
                Error::shape(
                    "copy_",
                    format!(
                        "source of shape {} cannot be broadcast to shape {}",
                        ShapeDisplay(src.shape()),
                        ShapeDisplay(self.shape())
                    ),
                )
            })?;
        let values = values.to_cpu_storage()?;
        let start = self.layout().offset();
        let end = start + self.numel();
        let mut storage = self.storage().write();
        let Storage::Cpu(dst) = &mut *storage;
        match (dst, values) {
            (CpuStorage::F32(d), CpuStorage::F32(v)) => d[start..end].copy_from_slice(&v),
            (CpuStorage::I64(d), CpuStorage::I64(v)) => d[start..end].copy_from_slice(&v),
            (CpuStorage::Bool(d), CpuStorage::Bool(v)) => d[start..end].copy_from_slice(&v),
            _ => {
                return Err(Error::Internal {
                    op: "copy_",
                    detail: "source was not converted to the destination dtype".into(),
                })
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::NoGradGuard;

    #[test]
    fn copies_with_broadcast_and_conversion_into_views_of_the_same_storage() {
        let dst = Tensor::from_f32(vec![0.0; 6], &[2, 3]).unwrap();
        let alias = dst.view(&[6]).unwrap();
        dst.copy_(&Tensor::from_i64(vec![1, 2, 3], &[3]).unwrap())
            .unwrap();
        assert_eq!(alias.to_vec_f32().unwrap(), vec![1., 2., 3., 1., 2., 3.]);
        assert_eq!(
            dst.copy_(&Tensor::from_f32(vec![1.0; 4], &[4]).unwrap())
                .unwrap_err()
                .code(),
            "ShapeMismatch"
        );
    }

    #[test]
    fn leaves_that_require_grad_change_only_under_no_grad() {
        let p = Tensor::from_f32(vec![1.0; 3], &[3]).unwrap();
        p.set_requires_grad(true).unwrap();
        assert_eq!(
            p.write_f32("step", |w| w[0] = 2.0).unwrap_err().code(),
            "InvalidArgument"
        );
        let _g = NoGradGuard::new();
        p.write_f32("step", |w| w[0] = 2.0).unwrap();
        assert_eq!(
            p.read_f32("read", |v| v.to_vec()).unwrap(),
            vec![2.0, 1.0, 1.0]
        );
    }
}
