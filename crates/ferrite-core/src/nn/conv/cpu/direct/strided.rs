//! The input gradient of a strided layer by stride phases (see `StridedPhases`).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{forward_run, isa, vector_runs, TileReads, ALL_LANES, LANES, OUT_TILE, POS_TILE};
use crate::nn::conv::ConvShape;

/// The input gradient of a strided convolution as one stride-1 convolution of `dy` per stride phase
/// of the input. Input row `iy = s * a + r` is reached only by the taps `i` with `i ≡ r + p (mod
/// s)`, each from `dy` row `a + (r + p - i) / s`; so the rows (and columns) of one phase are a
/// convolution of `dy` with those taps, which the forward tile runs on `dy`'s zero-padded planes.
/// At stride 2 with 3x3 kernels the four phases take 1, 2, 2 and 4 taps: every product is one of the
/// gradient's, where im2col + gemm wrote 9 partial sums per input and col2im added them up.
pub(super) struct StridedPhases<'s> {
    s: &'s ConvShape,
    /// Zero rows above `dy` in its packed planes, and zero columns left of it.
    top: usize,
    left: usize,
    /// Row length of the packed `dy` planes; the grid of every phase is this wide.
    pitch: usize,
    /// Floats per packed `dy` plane, slack for the last tile's reads included.
    plane: usize,
    phases: Vec<Phase>,
}

/// The input positions of one stride phase and the taps that reach them.
struct Phase {
    /// How many rows and columns of the input it holds: phase `(r, q)` holds rows `r + k * stride`
    /// and columns `q + k * stride` (phases go row-major, as `write_plane` reads them).
    size: [usize; 2],
    /// The taps (weight order) that reach it, and the offset of each one's reads in the packed
    /// `dy` plane from the flat grid index.
    taps: Vec<usize>,
    reads: Vec<isize>,
    /// Position vectors covering `size[0]` rows of the pitch-wide grid, and their runs per tile.
    vectors: usize,
    runs: Vec<(usize, usize)>,
}

/// Along one axis of input length `len`, for each phase `r` of stride `stride`: the taps reaching it
/// and the `dy` shift of each (`(r + padding - tap) / stride`).
fn phase_taps(
    len: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Vec<Vec<(usize, isize)>> {
    (0..stride.min(len))
        .map(|r| {
            (0..kernel)
                .filter(|&i| (r + padding + stride * kernel - i).is_multiple_of(stride))
                .map(|i| {
                    (
                        i,
                        (r as isize + padding as isize - i as isize) / stride as isize,
                    )
                })
                .collect()
        })
        .collect()
}

/// Along one axis, how far `dy`'s padded plane must reach before its first row (or column) and
/// past its last for `phases` of `phase_taps(len, .., stride, ..)` over `out` rows of `dy`.
fn reach(phases: &[Vec<(usize, isize)>], len: usize, stride: usize, out: usize) -> (usize, usize) {
    let before = phases
        .iter()
        .flatten()
        .map(|&(_, d)| -d)
        .max()
        .unwrap_or(0)
        .max(0);
    let after = phases
        .iter()
        .enumerate()
        .flat_map(|(r, taps)| {
            let last = (len - r).div_ceil(stride) as isize - 1;
            taps.iter().map(move |&(_, d)| last + d)
        })
        .max()
        .unwrap_or(0);
    (before as usize, (after + 1 - out as isize).max(0) as usize)
}

impl<'s> StridedPhases<'s> {
    /// Whether the phase split computes the input gradient of `s`: on a CPU with AVX-512 or NEON,
    /// at stride > 1 (stride 1 is the transposed convolution), one group, no dilation, and
    /// something to compute.
    pub(super) fn supports(s: &ConvShape) -> bool {
        isa::available()
            && s.stride != [1, 1]
            && s.groups == 1
            && s.dilation == [1, 1]
            && s.c * s.o * s.ohw() > 0
    }

    /// Whether the phase split takes `s`: with as many samples as threads (a sample per task).
    /// ResNet's stride-2 downsampling layers run faster so than by im2col + gemm and col2im.
    pub(super) fn fits(s: &ConvShape) -> bool {
        s.n >= rayon::current_num_threads() && Self::supports(s)
    }

    /// The phases of `s` and the layout of `dy`'s packed planes. Panics unless the phase split
    /// supports `s`: its kernels' safety rests on the instruction set check there.
    pub(super) fn new(s: &'s ConvShape) -> Self {
        assert!(
            Self::supports(s),
            "conv2d: the stride phases can't run {s:?}"
        );
        let rows = phase_taps(s.h, s.kh, s.stride[0], s.padding[0]);
        let cols = phase_taps(s.w, s.kw, s.stride[1], s.padding[1]);
        // `dy` goes `top` rows and `left` columns into its padded plane: room for the most negative
        // shift; and as far past its end as the furthest read of a phase's last row or column.
        let (top, bottom) = reach(&rows, s.h, s.stride[0], s.oh);
        let (left, right) = reach(&cols, s.w, s.stride[1], s.ow);
        let pitch = left + s.ow + right;
        let mut phases = Vec::new();
        let mut furthest = 0;
        for (ry, row_taps) in rows.iter().enumerate() {
            for (rx, col_taps) in cols.iter().enumerate() {
                let size = [
                    (s.h - ry).div_ceil(s.stride[0]),
                    (s.w - rx).div_ceil(s.stride[1]),
                ];
                let (mut taps, mut reads) = (Vec::new(), Vec::new());
                for &(i, dy) in row_taps {
                    for &(j, dx) in col_taps {
                        let read = (top as isize + dy) * pitch as isize + left as isize + dx;
                        furthest = furthest.max(read as usize);
                        taps.push(i * s.kw + j);
                        reads.push(read);
                    }
                }
                let vectors = (size[0] * pitch).div_ceil(LANES);
                phases.push(Phase {
                    size,
                    taps,
                    reads,
                    vectors,
                    runs: vector_runs(vectors),
                });
            }
        }
        let grid = phases.iter().map(|p| p.vectors * LANES).max().unwrap_or(0);
        let plane = ((top + s.oh + bottom) * pitch)
            .max(grid + furthest)
            .next_multiple_of(LANES);
        StridedPhases {
            s,
            top,
            left,
            pitch,
            plane,
            phases,
        }
    }

    /// `dx` for `dy` [n, o, oh, ow] and the weight [o, c, kh, kw]: a sample per task.
    pub(super) fn backward_input(&self, dy: &[f32], w: &[f32]) -> Vec<f32> {
        let s = self.s;
        if s.n * s.c * s.h * s.w == 0 {
            // An empty input (padding still gives it outputs) has no gradient to split by sample.
            return Vec::new();
        }
        let (ohw, hw) = (s.ohw(), s.h * s.w);
        let packed = self.pack_weight(w);
        let most_taps = self.phases.iter().map(|p| p.taps.len()).max().unwrap_or(0);
        let masks = vec![ALL_LANES; POS_TILE * most_taps];
        let len = s.n * s.c * hw;
        let mut dx = Vec::with_capacity(len);
        let staged_grids = || -> Vec<Vec<f32>> {
            let grid = |p: &Phase| vec![0.0; OUT_TILE * p.vectors * LANES];
            self.phases.iter().map(grid).collect()
        };
        dx.spare_capacity_mut()[..len]
            .par_chunks_mut(s.c * hw)
            .enumerate()
            .for_each_init(
                || (vec![0.0; s.o * self.plane], staged_grids()),
                |(dys, staged), (n, dx)| {
                    self.pack_dy(&dy[n * s.o * ohw..][..s.o * ohw], dys);
                    self.sample(&packed, &masks, dys, staged, dx);
                },
            );
        // SAFETY: `write_plane` wrote every element of every input plane.
        unsafe { dx.set_len(len) };
        dx
    }

    /// Per phase, the weight [o, c, kh, kw] as [tile, tap, o, OUT_TILE]: the forward tile's weight
    /// layout, with `dx`'s channels as its outputs and `dy`'s as its inputs.
    fn pack_weight(&self, w: &[f32]) -> Vec<Vec<f32>> {
        let s = self.s;
        let (taps, tiles) = (s.taps(), s.c.div_ceil(OUT_TILE));
        self.phases
            .iter()
            .map(|phase| {
                let mut packed = vec![0.0; tiles * phase.taps.len() * s.o * OUT_TILE];
                for (k, &tap) in phase.taps.iter().enumerate() {
                    for o in 0..s.o {
                        for c in 0..s.c {
                            let at = ((c / OUT_TILE * phase.taps.len() + k) * s.o + o) * OUT_TILE;
                            packed[at + c % OUT_TILE] = w[(o * s.c + c) * taps + tap];
                        }
                    }
                }
                packed
            })
            .collect()
    }

    /// One sample's `dx` [c, h, w] from its packed `dy` planes `dys`: per tile of input channels,
    /// every phase's convolution into its `staged` grid, then the grids interleaved into `dx`.
    fn sample(
        &self,
        packed: &[Vec<f32>],
        masks: &[u16],
        dys: &[f32],
        staged: &mut [Vec<f32>],
        dx: &mut [MaybeUninit<f32>],
    ) {
        let s = self.s;
        let hw = s.h * s.w;
        let stores = [ALL_LANES; POS_TILE];
        for t in 0..s.c.div_ceil(OUT_TILE) {
            let rows = OUT_TILE.min(s.c - t * OUT_TILE);
            for ((phase, packed), staged) in self.phases.iter().zip(packed).zip(staged.iter_mut()) {
                let computed = phase.vectors * LANES;
                let wt = &packed[t * phase.taps.len() * s.o * OUT_TILE..];
                for &(v, run) in &phase.runs {
                    let tile = TileReads {
                        x: dys.as_ptr().wrapping_add(v * LANES),
                        channel_stride: self.plane,
                        channels: s.o,
                        reads: &phase.reads,
                        masks,
                        w: wt.as_ptr(),
                    };
                    let zero = [0.0; OUT_TILE];
                    // SAFETY: `new` sized every plane for the furthest read of the grid's last
                    // vector, `wt` holds a weight per tap, `dy` channel and tile row, and `staged`
                    // OUT_TILE rows of `computed` floats; the instruction set was detected in
                    // `supports`. A phase no tap reaches stores zeros.
                    unsafe {
                        let out = staged.as_mut_ptr().add(v * LANES);
                        forward_run(&tile, &zero, out, computed, rows, &stores, run)
                    }
                }
            }
            for k in 0..rows {
                self.write_plane(staged, k, &mut dx[(t * OUT_TILE + k) * hw..][..hw]);
            }
        }
    }

    /// One sample's `dy` [o, oh, ow] into its packed planes in `dst`, whose padding stays zero from
    /// the buffer's creation.
    fn pack_dy(&self, dy: &[f32], dst: &mut [f32]) {
        let s = self.s;
        for (channel, plane) in dy
            .chunks_exact(s.ohw())
            .zip(dst.chunks_exact_mut(self.plane))
        {
            for (y, line) in channel.chunks_exact(s.ow).enumerate() {
                let row = &mut plane[(self.top + y) * self.pitch + self.left..][..s.ow];
                // SAFETY: the instruction set was detected in `supports`.
                unsafe { isa::copy_row(row, line) };
            }
        }
    }

    /// Row `k` of every phase's staged grid, interleaved into one input plane, row by row.
    fn write_plane(&self, staged: &[Vec<f32>], k: usize, plane: &mut [MaybeUninit<f32>]) {
        let ([sy, sx], w) = (self.s.stride, self.s.w);
        let columns = self.phases.len() / sy.min(self.s.h);
        for (iy, line) in plane.chunks_exact_mut(w).enumerate() {
            let (a, ry) = (iy / sy, iy % sy);
            let row = |rx: usize| {
                let (phase, grid) = (&self.phases[ry * columns + rx], &staged[ry * columns + rx]);
                &grid[k * phase.vectors * LANES + a * self.pitch..][..phase.size[1]]
            };
            if columns == 2 && sx == 2 {
                // SAFETY: the instruction set was detected in `supports`.
                unsafe { isa::interleave(line, row(0), row(1)) };
            } else {
                for (ix, out) in line.iter_mut().enumerate() {
                    out.write(row(ix % sx)[ix / sx]);
                }
            }
        }
    }
}
