//! The rectifiers on a CUDA device (`rectifier.cu`): one forward and one backward kernel, the
//! activation picked by a `kind` argument.

use super::{GeluApproximation, Rectifier};
use crate::cuda::{self, CudaStorage, LaunchConfig, Module, Strides};
use crate::error::{Error, Result};
use crate::layout::Layout;

pub(crate) static MODULE: Module = Module::new("rectifier", include_str!("rectifier.cu"));

/// The kernels' `kind` and `slope` arguments (`RECTIFIER_*` in `rectifier.cu`).
fn kernel_kind(kind: Rectifier) -> (i32, f32) {
    match kind {
        Rectifier::LeakyRelu { negative_slope } => (0, negative_slope),
        Rectifier::Gelu(GeluApproximation::None) => (1, 0.0),
        Rectifier::Gelu(GeluApproximation::Tanh) => (2, 0.0),
        Rectifier::Silu => (3, 0.0),
        Rectifier::Hardswish => (4, 0.0),
    }
}

/// `kind` over every element of the float32 `x` viewed through `layout`.
pub(super) fn forward(kind: Rectifier, x: &CudaStorage, layout: &Layout) -> Result<CudaStorage> {
    let op = kind.name();
    let n = layout.numel();
    let device = x.device();
    let mut y = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(y);
    }
    let src = x.base::<f32>(op)?;
    let dst = y.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    let (view, contiguous) = (Strides::new(op, layout)?, layout.is_contiguous() as i32);
    let (code, slope) = kernel_kind(kind);
    // SAFETY: `src` with `view` addresses elements inside `x` (the layout was validated against
    // its storage), `dst` holds `n` f32; stream-ordered.
    unsafe {
        device.launch(
            op,
            &MODULE,
            "rectifier_forward_f32",
            LaunchConfig::elementwise(n),
            &mut cuda::args![src, view, contiguous, dst, n as i64, code, slope],
        )
    }?;
    Ok(y)
}

/// The input gradient of `kind` from the upstream gradient `g` and the input `x`, both
/// contiguous and of the same length.
pub(super) fn backward_input(
    kind: Rectifier,
    (g, gl): (&CudaStorage, &Layout),
    (x, xl): (&CudaStorage, &Layout),
) -> Result<CudaStorage> {
    let op = kind.name();
    let n = gl.numel();
    if xl.numel() != n {
        return Err(Error::Internal {
            op,
            detail: "gradient and input lengths differ".into(),
        });
    }
    let (gp, xp) = (g.ptr::<f32>(op, gl)?, x.ptr::<f32>(op, xl)?);
    let device = g.device();
    let mut dx = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(dx);
    }
    let dp = dx.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    let (code, slope) = kernel_kind(kind);
    // SAFETY: the three buffers hold `n` f32 each; stream-ordered.
    unsafe {
        device.launch(
            op,
            &MODULE,
            "rectifier_backward_f32",
            LaunchConfig::elementwise(n),
            &mut cuda::args![gp, xp, dp, n as i64, code, slope],
        )
    }?;
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{apply, KINDS};
    use crate::device::Device;
    use crate::tensor::Tensor;
    use crate::testing::{assert_same_values, cuda_test, tensor, values};

    cuda_test!(fn rectifiers_match_the_cpu(device) {
        let shapes: [&[usize]; 4] = [&[1], &[1031], &[3, 11], &[2, 3, 4, 5]];
        for (i, shape) in shapes.iter().enumerate() {
            let v: Vec<f32> = values(shape.iter().product(), i as u64).iter().map(|v| v * 9.0).collect();
            let x = Tensor::from_f32(v, shape).unwrap();
            for kind in KINDS {
                let (cpu, gpu) = (x.detach(), x.to_device(device).unwrap());
                cpu.set_requires_grad(true).unwrap();
                gpu.set_requires_grad(true).unwrap();
                let (want, got) = (apply(kind, &cpu).unwrap(), apply(kind, &gpu).unwrap());
                assert_same_values(&got, &want, 1e-5);
                let g = tensor(shape, 40 + i as u64, Device::Cpu);
                want.backward(Some(&g), false).unwrap();
                got.backward(Some(&g.to_device(device).unwrap()), false).unwrap();
                assert_same_values(&gpu.grad().unwrap(), &cpu.grad().unwrap(), 1e-5);
            }
        }
        // A strided view, read in place.
        let x = Tensor::from_f32(values(30, 7), &[5, 6]).unwrap();
        let view = |t: &Tensor| t.transpose(0, 1).unwrap();
        for kind in KINDS {
            let got = apply(kind, &view(&x.to_device(device).unwrap())).unwrap();
            assert_same_values(&got, &apply(kind, &view(&x)).unwrap(), 1e-5);
        }
    });
}
