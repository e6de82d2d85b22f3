//! Pointwise loss kernels over dense f32 buffers of one length: per-element losses, and the
//! gradient with respect to the input or the target from the upstream gradient.

use super::{Upstream, Wrt};
use crate::cpu::collect_runs;
use crate::error::{Error, Result};
use crate::layout::Layout;
use std::mem::MaybeUninit;

/// `f(i)` for every index of a new buffer of `n` elements, split across threads when large.
fn build(op: &'static str, n: usize, f: impl Fn(usize) -> f32 + Sync) -> Result<Vec<f32>> {
    let layout = Layout::contiguous(&[n]);
    collect_runs(
        op,
        layout.shape(),
        [&layout],
        |out: &mut [MaybeUninit<f32>], [at], _| {
            for (k, o) in out.iter_mut().enumerate() {
                o.write(f(at + k));
            }
        },
    )
}

fn same_length(op: &'static str, lengths: &[usize]) -> Result<usize> {
    match lengths.split_first() {
        Some((&n, rest)) if rest.iter().all(|&m| m == n) => Ok(n),
        _ => Err(Error::Internal {
            op,
            detail: format!("buffers of different lengths {lengths:?}"),
        }),
    }
}

/// `(x - y)²`.
pub(super) fn mse_forward(op: &'static str, x: &[f32], y: &[f32]) -> Result<Vec<f32>> {
    let n = same_length(op, &[x.len(), y.len()])?;
    build(op, n, |i| {
        let d = x[i] - y[i];
        d * d
    })
}

/// `±2 (x - y) g`: plus for the input, minus for the target.
pub(super) fn mse_backward(
    op: &'static str,
    g: &[f32],
    upstream: Upstream,
    x: &[f32],
    y: &[f32],
    wrt: Wrt,
) -> Result<Vec<f32>> {
    let n = same_length(op, &[x.len(), y.len()])?;
    let sign = match wrt {
        Wrt::Input => 2.0,
        Wrt::Target => -2.0,
    };
    let Upstream { step, scale } = upstream;
    build(op, n, |i| sign * (x[i] - y[i]) * g[i * step] * scale)
}

/// `log σ(x) = min(x, 0) - log(1 + exp(-|x|))`, exact in both tails.
#[inline(always)]
fn log_sigmoid(x: f32) -> f32 {
    x.min(0.0) - (-x.abs()).exp().ln_1p()
}

/// `w [(1 - y) x - (1 + (p - 1) y) log σ(x)]`, PyTorch's stable form.
pub(super) fn bce_with_logits_forward(
    op: &'static str,
    x: &[f32],
    y: &[f32],
    weight: Option<&[f32]>,
    pos_weight: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let n = same_length(op, &[x.len(), y.len()])?;
    let factor = |f: Option<&[f32]>, i: usize| f.map_or(1.0, |f| f[i]);
    check_factors(op, n, [weight, pos_weight])?;
    build(op, n, |i| {
        let (x, y) = (x[i], y[i]);
        let log_weight = 1.0 + (factor(pos_weight, i) - 1.0) * y;
        factor(weight, i) * ((1.0 - y) * x - log_weight * log_sigmoid(x))
    })
}

/// The input gradient `w ((1 + (p - 1) y) σ(x) - p y) g`, or the target's
/// `w (-x - (p - 1) log σ(x)) g`.
pub(super) fn bce_with_logits_backward(
    op: &'static str,
    g: &[f32],
    upstream: Upstream,
    x: &[f32],
    y: &[f32],
    [weight, pos_weight]: [Option<&[f32]>; 2],
    wrt: Wrt,
) -> Result<Vec<f32>> {
    let n = same_length(op, &[x.len(), y.len()])?;
    check_factors(op, n, [weight, pos_weight])?;
    let factor = |f: Option<&[f32]>, i: usize| f.map_or(1.0, |f| f[i]);
    let Upstream { step, scale } = upstream;
    build(op, n, |i| {
        let (x, y, p) = (x[i], y[i], factor(pos_weight, i));
        let d = match wrt {
            Wrt::Input => (1.0 + (p - 1.0) * y) / (1.0 + (-x).exp()) - p * y,
            Wrt::Target => -x - (p - 1.0) * log_sigmoid(x),
        };
        factor(weight, i) * d * g[i * step] * scale
    })
}

fn check_factors(op: &'static str, n: usize, factors: [Option<&[f32]>; 2]) -> Result<()> {
    for f in factors.into_iter().flatten() {
        same_length(op, &[n, f.len()])?;
    }
    Ok(())
}
