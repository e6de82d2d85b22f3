//! Activation kernels on f32 buffers (relu and relu6 also on int64). Pointwise forwards walk the
//! input's layout, so strided views are read in place; their gradients zip two contiguous buffers.
//! Softmax sees its input as `[outer, dim, inner]` and normalises along the middle.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{Dims, Pointwise};
use crate::cpu::{collect_runs, lane_sum, map_strided, PARALLEL_MIN_ELEMS};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::CpuStorage;

/// Elements handed to one rayon task.
const CHUNK: usize = 1 << 14;

/// `kind` over every element of `input` viewed through `layout`, which was converted to the
/// kernel dtype (see `Pointwise::compute_dtype`); each dtype's kernels are listed below it.
pub(super) fn pointwise_forward(
    kind: Pointwise,
    input: &CpuStorage,
    layout: &Layout,
) -> Result<CpuStorage> {
    match input {
        CpuStorage::F32(x) => float(kind, x, layout),
        CpuStorage::I64(x) => int(kind, x, layout),
        CpuStorage::BF16(_) | CpuStorage::Bool(_) => Err(internal(kind)),
    }
}

fn float(kind: Pointwise, x: &[f32], layout: &Layout) -> Result<CpuStorage> {
    let op = kind.name();
    Ok(CpuStorage::F32(match kind {
        Pointwise::Relu => map_strided(
            op,
            x,
            layout,
            |v: f32| {
                if v > 0.0 || v.is_nan() {
                    v
                } else {
                    0.0
                }
            },
        )?,
        // exp(-x) overflows to inf for very negative x, which still gives the right 0.
        Pointwise::Sigmoid => map_strided(op, x, layout, |v: f32| 1.0 / (1.0 + exp_f32(-v)))?,
        Pointwise::Tanh => map_strided(op, x, layout, f32::tanh)?,
        // `clamp` keeps NaN.
        Pointwise::Relu6 => map_strided(op, x, layout, |v: f32| v.clamp(0.0, 6.0))?,
    }))
}

fn int(kind: Pointwise, x: &[i64], layout: &Layout) -> Result<CpuStorage> {
    Ok(CpuStorage::I64(match kind {
        Pointwise::Relu => map_strided(kind.name(), x, layout, |v: i64| v.max(0))?,
        Pointwise::Relu6 => map_strided(kind.name(), x, layout, |v: i64| v.clamp(0, 6))?,
        // Computed in float (see `compute_dtype`).
        Pointwise::Sigmoid | Pointwise::Tanh => return Err(internal(kind)),
    }))
}

fn internal(kind: Pointwise) -> Error {
    Error::Internal {
        op: kind.name(),
        detail: "input was not converted to a kernel dtype".into(),
    }
}

/// The input gradient of `kind` from the upstream gradient `g` and the saved output `y`.
pub(super) fn pointwise_backward_input(kind: Pointwise, g: &[f32], y: &[f32]) -> Result<Vec<f32>> {
    let op = kind.name();
    match kind {
        // No gradient where the input was <= 0 (the output is 0 there).
        Pointwise::Relu => zip_map(op, g, y, |g, y| if y > 0.0 { g } else { 0.0 }),
        Pointwise::Sigmoid => zip_map(op, g, y, |g, y| g * y * (1.0 - y)),
        Pointwise::Tanh => zip_map(op, g, y, |g, y| g * (1.0 - y * y)),
        // PyTorch's hardtanh_backward: none at and beyond the edges (which the output equals
        // exactly there); a NaN passes the gradient through.
        Pointwise::Relu6 => zip_map(op, g, y, |g, y| if y <= 0.0 || y >= 6.0 { 0.0 } else { g }),
    }
}

/// `f(a, b)` elementwise over two buffers of the same length, into a new one.
pub(super) fn zip_map(
    op: &'static str,
    a: &[f32],
    b: &[f32],
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Result<Vec<f32>> {
    let layout = Layout::contiguous(&[a.len()]);
    collect_runs(
        op,
        layout.shape(),
        [&layout, &layout],
        |out: &mut [MaybeUninit<f32>], [ia, ib], _| {
            let n = out.len();
            for ((o, &x), &y) in out.iter_mut().zip(&a[ia..ia + n]).zip(&b[ib..ib + n]) {
                o.write(f(x, y));
            }
        },
    )
}

/// `exp(x)` within 2 ulp (Cephes' polynomial), with no branch or call so that loops over it
/// vectorise, unlike libm's `expf`. Results below f32's normal range flush to 0.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const MAX: f32 = 88.376_26;
    const MIN: f32 = -87.336_54;
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits (SSE2 has no round).
    const ROUNDER: f32 = 12_582_912.0;
    let c = x.clamp(MIN, MAX);
    let t = c * std::f32::consts::LOG2_E + ROUNDER;
    let n = t - ROUNDER;
    // c - n * ln 2, with ln 2 split in two so that the product is exact.
    let r = c - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    for k in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        0.166_666_65,
        0.5,
    ] {
        p = p * r + k;
    }
    let y = p * r * r + r + 1.0;
    let two_n =
        f32::from_bits(((t.to_bits() as i32 - ROUNDER.to_bits() as i32 + 127) << 23) as u32);
    let e = y * two_n;
    if x > MAX {
        f32::INFINITY
    } else if x < MIN {
        0.0
    } else {
        e
    }
}

/// The largest element (-inf for none), in lanes so that it vectorises; NaNs are skipped, and
/// show up later through `exp`.
fn lane_max(x: &[f32]) -> f32 {
    const LANES: usize = 8;
    let max = |m: f32, v: f32| if v > m { v } else { m };
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| max(m, v));
    for c in chunks {
        for k in 0..LANES {
            lanes[k] = max(lanes[k], c[k]);
        }
    }
    lanes.into_iter().fold(tail, max)
}

/// A new buffer filled one `[dim, inner]` block at a time by `f(block index, block)`.
fn per_block(d: Dims, f: impl Fn(usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    let block = d.dim * d.inner;
    let mut out = vec![0f32; d.outer * block];
    if out.is_empty() {
        return out;
    }
    if out.len() >= PARALLEL_MIN_ELEMS {
        out.par_chunks_mut(block)
            .with_min_len((CHUNK / block).max(1))
            .enumerate()
            .for_each(|(i, o)| f(i, o));
    } else {
        out.chunks_mut(block).enumerate().for_each(|(i, o)| f(i, o));
    }
    out
}

/// Writes `softmax(row)` into `out` and returns the row's max and `ln(sum(exp(row - max)))`:
/// their sum is the log-sum-exp, kept apart so that `(x - max) - ln_sum` stays exact for large
/// logits. Subtracting the max keeps `exp` finite; the sum is accumulated in f64.
pub(crate) fn softmax_row(row: &[f32], out: &mut [f32]) -> (f32, f32) {
    let max = lane_max(row);
    out.iter_mut()
        .zip(row)
        .for_each(|(o, &v)| *o = exp_f32(v - max));
    let sum = lane_sum(out, |v| v);
    let inv = (1.0 / sum) as f32;
    out.iter_mut().for_each(|o| *o *= inv);
    (max, sum.ln() as f32)
}

/// Softmax (or log-softmax) of `x` along the middle dim.
pub(super) fn softmax_forward(x: &[f32], d: Dims, log: bool) -> Vec<f32> {
    if d.inner == 1 {
        return per_block(d, |i, out| {
            let row = &x[i * d.dim..][..d.dim];
            if log {
                // out holds exp(x - max) until the sum is taken.
                let max = lane_max(row);
                out.iter_mut()
                    .zip(row)
                    .for_each(|(o, &v)| *o = exp_f32(v - max));
                let ln_sum = lane_sum(out, |v| v).ln() as f32;
                out.iter_mut()
                    .zip(row)
                    .for_each(|(o, &v)| *o = (v - max) - ln_sum);
            } else {
                softmax_row(row, out);
            }
        });
    }
    // Strided along `dim`: keep a running max and sum per inner index, walking rows of `inner`.
    per_block(d, |i, out| {
        let x = &x[i * d.dim * d.inner..][..d.dim * d.inner];
        let mut max = vec![f32::NEG_INFINITY; d.inner];
        for row in x.chunks(d.inner) {
            max.iter_mut()
                .zip(row)
                .for_each(|(m, &v)| *m = if v > *m { v } else { *m });
        }
        let mut sum = vec![0f64; d.inner];
        for (o, row) in out.chunks_mut(d.inner).zip(x.chunks(d.inner)) {
            for (((o, &v), &m), s) in o.iter_mut().zip(row).zip(&max).zip(&mut sum) {
                *o = exp_f32(v - m);
                *s += *o as f64;
            }
        }
        if log {
            let ln_sum: Vec<f32> = sum.iter().map(|&s| s.ln() as f32).collect();
            for (o, row) in out.chunks_mut(d.inner).zip(x.chunks(d.inner)) {
                for (((o, &v), &m), &l) in o.iter_mut().zip(row).zip(&max).zip(&ln_sum) {
                    *o = (v - m) - l;
                }
            }
        } else {
            let inv: Vec<f32> = sum.iter().map(|&s| (1.0 / s) as f32).collect();
            for o in out.chunks_mut(d.inner) {
                o.iter_mut().zip(&inv).for_each(|(o, &k)| *o *= k);
            }
        }
    })
}

/// Input gradient from the output `y` and its gradient `g`: `y * (g - sum(g * y))` for softmax,
/// `g - exp(y) * sum(g)` for log-softmax, sums along the middle dim.
pub(super) fn softmax_backward_input(g: &[f32], y: &[f32], d: Dims, log: bool) -> Vec<f32> {
    let block = d.dim * d.inner;
    if d.inner == 1 {
        return per_block(d, |i, out| {
            let (g, y) = (&g[i * block..][..block], &y[i * block..][..block]);
            if log {
                let s = lane_sum(g, |v| v) as f32;
                out.iter_mut()
                    .zip(g)
                    .zip(y)
                    .for_each(|((o, &gv), &yv)| *o = gv - exp_f32(yv) * s);
            } else {
                // out holds g * y until the sum is taken.
                out.iter_mut()
                    .zip(g)
                    .zip(y)
                    .for_each(|((o, &gv), &yv)| *o = gv * yv);
                let s = lane_sum(out, |v| v) as f32;
                out.iter_mut()
                    .zip(g)
                    .zip(y)
                    .for_each(|((o, &gv), &yv)| *o = yv * (gv - s));
            }
        });
    }
    per_block(d, |i, out| {
        let (g, y) = (&g[i * block..][..block], &y[i * block..][..block]);
        let mut sum = vec![0f64; d.inner];
        for (gr, yr) in g.chunks(d.inner).zip(y.chunks(d.inner)) {
            for ((s, &gv), &yv) in sum.iter_mut().zip(gr).zip(yr) {
                *s += if log { gv as f64 } else { (gv * yv) as f64 };
            }
        }
        let sum: Vec<f32> = sum.into_iter().map(|s| s as f32).collect();
        for ((o, gr), yr) in out
            .chunks_mut(d.inner)
            .zip(g.chunks(d.inner))
            .zip(y.chunks(d.inner))
        {
            for (((o, &gv), &yv), &s) in o.iter_mut().zip(gr).zip(yr).zip(&sum) {
                *o = if log {
                    gv - exp_f32(yv) * s
                } else {
                    yv * (gv - s)
                };
            }
        }
    })
}
