//! CPU kernels of `conv2d`: im2col + gemm forward, and one backward kernel per gradient, as cuDNN
//! splits them: data (a convolution of `dy` at stride 1, else gemm then col2im), filter (gemm against
//! im2col, summed over the batch) and bias (a sum over batch and space). The batch goes through in
//! chunks of samples unfolded side by side into one im2col matrix, so that small output planes still
//! make gemms wide enough to run near peak.

//! On AVX-512 CPUs the layers with few channels and large planes go to the direct kernels of
//! `super::direct` instead (see `Direct::forward_plan` and `Direct::weight_grad_plan`), and strided
//! layers' input gradients to `StridedInputGrad`. Small output planes, on which most of im2col's
//! products would read padding (4x4 and 2x2 at 3x3 with padding 1), go by `TapClass`: a gemm per
//! class of positions, over the taps it reads. 3x3 layers of 128 channels and more, at stride 1, go
//! by `winograd::Winograd` ahead of all these.
pub(super) mod winograd;

use std::cell::RefCell;
use std::ops::Range;

use gemm::{gemm, Parallelism};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::direct::{Direct, StridedInputGrad};
use crate::cpu::{lane_sum, PARALLEL_GEMM_MIN_FLOPS};
use winograd::Winograd;

/// The im2col columns (samples times output positions) a chunk aims for. Per-sample gemms over 2x2
/// outputs are narrower than gemm's micro-tile and run 2x slower; at 4x4 with 256 to 512 channels,
/// 1024 columns run 1.05-1.2x faster than 256 (gemm packs the weights once per chunk). Larger planes
/// with many channels go direct (see `Direct`).
const CHUNK_COLS: usize = 1024;

/// The same for the weight gradient, where the columns are gemm's reduction and every chunk reads
/// and writes the whole gradient: output planes smaller than `DEEP_PLANE` take chunks this deep to
/// pay for that (512->512 channels at 4x4: 2x faster than sample by sample, 1.15x than 256 columns).
const WEIGHT_CHUNK_COLS: usize = 1024;

/// From this many output positions (8x8) up, one sample is deep enough for the weight gradient's
/// gemm, and chunks only push a larger im2col matrix out of cache (256->256 at 8x8: 1.15x slower).
const DEEP_PLANE: usize = 64;

/// Up to this many output channels per group, the weight gradient is accumulated column-major
/// (see `conv2d_bwd_filter`).
const COLUMN_GRADIENT_MAX_OG: usize = 64;

/// Elements per task when the weight gradient's per-thread partial sums are added.
const SUM_BLOCK: usize = 1 << 14;

/// Output planes on which at most this share of im2col's products read inside the input go by
/// `TapClass` (3x3 kernels with padding 1: 4x4 planes 69 %, 2x2 44 %; 8x8 planes, 84 %, do not).
const CLASSES_MAX_INSIDE: f64 = 0.75;

/// What the im2col buffers of all threads may hold together.
const MAX_COL_BYTES: usize = 64 << 20;

/// The sizes of one convolution: NCHW input, weight [o, c / groups, kh, kw], output [n, o, oh, ow].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub groups: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub oh: usize,
    pub ow: usize,
}

/// How a kernel walks the batch: `chunks` chunks of `per_chunk` samples (the last one maybe fewer).
/// The chunks run as rayon tasks with single-threaded gemms when there are enough of them to keep
/// every thread busy (or their gemms are too small to split), else one after another with gemm
/// and the copies around it split across threads.
#[derive(Debug, Clone, Copy)]
struct Plan {
    per_chunk: usize,
    chunks: usize,
    in_tasks: bool,
}

impl Plan {
    fn gemm_parallelism(&self) -> Parallelism {
        if self.in_tasks {
            Parallelism::None
        } else {
            Parallelism::Rayon(rayon::current_num_threads())
        }
    }

    /// The `with_min_len` of the copies around each gemm: `usize::MAX` keeps them on the task's own
    /// thread when the chunks are already tasks.
    fn min_len(&self) -> usize {
        if self.in_tasks {
            usize::MAX
        } else {
            1
        }
    }
}

impl ConvShape {
    pub(super) fn cg(&self) -> usize {
        self.c / self.groups
    }

    pub(super) fn og(&self) -> usize {
        self.o / self.groups
    }

    pub(super) fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// Rows of one group's im2col matrix: the reduction dim of its gemm.
    fn k(&self) -> usize {
        self.cg() * self.taps()
    }

    fn hw(&self) -> usize {
        self.h * self.w
    }

    pub(super) fn ohw(&self) -> usize {
        self.oh * self.ow
    }

    /// A 1x1 kernel at stride 1 without padding reads the input planes as they are: no im2col.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Chunks of about `cols` im2col columns, as many samples as the im2col buffers' budget allows.
    /// Chunks that run as tasks come in a multiple of the thread count, of equal size, so that every
    /// thread gets the same work.
    fn plan(&self, cols: usize) -> Plan {
        let threads = rayon::current_num_threads();
        let ohw = self.ohw().max(1);
        let budget =
            MAX_COL_BYTES / size_of::<f32>() / threads / (self.c * self.taps() * ohw).max(1);
        // At least a chunk per thread: one chunk would run gemm split across threads, slower.
        let wanted = cols
            .div_ceil(ohw)
            .min(budget)
            .min(self.n.div_ceil(threads))
            .clamp(1, self.n.max(1));
        let mut chunks = self.n.div_ceil(wanted);
        let small = self.o * self.k() * wanted * ohw < PARALLEL_GEMM_MIN_FLOPS;
        let in_tasks = chunks >= threads || small;
        if in_tasks {
            chunks = chunks.next_multiple_of(threads).min(self.n);
        }
        let per_chunk = self.n.div_ceil(chunks.max(1)).max(1);
        Plan {
            per_chunk,
            chunks: self.n.div_ceil(per_chunk),
            in_tasks,
        }
    }

    /// The chunks of `class_fwd`: a task per thread, of a multiple of 16 samples where the batch
    /// allows, so that each class's gemm is a whole number of vectors wide (100 samples in chunks
    /// of 48, 48 and 4 ran about 1.15x faster at 4x4 than 50 and 50).
    fn class_plan(&self) -> Plan {
        let threads = rayon::current_num_threads();
        let budget =
            MAX_COL_BYTES / size_of::<f32>() / threads / (self.c * self.taps() * self.ohw()).max(1);
        let even = self.n.div_ceil(threads).min(budget).max(1);
        let per_chunk = if even >= 16 { even / 16 * 16 } else { even };
        Plan {
            per_chunk,
            chunks: self.n.div_ceil(per_chunk),
            in_tasks: true,
        }
    }

    /// The convolution whose forward pass is this one's input gradient, at stride 1: `dx` is `dy`
    /// convolved with the weight flipped in space and with its channel dims swapped, padded by what
    /// this convolution's padding leaves of the kernel's span.
    pub(super) fn transposed(&self) -> Option<ConvShape> {
        let span = [
            self.dilation[0] * (self.kh - 1),
            self.dilation[1] * (self.kw - 1),
        ];
        if self.stride != [1, 1] || self.padding[0] > span[0] || self.padding[1] > span[1] {
            return None;
        }
        Some(ConvShape {
            c: self.o,
            h: self.oh,
            w: self.ow,
            o: self.c,
            padding: [span[0] - self.padding[0], span[1] - self.padding[1]],
            oh: self.h,
            ow: self.w,
            ..*self
        })
    }

    /// The tap classes of the output plane, if they skip enough of im2col's products to pay.
    pub(super) fn tap_classes(&self) -> Option<Vec<TapClass>> {
        // One group: a class's rows are then a block of the im2col matrix per tap row.
        if self.groups != 1 {
            return None;
        }
        let rows = tap_runs([
            self.oh,
            self.h,
            self.kh,
            self.stride[0],
            self.padding[0],
            self.dilation[0],
        ]);
        let cols = tap_runs([
            self.ow,
            self.w,
            self.kw,
            self.stride[1],
            self.padding[1],
            self.dilation[1],
        ]);
        let classes: Vec<TapClass> = rows
            .iter()
            .flat_map(|(ys, taps_y)| {
                cols.iter().map(|(xs, taps_x)| TapClass {
                    ys: ys.clone(),
                    xs: xs.clone(),
                    taps_y: taps_y.clone(),
                    taps_x: taps_x.clone(),
                })
            })
            .collect();
        let inside: usize = classes.iter().map(|c| c.taps() * c.positions()).sum();
        let share = inside as f64 / (self.taps() * self.ohw()).max(1) as f64;
        (share <= CLASSES_MAX_INSIDE).then_some(classes)
    }

    /// Where each kernel tap meets the input, in tap order.
    fn tap_windows(&self) -> Vec<Tap> {
        let ([sh, sw], [ph, pw], [dh, dw]) = (self.stride, self.padding, self.dilation);
        let windows = (0..self.kh).flat_map(|i| (0..self.kw).map(move |j| (i, j)));
        windows
            .map(|(i, j)| {
                let ys = valid_range(self.oh, self.h, i * dh, ph, sh);
                let xs = valid_range(self.ow, self.w, j * dw, pw, sw);
                if ys.is_empty() || xs.is_empty() {
                    // A tap no output reads (a stride past the input's end): it has no first
                    // offset, and the planes' row loops must not slice at one.
                    return Tap {
                        ys: 0..0,
                        xs: 0..0,
                        from: 0,
                    };
                }
                let from = (ys.start * sh + i * dh - ph) * self.w + xs.start * sw + j * dw - pw;
                Tap { ys, xs, from }
            })
            .collect()
    }
}

/// Output positions that read the same kernel taps inside the input, and those taps: a box of each.
/// On small planes most of im2col's products read padding; a gemm per class skips them.
pub(super) struct TapClass {
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

/// Where one kernel tap meets an input plane: the output rows and columns that read inside it, and
/// the input offset read by the first of them. Padding is what no tap window covers.
struct Tap {
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
        // into the columns the tap misses, which are then put back to zero. One copy instead of
        // one per row: 8x8 planes unfold 2-3x faster.
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
fn fold_plane(s: &ConvShape, tap: &Tap, src: &[f32], plane: &mut [f32]) {
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

/// The inverse of `gather_rows`, writing `src` [rows, nb * plane] into `dst` [nb, rows, plane] and
/// adding `bias[row]` on the way.
fn scatter_rows(
    src: &[f32],
    dst: &mut [f32],
    rows: usize,
    plane: usize,
    bias: Option<&[f32]>,
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
            }
        });
}

/// A thread's buffers, kept from chunk to chunk and from call to call: allocated per call, the
/// im2col matrix (up to tens of MB) was zeroed and page-faulted in again by every convolution.
#[derive(Default)]
struct Scratch {
    col: ColBuffer,
    rows: Vec<f32>,
    /// A chunk of the input with its samples innermost (see `class_fwd`).
    samples_last: Vec<f32>,
}

/// An im2col matrix, or col2im's input.
#[derive(Default)]
struct ColBuffer {
    data: Vec<f32>,
    /// The convolution (batch and output channels aside) and row length whose zero padding is laid
    /// out in `data`, if any.
    padded_for: Option<(ConvShape, usize)>,
}

impl ColBuffer {
    /// The [c * kh * kw, width] im2col buffer of `s`, zero where im2col won't write: the padding
    /// stays zero from one chunk (and call) to the next, so the buffer is cleared only when the
    /// layout of its padding changes.
    fn zero_padded(&mut self, s: &ConvShape, width: usize) -> &mut [f32] {
        let layout = Some((ConvShape { n: 0, o: 0, ..*s }, width));
        if self.padded_for != layout {
            self.data.clear();
            self.padded_for = layout;
        }
        sized(&mut self.data, s.c * s.taps() * width)
    }

    /// A buffer of `len` elements that the caller will overwrite.
    fn overwritten(&mut self, len: usize) -> &mut [f32] {
        self.padded_for = None;
        sized(&mut self.data, len)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers, or fresh ones if they are in use further up the
/// stack (a thread that waits in a join may run another chunk meanwhile).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// The first `len` elements of `buf`, grown to fit.
fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// Calls `f(first_sample, out_chunk, scratch)` for every chunk of `out`, whose samples are
/// `sample_len` long, as the plan says.
fn for_each_chunk(
    plan: &Plan,
    out: &mut [f32],
    sample_len: usize,
    f: impl Fn(usize, &mut [f32], &mut Scratch) + Sync,
) {
    // Empty input planes (padding only) make empty samples: nothing to do.
    if out.is_empty() {
        return;
    }
    let len = plan.per_chunk * sample_len;
    let g = |scratch: &mut Scratch, (index, out): (usize, &mut [f32])| {
        f(index * plan.per_chunk, out, scratch)
    };
    if plan.in_tasks {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|chunk| with_scratch(|scratch| g(scratch, chunk)));
    } else {
        with_scratch(|scratch| {
            out.chunks_mut(len)
                .enumerate()
                .for_each(|chunk| g(scratch, chunk))
        });
    }
}

/// A matrix operand of `matmul` read through strides: element (i, j) is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `data` as a row-major matrix of rows `row_stride` apart.
    fn rows(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            row_stride,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Self {
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Whether `len` floats hold a `rows x cols` matrix at these strides.
fn holds(len: usize, [rows, cols]: [usize; 2], row_stride: usize, col_stride: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * row_stride + (cols - 1) * col_stride < len
}

/// `dst (m x n, row-major, rows dst_stride apart) = [dst +] lhs (m x k) @ rhs (k x n)`.
fn matmul(
    dst: &mut [f32],
    dst_stride: usize,
    [m, n, k]: [usize; 3],
    lhs: Matrix,
    rhs: Matrix,
    accumulate: bool,
    par: Parallelism,
) {
    assert!(
        holds(dst.len(), [m, n], dst_stride, 1)
            && holds(lhs.data.len(), [m, k], lhs.row_stride, lhs.col_stride)
            && holds(rhs.data.len(), [k, n], rhs.row_stride, rhs.col_stride),
        "conv2d: gemm operand too short"
    );
    // SAFETY: every element gemm reads or writes through these strides lies inside its slice, as
    // checked above.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// Forward: Winograd where `Winograd` takes the layer, else direct where `Direct` can, else
/// `y[g] = w[g] @ im2col(x[g]) (+ bias)`.
pub(super) fn conv2d_fwd(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    if let Some(winograd) = Winograd::plan(s) {
        return winograd.forward(x, |o, c, i, j| w[((o * s.c + c) * 3 + i) * 3 + j], bias);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(direct) = Direct::forward_plan(s) {
        return direct.forward(x, w, bias);
    }
    gemm_fwd(s, x, w, bias)
}

/// Whether `conv2d_fwd` takes the direct route for `s`.
fn runs_direct(s: &ConvShape) -> bool {
    #[cfg(target_arch = "x86_64")]
    return Direct::forward_plan(s).is_some();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The im2col + gemm forward, a chunk of samples at a time.
fn gemm_fwd(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    if let Some(classes) = s.tap_classes() {
        let by_tap_row = tap_rows_first(s, |o, c, i, j| w[((o * s.c + c) * s.kh + i) * s.kw + j]);
        return class_fwd(s, &classes, x, &by_tap_row, bias);
    }
    let (og, k, hw, ohw) = (s.og(), s.k(), s.hw(), s.ohw());
    let mut y = vec![0.0; s.n * s.o * ohw];
    let plan = s.plan(CHUNK_COLS);
    let (par, min_len, taps) = (plan.gemm_parallelism(), plan.min_len(), s.tap_windows());
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
        let products = |dst: &mut [f32], accumulate: bool| {
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
        };
        // One sample's output is already in gemm layout; a chunk's is staged, then scattered.
        if nb == 1 {
            if let Some(bias) = bias {
                for (row, &b) in y.chunks_mut(ohw).zip(bias) {
                    row.fill(b);
                }
            }
            products(y, bias.is_some());
        } else {
            let staged = sized(&mut scratch.rows, s.o * cols);
            products(staged, false);
            scatter_rows(staged, y, s.o, ohw, bias, min_len);
        }
    });
    y
}

/// The forward by tap classes, a chunk of samples at a time, samples innermost: `x` as
/// [c, h, w, nb], im2col rows (tap row, tap column, channel) and columns (position, sample) with
/// each class's positions side by side, so that a class reads a block of columns and, per tap row,
/// a block of rows: one gemm per class and tap row, against the weight laid out by
/// `tap_rows_first`.
fn class_fwd(
    s: &ConvShape,
    classes: &[TapClass],
    x: &[f32],
    by_tap_row: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (hw, ohw) = (s.hw(), s.ohw());
    let mut y = vec![0.0; s.n * s.o * ohw];
    let plan = s.class_plan();
    let (par, min_len) = (plan.gemm_parallelism(), plan.min_len());
    for_each_chunk(&plan, &mut y, s.o * ohw, |first, y, scratch| {
        let nb = y.len() / (s.o * ohw);
        let cols = nb * ohw;
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let col = class_unfold(
            s,
            classes,
            x,
            nb,
            &mut scratch.samples_last,
            &mut scratch.col,
            min_len,
        );
        let out = sized(&mut scratch.rows, s.o * cols);
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
        class_scatter(s, classes, out, y, bias, min_len);
    });
    y
}

/// The class im2col matrix of a chunk of `nb` samples `x` [nb, c, h, w] (see `class_fwd`): `x`
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

/// Transposes a chunk `x` [nb, rest] into `xt` [rest, nb].
fn samples_last(x: &[f32], xt: &mut [f32], nb: usize, min_len: usize) {
    const BLOCK: usize = 64;
    let rest = x.len() / nb.max(1);
    xt.par_chunks_mut(BLOCK * nb)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(b, dst)| {
            let first = b * BLOCK;
            for n in 0..nb {
                let src = &x[n * rest + first..][..dst.len() / nb];
                for (i, &v) in src.iter().enumerate() {
                    dst[i * nb + n] = v;
                }
            }
        });
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

/// Writes `out` [o, (class position, sample)] into `y` [nb, o, oh, ow], adding `bias[o]`.
fn class_scatter(
    s: &ConvShape,
    classes: &[TapClass],
    out: &[f32],
    y: &mut [f32],
    bias: Option<&[f32]>,
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
/// `class_fwd`'s product.
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

/// The weight gradient by tap classes: per class and tap row, the gradient at those taps [o, (tap
/// column, channel)] += dy at the class's positions @ their im2col block transposed, laid out as
/// `class_fwd` lays them out.
fn class_bwd_filter(s: &ConvShape, classes: &[TapClass], x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (hw, ohw, row_len) = (s.hw(), s.ohw(), s.kw * s.c);
    let plan = s.class_plan();
    let by_tap_row = summed_over_chunks(&plan, s.kh * s.o * row_len, |scratch, mut dw, index| {
        let first = index * plan.per_chunk;
        let nb = plan.per_chunk.min(s.n - first);
        let cols = nb * ohw;
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let col = class_unfold(
            s,
            classes,
            x,
            nb,
            &mut scratch.samples_last,
            &mut scratch.col,
            usize::MAX,
        );
        let dyt = sized(&mut scratch.rows, s.o * cols);
        class_gather(s, classes, &dy[first * s.o * ohw..][..nb * s.o * ohw], dyt);
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
        dw
    });
    // [kh, o, kw, c] back to [o, c, kh, kw].
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

/// The weight of `ConvShape::transposed`: `w` [o, c / groups, kh, kw] as [c, o / groups, kh, kw],
/// each kernel turned by 180 degrees.
fn flip_weight(s: &ConvShape, w: &[f32]) -> Vec<f32> {
    let (cg, og, taps) = (s.cg(), s.og(), s.taps());
    let mut flipped = vec![0.0; w.len()];
    // A task per flipped row (input channel): 512->512 channels flip 2.4 M weights per backward.
    flipped
        .par_chunks_mut(og * taps)
        .enumerate()
        .for_each(|(gc, row)| {
            let (g, c) = (gc / cg, gc % cg);
            for (o, to) in row.chunks_exact_mut(taps).enumerate() {
                let from = &w[((g * og + o) * cg + c) * taps..][..taps];
                to.iter_mut()
                    .zip(from.iter().rev())
                    .for_each(|(t, &f)| *t = f);
            }
        });
    flipped
}

/// Gradient of the input: a convolution of `dy` where `ConvShape::transposed` allows, one per stride
/// phase of the input at stride > 1 (`StridedInputGrad`), else `dx = col2im(w[g]^T @ dy[g])`, a
/// chunk of samples at a time.
pub(super) fn conv2d_bwd_data(s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if let Some(phases) = StridedInputGrad::plan(s) {
        return phases.input_grad(dy, w);
    }
    // Through gemm, with more output channels than input ones, col2im is cheaper (3->16: 2.5x,
    // 128->256: 1.3x): the transposed convolution would unfold the larger `dy`, into gemms short of
    // rows. The direct kernels unfold nothing.
    if let Some(t) = s.transposed() {
        if let Some(winograd) = Winograd::plan(&t) {
            // The kernel turned by 180 degrees, its channel dims swapped (see `flip_weight`).
            return winograd.forward(
                dy,
                |o, c, i, j| w[((c * s.c + o) * 3 + 2 - i) * 3 + 2 - j],
                None,
            );
        }
        let direct = runs_direct(&t);
        if let Some(classes) = t.tap_classes().filter(|_| !direct) {
            // The flipped weight straight into the layout of the class gemms.
            let by_tap_row = tap_rows_first(&t, |o, c, i, j| {
                w[((c * s.c + o) * s.kh + s.kh - 1 - i) * s.kw + s.kw - 1 - j]
            });
            return class_fwd(&t, &classes, dy, &by_tap_row, None);
        }
        if direct || s.og() <= s.cg() {
            return conv2d_fwd(&t, dy, &flip_weight(s, w), None);
        }
    }
    let (og, k, hw, ohw) = (s.og(), s.k(), s.hw(), s.ohw());
    let mut dx = vec![0.0; s.n * s.c * hw];
    let plan = s.plan(CHUNK_COLS);
    let (par, min_len, taps) = (plan.gemm_parallelism(), plan.min_len(), s.tap_windows());
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
        let products = |dst: &mut [f32]| {
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
        };
        if nb == 1 && s.pointwise() {
            products(dx);
        } else {
            let dcol = scratch.col.overwritten(s.c * s.taps() * cols);
            products(dcol);
            col2im(s, &taps, dcol, dx, min_len);
        }
    });
    dx
}

/// Gradient of the weight: Winograd or direct where they take the layer, else im2col + gemm.
pub(super) fn conv2d_bwd_filter(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if let Some(winograd) = Winograd::plan(s) {
        return winograd.weight_grad(x, dy);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(direct) = Direct::weight_grad_plan(s) {
        return direct.weight_grad(x, dy);
    }
    if let Some(classes) = s.tap_classes() {
        return class_bwd_filter(s, &classes, x, dy);
    }
    gemm_bwd_filter(s, x, dy)
}

/// The im2col + gemm weight gradient: `dw[g] = sum over chunks of dy[g] @ im2col(x[g])^T`, summed in
/// gemm's accumulator; where chunks run as tasks, each thread sums its run of chunks into its own
/// buffer before those are added.
fn gemm_bwd_filter(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (og, k, hw, ohw) = (s.og(), s.k(), s.hw(), s.ohw());
    // With few output channels, each group's gradient is accumulated as [k, og] (column-major
    // [og, k]): gemm then reads the im2col matrix as it lies, contiguous along the reduction, and
    // packs only `dy`, c * taps / og times smaller; row-major, it packs a copy of the im2col matrix
    // (16->16 channels at 32x32: 2x faster, 32->32 at 16x16: 1.4x). With many, gemm's tiles along
    // og are what pay, and the row-major product wins (256->256 at 8x8: 1.25x).
    let by_column = og <= COLUMN_GRADIENT_MAX_OG;
    let plan = s.plan(if ohw >= DEEP_PLANE {
        1
    } else {
        WEIGHT_CHUNK_COLS
    });
    let (par, min_len, taps) = (plan.gemm_parallelism(), plan.min_len(), s.tap_windows());
    let chunk = |scratch: &mut Scratch, mut dw: Vec<f32>, index: usize| {
        let first = index * plan.per_chunk;
        let nb = plan.per_chunk.min(s.n - first);
        let cols = nb * ohw;
        let x = &x[first * s.c * hw..][..nb * s.c * hw];
        let dy = &dy[first * s.o * ohw..][..nb * s.o * ohw];
        let rhs = if nb == 1 && s.pointwise() {
            x
        } else {
            let col = scratch.col.zero_padded(s, cols);
            im2col(s, &taps, x, col, min_len);
            col
        };
        let lhs = if nb == 1 {
            dy
        } else {
            let rows = sized(&mut scratch.rows, s.o * cols);
            gather_rows(dy, rows, s.o, ohw, min_len);
            rows
        };
        for g in 0..s.groups {
            let (dyg, xg) = (
                &lhs[g * og * cols..][..og * cols],
                &rhs[g * k * cols..][..k * cols],
            );
            let dwg = &mut dw[g * og * k..][..og * k];
            if by_column {
                // The transpose [k, og] = im2col [k, cols] @ dy^T [cols, og], row-major.
                matmul(
                    dwg,
                    og,
                    [k, og, cols],
                    Matrix::rows(xg, cols),
                    Matrix::rows(dyg, cols).transposed(),
                    true,
                    par,
                );
            } else {
                matmul(
                    dwg,
                    k,
                    [og, k, cols],
                    Matrix::rows(dyg, cols),
                    Matrix::rows(xg, cols).transposed(),
                    true,
                    par,
                );
            }
        }
        dw
    };
    let dw = summed_over_chunks(&plan, s.o * k, chunk);
    if by_column {
        untranspose(s, &dw)
    } else {
        dw
    }
}

/// The sum of `len`-long gradients that `chunk(scratch, partial, index)` adds chunk by chunk into
/// `partial`. Where chunks run as tasks, a fixed split of them, one run per thread, each summed into
/// its own partial, the partials then added in order: the result does not depend on which thread
/// ran what, so training is reproducible at a given thread count.
fn summed_over_chunks(
    plan: &Plan,
    len: usize,
    chunk: impl Fn(&mut Scratch, Vec<f32>, usize) -> Vec<f32> + Sync,
) -> Vec<f32> {
    let run = |chunks: Range<usize>| {
        with_scratch(|scratch| chunks.fold(vec![0.0; len], |dw, i| chunk(scratch, dw, i)))
    };
    if !plan.in_tasks {
        return run(0..plan.chunks);
    }
    let parts = rayon::current_num_threads().min(plan.chunks);
    let mut partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|p| run(p * plan.chunks / parts..(p + 1) * plan.chunks / parts))
        .collect();
    let rest = partials.split_off(1);
    let mut sum = partials.pop().unwrap_or_else(|| vec![0.0; len]);
    sum.par_chunks_mut(SUM_BLOCK)
        .enumerate()
        .for_each(|(b, dst)| {
            for part in &rest {
                dst.iter_mut()
                    .zip(&part[b * SUM_BLOCK..])
                    .for_each(|(d, &v)| *d += v);
            }
        });
    sum
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

/// Gradient of the bias: `dy` summed over the batch and the output plane of each channel.
pub(super) fn conv2d_bwd_bias(s: &ConvShape, dy: &[f32]) -> Vec<f32> {
    let ohw = s.ohw();
    (0..s.o)
        .into_par_iter()
        .map(|o| {
            (0..s.n)
                .map(|n| lane_sum(&dy[(n * s.o + o) * ohw..][..ohw], |v| v))
                .sum::<f64>() as f32
        })
        .collect()
}
