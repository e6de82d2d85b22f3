//! Strided copies with dtype conversion and fills on the device (`copy.cu`), and the host-side
//! helpers the elementwise kernels of every op share.

use std::sync::Arc;

use crate::cuda::{self, CudaDevice, CudaStorage, LaunchConfig, Module, Strides};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;

pub(crate) static MODULE: Module = Module::new("copy", include_str!("copy.cu"));

/// The suffix kernels of every module use for a dtype (`unary_neg_f32`).
pub(crate) fn tag(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::BF16 => "bf16",
        DType::I64 => "i64",
        DType::Bool => "bool",
    }
}

/// The device address of `storage`'s first element, whatever its dtype: strided kernels index
/// from there with their `Strides`' offset.
pub(crate) fn base(op: &'static str, storage: &CudaStorage) -> Result<u64> {
    match storage.dtype() {
        DType::F32 => storage.base::<f32>(op),
        DType::BF16 => storage.base::<half::bf16>(op),
        DType::I64 => storage.base::<i64>(op),
        DType::Bool => storage.base::<bool>(op),
    }
}

/// The device address of the first element of the contiguous `layout` over `storage`, whatever
/// its dtype; an internal error for a strided or out-of-range layout.
pub(crate) fn dense(op: &'static str, storage: &CudaStorage, layout: &Layout) -> Result<u64> {
    match storage.dtype() {
        DType::F32 => storage.ptr::<f32>(op, layout),
        DType::BF16 => storage.ptr::<half::bf16>(op, layout),
        DType::I64 => storage.ptr::<i64>(op, layout),
        DType::Bool => storage.ptr::<bool>(op, layout),
    }
}

/// Views of one shape as kernel `Strides` (sizes shared), with size-1 dims dropped and neighbours
/// merged where every view is contiguous across them, so that dense views index as one dim.
/// Always at least one dim. Fails when more than `Strides::MAX_RANK` dims remain, or when a view
/// reaches past the end of its storage (`lens`), which no kernel may be handed.
pub(crate) fn kernel_strides<const N: usize>(
    op: &'static str,
    shape: &[usize],
    views: [(&Layout, usize); N],
) -> Result<[Strides; N]> {
    for (layout, len) in views {
        check_bounds(op, layout, len)?;
    }
    let mut dims: Vec<usize> = Vec::with_capacity(shape.len());
    let mut merged: Vec<[usize; N]> = Vec::with_capacity(shape.len());
    for (d, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let s: [usize; N] = std::array::from_fn(|k| views[k].0.strides()[d]);
        if let (Some(prev_size), Some(prev)) = (dims.last_mut(), merged.last_mut()) {
            if (0..N).all(|k| prev[k] == s[k] * size) {
                *prev_size *= size;
                *prev = s;
                continue;
            }
        }
        dims.push(size);
        merged.push(s);
    }
    if dims.is_empty() {
        dims.push(1);
        merged.push([0; N]);
    }
    if dims.len() > Strides::MAX_RANK {
        return Err(Error::invalid(
            op,
            format!(
                "CUDA kernels take views of up to {} dims that cannot be merged, got {} (call contiguous() first)",
                Strides::MAX_RANK,
                dims.len()
            ),
        ));
    }
    Ok(std::array::from_fn(|k| {
        let mut s = Strides {
            rank: dims.len() as i32,
            size: [1; Strides::MAX_RANK],
            stride: [0; Strides::MAX_RANK],
            offset: views[k].0.offset() as i64,
        };
        for (d, (&size, strides)) in dims.iter().zip(&merged).enumerate() {
            s.size[d] = size as i64;
            s.stride[d] = strides[k] as i64;
        }
        s
    }))
}

/// Fails unless every element of `layout` lies inside a storage of `len` elements.
fn check_bounds(op: &'static str, layout: &Layout, len: usize) -> Result<()> {
    if layout.numel() == 0 {
        return Ok(());
    }
    let last = layout
        .shape()
        .iter()
        .zip(layout.strides())
        .fold(layout.offset(), |at, (&size, &stride)| {
            at + (size - 1) * stride
        });
    if last >= len {
        return Err(Error::Internal {
            op,
            detail: format!(
                "a view reaching element {last} of a storage of {len} was handed to a CUDA kernel"
            ),
        });
    }
    Ok(())
}

/// Fails unless both storages live on the same device.
pub(crate) fn check_same_device(op: &'static str, a: &CudaStorage, b: &CudaStorage) -> Result<()> {
    if !Arc::ptr_eq(a.device(), b.device()) {
        return Err(Error::DeviceMismatch {
            op,
            expected: format!("cuda:{}", a.device().ordinal()),
            got: format!("cuda:{}", b.device().ordinal()),
        });
    }
    Ok(())
}

/// `src` viewed through `layout`, converted to `dtype`, as a new dense storage.
pub(crate) fn strided(
    op: &'static str,
    src: &CudaStorage,
    layout: &Layout,
    dtype: DType,
) -> Result<CudaStorage> {
    let mut out = CudaStorage::alloc_dtype(src.device(), dtype, layout.numel())?;
    copy_into(
        op,
        src,
        layout,
        &mut out,
        &Layout::contiguous(layout.shape()),
    )?;
    Ok(out)
}

/// Writes `src` viewed through `from` over `dst` viewed through `to` (the same shape),
/// converting to `dst`'s dtype with the CPU's rules (`as` casts; nonzero is true).
pub(crate) fn copy_into(
    op: &'static str,
    src: &CudaStorage,
    from: &Layout,
    dst: &mut CudaStorage,
    to: &Layout,
) -> Result<()> {
    check_same_device(op, src, dst)?;
    if from.shape() != to.shape() {
        return Err(Error::Internal {
            op,
            detail: "a strided copy between views of different shapes".into(),
        });
    }
    let n = from.numel();
    if n == 0 {
        return Ok(());
    }
    let [s, d] = kernel_strides(op, from.shape(), [(from, src.len()), (to, dst.len())])?;
    let kernel = format!("copy_{}_{}", tag(src.dtype()), tag(dst.dtype()));
    let (src_ptr, dst_ptr, count) = (base(op, src)?, base(op, dst)?, n as i64);
    let device = dst.device().clone();
    // SAFETY: `copy_<src>_<dst>(const S*, Strides, D*, Strides, long long)` matches the
    // arguments; both pointers are the bases of live storages of the kernel's element types, and
    // `kernel_strides` checked that both views stay inside them. The launch is queued on the
    // compute stream after every earlier write of `src`, and `dst` is borrowed mutably.
    unsafe {
        device.launch(
            op,
            &MODULE,
            &kernel,
            LaunchConfig::elementwise(n),
            &mut cuda::args![src_ptr, s, dst_ptr, d, count],
        )
    }
}

/// A new dense storage of `n` elements of `dtype`, each `value` converted as `Tensor::full`
/// converts it (`as f32`, `as i64`, nonzero is true), made on the device without a host copy.
pub(crate) fn filled(
    op: &'static str,
    device: &Arc<CudaDevice>,
    value: f64,
    dtype: DType,
    n: usize,
) -> Result<CudaStorage> {
    let out = CudaStorage::alloc_dtype(device, dtype, n)?;
    if n == 0 {
        return Ok(out);
    }
    let (ptr, count) = (base(op, &out)?, n as i64);
    // The value as the kernel of `dtype` takes it.
    let (float, int, boolean) = (value as f32, value as i64, (value != 0.0) as i32);
    let half = half::bf16::from_f32(float).to_bits() as u32;
    let mut args = match dtype {
        DType::F32 => cuda::args![ptr, float, count],
        DType::BF16 => cuda::args![ptr, half, count],
        DType::I64 => cuda::args![ptr, int, count],
        DType::Bool => cuda::args![ptr, boolean, count],
    };
    let kernel = format!("copy_fill_{}", tag(dtype));
    // SAFETY: `copy_fill_<dtype>(T*, value, long long n)` takes the value as f32, long long or
    // int, as `args` holds it; `ptr` is a fresh storage of `n` elements of `dtype`, owned here.
    unsafe {
        device.launch(
            op,
            &MODULE,
            &kernel,
            LaunchConfig::elementwise(n),
            &mut args,
        )?
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::cases::{assert_same_gradients, cases_of, SHAPES};
    use crate::device::Device;
    use crate::dtype::DType;
    use crate::storage::CpuStorage;
    use crate::testing::{assert_same_values, cuda_test, floats};
    use crate::Tensor;

    const DTYPES: [DType; 4] = [DType::F32, DType::BF16, DType::I64, DType::Bool];

    cuda_test!(fn cuda_to_dtype_converts_as_the_cpu(device) {
        let specials = Tensor::from_f32(
            vec![
                1.9, -1.9, 0.0, -0.0, 0.5, -2.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY,
                3e19, -3e19, 9.2e18, -9.223372e18, 16777217.0,
            ],
            &[14],
        )
        .unwrap();
        let ints = Tensor::from_i64(
            vec![i64::MIN, -1, 0, 1, i64::MAX, (1 << 53) + 1, (1 << 24) + 1, -7],
            &[8],
        )
        .unwrap();
        let bools = Tensor::from_bool(vec![true, false, false, true], &[2, 2]).unwrap();
        for host in [specials, ints, bools] {
            for dtype in DTYPES {
                let got = host.to_device(device).unwrap().to_dtype(dtype).unwrap();
                assert_same_values(&got, &host.to_dtype(dtype).unwrap(), 0.0);
            }
        }
        for shape in SHAPES {
            for from in DTYPES {
                for case in cases_of(from, shape, 3, device) {
                    for to in DTYPES {
                        let got = case.dev.to_dtype(to).unwrap();
                        assert_same_values(&got, &case.cpu.to_dtype(to).unwrap(), 0.0);
                    }
                }
            }
        }
    });

    // bfloat16 casts bit for bit (NaN payloads, the sign of zero and ties included): the kernels
    // round as `half::bf16::from_f32` does on the CPU.
    cuda_test!(fn cuda_bfloat16_casts_match_the_cpu_bit_for_bit(device) {
        let halfway = |k: i32| f32::from_bits(0x3f80_0000 + (k as u32) * 0x8000);
        let specials: Vec<f32> = [
            0x0000_0000u32, 0x8000_0000, 0x7f7f_ffff, 0x7f7f_7fff, 0x7f7f_8000, 0xff7f_8000,
            0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0x7fff_ffff,
            0x0000_0001, 0x8000_0001, 0x0000_8000, 0x0001_8000, 0x007f_ffff, 0x0080_0000,
        ]
        .into_iter()
        .map(f32::from_bits)
        .chain((1..8).map(halfway))
        .chain((0..300).map(|i| (i as f32 * 0.37).sin() * 2f32.powi(i % 60 - 30)))
        .collect();
        let n = specials.len();
        let host = Tensor::from_f32(specials, &[n]).unwrap();
        let bits = |t: &Tensor| match t.to_device(Device::Cpu).unwrap().to_cpu_storage().unwrap() {
            CpuStorage::BF16(v) => v.into_iter().map(|x| x.to_bits()).collect::<Vec<u16>>(),
            other => panic!("expected bfloat16, got {:?}", other.dtype()),
        };
        let on_device = host.to_device(device).unwrap().to_dtype(DType::BF16).unwrap();
        let on_cpu = host.to_dtype(DType::BF16).unwrap();
        assert_eq!(bits(&on_device), bits(&on_cpu));
        // Widening back is exact on both (every bfloat16 is a float32).
        let wide = on_device.to_dtype(DType::F32).unwrap().to_device(Device::Cpu).unwrap();
        let wide_cpu = on_cpu.to_dtype(DType::F32).unwrap();
        let f32_bits = |t: &Tensor| -> Vec<u32> {
            t.to_vec_f32().unwrap().into_iter().map(f32::to_bits).collect()
        };
        assert_eq!(f32_bits(&wide), f32_bits(&wide_cpu));
        // Fills and int64 sources round the same way.
        let third = Tensor::full(&[5], 1.0 / 3.0, DType::BF16, device).unwrap();
        assert_eq!(bits(&third), bits(&Tensor::full(&[5], 1.0 / 3.0, DType::BF16, Device::Cpu).unwrap()));
        let ints = Tensor::from_i64(vec![16_842_753, 257, -259, i64::MAX, i64::MIN], &[5]).unwrap();
        assert_eq!(
            bits(&ints.to_device(device).unwrap().to_dtype(DType::BF16).unwrap()),
            bits(&ints.to_dtype(DType::BF16).unwrap())
        );
    });

    cuda_test!(fn cuda_contiguous_and_copy_gather_any_view(device) {
        for shape in SHAPES {
            for dtype in DTYPES {
                for case in cases_of(dtype, shape, 5, device) {
                    let dense = case.dev.contiguous().unwrap();
                    assert!(dense.is_contiguous(), "{} {shape:?}", case.layout);
                    assert_same_values(&dense, &case.cpu.contiguous().unwrap(), 0.0);
                    let copy = case.dev.copy().unwrap();
                    assert!(!copy.shares_storage(&case.dev));
                    assert_same_values(&copy, &case.cpu, 0.0);
                }
            }
        }
        // Nine dims that merge into one are fine; nine that cannot be merged are refused.
        let nine = floats((0..512).map(|v| v as f32).collect(), &[2; 9], Device::Cpu);
        let on_device = nine.to_device(device).unwrap();
        assert_same_values(&on_device.exp().unwrap(), &nine.exp().unwrap(), 1e-6);
        let order: Vec<i64> = (0..9).rev().collect();
        let scrambled = on_device.permute(&order).unwrap();
        assert_eq!(scrambled.contiguous().unwrap_err().code(), "InvalidArgument");
    });

    cuda_test!(fn cuda_copy_into_converts_and_broadcasts(device) {
        for dst_dtype in DTYPES {
            for src_dtype in DTYPES {
                for case in cases_of(src_dtype, &[3, 1, 5], 7, device) {
                    let cpu = Tensor::zeros(&[2, 3, 4, 5], dst_dtype, Device::Cpu).unwrap();
                    let dev = Tensor::zeros(&[2, 3, 4, 5], dst_dtype, device).unwrap();
                    cpu.copy_(&case.cpu).unwrap();
                    dev.copy_(&case.dev).unwrap();
                    assert_same_values(&dev, &cpu, 0.0);
                }
            }
        }
        // From a view of its own storage, as on the CPU.
        let cpu = floats((0..9).map(|v| v as f32).collect(), &[3, 3], Device::Cpu);
        let dev = cpu.to_device(device).unwrap();
        cpu.copy_(&cpu.transpose(0, 1).unwrap()).unwrap();
        dev.copy_(&dev.transpose(0, 1).unwrap()).unwrap();
        assert_same_values(&dev, &cpu, 0.0);
        let host = Tensor::ones(&[3, 3], DType::F32, Device::Cpu).unwrap();
        assert_eq!(dev.copy_(&host).unwrap_err().code(), "DeviceMismatch");
    });

    cuda_test!(fn cuda_cat_and_stack_match_the_cpu(device) {
        for dim in 0..3i64 {
            let mut cpu = Vec::new();
            let mut dev = Vec::new();
            let dtypes = [DType::F32, DType::I64, DType::BF16, DType::Bool, DType::F32];
            for (i, dtype) in dtypes.into_iter().enumerate() {
                let mut shape = vec![3, 5, 7];
                shape[dim as usize] = [1, 4, 3, 2, 0][i];
                // Each part in another layout (where the layout applies to its shape).
                let mut parts = cases_of(dtype, &shape, i as u64, device);
                let part = parts.swap_remove(i % parts.len());
                cpu.push(part.cpu);
                dev.push(part.dev);
            }
            let want = Tensor::cat(&cpu, dim).unwrap();
            assert_same_values(&Tensor::cat(&dev, dim).unwrap(), &want, 0.0);
            let same: Vec<Tensor> = dev.iter().map(|_| dev[0].clone()).collect();
            let same_cpu: Vec<Tensor> = cpu.iter().map(|_| cpu[0].clone()).collect();
            assert_same_values(
                &Tensor::stack(&same, dim).unwrap(),
                &Tensor::stack(&same_cpu, dim).unwrap(),
                0.0,
            );
        }
        let mixed = [
            Tensor::ones(&[2], DType::F32, device).unwrap(),
            Tensor::ones(&[2], DType::F32, Device::Cpu).unwrap(),
        ];
        assert_eq!(Tensor::cat(&mixed, 0).unwrap_err().code(), "DeviceMismatch");
    });

    cuda_test!(fn cuda_gradients_through_views_copies_and_joins(device) {
        assert_same_gradients(&[&[4, 3], &[4, 2]], device, |x| {
            let joined = Tensor::cat(&[x[0].transpose(0, 1)?, x[1].transpose(0, 1)?], 0)?;
            Tensor::stack(&[joined.narrow(1, 1, 2)?, joined.narrow(1, 0, 2)?], 2)?.contiguous()
        });
        assert_same_gradients(&[&[3, 1, 5]], device, |x| {
            x[0].expand(&[2, 3, 4, 5])?.copy()?.to_dtype(DType::F32)
        });
    });
}
