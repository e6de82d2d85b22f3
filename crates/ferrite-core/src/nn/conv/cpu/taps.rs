//! Convolution by tap classes, for small output planes on which most of im2col's products would
//! read padding: output positions that read the same kernel taps inside the input form a class,
//! and each class takes one gemm per tap row over the taps it reads, and none over the padding.
//! A chunk of samples is laid out samples innermost, so that a class's positions make a block of
//! columns of its im2col matrix and, per tap row, its taps a block of rows.

use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use super::chunks::{
    for_each_chunk, samples_last, sized, summed_over_chunks, ColBuffer, Plan, MAX_COL_BYTES,
};
use super::gemm::{matmul, Matrix};
use crate::nn::conv::ConvShape;
use crate::nn::Activation;

/// Output planes on which at most this share of im2col's products read inside the input go by
/// tap classes (3x3 kernels with padding 1: 4x4 planes 69 %, 2x2 44 %; 8x8 planes, 84 %, do not).
const CLASSES_MAX_INSIDE: f64 = 0.75;

/// Whether the class kernels can run `s`: one group, so that a class's rows are a block of the
/// im2col matrix per tap row.
pub(super) fn supports(s: &ConvShape) -> bool {
    s.groups == 1
}

/// Whether the classes skip enough of im2col's products to pay.
pub(super) fn fits(s: &ConvShape) -> bool {
    if !supports(s) {
        return false;
    }
    let inside: usize = classes(s).iter().map(|c| c.taps() * c.positions()).sum();
    let share = inside as f64 / (s.taps() * s.ohw()).max(1) as f64;
    share <= CLASSES_MAX_INSIDE
}

/// The tap classes of the output plane.
fn classes(s: &ConvShape) -> Vec<TapClass> {
    let rows = tap_runs([s.oh, s.h, s.kh, s.stride[0], s.padding[0], s.dilation[0]]);
    let cols = tap_runs([s.ow, s.w, s.kw, s.stride[1], s.padding[1], s.dilation[1]]);
    rows.iter()
        .flat_map(|(ys, taps_y)| {
            cols.iter().map(|(xs, taps_x)| TapClass {
                ys: ys.clone(),
                xs: xs.clone(),
                taps_y: taps_y.clone(),
                taps_x: taps_x.clone(),
            })
        })
        .collect()
}

/// Forward, `weight(o, c, i, j)` reading the [o, c, kh, kw] kernel: a chunk of samples at a
/// time, `x` as [c, h, w, nb], im2col rows (tap row, tap column, channel) and columns (position,
/// sample) with each class's positions side by side; one gemm per class and tap row, against the
/// weight laid out by `tap_rows_first`.
pub(super) fn forward(
    s: &ConvShape,
    x: &[f32],
    weight: impl Fn(usize, usize, usize, usize) -> f32 + Sync,
    bias: Option<&[f32]>,
    activation: Activation,
) -> Vec<f32> {
    assert!(supports(s), "conv2d: tap classes take one group");
    let classes = classes(s);
    let by_tap_row = tap_rows_first(s, weight);
    let (hw, ohw) = (s.hw(), s.ohw());
    let mut y = vec![0.0; s.n * s.o * ohw];
    let plan = class_plan(s);
    let (par, min_len) = (plan.gemm_parallelism(), plan.min_len());
    for_each_chunk(&plan, &mut y, s.o * ohw, |first, y, scratch| {
        let nb = y.len() / (s.o * ohw);
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let col = class_unfold(
            s,
            &classes,
            x,
            nb,
            &mut scratch.samples_last,
            &mut scratch.col,
            min_len,
        );
        let out = sized(&mut scratch.rows, s.o * nb * ohw);
        class_products(s, &classes, nb, [col, &by_tap_row], out, par);
        class_scatter(s, &classes, out, y, (bias, activation), min_len);
    });
    y
}

/// `out` [o, (class position, sample)] of a chunk of `nb` samples: per class, the sum over its tap
/// rows of the weights `by_tap_row` at its taps @ its block of the class im2col matrix `col`.
fn class_products(
    s: &ConvShape,
    classes: &[TapClass],
    nb: usize,
    [col, by_tap_row]: [&[f32]; 2],
    out: &mut [f32],
    par: Parallelism,
) {
    let cols = nb * s.ohw();
    let mut start = 0;
    for class in classes {
        let width = nb * class.positions();
        let (k, row_len) = (class.taps_x.len() * s.c, s.kw * s.c);
        if class.taps() == 0 {
            for row in out.chunks_exact_mut(cols) {
                row[start..start + width].fill(0.0);
            }
        }
        for (r, ty) in class.taps_y.clone().enumerate() {
            let first_row = (ty * s.kw + class.taps_x.start) * s.c;
            let weights = &by_tap_row[ty * s.o * row_len + class.taps_x.start * s.c..];
            matmul(
                &mut out[start..],
                cols,
                [s.o, width, k],
                Matrix::rows(weights, row_len),
                Matrix::rows(&col[first_row * cols + start..], cols),
                r > 0,
                par,
            );
        }
        start += width;
    }
}

/// Gradient of the weight: per class and tap row, the gradient at those taps [o, (tap column,
/// channel)] += dy at the class's positions @ their im2col block transposed, laid out as `forward`
/// lays them out.
pub(super) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(supports(s), "conv2d: tap classes take one group");
    let classes = classes(s);
    let (hw, ohw, row_len) = (s.hw(), s.ohw(), s.kw * s.c);
    let plan = class_plan(s);
    let by_tap_row = summed_over_chunks(&plan, s.kh * s.o * row_len, |scratch, mut dw, index| {
        let first = index * plan.per_chunk;
        let nb = plan.per_chunk.min(s.n - first);
        let cols = nb * ohw;
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let col = class_unfold(
            s,
            &classes,
            x,
            nb,
            &mut scratch.samples_last,
            &mut scratch.col,
            usize::MAX,
        );
        let dyt = sized(&mut scratch.rows, s.o * cols);
        class_gather(s, &classes, &dy[first * s.o * ohw..][..nb * s.o * ohw], dyt);
        class_weight_products(s, &classes, nb, [dyt, col], &mut dw);
        dw
    });
    from_tap_rows_first(s, &by_tap_row)
}

/// `dw` [kh, o, kw, c] += per class and tap row, `dyt` at the class's positions @ its block of the
/// class im2col matrix `col` transposed, for a chunk of `nb` samples.
fn class_weight_products(
    s: &ConvShape,
    classes: &[TapClass],
    nb: usize,
    [dyt, col]: [&[f32]; 2],
    dw: &mut [f32],
) {
    let (cols, row_len) = (nb * s.ohw(), s.kw * s.c);
    let mut start = 0;
    for class in classes {
        let (width, k) = (nb * class.positions(), class.taps_x.len() * s.c);
        for ty in class.taps_y.clone() {
            let first_row = (ty * s.kw + class.taps_x.start) * s.c;
            matmul(
                &mut dw[ty * s.o * row_len + class.taps_x.start * s.c..],
                row_len,
                [s.o, k, width],
                Matrix::rows(&dyt[start..], cols),
                Matrix::rows(&col[first_row * cols + start..], cols).transposed(),
                true,
                Parallelism::None,
            );
        }
        start += width;
    }
}

/// The weight gradient laid out [kh, o, kw, c] back to [o, c, kh, kw].
fn from_tap_rows_first(s: &ConvShape, by_tap_row: &[f32]) -> Vec<f32> {
    let row_len = s.kw * s.c;
    let mut dw = vec![0.0; by_tap_row.len()];
    dw.par_chunks_mut(s.c * s.taps())
        .enumerate()
        .for_each(|(o, dst)| {
            for (c, kernel) in dst.chunks_exact_mut(s.taps()).enumerate() {
                for (t, d) in kernel.iter_mut().enumerate() {
                    let (i, j) = (t / s.kw, t % s.kw);
                    *d = by_tap_row[(i * s.o + o) * row_len + j * s.c + c];
                }
            }
        });
    dw
}

/// The chunks of the class kernels: a task per thread, of a multiple of 16 samples where the batch
/// allows, so that each class's gemm is a whole number of vectors wide.
fn class_plan(s: &ConvShape) -> Plan {
    let threads = rayon::current_num_threads();
    let budget = MAX_COL_BYTES / size_of::<f32>() / threads / (s.c * s.taps() * s.ohw()).max(1);
    let even = s.n.div_ceil(threads).min(budget).max(1);
    let per_chunk = if even >= 16 { even / 16 * 16 } else { even };
    Plan {
        per_chunk,
        chunks: s.n.div_ceil(per_chunk),
        in_tasks: true,
    }
}

/// Output positions that read the same kernel taps inside the input, and those taps: a box of each.
/// On small planes most of im2col's products read padding; a gemm per class skips them.
struct TapClass {
    ys: Range<usize>,
    xs: Range<usize>,
    taps_y: Range<usize>,
    taps_x: Range<usize>,
}

impl TapClass {
    fn taps(&self) -> usize {
        self.taps_y.len() * self.taps_x.len()
    }

    fn positions(&self) -> usize {
        self.ys.len() * self.xs.len()
    }
}

/// Along one axis, runs of output coordinates that read the same kernel taps inside the input,
/// with those taps: `[out_len, len, kernel, stride, padding, dilation]`.
fn tap_runs([out_len, len, k, stride, pad, dil]: [usize; 6]) -> Vec<(Range<usize>, Range<usize>)> {
    let inside = |o: usize, t: usize| (pad..len + pad).contains(&(o * stride + t * dil));
    let mut runs: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    for o in 0..out_len {
        let first = (0..k).find(|&t| inside(o, t)).unwrap_or(0);
        let taps = first..(first..k).find(|&t| !inside(o, t)).unwrap_or(k).max(first);
        match runs.last_mut() {
            Some((outs, last)) if *last == taps => outs.end = o + 1,
            _ => runs.push((o..o + 1, taps)),
        }
    }
    runs
}

/// The class im2col matrix of a chunk of `nb` samples `x` [nb, c, h, w] (see `forward`): `x`
/// laid out samples innermost into `samples_last_buf`, then unfolded into `col`.
fn class_unfold<'c>(
    s: &ConvShape,
    classes: &[TapClass],
    x: &[f32],
    nb: usize,
    samples_last_buf: &mut Vec<f32>,
    col: &'c mut ColBuffer,
    min_len: usize,
) -> &'c [f32] {
    let xt = sized(samples_last_buf, x.len());
    samples_last(x, xt, nb, min_len);
    let col = col.overwritten(s.taps() * s.c * nb * s.ohw());
    class_im2col(s, classes, xt, nb, col, min_len);
    col
}

/// The weight of `s` (one group), `weight(o, c, i, j)`, laid out [kh, o, kw, c]: a tap row's
/// weights for a run of tap columns are then a matrix of o rows with the run's (tap column,
/// channel) pairs side by side.
fn tap_rows_first(
    s: &ConvShape,
    weight: impl Fn(usize, usize, usize, usize) -> f32 + Sync,
) -> Vec<f32> {
    let (o, c, kw) = (s.o, s.c, s.kw);
    let mut out = vec![0.0; s.kh * o * kw * c];
    out.par_chunks_mut(kw * c)
        .enumerate()
        .for_each(|(row, dst)| {
            let (i, oc) = (row / o, row % o);
            for (j, dst) in dst.chunks_exact_mut(c).enumerate() {
                for (ci, d) in dst.iter_mut().enumerate() {
                    *d = weight(oc, ci, i, j);
                }
            }
        });
    out
}

/// Fills, for each class, the im2col entries its gemms read: rows (tap row, tap column, channel) of
/// the class's taps, at the class's block of columns (position, sample), from `xt` [c, h, w, nb].
fn class_im2col(
    s: &ConvShape,
    classes: &[TapClass],
    xt: &[f32],
    nb: usize,
    col: &mut [f32],
    min_len: usize,
) {
    let (hw, cols) = (s.hw(), nb * s.ohw());
    let ([sh, sw], [ph, pw], [dh, dw]) = (s.stride, s.padding, s.dilation);
    col.par_chunks_mut(cols)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(r, row)| {
            let (tap, ch) = (r / s.c, r % s.c);
            let (ty, tx) = (tap / s.kw, tap % s.kw);
            let plane = &xt[ch * hw * nb..][..hw * nb];
            let mut start = 0;
            for class in classes {
                let width = nb * class.positions();
                if class.taps_y.contains(&ty) && class.taps_x.contains(&tx) {
                    let dst = &mut row[start..start + width];
                    let positions = class
                        .ys
                        .clone()
                        .flat_map(|oy| class.xs.clone().map(move |ox| (oy, ox)));
                    for (dst, (oy, ox)) in dst.chunks_exact_mut(nb).zip(positions) {
                        let (iy, ix) = (oy * sh + ty * dh - ph, ox * sw + tx * dw - pw);
                        dst.copy_from_slice(&plane[(iy * s.w + ix) * nb..][..nb]);
                    }
                }
                start += width;
            }
        });
}

/// Writes `out` [o, (class position, sample)] into `y` [nb, o, oh, ow], adding `bias[o]`, then
/// applies the activation to each plane while it is in L1.
fn class_scatter(
    s: &ConvShape,
    classes: &[TapClass],
    out: &[f32],
    y: &mut [f32],
    (bias, activation): (Option<&[f32]>, Activation),
    min_len: usize,
) {
    let ohw = s.ohw();
    let nb = y.len() / (s.o * ohw);
    let positions = class_positions(s, classes);
    y.par_chunks_mut(ohw)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(plane, dst)| {
            let (n, o) = (plane / s.o, plane % s.o);
            let b = bias.map_or(0.0, |b| b[o]);
            let src = &out[o * nb * ohw..][..nb * ohw];
            for (k, &p) in positions.iter().enumerate() {
                dst[p] = src[k * nb + n] + b;
            }
            activation.apply(dst);
        });
}

/// The output positions (flat indices in the plane) class by class: the order of the class
/// gemms' columns.
fn class_positions(s: &ConvShape, classes: &[TapClass]) -> Vec<usize> {
    classes
        .iter()
        .flat_map(|c| {
            c.ys.clone()
                .flat_map(move |oy| c.xs.clone().map(move |ox| oy * s.ow + ox))
        })
        .collect()
}

/// Lays out a chunk `dy` [nb, o, oh, ow] as [o, (class position, sample)], the columns of
/// `forward`'s product.
fn class_gather(s: &ConvShape, classes: &[TapClass], dy: &[f32], dyt: &mut [f32]) {
    let ohw = s.ohw();
    let nb = dy.len() / (s.o * ohw);
    let positions = class_positions(s, classes);
    for (o, row) in dyt.chunks_exact_mut(nb * ohw).enumerate() {
        for (dst, &p) in row.chunks_exact_mut(nb).zip(&positions) {
            for (n, d) in dst.iter_mut().enumerate() {
                *d = dy[(n * s.o + o) * ohw + p];
            }
        }
    }
}
