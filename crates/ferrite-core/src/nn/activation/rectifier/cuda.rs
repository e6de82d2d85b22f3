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
