//! Tensors made from nothing: constants, ranges and random draws. Constants are filled where
//! they live; ranges and draws are made on the host and copied to the device asked for, so one
//! seed draws the same values on every device.

use half::bf16;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::alloc;
use crate::cuda::CudaDevice;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::checked_numel;
use crate::random::with_generator;
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// Every element set to `value` (converted to `dtype`).
    pub fn full(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Tensor> {
        Self::filled("full", shape, value, dtype, device)
    }

    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Self::filled("zeros", shape, 0.0, dtype, device)
    }

    pub fn ones(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Self::filled("ones", shape, 1.0, dtype, device)
    }

    fn filled(
        op: &'static str,
        shape: &[usize],
        value: f64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        device.ensure_available(op)?;
        let n = checked_numel(op, shape)?;
        let storage = match device {
            Device::Cpu => Storage::Cpu(match dtype {
                DType::F32 => CpuStorage::F32(alloc::filled(op, n, value as f32)?),
                DType::BF16 => {
                    CpuStorage::BF16(alloc::filled(op, n, bf16::from_f32(value as f32))?)
                }
                DType::I64 => CpuStorage::I64(alloc::filled(op, n, value as i64)?),
                DType::Bool => CpuStorage::Bool(alloc::filled(op, n, value != 0.0)?),
            }),
            // Filled on the device: no host buffer, no upload.
            Device::Cuda(index) => {
                let gpu = CudaDevice::get(index)
                    .map_err(|detail| Error::DeviceUnavailable { op, detail })?;
                Storage::Cuda(crate::ops::copy::cuda::filled(op, &gpu, value, dtype, n)?)
            }
        };
        Ok(Tensor::from_storage(storage, shape))
    }

    /// `start, start + step, ...` up to but excluding `end`, computed in f64 as PyTorch does.
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType, device: Device) -> Result<Tensor> {
        device.ensure_available("arange")?;
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                format!(
                    "expected finite start, end and a nonzero step, got {start}, {end}, {step}"
                ),
            ));
        }
        if (end - start) * step < 0.0 {
            return Err(Error::invalid("arange", format!("upper bound and step sign are inconsistent (start {start}, end {end}, step {step})")));
        }
        // Saturates beyond usize, which the allocation limit then refuses.
        let n = ((end - start) / step).ceil() as usize;
        let values = (0..n).map(|i| start + i as f64 * step);
        let data = match dtype {
            DType::F32 => CpuStorage::F32(alloc::collect("arange", n, values.map(|v| v as f32))?),
            DType::BF16 => CpuStorage::BF16(alloc::collect(
                "arange",
                n,
                values.map(|v| bf16::from_f32(v as f32)),
            )?),
            DType::I64 => CpuStorage::I64(alloc::collect("arange", n, values.map(|v| v as i64))?),
            DType::Bool => return Err(Error::dtype("arange", "float32 or int64", "bool")),
        };
        Tensor::from_cpu(data, &[n])?.to_device(device)
    }

    /// Uniform draws from [0, 1).
    pub fn rand(shape: &[usize], device: Device) -> Result<Tensor> {
        device.ensure_available("rand")?;
        let n = checked_numel("rand", shape)?;
        let data = with_generator(|g| {
            alloc::collect("rand", n, std::iter::repeat_with(|| g.random::<f32>()))
        })?;
        Tensor::from_f32(data, shape)?.to_device(device)
    }

    /// Standard normal draws.
    pub fn randn(shape: &[usize], device: Device) -> Result<Tensor> {
        device.ensure_available("randn")?;
        let n = checked_numel("randn", shape)?;
        let data = with_generator(|g| {
            alloc::collect(
                "randn",
                n,
                std::iter::repeat_with(|| StandardNormal.sample(g)),
            )
        })?;
        Tensor::from_f32(data, shape)?.to_device(device)
    }

    /// Uniform integers from [low, high), as int64.
    pub fn randint(low: i64, high: i64, shape: &[usize], device: Device) -> Result<Tensor> {
        device.ensure_available("randint")?;
        if low >= high {
            return Err(Error::invalid(
                "randint",
                format!("expected low < high, got low {low} and high {high}"),
            ));
        }
        let n = checked_numel("randint", shape)?;
        let data = with_generator(|g| {
            alloc::collect(
                "randint",
                n,
                std::iter::repeat_with(|| g.random_range(low..high)),
            )
        })?;
        Tensor::from_i64(data, shape)?.to_device(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::manual_seed;
    use crate::testing::test_device;

    test_device!(fn arange_counts_like_pytorch(device) {
        let t = Tensor::arange(0.0, 1.0, 0.3, DType::F32, device).unwrap();
        assert_eq!(t.shape(), &[4]);
        let i = Tensor::arange(5.0, 0.0, -2.0, DType::I64, device).unwrap();
        assert_eq!(i.to_vec_i64().unwrap(), vec![5, 3, 1]);
        assert_eq!(
            Tensor::arange(0.0, 1.0, -1.0, DType::F32, device)
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
    });

    test_device!(fn seeding_makes_draws_repeat(device) {
        manual_seed(7);
        let a = Tensor::randn(&[64], device).unwrap().to_vec_f32().unwrap();
        manual_seed(7);
        let b = Tensor::randn(&[64], device).unwrap().to_vec_f32().unwrap();
        assert_eq!(a, b);
        let mean = a.iter().sum::<f32>() / 64.0;
        assert!(mean.abs() < 0.5, "mean of 64 normal draws was {mean}");
    });

    test_device!(fn huge_requests_are_errors_before_any_work(device) {
        let huge = 1usize << 32;
        let err = Tensor::ones(&[huge, huge, huge], DType::F32, device).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        // Far beyond any machine's memory, so refused by the default limit, at once.
        for err in [
            Tensor::zeros(&[1 << 40, 1 << 20], DType::F32, device).unwrap_err(),
            Tensor::randn(&[1 << 60], device).unwrap_err(),
            Tensor::arange(0.0, 1e30, 1.0, DType::I64, device).unwrap_err(),
        ] {
            assert_eq!(err.code(), "OutOfMemory", "{err}");
        }
        let err = Tensor::zeros(&[1 << 40, 1 << 20], DType::F32, device).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("zeros: cannot allocate 4611686018427387904 bytes"),
            "{err}"
        );
    });

    #[test]
    fn cuda_is_a_clear_error_where_it_is_unavailable() {
        let Some(reason) = crate::cuda::unavailable_reason() else {
            return; // a GPU (or the CPU shim) is here: the cuda_test! suites cover it
        };
        let err = Tensor::zeros(&[2], DType::F32, Device::Cuda(0)).unwrap_err();
        assert_eq!(err.code(), "DeviceUnavailable");
        assert!(err.to_string().contains(&reason), "{err}");
    }
}
