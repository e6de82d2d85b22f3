//! Activation kernels on contiguous f32 buffers. Softmax sees its input as `[outer, dim, inner]`
//! and normalises along the middle; pointwise gradients zip two buffers.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::cpu::{collect_runs, lane_sum, PARALLEL_MIN_ELEMS};
use crate::error::Result;
use crate::layout::Layout;

/// Elements handed to one rayon task.
const CHUNK: usize = 1 << 14;

/// `f(a, b)` elementwise over two f32 views of the same shape, into a new dense buffer.
pub(super) fn zip_map(
    op: &'static str,
    a: &[f32],
    la: &Layout,
    b: &[f32],
    lb: &Layout,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Result<Vec<f32>> {
    collect_runs(
        op,
        la.shape(),
        [la, lb],
        |out: &mut [MaybeUninit<f32>], [ia, ib], [sa, sb]| {
            let n = out.len();
            if (sa, sb) == (1, 1) {
                for ((o, &x), &y) in out.iter_mut().zip(&a[ia..ia + n]).zip(&b[ib..ib + n]) {
                    o.write(f(x, y));
                }
            } else {
                for (i, o) in out.iter_mut().enumerate() {
                    o.write(f(a[ia + i * sa], b[ib + i * sb]));
                }
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

/// `[outer, dim, inner]`: softmax runs along `dim`, for every `outer` and `inner` index.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub outer: usize,
    pub dim: usize,
    pub inner: usize,
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
pub(super) fn softmax(x: &[f32], d: Dims, log: bool) -> Vec<f32> {
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
pub(super) fn softmax_backward(g: &[f32], y: &[f32], d: Dims, log: bool) -> Vec<f32> {
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
