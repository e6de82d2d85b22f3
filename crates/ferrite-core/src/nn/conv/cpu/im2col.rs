//! The im2col + gemm kernels: every convolution's fallback. A chunk of samples is unfolded side
//! by side into one im2col matrix [c * kh * kw, samples * oh * ow], so that small output planes
//! still make gemms wide enough to run near peak. Forward: `y[g] = w[g] @ im2col(x[g])`; input
//! gradient: gemm, then col2im folds the columns back onto the input; weight gradient:
//! `dy[g] @ im2col(x[g])^T`, summed over the chunks.

use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use super::chunks::{for_each_chunk, sized, summed_over_chunks, Plan, Scratch, MAX_COL_BYTES};
use super::gemm::{matmul, Matrix};
use super::narrow;
use crate::cpu::PARALLEL_GEMM_MIN_FLOPS;
use crate::nn::conv::ConvShape;
use crate::nn::Activation;

/// The im2col columns (samples times output positions) a chunk aims for. Per-sample gemms over 2x2
/// outputs are narrower than gemm's micro-tile and run slower; at 4x4 with 256 to 512 channels,
/// 1024 columns run faster than 256 (gemm packs the weights once per chunk).
const CHUNK_COLS: usize = 1024;

/// The same for the weight gradient, where the columns are gemm's reduction and every chunk reads
/// and writes the whole gradient: output planes smaller than `DEEP_PLANE` take chunks this deep to
/// pay for that.
const WEIGHT_CHUNK_COLS: usize = 1024;

/// From this many output positions (8x8) up, one sample is deep enough for the weight gradient's
/// gemm, and chunks only push a larger im2col matrix out of cache.
const DEEP_PLANE: usize = 64;

/// Up to this many output channels per group, the weight gradient is accumulated column-major
/// (see `backward_weight`).
const COLUMN_GRADIENT_MAX_OG: usize = 64;

/// Forward: `y[g] = activation(w[g] @ im2col(x[g]) (+ bias))`, a chunk of samples at a time, the
/// activation applied to each chunk's output right after its gemm, while it is in cache.
pub(super) fn forward(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
) -> Vec<f32> {
    let (hw, ohw) = (s.hw(), s.ohw());
    let mut y = vec![0.0; s.n * s.o * ohw];
    let plan = plan(s, CHUNK_COLS);
    let (par, min_len, taps) = (plan.gemm_parallelism(), plan.min_len(), tap_windows(s));
    for_each_chunk(&plan, &mut y, s.o * ohw, |first, y, scratch| {
        let nb = y.len() / (s.o * ohw);
        let cols = nb * ohw;
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let rhs = if nb == 1 && s.pointwise() {
            x
        } else {
            let col = scratch.col.zero_padded(s, cols);
            im2col(s, &taps, x, col, min_len);
            col
        };
        // One sample's output is already in gemm layout; a chunk's is staged, then scattered.
        if nb == 1 && s.groups == 1 {
            one_sample_products(s, w, rhs, y, (bias, activation), par);
        } else if nb == 1 {
            fill_rows(y, ohw, bias);
            forward_products(s, w, rhs, y, cols, bias.is_some(), par);
            activation.apply(y);
        } else {
            let staged = sized(&mut scratch.rows, s.o * cols);
            forward_products(s, w, rhs, staged, cols, false, par);
            scatter_rows(staged, y, s.o, ohw, (bias, activation), min_len);
        }
    });
    y
}

/// `one_sample_products` splits output channels, or positions, in whole 16-float vectors.
const ONE_SAMPLE_VECTOR: usize = 16;

/// Output positions per thread from which a sample with too few output channels for a block per
/// thread splits its positions instead (`one_sample_by_positions`).
const ONE_SAMPLE_POSITIONS: usize = 128;

/// One sample of one group, `y = activation(w @ rhs + bias)` with `y` [o, ohw] in gemm layout, a
/// block of output channels per thread, each a single-threaded gemm followed by its bias and
/// activation while in cache: gemm's own split of these narrow products (4 to 1024 columns) ran
/// slower on two threads than on one (bench/KERNELS.md, "One sample on two threads"). Up to 4
/// positions, `narrow` reads the weight in place instead of gemm, which packs it.
fn one_sample_products(
    s: &ConvShape,
    w: &[f32],
    rhs: &[f32],
    y: &mut [f32],
    (bias, activation): (Option<&[f32]>, Activation),
    par: Parallelism,
) {
    let (ohw, k) = (s.ohw(), s.k());
    let threads = match par {
        Parallelism::Rayon(threads) => threads.max(1),
        _ => 1,
    };
    let rows = s.o.div_ceil(threads).next_multiple_of(ONE_SAMPLE_VECTOR);
    if s.o.div_ceil(rows) < threads && ohw >= threads * ONE_SAMPLE_POSITIONS {
        return one_sample_by_positions(s, w, rhs, y, (bias, activation), threads);
    }
    let narrow = ohw <= narrow::MAX_POSITIONS && narrow::available();
    let cols_t = if narrow {
        transposed(rhs, k, ohw)
    } else {
        Vec::new()
    };
    y.par_chunks_mut(rows * ohw)
        .enumerate()
        .for_each(|(block, y)| {
            let first = block * rows;
            let o = y.len() / ohw;
            let (w, bias) = (&w[first * k..][..o * k], bias.map(|b| &b[first..][..o]));
            if narrow {
                fill_rows(y, ohw, bias);
                narrow::products(w, &cols_t, k, y, ohw);
            } else {
                gemm_with_bias(y, [o, ohw, k], w, Matrix::rows(rhs, ohw), bias);
            }
            activation.apply(y);
        });
}

/// `one_sample_products` for a layer with too few output channels to give each thread a block
/// (ResNet's 16 at 32x32): a block of output positions per thread, computed into a buffer of its
/// own and copied into `y`'s rows.
fn one_sample_by_positions(
    s: &ConvShape,
    w: &[f32],
    rhs: &[f32],
    y: &mut [f32],
    (bias, activation): (Option<&[f32]>, Activation),
    threads: usize,
) {
    let (ohw, k) = (s.ohw(), s.k());
    let width = ohw.div_ceil(threads).next_multiple_of(ONE_SAMPLE_VECTOR);
    let starts: Vec<usize> = (0..ohw).step_by(width).collect();
    let blocks: Vec<Vec<f32>> = starts
        .par_iter()
        .map(|&first| {
            let cols = width.min(ohw - first);
            let mut block = vec![0.0; s.o * cols];
            let rhs = Matrix::rows(&rhs[first..], ohw);
            gemm_with_bias(&mut block, [s.o, cols, k], w, rhs, bias);
            activation.apply(&mut block);
            block
        })
        .collect();
    for (first, block) in starts.into_iter().zip(blocks) {
        let cols = block.len() / s.o;
        for (dst, src) in y.chunks_mut(ohw).zip(block.chunks(cols)) {
            dst[first..first + cols].copy_from_slice(src);
        }
    }
}

/// `y (m x n, row-major) = w (m x k) @ rhs (k x n) + bias per row`, single-threaded.
fn gemm_with_bias(
    y: &mut [f32],
    [m, n, k]: [usize; 3],
    w: &[f32],
    rhs: Matrix,
    bias: Option<&[f32]>,
) {
    fill_rows(y, n, bias);
    matmul(
        y,
        n,
        [m, n, k],
        Matrix::rows(w, k),
        rhs,
        bias.is_some(),
        Parallelism::None,
    );
}

/// Each `width`-long row of `y` set to its value of `bias`, where there is one.
fn fill_rows(y: &mut [f32], width: usize, bias: Option<&[f32]>) {
    if let Some(bias) = bias {
        for (row, &b) in y.chunks_mut(width).zip(bias) {
            row.fill(b);
        }
    }
}

/// `m` [rows, cols] transposed into a new [cols, rows] matrix.
fn transposed(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    for (r, row) in m.chunks_exact(cols).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// Gradient of the input: `dx = col2im(w[g]^T @ dy[g])`, a chunk of samples at a time.
pub(super) fn backward_input(s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
    let (hw, ohw) = (s.hw(), s.ohw());
    let mut dx = vec![0.0; s.n * s.c * hw];
    let plan = plan(s, CHUNK_COLS);
    let (par, min_len, taps) = (plan.gemm_parallelism(), plan.min_len(), tap_windows(s));
    for_each_chunk(&plan, &mut dx, s.c * hw, |first, dx, scratch| {
        let nb = dx.len() / (s.c * hw);
        let cols = nb * ohw;
        let dy = &dy[first * s.o * ohw..][..nb * s.o * ohw];
        let dy = if nb == 1 {
            dy
        } else {
            let rows = sized(&mut scratch.rows, s.o * cols);
            gather_rows(dy, rows, s.o, ohw, min_len);
            rows
        };
        if nb == 1 && s.pointwise() {
            backward_input_products(s, w, dy, dx, cols, par);
        } else {
            let dcol = scratch.col.overwritten(s.c * s.taps() * cols);
            backward_input_products(s, w, dy, dcol, cols, par);
            col2im(s, &taps, dcol, dx, min_len);
        }
    });
    dx
}

/// `dst[g] = w[g] @ rhs[g]` for every group ([og, k] @ [k, cols]), added to `dst` when
/// `accumulate`.
fn forward_products(
    s: &ConvShape,
    w: &[f32],
    rhs: &[f32],
    dst: &mut [f32],
    cols: usize,
    accumulate: bool,
    par: Parallelism,
) {
    let (og, k) = (s.og(), s.k());
    for g in 0..s.groups {
        let (wg, rhs) = (&w[g * og * k..][..og * k], &rhs[g * k * cols..][..k * cols]);
        let dst = &mut dst[g * og * cols..][..og * cols];
        matmul(
            dst,
            cols,
            [og, cols, k],
            Matrix::rows(wg, k),
            Matrix::rows(rhs, cols),
            accumulate,
            par,
        );
    }
}

/// `dst[g] = w[g]^T @ dy[g]` for every group ([k, og] @ [og, cols]): the im2col columns of the
/// input gradient.
fn backward_input_products(
    s: &ConvShape,
    w: &[f32],
    dy: &[f32],
    dst: &mut [f32],
    cols: usize,
    par: Parallelism,
) {
    let (og, k) = (s.og(), s.k());
    for g in 0..s.groups {
        let (wg, dyg) = (
            &w[g * og * k..][..og * k],
            &dy[g * og * cols..][..og * cols],
        );
        let dst = &mut dst[g * k * cols..][..k * cols];
        matmul(
            dst,
            cols,
            [k, cols, og],
            Matrix::rows(wg, k).transposed(),
            Matrix::rows(dyg, cols),
            false,
            par,
        );
    }
}

/// Gradient of the weight: `dw[g] = sum over chunks of dy[g] @ im2col(x[g])^T`, summed in gemm's
/// accumulator; where chunks run as tasks, each thread sums its run of chunks into its own buffer
/// before those are added.
pub(super) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    // With few output channels, each group's gradient is accumulated as [k, og] (column-major
    // [og, k]): gemm then reads the im2col matrix as it lies, contiguous along the reduction, and
    // packs only `dy`, c * taps / og times smaller; row-major, it packs a copy of the im2col matrix.
    // With many, gemm's tiles along og are what pay, and the row-major product wins.
    let by_column = s.og() <= COLUMN_GRADIENT_MAX_OG;
    let plan = plan(
        s,
        if s.ohw() >= DEEP_PLANE {
            1
        } else {
            WEIGHT_CHUNK_COLS
        },
    );
    let chunks = WeightChunks {
        s,
        plan,
        par: plan.gemm_parallelism(),
        min_len: plan.min_len(),
        taps: tap_windows(s),
        by_column,
        x,
        dy,
    };
    let dw = summed_over_chunks(&plan, s.o * s.k(), |scratch, dw, index| {
        chunks.add(scratch, dw, index)
    });
    if by_column {
        untranspose(s, &dw)
    } else {
        dw
    }
}

/// The weight gradient's chunks: the plan, and how each chunk's products are taken.
struct WeightChunks<'a> {
    s: &'a ConvShape,
    plan: Plan,
    par: Parallelism,
    min_len: usize,
    taps: Vec<Tap>,
    /// Whether each group's gradient is accumulated as [k, og] (see `backward_weight`).
    by_column: bool,
    x: &'a [f32],
    dy: &'a [f32],
}

impl WeightChunks<'_> {
    /// Adds the products of chunk `index` into `dw`.
    fn add(&self, scratch: &mut Scratch, mut dw: Vec<f32>, index: usize) -> Vec<f32> {
        let s = self.s;
        let (og, k, hw, ohw) = (s.og(), s.k(), s.hw(), s.ohw());
        let first = index * self.plan.per_chunk;
        let nb = self.plan.per_chunk.min(s.n - first);
        let cols = nb * ohw;
        let x = &self.x[first * s.c * hw..][..nb * s.c * hw];
        let dy = &self.dy[first * s.o * ohw..][..nb * s.o * ohw];
        let rhs = if nb == 1 && s.pointwise() {
            x
        } else {
            let col = scratch.col.zero_padded(s, cols);
            im2col(s, &self.taps, x, col, self.min_len);
            col
        };
        let lhs = if nb == 1 {
            dy
        } else {
            let rows = sized(&mut scratch.rows, s.o * cols);
            gather_rows(dy, rows, s.o, ohw, self.min_len);
            rows
        };
        for g in 0..s.groups {
            let (dyg, xg) = (
                &lhs[g * og * cols..][..og * cols],
                &rhs[g * k * cols..][..k * cols],
            );
            let dwg = &mut dw[g * og * k..][..og * k];
            if self.by_column {
                // The transpose [k, og] = im2col [k, cols] @ dy^T [cols, og], row-major.
                matmul(
                    dwg,
                    og,
                    [k, og, cols],
                    Matrix::rows(xg, cols),
                    Matrix::rows(dyg, cols).transposed(),
                    true,
                    self.par,
                );
            } else {
                matmul(
                    dwg,
                    k,
                    [og, k, cols],
                    Matrix::rows(dyg, cols),
                    Matrix::rows(xg, cols).transposed(),
                    true,
                    self.par,
                );
            }
        }
        dw
    }
}

/// The weight gradient [o, c / groups, kh, kw] from its per-group [k, og] accumulators.
fn untranspose(s: &ConvShape, dw: &[f32]) -> Vec<f32> {
    let (og, k) = (s.og(), s.k());
    let mut out = vec![0.0; dw.len()];
    for (src, dst) in dw.chunks_exact(og * k).zip(out.chunks_exact_mut(og * k)) {
        for (o, row) in dst.chunks_exact_mut(k).enumerate() {
            row.iter_mut()
                .zip(src[o..].iter().step_by(og))
                .for_each(|(d, &v)| *d = v);
        }
    }
    out
}

/// One sample's gemm is split across threads only from this many multiply-adds: a batch-1
/// inference's layers run in tens of microseconds, less than waking the pool's threads costs.
const ONE_SAMPLE_PARALLEL_MIN_FLOPS: usize = 1 << 23;

/// Chunks of about `cols` im2col columns, as many samples as the im2col buffers' budget allows.
/// Chunks that run as tasks come in a multiple of the thread count, of equal size, so that every
/// thread gets the same work.
fn plan(s: &ConvShape, cols: usize) -> Plan {
    let threads = rayon::current_num_threads();
    let ohw = s.ohw().max(1);
    let budget = MAX_COL_BYTES / size_of::<f32>() / threads / (s.c * s.taps() * ohw).max(1);
    // At least a chunk per thread: one chunk would run gemm split across threads, slower.
    let wanted = cols
        .div_ceil(ohw)
        .min(budget)
        .min(s.n.div_ceil(threads))
        .clamp(1, s.n.max(1));
    let mut chunks = s.n.div_ceil(wanted);
    let min_flops = if s.n == 1 {
        ONE_SAMPLE_PARALLEL_MIN_FLOPS
    } else {
        PARALLEL_GEMM_MIN_FLOPS
    };
    let small = s.o * s.k() * wanted * ohw < min_flops;
    let in_tasks = chunks >= threads || small;
    if in_tasks {
        chunks = chunks.next_multiple_of(threads).min(s.n);
    }
    let per_chunk = s.n.div_ceil(chunks.max(1)).max(1);
    Plan {
        per_chunk,
        chunks: s.n.div_ceil(per_chunk),
        in_tasks,
    }
}

/// Where each kernel tap meets the input, in tap order.
pub(super) fn tap_windows(s: &ConvShape) -> Vec<Tap> {
    let ([sh, sw], [ph, pw], [dh, dw]) = (s.stride, s.padding, s.dilation);
    let windows = (0..s.kh).flat_map(|i| (0..s.kw).map(move |j| (i, j)));
    windows
        .map(|(i, j)| {
            let ys = valid_range(s.oh, s.h, i * dh, ph, sh);
            let xs = valid_range(s.ow, s.w, j * dw, pw, sw);
            if ys.is_empty() || xs.is_empty() {
                // A tap no output reads (a stride past the input's end): it has no first
                // offset, and the planes' row loops must not slice at one.
                return Tap {
                    ys: 0..0,
                    xs: 0..0,
                    from: 0,
                };
            }
            let from = (ys.start * sh + i * dh - ph) * s.w + xs.start * sw + j * dw - pw;
            Tap { ys, xs, from }
        })
        .collect()
}

/// Where one kernel tap meets an input plane: the output rows and columns that read inside it, and
/// the input offset read by the first of them. Padding is what no tap window covers.
pub(super) struct Tap {
    ys: Range<usize>,
    xs: Range<usize>,
    from: usize,
}

/// The output positions whose input coordinate `pos * stride + tap - pad` lies in `0..len`.
fn valid_range(out_len: usize, len: usize, tap: usize, pad: usize, stride: usize) -> Range<usize> {
    let lo = pad.saturating_sub(tap).div_ceil(stride);
    let hi = (len + pad)
        .saturating_sub(tap)
        .div_ceil(stride)
        .min(out_len);
    lo.min(hi)..hi
}

/// Copies what `tap` reads of one input plane [h, w] into `dst` [oh, ow], leaving the padding.
fn unfold_plane(s: &ConvShape, tap: &Tap, plane: &[f32], dst: &mut [f32]) {
    let ([sh, sw], len) = (s.stride, tap.xs.len());
    if sh == 1 && sw == 1 && s.ow == s.w && !tap.ys.is_empty() {
        // Output rows as long as input rows ("same" padding): the tap's rows lie at the same
        // distance in both, so one copy moves them all, carrying the neighbouring row's values
        // into the columns the tap misses, which are then put back to zero: on small planes one
        // copy is much cheaper than one per row.
        let start = tap.ys.start * s.ow + tap.xs.start;
        let run = (tap.ys.len() - 1) * s.ow + len;
        dst[start..start + run].copy_from_slice(&plane[tap.from..tap.from + run]);
        if len < s.ow {
            for oy in tap.ys.clone() {
                let row = &mut dst[oy * s.ow..][..s.ow];
                row[..tap.xs.start].fill(0.0);
                row[tap.xs.end..].fill(0.0);
            }
        }
        return;
    }
    for (k, oy) in tap.ys.clone().enumerate() {
        let (from, run) = (
            tap.from + k * sh * s.w,
            &mut dst[oy * s.ow + tap.xs.start..][..len],
        );
        if sw == 1 {
            run.copy_from_slice(&plane[from..from + len]);
        } else {
            run.iter_mut()
                .zip(plane[from..].iter().step_by(sw))
                .for_each(|(d, &v)| *d = v);
        }
    }
}

/// Adds `src` [oh, ow], what `tap` read at every output position, back onto the input plane.
pub(super) fn fold_plane(s: &ConvShape, tap: &Tap, src: &[f32], plane: &mut [f32]) {
    let ([sh, sw], len) = (s.stride, tap.xs.len());
    for (k, oy) in tap.ys.clone().enumerate() {
        let (from, run) = (
            tap.from + k * sh * s.w,
            &src[oy * s.ow + tap.xs.start..][..len],
        );
        if sw == 1 {
            plane[from..from + len]
                .iter_mut()
                .zip(run)
                .for_each(|(d, &v)| *d += v);
        } else {
            plane[from..]
                .iter_mut()
                .step_by(sw)
                .zip(run)
                .for_each(|(d, &v)| *d += v);
        }
    }
}

/// Unfolds a chunk of samples `x` [nb, c, h, w] into `col` [c * kh * kw, nb * oh * ow], whose
/// padding must already be zero: row (channel, tap) holds the samples side by side, so group g's
/// im2col matrix is a block of rows.
fn im2col(s: &ConvShape, taps: &[Tap], x: &[f32], col: &mut [f32], min_len: usize) {
    let (hw, ohw, width) = (s.hw(), s.ohw(), col.len() / (s.c * taps.len()));
    col.par_chunks_mut(width)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(r, row)| {
            let (ch, tap) = (r / taps.len(), &taps[r % taps.len()]);
            for (n, dst) in row.chunks_mut(ohw).enumerate() {
                unfold_plane(s, tap, &x[(n * s.c + ch) * hw..][..hw], dst);
            }
        });
}

/// Folds `col` [c * kh * kw, nb * oh * ow] back onto `dx` [nb, c, h, w], adding where taps overlap.
fn col2im(s: &ConvShape, taps: &[Tap], col: &[f32], dx: &mut [f32], min_len: usize) {
    let (hw, ohw) = (s.hw(), s.ohw());
    let cols = col.len() / (s.c * taps.len());
    dx.par_chunks_mut(s.c * hw)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(n, dx)| {
            for (r, row) in col.chunks(cols).enumerate() {
                let (ch, tap) = (r / taps.len(), &taps[r % taps.len()]);
                fold_plane(s, tap, &row[n * ohw..][..ohw], &mut dx[ch * hw..][..hw]);
            }
        });
}

/// Lays out `src` [nb, rows, plane] as `dst` [rows, nb * plane], one sample's plane after another
/// in every row: the layout of a chunk's gemm operand.
fn gather_rows(src: &[f32], dst: &mut [f32], rows: usize, plane: usize, min_len: usize) {
    let nb = src.len() / (rows * plane);
    dst.par_chunks_mut(nb * plane)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(r, row)| {
            for (n, d) in row.chunks_mut(plane).enumerate() {
                d.copy_from_slice(&src[(n * rows + r) * plane..][..plane]);
            }
        });
}

/// The inverse of `gather_rows`, writing `src` [rows, nb * plane] into `dst` [nb, rows, plane],
/// adding `bias[row]` on the way and then applying the activation to each plane while it is in L1.
fn scatter_rows(
    src: &[f32],
    dst: &mut [f32],
    rows: usize,
    plane: usize,
    (bias, activation): (Option<&[f32]>, Activation),
    min_len: usize,
) {
    let cols = src.len() / rows;
    dst.par_chunks_mut(rows * plane)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(n, dst)| {
            for (r, d) in dst.chunks_mut(plane).enumerate() {
                let s = &src[r * cols + n * plane..][..plane];
                match bias {
                    Some(b) => d.iter_mut().zip(s).for_each(|(d, &v)| *d = v + b[r]),
                    None => d.copy_from_slice(s),
                }
                activation.apply(d);
            }
        });
}
