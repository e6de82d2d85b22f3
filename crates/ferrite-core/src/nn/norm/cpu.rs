//! Batch-norm kernels over a contiguous input seen as `[n, c, s]`: the `n * s` values of channel
//! `ch` are the rows `x[(i * c + ch) * s..][..s]`. Reductions run per channel, elementwise passes
//! per row, both on rayon threads for large inputs.

use rayon::prelude::*;

use crate::cpu::PARALLEL_MIN_ELEMS;

/// `[n, c, s]`: batch, channels, spatial positions per channel and sample.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub n: usize,
    pub c: usize,
    pub s: usize,
}

impl Dims {
    fn numel(self) -> usize {
        self.n * self.c * self.s
    }

    fn parallel(self) -> bool {
        self.numel() >= PARALLEL_MIN_ELEMS
    }

    /// The rows of channel `ch` in `data`.
    fn rows(self, data: &[f32], ch: usize) -> impl Iterator<Item = &[f32]> {
        (0..self.n).map(move |i| &data[(i * self.c + ch) * self.s..][..self.s])
    }
}

/// `f(ch)` for every channel, on rayon threads when the input is large.
fn per_channel<T: Send>(d: Dims, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if d.parallel() {
        (0..d.c).into_par_iter().map(f).collect()
    } else {
        (0..d.c).map(f).collect()
    }
}

/// A new `[n, c, s]` buffer filled row by row by `f(channel, row index, row)`.
fn per_row(d: Dims, f: impl Fn(usize, usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    let mut out = vec![0f32; d.numel()];
    if d.numel() == 0 {
        return out;
    }
    let fill = |(r, row): (usize, &mut [f32])| f(r % d.c, r, row);
    if d.parallel() {
        // Enough rows per task that short rows (`[N, C]` inputs have s = 1) don't drown in scheduling.
        let min_rows = (PARALLEL_MIN_ELEMS / 4 / d.s).max(1);
        out.par_chunks_mut(d.s).with_min_len(min_rows).enumerate().for_each(fill);
    } else {
        out.chunks_mut(d.s).enumerate().for_each(fill);
    }
    out
}

/// Sums `f(a[i], b[i])` in f32 lanes over short blocks and in f64 across blocks: vector speed,
/// and accurate for channels of millions of values.
fn sum_pairs(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    const LANES: usize = 8;
    let mut total = 0f64;
    for (a, b) in a.chunks(512).zip(b.chunks(512)) {
        let mut lanes = [0f32; LANES];
        let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| f(x, y)).sum();
        for (x, y) in ca.zip(cb) {
            for k in 0..LANES {
                lanes[k] += f(x[k], y[k]);
            }
        }
        total += lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64;
    }
    total
}

fn sum_by(a: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    sum_pairs(a, a, |v, _| f(v))
}

/// Mean and biased variance of every channel (two passes, so large means don't cancel).
pub(super) fn channel_stats(x: &[f32], d: Dims) -> Vec<(f64, f64)> {
    let count = (d.n * d.s) as f64;
    per_channel(d, |ch| {
        let mean = d.rows(x, ch).map(|r| sum_by(r, |v| v)).sum::<f64>() / count;
        let m = mean as f32;
        let var = d.rows(x, ch).map(|r| sum_by(r, |v| (v - m) * (v - m))).sum::<f64>() / count;
        (mean, var)
    })
}

/// `(x - center[ch]) * scale[ch] + shift[ch]`. Centring first keeps the precision that
/// `x * scale + (shift - center * scale)` would lose to cancellation when the mean is large.
pub(super) fn channel_affine(x: &[f32], d: Dims, center: &[f32], scale: &[f32], shift: &[f32]) -> Vec<f32> {
    per_row(d, |ch, r, out| {
        let (m, a, b) = (center[ch], scale[ch], shift[ch]);
        for (o, &v) in out.iter_mut().zip(&x[r * d.s..]) {
            *o = (v - m) * a + b;
        }
    })
}

/// Per channel, the sum of `dy` and of `dy * (x - mean)`: what the weight, bias and training
/// input gradients are made of.
pub(super) fn grad_sums(x: &[f32], dy: &[f32], mean: &[f32], d: Dims) -> Vec<(f64, f64)> {
    per_channel(d, |ch| {
        let m = mean[ch];
        d.rows(x, ch)
            .zip(d.rows(dy, ch))
            .fold((0.0, 0.0), |(s, sx), (xr, gr)| (s + sum_by(gr, |g| g), sx + sum_pairs(xr, gr, |v, g| g * (v - m))))
    })
}

/// `a[ch] * dy + b[ch] * (x - center[ch]) + k[ch]`: the training input gradient, which is
/// affine in `dy` and `x` once the channel sums are known.
pub(super) fn channel_affine2(dy: &[f32], x: &[f32], d: Dims, center: &[f32], [a, b, k]: [&[f32]; 3]) -> Vec<f32> {
    per_row(d, |ch, r, out| {
        let (m, a, b, k) = (center[ch], a[ch], b[ch], k[ch]);
        for ((o, &g), &v) in out.iter_mut().zip(&dy[r * d.s..]).zip(&x[r * d.s..]) {
            *o = a * g + b * (v - m) + k;
        }
    })
}
