//! Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`: the gradients
//! are changed in place. On the CPU one pass over every gradient computes the total norm and one
//! pass scales them; on a CUDA device the same arithmetic is composed from the tensor ops.

use crate::autograd::NoGradGuard;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::binary::BinaryOp;
use crate::storage::Storage;
use crate::tensor::Tensor;

/// PyTorch adds this to the total norm before dividing `max_norm` by it.
const NORM_EPS: f32 = 1e-6;

/// Scales every gradient by `min(1, max_norm / (total + 1e-6))`, where `total` is the
/// `norm_type`-norm of all gradients together (`f64::INFINITY`: the largest magnitude), and
/// returns `total` as a float32 scalar tensor on the gradients' device, like PyTorch. With
/// `error_if_nonfinite`, a NaN or infinite total is an error and nothing is scaled.
pub fn clip_grad_norm(
    grads: &[Tensor],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<Tensor> {
    const OP: &str = "clip_grad_norm";
    let _no_grad = NoGradGuard::new();
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::invalid(
            OP,
            format!("maxNorm must be a number >= 0, got {max_norm}"),
        ));
    }
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::invalid(
            OP,
            format!("normType must be a positive number or Infinity, got {norm_type}"),
        ));
    }
    let device = check_grads(OP, grads)?;
    let total = match device {
        Device::Cpu => Tensor::from_f32(vec![cpu_total_norm(OP, grads, norm_type)?], &[])?,
        Device::Cuda(_) => composed_total_norm(grads, norm_type)?,
    };
    let total_value = total.item()? as f32;
    if error_if_nonfinite && !total_value.is_finite() {
        return Err(Error::invalid(
            OP,
            format!("the total norm of order {norm_type} of the gradients is non-finite ({total_value}), so they cannot be clipped; pass errorIfNonfinite: false to scale them by it anyway"),
        ));
    }
    let coef = (max_norm as f32) / (total_value + NORM_EPS);
    // `f32::min` would turn a NaN coefficient into 1; PyTorch's clamp keeps it.
    let coef = if coef.is_nan() { coef } else { coef.min(1.0) };
    // Multiplying by 1 changes no value, NaN included.
    if coef != 1.0 {
        for grad in grads {
            scale(OP, grad, coef)?;
        }
    }
    Ok(total)
}

/// Clamps every gradient element into `[-clip_value, clip_value]`, like PyTorch's
/// `clip_grad_value_` (NaN stays NaN).
pub fn clip_grad_value(grads: &[Tensor], clip_value: f64) -> Result<()> {
    const OP: &str = "clip_grad_value";
    let _no_grad = NoGradGuard::new();
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::invalid(
            OP,
            format!("clipValue must be a number >= 0, got {clip_value}"),
        ));
    }
    check_grads(OP, grads)?;
    let bound = clip_value as f32;
    for grad in grads {
        let mut storage = grad.storage().write();
        match &mut *storage {
            Storage::Cpu(s) => super::cpu::clamp(s.slice_mut(OP, grad.layout())?, bound),
            Storage::Cuda(_) => {
                drop(storage);
                let clamped = grad
                    .binary_scalar(BinaryOp::Minimum, clip_value)?
                    .binary_scalar(BinaryOp::Maximum, -clip_value)?;
                grad.copy_(&clamped)?;
            }
        }
    }
    Ok(())
}

/// Every gradient must be a contiguous float32 tensor that can be written in place, all on one
/// device; gives that device (the CPU for an empty list).
fn check_grads(op: &'static str, grads: &[Tensor]) -> Result<Device> {
    let device = grads.first().map_or(Device::Cpu, Tensor::device);
    for grad in grads {
        if grad.dtype() != DType::F32 {
            return Err(Error::dtype(op, "float32 gradients", grad.dtype()));
        }
        if grad.device() != device {
            return Err(Error::DeviceMismatch {
                op,
                expected: device.to_string(),
                got: grad.device().to_string(),
            });
        }
        grad.check_in_place::<f32>(op)?;
    }
    Ok(device)
}

/// The norm of all CPU gradients together, summed in float64 and rounded to float32.
fn cpu_total_norm(op: &'static str, grads: &[Tensor], norm_type: f64) -> Result<f32> {
    let mut accumulated = 0.0f64;
    for grad in grads {
        let storage = grad.storage().read();
        let Storage::Cpu(s) = &*storage else {
            unreachable!("check_grads put every gradient on the CPU")
        };
        let values = s.slice::<f32>(op, grad.layout())?;
        let part = super::cpu::norm_part(values, norm_type);
        accumulated = if norm_type.is_infinite() {
            // NaN wins, as in PyTorch's max.
            if part.is_nan() || accumulated.is_nan() {
                f64::NAN
            } else {
                accumulated.max(part)
            }
        } else {
            accumulated + part
        };
    }
    let total = if norm_type.is_infinite() {
        accumulated
    } else {
        accumulated.powf(1.0 / norm_type)
    };
    Ok(total as f32)
}

/// The norm of all gradients on one CUDA device, from the tensor ops (a scalar on that device).
fn composed_total_norm(grads: &[Tensor], norm_type: f64) -> Result<Tensor> {
    let device = grads[0].device();
    let mut accumulated = Tensor::zeros(&[], DType::F32, device)?;
    for grad in grads {
        let magnitude = grad.abs()?;
        accumulated = if norm_type.is_infinite() {
            accumulated.maximum(&magnitude.max()?)?
        } else {
            let powered = if norm_type == 2.0 {
                magnitude.mul(&magnitude)?
            } else {
                magnitude.binary_scalar(BinaryOp::Pow, norm_type)?
            };
            accumulated.add(&powered.sum(&[], false)?)?
        };
    }
    if norm_type.is_infinite() {
        Ok(accumulated)
    } else {
        accumulated.binary_scalar(BinaryOp::Pow, 1.0 / norm_type)
    }
}

/// Multiplies `grad` by `coef` in place.
fn scale(op: &'static str, grad: &Tensor, coef: f32) -> Result<()> {
    let mut storage = grad.storage().write();
    match &mut *storage {
        Storage::Cpu(s) => {
            super::cpu::scale(s.slice_mut(op, grad.layout())?, coef);
            Ok(())
        }
        Storage::Cuda(_) => {
            drop(storage);
            grad.copy_(&grad.binary_scalar(BinaryOp::Mul, coef as f64)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_same_values, cuda_test, values};

    fn grads() -> Vec<Tensor> {
        vec![
            Tensor::from_f32(vec![3.0, -4.0], &[2]).unwrap(),
            Tensor::from_f32(vec![12.0], &[1, 1]).unwrap(),
        ]
    }

    #[test]
    fn the_total_norm_is_over_all_gradients_and_scales_them() {
        let g = grads();
        let total = clip_grad_norm(&g, 6.5, 2.0, false).unwrap();
        assert_eq!(total.item().unwrap(), 13.0);
        let coef = 6.5f32 / (13.0 + NORM_EPS);
        assert_eq!(g[0].to_vec_f32().unwrap(), vec![3.0 * coef, -4.0 * coef]);
        assert_eq!(g[1].to_vec_f32().unwrap(), vec![12.0 * coef]);

        // Under the limit, nothing changes; p = 1 and the largest magnitude.
        let g = grads();
        assert_eq!(
            clip_grad_norm(&g, 100.0, 1.0, false)
                .unwrap()
                .item()
                .unwrap(),
            19.0
        );
        assert_eq!(g[0].to_vec_f32().unwrap(), vec![3.0, -4.0]);
        let g = grads();
        let total = clip_grad_norm(&g, 6.0, f64::INFINITY, false).unwrap();
        assert_eq!(total.item().unwrap(), 12.0);
        assert_eq!(
            g[1].to_vec_f32().unwrap(),
            vec![12.0 * (6.0 / (12.0 + NORM_EPS))]
        );
        // p = 3: (27 + 64 + 1728)^(1/3).
        let total = clip_grad_norm(&grads(), 1e9, 3.0, false).unwrap();
        assert!((total.item().unwrap() - 1819f64.cbrt()).abs() < 1e-5);
        assert_eq!(
            clip_grad_norm(&[], 1.0, 2.0, false)
                .unwrap()
                .item()
                .unwrap(),
            0.0
        );
    }

    #[test]
    fn a_non_finite_norm_is_an_error_only_when_asked() {
        let g = vec![Tensor::from_f32(vec![f32::NAN, 1.0], &[2]).unwrap()];
        let err = clip_grad_norm(&g, 1.0, 2.0, true).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert!(err.to_string().contains("non-finite"), "{err}");
        assert_eq!(g[0].to_vec_f32().unwrap()[1], 1.0);
        // As PyTorch: the NaN coefficient reaches every element.
        assert!(clip_grad_norm(&g, 1.0, 2.0, false)
            .unwrap()
            .item()
            .unwrap()
            .is_nan());
        assert!(g[0].to_vec_f32().unwrap().iter().all(|x| x.is_nan()));
        let err = clip_grad_norm(&grads(), 1.0, 0.0, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("normType must be a positive number"),
            "{err}"
        );
    }

    #[test]
    fn clip_grad_value_clamps_and_keeps_nan() {
        let g = vec![Tensor::from_f32(vec![-3.0, 0.5, 2.0, f32::NAN], &[4]).unwrap()];
        clip_grad_value(&g, 1.0).unwrap();
        let v = g[0].to_vec_f32().unwrap();
        assert_eq!(&v[..3], &[-1.0, 0.5, 1.0]);
        assert!(v[3].is_nan());
        let bad = [Tensor::from_i64(vec![1], &[1]).unwrap()];
        assert_eq!(
            clip_grad_value(&bad, 1.0).unwrap_err().code(),
            "DTypeMismatch"
        );
    }

    cuda_test!(fn clipping_on_a_device_matches_the_cpu(device) {
        let lens = [7usize, 1031, 40_000];
        let make = |device: Device| -> Vec<Tensor> {
            lens.iter()
                .map(|&n| Tensor::from_f32(values(n, n as u64), &[n]).unwrap().to_device(device).unwrap())
                .collect()
        };
        for norm_type in [2.0, 1.0, 3.0, f64::INFINITY] {
            let (cpu, on_device) = (make(Device::Cpu), make(device));
            let want = clip_grad_norm(&cpu, 0.5, norm_type, false).unwrap();
            let got = clip_grad_norm(&on_device, 0.5, norm_type, false).unwrap();
            assert_same_values(&got, &want, 1e-5);
            for (g, w) in on_device.iter().zip(&cpu) {
                assert_same_values(g, w, 1e-5);
            }
        }
        let (cpu, on_device) = (make(Device::Cpu), make(device));
        clip_grad_value(&cpu, 0.3).unwrap();
        clip_grad_value(&on_device, 0.3).unwrap();
        for (g, w) in on_device.iter().zip(&cpu) {
            assert_same_values(g, w, 0.0);
        }
    });
}
