//! In-place updates of a tensor's storage: parameter loading, optimizer steps and running
//! statistics. They are not recorded by autograd, so they refuse leaves that require grad
//! while grad mode is on, as PyTorch does.

use half::bf16;

use crate::autograd::is_grad_enabled;
use crate::error::{Error, Result, ShapeDisplay};
use crate::ops::copy;
use crate::storage::{mismatch, CpuElement, CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// How many in-place changes this tensor's storage has had (PyTorch's `_version`); views
    /// share the count.
    pub fn version(&self) -> u64 {
        self.storage().version()
    }

    /// Fails unless this tensor can be written in place as `T`: not a leaf that requires grad
    /// while grad mode is on, of `T`'s dtype, and contiguous. Call it before taking the storage's
    /// write guard, which counts as a new version.
    pub(crate) fn check_in_place<T: CpuElement>(&self, op: &'static str) -> Result<()> {
        self.check_writable(op)?;
        if self.dtype() != T::DTYPE {
            return Err(Error::dtype(
                op,
                format!("a {} tensor", T::DTYPE),
                self.dtype(),
            ));
        }
        self.check_contiguous_for_writing(op)
    }

    fn check_contiguous_for_writing(&self, op: &'static str) -> Result<()> {
        if !self.is_contiguous() {
            return Err(Error::invalid(
                op,
                "in-place updates need a contiguous tensor",
            ));
        }
        Ok(())
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
        self.check_contiguous_for_writing("copy_")?;
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
        // Reading and writing one storage would take both of its guards: such a source is
        // copied first (it may overlap the destination anyway).
        let values = if values.shares_storage(self) {
            values.copy()?
        } else {
            values.contiguous()?
        };
        let source = values.storage().read();
        let mut destination = self.storage().write();
        match (&*source, &mut *destination) {
            (Storage::Cpu(src), Storage::Cpu(dst)) => match dst {
                CpuStorage::F32(_) => copy_elements::<f32>(src, &values, dst, self),
                CpuStorage::BF16(_) => copy_elements::<bf16>(src, &values, dst, self),
                CpuStorage::I64(_) => copy_elements::<i64>(src, &values, dst, self),
                CpuStorage::Bool(_) => copy_elements::<bool>(src, &values, dst, self),
            },
            (Storage::Cuda(src), Storage::Cuda(dst)) => {
                copy::cuda::copy_into("copy_", src, values.layout(), dst, self.layout())
            }
            (Storage::Cpu(_), Storage::Cuda(_)) | (Storage::Cuda(_), Storage::Cpu(_)) => {
                Err(mismatch("copy_", &source, &destination))
            }
        }
    }
}

/// Copies the contiguous `src_tensor`'s elements over `dst_tensor`'s (same shape and dtype).
fn copy_elements<T: CpuElement>(
    src: &CpuStorage,
    src_tensor: &Tensor,
    dst: &mut CpuStorage,
    dst_tensor: &Tensor,
) -> Result<()> {
    let values = src.slice::<T>("copy_", src_tensor.layout())?;
    dst.slice_mut::<T>("copy_", dst_tensor.layout())?
        .copy_from_slice(values);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::NoGradGuard;
    use crate::device::Device;
    use crate::dtype::DType;
    use crate::testing::{leaf_on, tensor, test_device, values};

    test_device!(fn copies_with_broadcast_and_conversion_into_views_of_the_same_storage(device) {
        let dst = Tensor::zeros(&[2, 3], DType::F32, device).unwrap();
        let alias = dst.view(&[6]).unwrap();
        let src = Tensor::from_i64(vec![1, 2, 3], &[3])
            .unwrap()
            .to_device(device)
            .unwrap();
        dst.copy_(&src).unwrap();
        assert_eq!(alias.to_vec_f32().unwrap(), vec![1., 2., 3., 1., 2., 3.]);
        let four = Tensor::ones(&[4], DType::F32, device).unwrap();
        assert_eq!(dst.copy_(&four).unwrap_err().code(), "ShapeMismatch");
    });

    test_device!(fn copies_from_its_own_storage(device) {
        let x = tensor(&[3, 3], 1, device);
        let before = x.to_vec_f32().unwrap();
        x.copy_(&x.transpose(0, 1).unwrap()).unwrap();
        let want: Vec<f32> = (0..9).map(|i| before[(i % 3) * 3 + i / 3]).collect();
        assert_eq!(x.to_vec_f32().unwrap(), want);
        // A contiguous view of the destination itself.
        x.copy_(&x.view(&[3, 3]).unwrap()).unwrap();
        assert_eq!(x.to_vec_f32().unwrap(), want);
        assert_eq!(x.version(), 2);
    });

    test_device!(fn strided_destinations_are_refused(device) {
        let x = tensor(&[2, 3], 2, device);
        let err = x
            .transpose(0, 1)
            .unwrap()
            .copy_(&x.transpose(0, 1).unwrap());
        assert_eq!(err.unwrap_err().code(), "InvalidArgument");
        assert_eq!(x.version(), 0);
    });

    test_device!(fn leaves_that_require_grad_change_only_under_no_grad(device) {
        let p = leaf_on(&[3], 3, device);
        let two = Tensor::full(&[1], 2.0, DType::F32, device).unwrap();
        assert_eq!(p.copy_(&two).unwrap_err().code(), "InvalidArgument");
        assert_eq!(p.to_vec_f32().unwrap(), values(3, 3));
        let _g = NoGradGuard::new();
        p.copy_(&two).unwrap();
        assert_eq!(p.to_vec_f32().unwrap(), vec![2.0; 3]);
    });

    #[test]
    fn in_place_checks_come_in_order() {
        let p = leaf_on(&[2, 2], 4, Device::Cpu);
        assert_eq!(
            p.check_in_place::<f32>("step").unwrap_err().code(),
            "InvalidArgument"
        );
        let _g = NoGradGuard::new();
        p.check_in_place::<f32>("step").unwrap();
        let err = p.check_in_place::<bool>("step").unwrap_err();
        assert_eq!(err.to_string(), "step: expected a bool tensor, got float32");
        let err = p
            .transpose(0, 1)
            .unwrap()
            .check_in_place::<f32>("step")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "step: in-place updates need a contiguous tensor"
        );
    }
}
