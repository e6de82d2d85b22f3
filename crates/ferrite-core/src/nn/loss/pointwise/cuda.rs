//! Pointwise losses on a CUDA device (`pointwise.cu`): one forward and one backward kernel, the
//! loss picked by a `kind` argument.

use super::{Kind, Upstream, Wrt};
use crate::cuda::{self, CudaStorage, LaunchConfig, Module};
use crate::error::{Error, Result};
use crate::layout::Layout;

pub(crate) static MODULE: Module = Module::new("pointwise_loss", include_str!("pointwise.cu"));

/// The kernels' `kind` argument (`POINTWISE_LOSS_*` in `pointwise.cu`).
fn kernel_kind(kind: &Kind) -> i32 {
    match kind {
        Kind::Mse => 0,
        Kind::BceWithLogits { .. } => 1,
    }
}

fn same_length(op: &'static str, a: &Layout, b: &Layout) -> Result<usize> {
    if a.numel() != b.numel() {
        return Err(Error::Internal {
            op,
            detail: "input and target lengths differ".into(),
        });
    }
    Ok(a.numel())
}

/// Per-element losses of the dense `x` and `y`; `[weight, pos_weight]` are dense addresses of
/// `n` floats, or 0 for none.
pub(super) fn forward(
    kind: &Kind,
    (x, xl): (&CudaStorage, &Layout),
    (y, yl): (&CudaStorage, &Layout),
    [weight, pos_weight]: [u64; 2],
) -> Result<CudaStorage> {
    let op = kind.name();
    let n = same_length(op, xl, yl)?;
    let device = x.device();
    let mut out = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(out);
    }
    let (xp, yp) = (x.ptr::<f32>(op, xl)?, y.ptr::<f32>(op, yl)?);
    let dst = out.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    let code = kernel_kind(kind);
    // SAFETY: x, y, out and the factors given hold `n` f32 each (the factors were broadcast to
    // the input's shape); a null factor is never read; stream-ordered.
    unsafe {
        device.launch(
            op,
            &MODULE,
            "pointwise_loss_forward_f32",
            LaunchConfig::elementwise(n),
            &mut cuda::args![xp, yp, weight, pos_weight, dst, n as i64, code],
        )
    }?;
    Ok(out)
}

/// The gradient with respect to `wrt` from the upstream gradient `g` (`n` elements, or one
/// shared by all with `step` 0).
pub(super) fn backward(
    kind: &Kind,
    (g, gl, upstream): (&CudaStorage, &Layout, Upstream),
    (x, xl): (&CudaStorage, &Layout),
    (y, yl): (&CudaStorage, &Layout),
    [weight, pos_weight]: [u64; 2],
    wrt: Wrt,
) -> Result<CudaStorage> {
    let op = kind.name();
    let n = same_length(op, xl, yl)?;
    let expected = if upstream.step == 0 { 1 } else { n };
    if gl.numel() != expected {
        return Err(Error::Internal {
            op,
            detail: "the upstream gradient has the wrong length".into(),
        });
    }
    let device = x.device();
    let mut grad = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(grad);
    }
    let (gp, xp, yp) = (
        g.ptr::<f32>(op, gl)?,
        x.ptr::<f32>(op, xl)?,
        y.ptr::<f32>(op, yl)?,
    );
    let dst = grad.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    let (step, scale) = (upstream.step as i64, upstream.scale);
    let (code, wrt_target) = (kernel_kind(kind), (wrt == Wrt::Target) as i32);
    // SAFETY: x, y, grad and the factors given hold `n` f32 each, g holds `n` (step 1) or 1
    // (step 0), checked above; a null factor is never read; stream-ordered.
    unsafe {
        device.launch(
            op,
            &MODULE,
            "pointwise_loss_backward_f32",
            LaunchConfig::elementwise(n),
            &mut cuda::args![
                gp, step, scale, xp, yp, weight, pos_weight, dst, n as i64, code, wrt_target
            ],
        )
    }?;
    Ok(grad)
}

#[cfg(test)]
mod tests {
    use super::super::tests::REDUCTIONS;
    use crate::device::Device;
    use crate::tensor::Tensor;
    use crate::testing::{assert_same_values, cuda_test, tensor, values};

    cuda_test!(fn pointwise_losses_match_the_cpu(device) {
        let x = Tensor::from_f32(values(1031 * 3, 1).iter().map(|v| v * 9.0).collect(), &[3, 1031])
            .unwrap();
        let y = Tensor::from_f32(values(1031 * 3, 2).iter().map(|v| (v + 1.0) / 2.0).collect(), &[3, 1031])
            .unwrap();
        let w = Tensor::from_f32(values(1031, 3), &[1031]).unwrap();
        let p = Tensor::from_f32(values(3, 4).iter().map(|v| v + 2.0).collect(), &[3, 1]).unwrap();
        let on = |t: &Tensor| t.to_device(device).unwrap();
        for reduction in REDUCTIONS {
            for bce in [false, true] {
                let run = |x: &Tensor, y: &Tensor, w: &Tensor, p: &Tensor| {
                    let (x, y) = (x.detach(), y.detach());
                    x.set_requires_grad(true).unwrap();
                    y.set_requires_grad(true).unwrap();
                    let loss = if bce {
                        x.binary_cross_entropy_with_logits(&y, Some(w), Some(p), reduction)
                    } else {
                        x.mse_loss(&y, reduction)
                    }
                    .unwrap();
                    let g = tensor(loss.shape(), 5, Device::Cpu).to_device(x.device()).unwrap();
                    loss.backward(Some(&g), false).unwrap();
                    (loss, x.grad().unwrap(), y.grad().unwrap())
                };
                let want = run(&x, &y, &w, &p);
                let got = run(&on(&x), &on(&y), &on(&w), &on(&p));
                assert_same_values(&got.0, &want.0, 1e-4);
                assert_same_values(&got.1, &want.1, 1e-5);
                assert_same_values(&got.2, &want.2, 1e-5);
            }
        }
    });
}
