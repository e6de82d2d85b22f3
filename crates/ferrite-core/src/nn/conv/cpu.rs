//! CPU kernels of `conv2d`: im2col + gemm forward, and one backward kernel per gradient, as cuDNN
//! splits them: data (gemm then col2im), filter (gemm against im2col, summed over the batch) and
//! bias (a sum over batch and space).

use gemm::{gemm, Parallelism};
use rayon::prelude::*;

use crate::cpu::PARALLEL_GEMM_MIN_FLOPS;

/// Tasks per thread when the batch is split: a few, so that idle threads can steal work from busy
/// ones; each task allocates its own im2col buffer.
const TASKS_PER_THREAD: usize = 4;

/// The sizes of one convolution: NCHW input, weight [o, c / groups, kh, kw], output [n, o, oh, ow].
#[derive(Debug, Clone, Copy)]
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

impl ConvShape {
    fn cg(&self) -> usize {
        self.c / self.groups
    }

    fn og(&self) -> usize {
        self.o / self.groups
    }

    /// Rows of one group's im2col matrix: the reduction dim of its gemm.
    fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }

    fn hw(&self) -> usize {
        self.h * self.w
    }

    fn ohw(&self) -> usize {
        self.oh * self.ow
    }

    /// A 1x1 kernel at stride 1 without padding reads the input planes as they are: no im2col.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// An im2col buffer for one group of one sample (none for pointwise convolutions).
    fn col_buffer(&self) -> Vec<f32> {
        if self.pointwise() {
            Vec::new()
        } else {
            vec![0.0; self.k() * self.ohw()]
        }
    }

    /// Samples per rayon task and the parallelism of each gemm: the batch split across threads,
    /// unless it is too small to fill them and its gemms are big enough to split instead.
    fn schedule(&self) -> (usize, Parallelism) {
        let threads = rayon::current_num_threads();
        if self.n < threads && self.o * self.k() * self.ohw() >= PARALLEL_GEMM_MIN_FLOPS {
            (self.n.max(1), Parallelism::Rayon(threads))
        } else {
            (self.n.div_ceil(threads * TASKS_PER_THREAD).max(1), Parallelism::None)
        }
    }

    /// Calls `f(col_at, input_at, len)` for every run where a row of one group's im2col matrix meets
    /// the input: im2col elements `col_at..col_at + len` (one kernel tap, one output row) read the
    /// input from `input_at` on, one stride apart. Padding is what no run covers.
    fn for_each_run(&self, mut f: impl FnMut(usize, usize, usize)) {
        let ([sh, sw], [ph, pw], [dh, dw]) = (self.stride, self.padding, self.dilation);
        for c in 0..self.cg() {
            for i in 0..self.kh {
                let (y_lo, y_hi) = valid_range(self.oh, self.h, i * dh, ph, sh);
                for j in 0..self.kw {
                    let (x_lo, x_hi) = valid_range(self.ow, self.w, j * dw, pw, sw);
                    if x_lo == x_hi {
                        continue;
                    }
                    let row = ((c * self.kh + i) * self.kw + j) * self.ohw();
                    let ix = x_lo * sw + j * dw - pw;
                    for oy in y_lo..y_hi {
                        let iy = oy * sh + i * dh - ph;
                        f(row + oy * self.ow + x_lo, (c * self.h + iy) * self.w + ix, x_hi - x_lo);
                    }
                }
            }
        }
    }
}

/// The output positions `lo..hi` whose input coordinate `pos * stride + tap - pad` lies in `0..len`.
fn valid_range(out_len: usize, len: usize, tap: usize, pad: usize, stride: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(tap).div_ceil(stride);
    let hi = (len + pad).saturating_sub(tap).div_ceil(stride).min(out_len);
    (lo.min(hi), hi)
}

/// Unfolds one group's input planes [cg, h, w] into `col` [cg * kh * kw, oh * ow]. The padding is
/// never written: a buffer from `col_buffer` keeps its zeros there from one call to the next.
fn im2col(s: &ConvShape, x: &[f32], col: &mut [f32]) {
    let step = s.stride[1];
    s.for_each_run(|at, from, len| {
        let dst = &mut col[at..at + len];
        if step == 1 {
            dst.copy_from_slice(&x[from..from + len]);
        } else {
            for (d, &v) in dst.iter_mut().zip(x[from..].iter().step_by(step)) {
                *d = v;
            }
        }
    });
}

/// Folds `col` [cg * kh * kw, oh * ow] back onto one group's input planes, adding where taps overlap.
fn col2im(s: &ConvShape, col: &[f32], dx: &mut [f32]) {
    let step = s.stride[1];
    s.for_each_run(|at, from, len| {
        let src = &col[at..at + len];
        if step == 1 {
            for (d, &v) in dx[from..from + len].iter_mut().zip(src) {
                *d += v;
            }
        } else {
            for (d, &v) in dx[from..].iter_mut().step_by(step).zip(src) {
                *d += v;
            }
        }
    });
}

/// A row-major matrix operand of `matmul`, used as stored or transposed.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Plain(&'a [f32]),
    Transposed(&'a [f32]),
}

impl<'a> Operand<'a> {
    /// The data, column stride and row stride of this operand used as a `rows x cols` matrix.
    fn view(self, rows: usize, cols: usize) -> (&'a [f32], isize, isize) {
        match self {
            Operand::Plain(d) => (d, 1, cols as isize),
            Operand::Transposed(d) => (d, rows as isize, 1),
        }
    }
}

/// `dst (m x n) = [dst +] lhs (m x k) @ rhs (k x n)`, every matrix dense and row-major as stored.
fn matmul(dst: &mut [f32], [m, n, k]: [usize; 3], lhs: Operand, rhs: Operand, accumulate: bool, par: Parallelism) {
    let ((a, a_cs, a_rs), (b, b_cs, b_rs)) = (lhs.view(m, k), rhs.view(k, n));
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n, "conv2d: gemm operand too short");
    // SAFETY: the lengths were checked above, so every element gemm reads or writes through these
    // dense strides is inside its slice.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// Forward: `y[n, g] = w[g] @ im2col(x[n, g]) (+ bias)`, batch split across threads.
pub(super) fn conv2d_fwd(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (cg, og, k, hw, ohw) = (s.cg(), s.og(), s.k(), s.hw(), s.ohw());
    let mut y = vec![0.0; s.n * s.o * ohw];
    let (per_task, par) = s.schedule();
    y.par_chunks_mut(per_task * s.o * ohw).enumerate().for_each(|(task, y)| {
        let mut col = s.col_buffer();
        for (i, y) in y.chunks_mut(s.o * ohw).enumerate() {
            let x = &x[(task * per_task + i) * s.c * hw..][..s.c * hw];
            if let Some(bias) = bias {
                for (row, &b) in y.chunks_mut(ohw).zip(bias) {
                    row.fill(b);
                }
            }
            for g in 0..s.groups {
                let xg = &x[g * cg * hw..][..cg * hw];
                let rhs = if s.pointwise() {
                    xg
                } else {
                    im2col(s, xg, &mut col);
                    &col
                };
                let (wg, yg) = (&w[g * og * k..][..og * k], &mut y[g * og * ohw..][..og * ohw]);
                matmul(yg, [og, ohw, k], Operand::Plain(wg), Operand::Plain(rhs), bias.is_some(), par);
            }
        }
    });
    y
}

/// Gradient of the input: `dx[n, g] = col2im(w[g]^T @ dy[n, g])`.
pub(super) fn conv2d_bwd_data(s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
    let (cg, og, k, hw, ohw) = (s.cg(), s.og(), s.k(), s.hw(), s.ohw());
    let mut dx = vec![0.0; s.n * s.c * hw];
    let (per_task, par) = s.schedule();
    dx.par_chunks_mut(per_task * s.c * hw).enumerate().for_each(|(task, dx)| {
        let mut dcol = s.col_buffer();
        for (i, dx) in dx.chunks_mut(s.c * hw).enumerate() {
            let dy = &dy[(task * per_task + i) * s.o * ohw..][..s.o * ohw];
            for g in 0..s.groups {
                let (wg, dyg) =
                    (Operand::Transposed(&w[g * og * k..][..og * k]), Operand::Plain(&dy[g * og * ohw..][..og * ohw]));
                let dxg = &mut dx[g * cg * hw..][..cg * hw];
                if s.pointwise() {
                    matmul(dxg, [k, ohw, og], wg, dyg, false, par);
                } else {
                    matmul(&mut dcol, [k, ohw, og], wg, dyg, false, par);
                    col2im(s, &dcol, dxg);
                }
            }
        }
    });
    dx
}

/// Gradient of the weight: `dw[g] = sum over n of dy[n, g] @ im2col(x[n, g])^T`, each task summing
/// its samples into its own buffer before the buffers are added.
pub(super) fn conv2d_bwd_filter(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (cg, og, k, hw, ohw) = (s.cg(), s.og(), s.k(), s.hw(), s.ohw());
    let (per_task, par) = s.schedule();
    let partial = |task: usize| {
        let mut dw = vec![0.0; s.o * k];
        let mut col = s.col_buffer();
        for n in task * per_task..((task + 1) * per_task).min(s.n) {
            for g in 0..s.groups {
                let xg = &x[(n * s.c + g * cg) * hw..][..cg * hw];
                let rhs = if s.pointwise() {
                    xg
                } else {
                    im2col(s, xg, &mut col);
                    &col
                };
                let dyg = &dy[(n * s.o + g * og) * ohw..][..og * ohw];
                let dwg = &mut dw[g * og * k..][..og * k];
                matmul(dwg, [og, k, ohw], Operand::Plain(dyg), Operand::Transposed(rhs), true, par);
            }
        }
        dw
    };
    let sum = |mut a: Vec<f32>, b: Vec<f32>| {
        for (x, y) in a.iter_mut().zip(&b) {
            *x += y;
        }
        a
    };
    (0..s.n.div_ceil(per_task)).into_par_iter().map(partial).reduce_with(sum).unwrap_or_else(|| vec![0.0; s.o * k])
}

/// Gradient of the bias: `dy` summed over the batch and the output plane of each channel.
pub(super) fn conv2d_bwd_bias(s: &ConvShape, dy: &[f32]) -> Vec<f32> {
    let ohw = s.ohw();
    (0..s.o)
        .into_par_iter()
        .map(|o| (0..s.n).map(|n| dy[(n * s.o + o) * ohw..][..ohw].iter().sum::<f32>() as f64).sum::<f64>() as f32)
        .collect()
}
