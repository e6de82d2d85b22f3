//! Batch-norm kernels over a contiguous input seen as `[n, c, s]`: `n` samples of `c` channels of
//! `s` positions. Long rows (the `s` values of one channel in one sample) are walked row by row
//! with the channel's coefficients as scalars; short ones (`[N, C]` inputs have s = 1) sample by
//! sample with the coefficients spread over the sample's `c * s` columns. Either way the inner
//! loops are plain zips over contiguous slices, which vectorise, and each rayon task runs them
//! compiled for the CPU's widest vectors (`with_wide_vectors`). A ReLU after the normalisation is
//! applied as the output is written, and its mask (the saved output > 0) as `dy` is read. The
//! per-channel arithmetic (statistics, running-statistic updates, the backward's coefficients) is
//! here too.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{BackwardPlan, Dims};
use crate::cpu::{lane_sum_rows, lane_sums_rows, with_wide_vectors, PARALLEL_MIN_ELEMS};

/// Rows shorter than this are walked by sample.
const SHORT_ROW: usize = 64;

/// How the kernels split the work.
impl Dims {
    fn numel(self) -> usize {
        self.n * self.c * self.s
    }

    fn parallel(self) -> bool {
        self.numel() >= PARALLEL_MIN_ELEMS
    }

    fn short(self) -> bool {
        self.s < SHORT_ROW
    }
}

/// Per-channel values repeated for each of the channel's `s` columns in a sample.
fn spread<const P: usize>(d: Dims, per_channel: [&[f32]; P]) -> [Vec<f32>; P] {
    std::array::from_fn(|k| {
        per_channel[k]
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, d.s))
            .collect()
    })
}

/// Per channel, the sums over its `n * s` positions of the two terms `f(inputs at the position,
/// center[ch])`.
fn channel_sums<const K: usize>(
    inputs: [&[f32]; K],
    d: Dims,
    center: &[f32],
    f: impl Fn([f32; K], f32) -> (f32, f32) + Sync + Send,
) -> Vec<(f64, f64)> {
    if d.numel() == 0 {
        return vec![(0.0, 0.0); d.c];
    }
    if !d.short() {
        let by_channel = |ch: usize| {
            let m = center[ch];
            let rows = (0..d.n).map(|i| {
                let at = (i * d.c + ch) * d.s;
                inputs.map(|a| &a[at..at + d.s])
            });
            with_wide_vectors(
                #[inline(always)]
                || {
                    lane_sums_rows(
                        rows,
                        #[inline(always)]
                        |v| f(v, m),
                    )
                },
            )
        };
        return if d.parallel() {
            (0..d.c).into_par_iter().map(by_channel).collect()
        } else {
            (0..d.c).map(by_channel).collect()
        };
    }
    // Column sums in f32 over blocks of samples, added up in f64.
    const BLOCK: usize = 64;
    let cs = d.c * d.s;
    let [centers] = spread(d, [center]);
    let block = |b: usize| {
        with_wide_vectors(
            #[inline(always)]
            || {
                let (mut s1, mut s2) = (vec![0f32; cs], vec![0f32; cs]);
                // Slices of one known length, so that the loop below has no bounds checks.
                let (t1s, t2s, centers) = (&mut s1[..cs], &mut s2[..cs], &centers[..cs]);
                for i in b * BLOCK..d.n.min((b + 1) * BLOCK) {
                    let rows = inputs.map(|a| &a[i * cs..][..cs]);
                    for j in 0..cs {
                        let (t1, t2) = f(rows.map(|r| r[j]), centers[j]);
                        t1s[j] += t1;
                        t2s[j] += t2;
                    }
                }
                (s1, s2)
            },
        )
    };
    let blocks = d.n.div_ceil(BLOCK);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = if d.parallel() {
        (0..blocks).into_par_iter().map(block).collect()
    } else {
        (0..blocks).map(block).collect()
    };
    let total = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>();
    (0..d.c)
        .map(|ch| {
            let cols = ch * d.s..(ch + 1) * d.s;
            partials.iter().fold((0.0, 0.0), |(t1, t2), (s1, s2)| {
                (t1 + total(&s1[cols.clone()]), t2 + total(&s2[cols.clone()]))
            })
        })
        .collect()
}

/// A new `[n, c, s]` buffer of `f(inputs at the element, coefficients of its channel)`.
fn channel_map<const K: usize, const P: usize>(
    inputs: [&[f32]; K],
    d: Dims,
    coefficients: [&[f32]; P],
    f: impl Fn([f32; K], [f32; P]) -> f32 + Sync + Send,
) -> Vec<f32> {
    let len = d.numel();
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let (unit, columns) = if d.short() {
        (d.c * d.s, Some(spread(d, coefficients)))
    } else {
        (d.s, None)
    };
    // Written once, element by element: no zeroing first.
    let fill = |(u, out): (usize, &mut [MaybeUninit<f32>])| {
        let rows = inputs.map(|a| &a[u * unit..][..unit]);
        match &columns {
            Some(columns) => {
                let cols: [&[f32]; P] = std::array::from_fn(|k| &columns[k][..]);
                with_wide_vectors(
                    #[inline(always)]
                    || map_columns(out, rows, cols, &f),
                )
            }
            None => {
                let p = coefficients.map(|c| c[u % d.c]);
                with_wide_vectors(
                    #[inline(always)]
                    || map_row(out, rows, p, &f),
                )
            }
        }
    };
    let spare = &mut out.spare_capacity_mut()[..len];
    if d.parallel() {
        let min_units = (PARALLEL_MIN_ELEMS / 4 / unit).max(1);
        spare
            .par_chunks_mut(unit)
            .with_min_len(min_units)
            .enumerate()
            .for_each(fill);
    } else {
        spare.chunks_mut(unit).enumerate().for_each(fill);
    }
    // SAFETY: `fill` wrote every element of every unit.
    unsafe { out.set_len(len) };
    out
}

/// `out[j] = f(rows at j, p)`. The operands come by value, so that once inlined they live in
/// registers rather than being reloaded around each store.
#[inline(always)]
fn map_row<const K: usize, const P: usize>(
    out: &mut [MaybeUninit<f32>],
    rows: [&[f32]; K],
    p: [f32; P],
    f: &impl Fn([f32; K], [f32; P]) -> f32,
) {
    // Slices of one known length, so that the loop has no bounds checks.
    let rows = rows.map(|r| &r[..out.len()]);
    for (j, o) in out.iter_mut().enumerate() {
        o.write(f(rows.map(|r| r[j]), p));
    }
}

/// `out[j] = f(rows at j, columns at j)`, as `map_row`.
#[inline(always)]
fn map_columns<const K: usize, const P: usize>(
    out: &mut [MaybeUninit<f32>],
    rows: [&[f32]; K],
    columns: [&[f32]; P],
    f: &impl Fn([f32; K], [f32; P]) -> f32,
) {
    let rows = rows.map(|r| &r[..out.len()]);
    let columns = columns.map(|c| &c[..out.len()]);
    for (j, o) in out.iter_mut().enumerate() {
        o.write(f(rows.map(|r| r[j]), columns.map(|c| c[j])));
    }
}

/// Mean and biased variance of every channel. Long rows are read once, in blocks that stay in the
/// L1 cache (several rows to a block where they are shorter); short ones (`[N, C]` inputs) in two
/// passes. Both centre before squaring, so that large means don't cancel.
pub(super) fn channel_stats(x: &[f32], d: Dims) -> Vec<(f64, f64)> {
    if !d.short() && d.numel() > 0 {
        let by_channel = |ch: usize| {
            let mut m = Moments::default();
            // Blocks of whole rows (or pieces of long ones) of about MOMENT_BLOCK values.
            let (mut block, mut len) = (Vec::new(), 0);
            for i in 0..d.n {
                let at = (i * d.c + ch) * d.s;
                for piece in x[at..at + d.s].chunks(MOMENT_BLOCK) {
                    block.push(piece);
                    len += piece.len();
                    if len >= MOMENT_BLOCK {
                        with_wide_vectors(
                            #[inline(always)]
                            || m.add(&block),
                        );
                        block.clear();
                        len = 0;
                    }
                }
            }
            if len > 0 {
                with_wide_vectors(
                    #[inline(always)]
                    || m.add(&block),
                );
            }
            (m.mean, m.m2 / m.count)
        };
        return if d.parallel() {
            (0..d.c).into_par_iter().map(by_channel).collect()
        } else {
            (0..d.c).map(by_channel).collect()
        };
    }
    let count = (d.n * d.s) as f64;
    let zeros = vec![0f32; d.c];
    let means: Vec<f64> = channel_sums(
        [x],
        d,
        &zeros,
        #[inline(always)]
        |[v], _| (v, 0.0),
    )
    .into_iter()
    .map(|(s, _)| s / count)
    .collect();
    let centers: Vec<f32> = means.iter().map(|&m| m as f32).collect();
    let squares = channel_sums(
        [x],
        d,
        &centers,
        #[inline(always)]
        |[v], m| ((v - m) * (v - m), 0.0),
    );
    means
        .into_iter()
        .zip(squares)
        .map(|(m, (sq, _))| (m, sq / count))
        .collect()
}

/// Floats per block of `Moments::add`: 2 KB, read twice from L1.
const MOMENT_BLOCK: usize = 512;

/// Count, mean and sum of squared deviations of the values seen so far.
#[derive(Default)]
struct Moments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Adds a block of rows: its own mean and squared deviations (two passes over it while it is
    /// in cache), merged in f64 with the pairwise update of Chan, Golub and LeVeque.
    #[inline(always)]
    fn add(&mut self, block: &[&[f32]]) {
        let n = block.iter().map(|r| r.len()).sum::<usize>() as f64;
        let mean = lane_sum_rows(
            block.iter().copied(),
            #[inline(always)]
            |v| v,
        ) / n;
        let center = mean as f32;
        // Squares about `center`, less what its rounding away from `mean` added.
        let offset = mean - center as f64;
        let m2 = lane_sum_rows(
            block.iter().copied(),
            #[inline(always)]
            |v| (v - center) * (v - center),
        ) - n * offset * offset;
        let total = self.count + n;
        let delta = mean - self.mean;
        self.mean += delta * n / total;
        self.m2 += m2 + delta * delta * self.count * n / total;
        self.count = total;
    }
}

/// Per channel: the batch's mean and `1 / sqrt(var + eps)` from its `(mean, biased var)`.
pub(super) fn batch_mean_invstd(stats: &[(f64, f64)], eps: f64) -> (Vec<f32>, Vec<f32>) {
    stats
        .iter()
        .map(|&(m, v)| (m as f32, (1.0 / (v + eps).sqrt()) as f32))
        .unzip()
}

/// Per channel: a copy of the running mean, and `1 / sqrt(running_var + eps)`.
pub(super) fn running_mean_invstd(
    running_mean: &[f32],
    running_var: &[f32],
    eps: f64,
) -> (Vec<f32>, Vec<f32>) {
    let invstd = running_var
        .iter()
        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
        .collect();
    (running_mean.to_vec(), invstd)
}

/// `(1 - momentum) * running + momentum * batch`, in f64.
fn blend(running: &mut f32, batch: f64, momentum: f64) {
    *running = ((1.0 - momentum) * *running as f64 + momentum * batch) as f32
}

/// Folds the batch means of `stats` into the running means.
pub(super) fn update_running_mean(running: &mut [f32], stats: &[(f64, f64)], momentum: f64) {
    running
        .iter_mut()
        .zip(stats)
        .for_each(|(r, &(m, _))| blend(r, m, momentum));
}

/// Folds the batch variances of `stats`, made unbiased over `count` values as in PyTorch, into the
/// running variances.
pub(super) fn update_running_var(
    running: &mut [f32],
    stats: &[(f64, f64)],
    count: f64,
    momentum: f64,
) {
    running
        .iter_mut()
        .zip(stats)
        .for_each(|(r, &(_, v))| blend(r, v * count / (count - 1.0), momentum));
}

/// `weight * invstd` per channel: what the centred input is multiplied by.
pub(super) fn channel_scale(invstd: &[f32], weight: &[f32]) -> Vec<f32> {
    invstd.iter().zip(weight).map(|(&i, &w)| i * w).collect()
}

/// ReLU as `Tensor::relu` computes it: NaN passes through.
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v > 0.0 || v.is_nan() {
        v
    } else {
        0.0
    }
}

/// ReLU's backward as `Tensor::relu`'s: the gradient passes where the output is positive.
#[inline(always)]
fn relu_mask(g: f32, y: f32) -> f32 {
    if y > 0.0 {
        g
    } else {
        0.0
    }
}

/// The normalised output `(x - mean) * scale + shift` per channel, through a ReLU when `relu`.
/// Centring first keeps the precision that `x * scale + (shift - center * scale)` would lose to
/// cancellation when the mean is large.
pub(super) fn forward(
    x: &[f32],
    d: Dims,
    mean: &[f32],
    scale: &[f32],
    shift: &[f32],
    relu_after: bool,
) -> Vec<f32> {
    let coefficients = [mean, scale, shift];
    match relu_after {
        false => channel_map(
            [x],
            d,
            coefficients,
            #[inline(always)]
            |[v], [m, a, b]| (v - m) * a + b,
        ),
        true => channel_map(
            [x],
            d,
            coefficients,
            #[inline(always)]
            |[v], [m, a, b]| relu((v - m) * a + b),
        ),
    }
}

/// The gradients `plan` asks for, as `[input, weight, bias]`, from the saved input `x`, the
/// upstream gradient `dy` and the forward's per-channel `mean`, `invstd` and `scale`. With
/// `relu_output` (the forward's output after its ReLU), `dy` is the ReLU's upstream gradient and
/// is masked as it is read.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    x: &[f32],
    dy: &[f32],
    relu_output: Option<&[f32]>,
    d: Dims,
    mean: &[f32],
    invstd: &[f32],
    scale: &[f32],
    plan: BackwardPlan,
) -> [Option<Vec<f32>>; 3] {
    let sums = (plan.weight || plan.bias || (plan.input && plan.training))
        .then(|| channel_grad_sums(x, dy, relu_output, mean, d));
    let dx = match (plan.input, &sums) {
        (true, Some(sums)) if plan.training => Some(backward_input_training(
            x,
            dy,
            relu_output,
            d,
            [mean, invstd, scale],
            sums,
        )),
        (true, _) => Some(backward_input_eval(dy, relu_output, d, scale)),
        (false, _) => None,
    };
    // Computed whenever a parameter needs a gradient.
    let sums = sums.unwrap_or_default();
    let dw = plan.weight.then(|| backward_weight(&sums, invstd));
    let db = plan.bias.then(|| backward_bias(&sums));
    [dx, dw, db]
}

/// Per channel, the sum of `dy` and of `dy * (x - mean)`: what the weight, bias and training
/// input gradients are made of.
fn channel_grad_sums(
    x: &[f32],
    dy: &[f32],
    relu_output: Option<&[f32]>,
    mean: &[f32],
    d: Dims,
) -> Vec<(f64, f64)> {
    match relu_output {
        None => channel_sums(
            [x, dy],
            d,
            mean,
            #[inline(always)]
            |[v, g], m| (g, g * (v - m)),
        ),
        Some(y) => channel_sums(
            [x, dy, y],
            d,
            mean,
            #[inline(always)]
            |[v, g, y], m| {
                let g = relu_mask(g, y);
                (g, g * (v - m))
            },
        ),
    }
}

/// In training, dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)) with the batch statistics'
/// own gradient, written as `a * dy + b * (x - mean) + k` per channel so that one pass
/// computes it once the channel sums are known.
fn backward_input_training(
    x: &[f32],
    dy: &[f32],
    relu_output: Option<&[f32]>,
    d: Dims,
    [mean, invstd, scale]: [&[f32]; 3],
    sums: &[(f64, f64)],
) -> Vec<f32> {
    let count = (d.n * d.s) as f64;
    let (mut a, mut b, mut k) = (vec![0f32; d.c], vec![0f32; d.c], vec![0f32; d.c]);
    for (ch, &(dy_sum, dy_xmu_sum)) in sums.iter().enumerate() {
        let (scale, invstd) = (scale[ch] as f64, invstd[ch] as f64);
        a[ch] = scale as f32;
        b[ch] = (-scale * invstd * invstd * dy_xmu_sum / count) as f32;
        k[ch] = (-scale * dy_sum / count) as f32;
    }
    let coefficients = [mean, &a, &b, &k];
    match relu_output {
        None => channel_map(
            [dy, x],
            d,
            coefficients,
            #[inline(always)]
            |[g, v], [m, a, b, k]| a * g + b * (v - m) + k,
        ),
        Some(y) => channel_map(
            [dy, x, y],
            d,
            coefficients,
            #[inline(always)]
            |[g, v, y], [m, a, b, k]| a * relu_mask(g, y) + b * (v - m) + k,
        ),
    }
}

/// In evaluation the statistics are constants: dx = dy * weight * invstd.
fn backward_input_eval(
    dy: &[f32],
    relu_output: Option<&[f32]>,
    d: Dims,
    scale: &[f32],
) -> Vec<f32> {
    // `(dy - 0) * scale + 0`, the arithmetic of the forward's map with a zero mean and shift.
    match relu_output {
        None => channel_map(
            [dy],
            d,
            [scale],
            #[inline(always)]
            |[g], [a]| (g - 0.0) * a + 0.0,
        ),
        Some(y) => channel_map(
            [dy, y],
            d,
            [scale],
            #[inline(always)]
            |[g, y], [a]| (relu_mask(g, y) - 0.0) * a + 0.0,
        ),
    }
}

/// dweight = sum(dy * xhat), xhat = (x - mean) * invstd.
fn backward_weight(sums: &[(f64, f64)], invstd: &[f32]) -> Vec<f32> {
    sums.iter()
        .enumerate()
        .map(|(c, &(_, dy_xmu))| (dy_xmu * invstd[c] as f64) as f32)
        .collect()
}

/// dbias = sum(dy).
fn backward_bias(sums: &[(f64, f64)]) -> Vec<f32> {
    sums.iter().map(|&(dy, _)| dy as f32).collect()
}
