//! `dropout`: in training, each element is zeroed with probability `p` and the others are scaled
//! by `1 / (1 - p)`, as PyTorch's CPU `dropout` does: a mask drawn from the seeded generator,
//! multiplied in, so the gradient (`MulBackward0`, as in PyTorch on the CPU) is the same mask.

use rand::Rng;

use crate::alloc;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::layout::checked_numel;
use crate::random::with_generator;
use crate::tensor::Tensor;

const OP: &str = "dropout";

impl Tensor {
    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)` when
    /// `training`; otherwise (or with `p == 0`) returns `self` unchanged, as PyTorch does.
    pub fn dropout(&self, p: f64, training: bool) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                OP,
                format!("dropout probability has to be between 0 and 1, but got {p}"),
            ));
        }
        if !training || p == 0.0 || self.numel() == 0 {
            return Ok(self.clone());
        }
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                OP,
                "a float32 or bfloat16 tensor",
                self.dtype(),
            ));
        }
        // PyTorch multiplies by a zero scalar rather than by a mask of 1 / 0 = inf.
        let mask = if p == 1.0 {
            Tensor::zeros(&[], self.dtype(), self.device())?
        } else {
            keep_mask(self.shape(), 1.0 - p, self.device())?.to_dtype(self.dtype())?
        };
        self.mul(&mask)
    }
}

/// `1 / keep` with probability `keep` and 0 otherwise, for each element of `shape`, drawn on the
/// host from the seeded generator (as `rand` is) and moved to `device`.
fn keep_mask(shape: &[usize], keep: f64, device: Device) -> Result<Tensor> {
    device.ensure_available(OP)?;
    let n = checked_numel(OP, shape)?;
    // As PyTorch's `bernoulli_(keep)` then `div_(keep)` in float32.
    let (threshold, scale) = (keep as f32, 1.0 / keep as f32);
    let data = with_generator(|g| {
        alloc::collect(
            OP,
            n,
            std::iter::repeat_with(|| {
                if g.random::<f32>() < threshold {
                    scale
                } else {
                    0.0
                }
            }),
        )
    })?;
    Tensor::from_f32(data, shape)?.to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::testing::{floats, test_device, values};

    test_device!(fn training_zeroes_about_p_and_scales_the_rest_with_the_same_gradient(device) {
        let n = 4000;
        let data: Vec<f32> = values(n, 3).iter().map(|v| v + 2.0).collect();
        let x = floats(data.clone(), &[40, 100], device);
        x.set_requires_grad(true).unwrap();
        let y = x.dropout(0.25, true).unwrap();
        assert_eq!(y.grad_fn_name(), Some("MulBackward0"));
        let out = y.to_vec_f32().unwrap();
        let scale = 1.0 / 0.75f32;
        let mut dropped = 0;
        for (o, v) in out.iter().zip(&data) {
            if *o == 0.0 {
                dropped += 1;
            } else {
                assert_eq!(*o, v * scale);
            }
        }
        // 1000 expected; 4.5 standard deviations (27.4) either side.
        assert!((877..=1123).contains(&dropped), "{dropped} of {n} dropped");
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        let grad = x.grad().unwrap().to_vec_f32().unwrap();
        for (g, o) in grad.iter().zip(&out) {
            assert_eq!(*g, if *o == 0.0 { 0.0 } else { scale });
        }
    });

    test_device!(fn evaluation_and_p_zero_return_the_input_and_p_one_zeroes(device) {
        let x = floats(vec![1.0, -2.0, 3.0], &[3], device);
        x.set_requires_grad(true).unwrap();
        for y in [x.dropout(0.5, false).unwrap(), x.dropout(0.0, true).unwrap()] {
            assert!(y.shares_storage(&x));
            assert_eq!(y.grad_fn_name(), None);
        }
        let y = x.dropout(1.0, true).unwrap();
        assert_eq!(y.to_vec_f32().unwrap(), vec![0.0, 0.0, 0.0]);
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        assert_eq!(x.grad().unwrap().to_vec_f32().unwrap(), vec![0.0, 0.0, 0.0]);
        let bf = x.to_dtype(DType::BF16).unwrap().dropout(0.5, true).unwrap();
        assert_eq!(bf.dtype(), DType::BF16);
        assert!(bf
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec_f32()
            .unwrap()
            .iter()
            .zip([1.0, -2.0, 3.0])
            .all(|(o, v)| *o == 0.0 || *o == 2.0 * v));
    });

    test_device!(fn dropout_errors_have_codes(device) {
        let x = floats(vec![1.0, 2.0], &[2], device);
        for p in [-0.1, 1.5, f64::NAN] {
            let err = x.dropout(p, true).unwrap_err();
            assert_eq!(err.code(), "InvalidArgument");
            assert!(err.to_string().contains("between 0 and 1"), "{err}");
        }
        let ints = Tensor::ones(&[2], DType::I64, device).unwrap();
        assert_eq!(ints.dropout(0.5, true).unwrap_err().code(), "DTypeMismatch");
        assert!(ints.dropout(0.5, false).is_ok());
    });
}
