//! How the gemm-based kernels (im2col, tap classes, Winograd) walk a batch: chunks of samples
//! (`Plan`), each thread's reusable buffers (`Scratch`), and the fixed-order sum of per-thread
//! partial weight gradients.

use std::cell::RefCell;
use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use crate::nn::conv::ConvShape;

/// What the im2col buffers of all threads may hold together.
pub(super) const MAX_COL_BYTES: usize = 64 << 20;

/// Elements per task when the weight gradient's per-thread partial sums are added.
const SUM_BLOCK: usize = 1 << 14;

/// How a kernel walks the batch: `chunks` chunks of `per_chunk` samples (the last one maybe fewer).
/// The chunks run as rayon tasks with single-threaded gemms when there are enough of them to keep
/// every thread busy (or their gemms are too small to split), else one after another with gemm
/// and the copies around it split across threads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub per_chunk: usize,
    pub chunks: usize,
    pub in_tasks: bool,
}

impl Plan {
    pub(super) fn gemm_parallelism(&self) -> Parallelism {
        if self.in_tasks {
            Parallelism::None
        } else {
            Parallelism::Rayon(rayon::current_num_threads())
        }
    }

    /// The `with_min_len` of the copies around each gemm: `usize::MAX` keeps them on the task's own
    /// thread when the chunks are already tasks.
    pub(super) fn min_len(&self) -> usize {
        if self.in_tasks {
            usize::MAX
        } else {
            1
        }
    }
}

/// A thread's buffers, kept from chunk to chunk and from call to call: allocated per call, the
/// im2col matrix (up to tens of MB) was zeroed and page-faulted in again by every convolution.
#[derive(Default)]
pub(super) struct Scratch {
    pub col: ColBuffer,
    pub rows: Vec<f32>,
    /// A chunk of the input with its samples innermost (see `taps::forward`).
    pub samples_last: Vec<f32>,
}

/// An im2col matrix, or col2im's input.
#[derive(Default)]
pub(super) struct ColBuffer {
    data: Vec<f32>,
    /// The convolution (batch and output channels aside) and row length whose zero padding is laid
    /// out in `data`, if any.
    padded_for: Option<(ConvShape, usize)>,
}

impl ColBuffer {
    /// The [c * kh * kw, width] im2col buffer of `s`, zero where im2col won't write: the padding
    /// stays zero from one chunk (and call) to the next, so the buffer is cleared only when the
    /// layout of its padding changes.
    pub(super) fn zero_padded(&mut self, s: &ConvShape, width: usize) -> &mut [f32] {
        let layout = Some((ConvShape { n: 0, o: 0, ..*s }, width));
        if self.padded_for != layout {
            self.data.clear();
            self.padded_for = layout;
        }
        sized(&mut self.data, s.c * s.taps() * width)
    }

    /// A buffer of `len` elements that the caller will overwrite.
    pub(super) fn overwritten(&mut self, len: usize) -> &mut [f32] {
        self.padded_for = None;
        sized(&mut self.data, len)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers, or fresh ones if they are in use further up the
/// stack (a thread that waits in a join may run another chunk meanwhile).
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// The first `len` elements of `buf`, grown to fit.
pub(super) fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// Calls `f(first_sample, out_chunk, scratch)` for every chunk of `out`, whose samples are
/// `sample_len` long, as the plan says.
pub(super) fn for_each_chunk(
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

/// The sum of `len`-long gradients that `chunk(scratch, partial, index)` adds chunk by chunk into
/// `partial`. Where chunks run as tasks, a fixed split of them, one run per thread, each summed into
/// its own partial, the partials then added in order: the result does not depend on which thread
/// ran what, so training is reproducible at a given thread count.
pub(super) fn summed_over_chunks(
    plan: &Plan,
    len: usize,
    chunk: impl Fn(&mut Scratch, Vec<f32>, usize) -> Vec<f32> + Sync,
) -> Vec<f32> {
    let run = |chunks: Range<usize>| {
        with_scratch(|scratch| chunks.fold(vec![0.0; len], |dw, i| chunk(scratch, dw, i)))
    };
    // An empty batch has no chunks and no tasks to sum: its gradient is zero.
    if !plan.in_tasks || plan.chunks == 0 {
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

/// Transposes a chunk `x` [nb, rest] into `xt` [rest, nb].
pub(super) fn samples_last(x: &[f32], xt: &mut [f32], nb: usize, min_len: usize) {
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
