//! bf16 kernels of `conv2d` (autocast and bfloat16 tensors): every pass is a product of
//! `cpu::bf16`, whose operands are packers that read the convolution's tensors in place, rounding
//! float32 to bf16 as they pack. Sums are float32; a result is rounded to bf16 once, or (for a
//! float32 input or weight's gradient) kept in float32.
//!
//! - forward: an implicit gemm per chunk of samples: the weight (packed once) times the im2col of
//!   the input (lines = output positions, k = (channel, tap) in the weight's own order), read by
//!   [`pack::UnfoldedLines`] from a zero-padded bf16 copy of the chunk: each pair of an output
//!   row is then two runs of a padded row, interleaved by one permute, with no bounds to work out
//!   per row (which, done in place, took as long as the products on 8x8 planes). Output planes
//!   smaller than [`FOLD_PLANE`] are folded: a chunk of samples side by side in one product,
//!   staged in float32 and then scattered to NCHW.
//! - input gradient: at stride 1 (with padding within the kernel's span and no more output
//!   channels than input ones per group), the forward of the transposed convolution (the weight
//!   turned and its channel dims swapped, packed once); else a product into float32 columns (the
//!   weight transposed times `dy`), folded back by col2im.
//! - weight gradient: one product whose depth is (sample, position): `dy` times the im2col of the
//!   input, gathered from the same padded copy, with the batch split across threads and the
//!   float32 partials summed.
//! - bias gradient: float32 sums of `dy` per channel and sample, added in float64.
//!
//! The products go through [`Product`]: `cpu::bf16::gemm` where AVX512-BF16 runs, and in tests
//! also `cpu::bf16::reference`, so the packing and the plumbing are checked on every CPU.

mod pack;
pub(crate) mod storage;
#[cfg(test)]
mod tests;

use half::bf16;
use rayon::prelude::*;

use super::im2col::{fold_plane, tap_windows};
use crate::cpu::bf16::{Element, Output, PackPairs};
use crate::nn::conv::ConvShape;
use pack::{DyDepth, Flipped, Lines, Packed, Rows, Transposed, Unfolded};

/// Whether the bf16 kernels run `s` faster than the float32 routes, so that autocast takes them
/// (except for a forward the direct kernels' bf16 pairs take, see `cpu::pairs_take_forward`).
/// With fewer than 32 channels in or out per group they do not (bench/KERNELS.md, "The bf16
/// convolution"): the products are too short for what packing costs, and the float32 direct
/// kernels pack nothing. From 32 channels on the weight gradient gains 1.5-2x and the other
/// passes 1.0-1.8x.
/// On AMX tiles the threshold is the same (below 32 channels float32 still wins, as half of a
/// 32-row tile would be padding). Small batches never pay (`cpu::bf16_batch_pays`).
pub(crate) fn pays(s: &ConvShape) -> bool {
    s.cg().min(s.og()) >= 32 && super::bf16_batch_pays(s)
}

/// Output planes smaller than this are folded: a chunk of samples is one product, so that its
/// lines are not mostly a tile's padding.
const FOLD_PLANE: usize = 256;

/// The lines (samples times output positions) a folded chunk aims for.
const FOLD_LINES: usize = 1024;

/// A float type of the convolution's tensors.
pub(crate) trait Float: Element + Default + pack::PackRuns {
    fn to_f32(self) -> f32;
    fn from_f32(v: f32) -> Self;
    /// `data` as a product's output, overwritten.
    fn output(data: &mut [Self]) -> Output<'_>;
}

impl Float for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f32(v: f32) -> Self {
        v
    }
    fn output(data: &mut [f32]) -> Output<'_> {
        Output::F32 {
            data,
            accumulate: false,
        }
    }
}

impl Float for bf16 {
    #[inline]
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    #[inline]
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn output(data: &mut [bf16]) -> Output<'_> {
        Output::Bf16 { data }
    }
}

/// The product the kernels run: `cpu::bf16::gemm`'s signature.
pub(crate) trait Product: Sync {
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &self,
        mn: [usize; 2],
        a: &impl PackPairs,
        b: &impl PackPairs,
        out: Output<'_>,
        row_stride: usize,
        row_bias: Option<&[f32]>,
        parallel: bool,
    );
}

/// `cpu::bf16::gemm`: callers check `cpu::bf16::available()` first.
pub(crate) struct Bf16Gemm;

impl Product for Bf16Gemm {
    fn gemm(
        &self,
        mn: [usize; 2],
        a: &impl PackPairs,
        b: &impl PackPairs,
        out: Output<'_>,
        row_stride: usize,
        row_bias: Option<&[f32]>,
        parallel: bool,
    ) {
        crate::cpu::bf16::gemm(mn, a, b, out, row_stride, row_bias, parallel)
    }
}

/// How a pass walks the batch: chunks of `per_chunk` samples, as rayon tasks with single-threaded
/// products when there are enough chunks for every thread, else one after another with the
/// products split across threads.
#[derive(Clone, Copy)]
struct Plan {
    per_chunk: usize,
    in_tasks: bool,
}

impl Plan {
    /// Chunks of about `per_chunk` samples; where they run as tasks, as many as a multiple of the
    /// thread count, so that no thread idles through the last round (7 chunks on 2 threads).
    fn new(n: usize, per_chunk: usize) -> Plan {
        let threads = rayon::current_num_threads();
        let mut chunks = n.div_ceil(per_chunk.clamp(1, n.max(1)));
        if chunks >= threads {
            chunks = chunks.next_multiple_of(threads).min(n);
        }
        let per_chunk = n.div_ceil(chunks.max(1)).max(1);
        Plan {
            per_chunk,
            in_tasks: n.div_ceil(per_chunk) >= threads,
        }
    }

    /// Calls `f(first sample, chunk of out, scratch)` for each chunk of `out`, `per_sample` values
    /// a sample.
    fn for_each<T: Send>(
        self,
        out: &mut [T],
        per_sample: usize,
        f: impl Fn(usize, &mut [T], &mut Vec<f32>) + Sync,
    ) {
        let size = (self.per_chunk * per_sample).max(1);
        if self.in_tasks {
            out.par_chunks_mut(size)
                .enumerate()
                .for_each_init(Vec::new, |scratch, (i, chunk)| {
                    f(i * self.per_chunk, chunk, scratch)
                });
        } else {
            let mut scratch = Vec::new();
            for (i, chunk) in out.chunks_mut(size).enumerate() {
                f(i * self.per_chunk, chunk, &mut scratch);
            }
        }
    }
}

/// Samples per chunk of the implicit gemm of `s`: one, or for small planes enough to fill
/// [`FOLD_LINES`], still leaving a chunk per thread.
fn fold(s: &ConvShape) -> usize {
    let ohw = s.ohw().max(1);
    if ohw >= FOLD_PLANE {
        1
    } else {
        FOLD_LINES
            .div_ceil(ohw)
            .min(s.n.div_ceil(rayon::current_num_threads()))
    }
}

/// Forward: `y = conv(x, w) (+ bias)` for `x` [n, c, h, w] and `w` [o, c / groups, kh, kw], any mix
/// of float32 and bf16, into `Y`.
pub(crate) fn forward<X: Float, W: Float, B: Float, Y: Float>(
    p: &impl Product,
    s: &ConvShape,
    x: &[X],
    w: &[W],
    bias: Option<&[B]>,
) -> Vec<Y> {
    let (og, k) = (s.og(), s.k());
    let weights: Vec<Packed> = (0..s.groups)
        .map(|g| Packed::new(&Rows::new(&w[g * og * k..][..og * k], k)))
        .collect();
    let bias: Option<Vec<f32>> = bias.map(|b| b.iter().map(|&v| v.to_f32()).collect());
    implicit_gemm(p, s, x, &weights, bias.as_deref())
}

/// `y = conv(x, w) (+ bias)` with the weight of each group packed: [og, c / groups * taps].
fn implicit_gemm<X: Float, Y: Float>(
    p: &impl Product,
    s: &ConvShape,
    x: &[X],
    weights: &[Packed],
    bias: Option<&[f32]>,
) -> Vec<Y> {
    let (hw, ohw, og) = (s.hw(), s.ohw(), s.og());
    let mut y = vec![Y::default(); s.n * s.o * ohw];
    let plan = Plan::new(s.n, fold(s));
    let inside = !plan.in_tasks;
    plan.for_each(&mut y, s.o * ohw, |first, y, scratch| {
        let nb = y.len() / (s.o * ohw);
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let unfolded = Unfolded::new(s, x, nb);
        for (g, weight) in weights.iter().enumerate() {
            let b = unfolded.lines(g);
            let bias = bias.map(|b| &b[g * og..][..og]);
            if nb == 1 {
                let out = Y::output(&mut y[g * og * ohw..][..og * ohw]);
                p.gemm([og, ohw], weight, &b, out, ohw, bias, inside);
                continue;
            }
            // Folded: [og, nb * ohw] staged in float32, then each sample's rows in place.
            let lines = nb * ohw;
            scratch.resize(og * lines, 0.0);
            let out = Output::F32 {
                data: &mut scratch[..],
                accumulate: false,
            };
            p.gemm([og, lines], weight, &b, out, lines, bias, inside);
            for (n, y) in y.chunks_mut(s.o * ohw).enumerate() {
                let y = &mut y[g * og * ohw..][..og * ohw];
                for (r, row) in y.chunks_mut(ohw).enumerate() {
                    let from = &scratch[r * lines + n * ohw..][..ohw];
                    row.iter_mut()
                        .zip(from)
                        .for_each(|(d, &v)| *d = Y::from_f32(v));
                }
            }
        }
    });
    y
}

/// Gradient of the input, [n, c, h, w] in `Y`, from `dy` [n, o, oh, ow] and the weight.
pub(crate) fn backward_input<G: Float, W: Float, Y: Float>(
    p: &impl Product,
    s: &ConvShape,
    dy: &[G],
    w: &[W],
) -> Vec<Y> {
    // With more output channels than input ones per group, the transposed convolution's product
    // has few rows (the input's channels) and a deep, wide right operand to pack; col2im's has
    // the input's channels times taps rows and packs only `dy`.
    match s.transposed().filter(|_| s.og() <= s.cg()) {
        Some(t) => {
            let weights: Vec<Packed> = (0..s.groups)
                .map(|g| Packed::new(&Flipped::new(s, w, g)))
                .collect();
            implicit_gemm(p, &t, dy, &weights, None)
        }
        None => col2im(p, s, dy, w),
    }
}

/// The input gradient as float32 columns `w[g]^T @ dy[g]` [c / groups * taps, oh * ow] per sample
/// and group, folded back onto the input.
fn col2im<G: Float, W: Float, Y: Float>(
    p: &impl Product,
    s: &ConvShape,
    dy: &[G],
    w: &[W],
) -> Vec<Y> {
    let (og, k, hw, ohw) = (s.og(), s.k(), s.hw(), s.ohw());
    let weights: Vec<Packed> = (0..s.groups)
        .map(|g| Packed::new(&Transposed::new(&w[g * og * k..][..og * k], k)))
        .collect();
    let taps = tap_windows(s);
    let mut dx = vec![Y::default(); s.n * s.c * hw];
    let plan = Plan::new(s.n, 1);
    let inside = !plan.in_tasks;
    plan.for_each(&mut dx, s.c * hw, |n, dx, scratch| {
        scratch.resize(k * ohw + s.c * hw, 0.0);
        let (cols, sum) = scratch.split_at_mut(k * ohw);
        sum.fill(0.0);
        let dy = &dy[n * s.o * ohw..][..s.o * ohw];
        for (g, weight) in weights.iter().enumerate() {
            let b = Lines::new(&dy[g * og * ohw..][..og * ohw], ohw);
            let out = Output::F32 {
                data: cols,
                accumulate: false,
            };
            p.gemm([k, ohw], weight, &b, out, ohw, None, inside);
            for (r, col) in cols.chunks_exact(ohw).enumerate() {
                let ch = g * s.cg() + r / taps.len();
                fold_plane(s, &taps[r % taps.len()], col, &mut sum[ch * hw..][..hw]);
            }
        }
        dx.iter_mut()
            .zip(&*sum)
            .for_each(|(d, &v)| *d = Y::from_f32(v));
    });
    dx
}

/// Gradient of the weight, [o, c / groups, kh, kw] in `Y`, from the input and `dy`: float32 sums
/// over the batch, which is split into a chunk per thread.
pub(crate) fn backward_weight<X: Float, G: Float, Y: Float>(
    p: &impl Product,
    s: &ConvShape,
    x: &[X],
    dy: &[G],
) -> Vec<Y> {
    let (og, k, hw, ohw) = (s.og(), s.k(), s.hw(), s.ohw());
    let threads = rayon::current_num_threads();
    let per_chunk = s.n.div_ceil(threads).max(1);
    let chunks = s.n.div_ceil(per_chunk);
    let inside = chunks < threads;
    let partial = |index: usize| -> Vec<f32> {
        let first = index * per_chunk;
        let nb = per_chunk.min(s.n - first);
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let dy = &dy[first * s.o * ohw..][..nb * s.o * ohw];
        let unfolded = Unfolded::new(s, x, nb);
        let mut dw = vec![0f32; s.o * k];
        for g in 0..s.groups {
            let a = Packed::new(&DyDepth::new(s, dy, g, nb));
            let b = unfolded.group(g);
            let out = Output::F32 {
                data: &mut dw[g * og * k..][..og * k],
                accumulate: false,
            };
            p.gemm([og, k], &a, &b, out, k, None, inside);
        }
        dw
    };
    let partials: Vec<Vec<f32>> = if inside {
        (0..chunks).map(partial).collect()
    } else {
        (0..chunks).into_par_iter().map(partial).collect()
    };
    let mut dw = vec![Y::default(); s.o * k];
    if partials.is_empty() {
        return dw;
    }
    dw.par_chunks_mut(1 << 12).enumerate().for_each(|(i, dw)| {
        let at = i << 12;
        for (j, d) in dw.iter_mut().enumerate() {
            *d = Y::from_f32(partials.iter().map(|part| part[at + j]).sum());
        }
    });
    dw
}

/// Gradient of the bias: `dy` summed over the batch and the output plane of each channel, in
/// float32 per plane and float64 across the batch.
pub(crate) fn backward_bias<G: Float, Y: Float>(s: &ConvShape, dy: &[G]) -> Vec<Y> {
    let ohw = s.ohw();
    (0..s.o)
        .into_par_iter()
        .map(|o| {
            let sum: f64 = (0..s.n)
                .map(|n| plane_sum(&dy[(n * s.o + o) * ohw..][..ohw]) as f64)
                .sum();
            Y::from_f32(sum as f32)
        })
        .collect()
}

/// A float32 sum in 16 lanes, which the compiler vectorises.
fn plane_sum<G: Float>(plane: &[G]) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = plane.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|v| v.to_f32()).sum();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v.to_f32();
        }
    }
    lanes.iter().sum::<f32>() + tail
}
