//! Direct convolution for CPUs with AVX-512 or NEON: no im2col matrix, which for the small channel
//! counts of CIFAR-sized models cost as much time as the products themselves (9 copies of every
//! input per pass, out of cache).
//!
//! Output position `(y, x)` reads tap `(i, j)` at a flat index plus an offset that depends on the tap
//! alone, so a tile of output channels times vector-wide runs of flat positions is a chain of
//! broadcast multiply-adds over (tap, channel) pairs. At stride 1 with the output as wide as the
//! input (3x3 kernels with padding 1), that index is the output's own and the input is read as it
//! lies, with masked loads zeroing the lanes that fall in the padding. Otherwise each sample's
//! input planes are zero-padded into a copy with one row pitch for all of them and, at stride > 1,
//! split into one plane per stride phase (the rows and columns at each offset modulo the stride);
//! the index is then `y * pitch + x`, and the positions past the output width in each row are
//! computed and dropped. The weight gradient reads the packed planes at the same offsets, against
//! `dy` laid out channels-last at that pitch (zero in the dropped columns), with its vectors along
//! the output channels. A strided layer's input gradient runs the same forward tiles on `dy`, once
//! per stride phase of the input (see `strided::StridedPhases`).
//!
//! The tiling, packing and layouts are shared; `isa` is the instruction set's own part (its vector
//! width, tile sizes and tile kernels): `avx512` on x86-64, `neon` on aarch64, each taken only
//! where the CPU has it (detected at run time).

#[cfg(target_arch = "x86_64")]
mod avx512;
mod forward;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
pub(super) mod pairs;
mod strided;
#[cfg(test)]
mod tests;
mod weight;

#[cfg(target_arch = "x86_64")]
use avx512 as isa;
#[cfg(target_arch = "aarch64")]
use neon as isa;

use crate::nn::conv::ConvShape;
use crate::nn::Activation;
use isa::{LANES, OUT_TILE, POS_TILE};
use strided::StridedPhases;

/// Input channels a forward tile takes through all its taps before the next ones.
const CHANNEL_BLOCK: usize = 32;
/// The mask of every lane of a vector (lane `l` is bit `l`).
const ALL_LANES: u16 = ((1u32 << LANES) - 1) as u16;

/// Whether the direct kernels can run `s`: on a CPU with AVX-512 or NEON, kernels of 9 taps or more
/// (1x1 reads its input as it lies), and something to compute.
pub(super) fn supports(s: &ConvShape) -> bool {
    isa::available() && s.taps() >= 9 && s.n * s.h * s.w * s.ohw() != 0
}

/// Whether the direct forward takes `s`, where im2col + gemm is slower (measured with AVX-512; NEON
/// takes the same shapes). Read in place (see
/// `Direct::forward_grid`), 3x3 kernels on 8x8 outputs and up run faster direct at every channel
/// count measured. From packed planes, up to 64 channels (from 128 on, gemm's tiles are full).
/// Below 8x8 most of a vector would be padding.
pub(super) fn forward_fits(s: &ConvShape) -> bool {
    s.ohw() >= 64 && (s.cg() <= 64 || reads_in_place(s)) && supports(s)
}

/// Whether the direct weight gradient takes `s`, where im2col + gemm is slower: with 8 channels or
/// more at 32x32 outputs and up, and from 8x8 up with at most 64 channels; from 128 channels on
/// smaller planes gemm's tiles fill, and with 3 input channels gemm is faster.
pub(super) fn backward_weight_fits(s: &ConvShape) -> bool {
    s.cg() >= 8 && (s.ohw() >= 1024 || (s.cg() <= 64 && s.ohw() >= 64)) && supports(s)
}

/// Forward: `y = activation(conv(x, w) (+ bias))` of `s`, which must be supported.
pub(super) fn forward(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
) -> Vec<f32> {
    Direct::new(s).forward(x, w, bias, activation)
}

/// Gradient of the weight of `s`, which must be supported.
pub(super) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    Direct::new(s).backward_weight(x, dy)
}

/// Whether the stride phases (see `StridedPhases`) can run the input gradient of `s`.
pub(super) fn backward_input_supports(s: &ConvShape) -> bool {
    StridedPhases::supports(s)
}

/// Whether the stride phases take the input gradient of `s`, where the other routes are slower.
pub(super) fn backward_input_fits(s: &ConvShape) -> bool {
    StridedPhases::fits(s)
}

/// Gradient of the input of `s`, one stride phase at a time; `s` must be supported.
pub(super) fn backward_input(s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
    StridedPhases::new(s).backward_input(dy, w)
}

/// A convolution the direct kernels can run, with the layout of its packed planes.
struct Direct<'s> {
    s: &'s ConvShape,
    /// Row length of every packed plane and of the output grid.
    pitch: usize,
    /// Floats per packed plane, slack for the last tile's reads included.
    plane: usize,
    /// Packed planes per input channel: one per stride phase.
    phases: usize,
    /// Offset of each tap's reads (weight order) from a channel's first plane, relative to the
    /// output's flat index.
    reads: Vec<usize>,
    /// Position vectors covering `oh` rows of the grid.
    grid_vectors: usize,
}

impl<'s> Direct<'s> {
    /// The layout of the packed planes of `s`. Panics unless the kernels support `s`: a `Direct`
    /// is the proof that the CPU has the instruction set of `isa`, which its kernels' safety rests
    /// on.
    fn new(s: &'s ConvShape) -> Self {
        assert!(supports(s), "conv2d: the direct kernels can't run {s:?}");
        let ([sh, sw], [ph, pw], [dh, dw]) = (s.stride, s.padding, s.dilation);
        let rows = (s.h + 2 * ph).div_ceil(sh);
        // At stride 1 a row's right padding is the next row's left padding: the reads past a row's
        // end land in the zeros that start the next one. 8x8 planes then take 72 positions, not 80.
        let pitch = if sw == 1 {
            (s.w + pw).max(s.ow)
        } else {
            (s.w + 2 * pw).div_ceil(sw)
        };
        let (mut reads, mut furthest) = (Vec::with_capacity(s.taps()), 0);
        for i in 0..s.kh {
            for j in 0..s.kw {
                let (r, q) = (i * dh, j * dw);
                let offset = (r / sh) * pitch + q / sw;
                furthest = furthest.max(offset);
                reads.push(((r % sh) * sw + q % sw, offset));
            }
        }
        let grid_vectors = (s.oh * pitch).div_ceil(LANES);
        let plane = (rows * pitch)
            .max(grid_vectors * LANES + furthest)
            .next_multiple_of(LANES);
        Direct {
            s,
            pitch,
            plane,
            phases: sh * sw,
            reads: reads
                .into_iter()
                .map(|(phase, o)| phase * plane + o)
                .collect(),
            grid_vectors,
        }
    }

    /// Floats of one channel's packed planes.
    fn channel_len(&self) -> usize {
        self.phases * self.plane
    }

    /// Copies one sample's input planes `x` [c, h, w] into `dst`, channel `ch`'s phase planes at
    /// `ch * channel_stride`. Only the input's values are written: the padding must be zero already,
    /// as in a buffer created zeroed and packed for this layer only.
    fn pack_input(&self, x: &[f32], dst: &mut [f32], channel_stride: usize) {
        let s = self.s;
        let ([sh, sw], [ph, pw]) = (s.stride, s.padding);
        for (ch, src) in x.chunks_exact(s.h * s.w).enumerate() {
            let channel = &mut dst[ch * channel_stride..][..self.channel_len()];
            if s.stride == [2, 2] {
                self.pack_stride2(src, channel);
                continue;
            }
            let mut planes = channel.chunks_exact_mut(self.plane);
            for (a, b) in (0..sh).flat_map(|a| (0..sw).map(move |b| (a, b))) {
                let plane = planes
                    .next()
                    .expect("a packed channel holds every phase plane");
                // Packed column v holds input column v * sw + b - pw, where that lies inside.
                let first = pw.saturating_sub(b).div_ceil(sw);
                let end = (s.w + pw)
                    .saturating_sub(b)
                    .div_ceil(sw)
                    .clamp(first, self.pitch);
                for (u, row) in plane.chunks_exact_mut(self.pitch).enumerate() {
                    if let Some(r) = (u * sh + a).checked_sub(ph).filter(|&r| r < s.h) {
                        let line = &src[r * s.w..][..s.w];
                        let from = first * sw + b - pw;
                        gather_every(&mut row[first..end], &line[from..], sw);
                    }
                }
            }
        }
    }

    /// One channel's input plane into its four phase planes at stride 2: each input row split into
    /// its even and odd columns, into the two planes of its row's phase (where per-row gathers cost
    /// as much as the convolution's products).
    fn pack_stride2(&self, src: &[f32], channel: &mut [f32]) {
        let s = self.s;
        let [ph, pw] = s.padding;
        // Input column `x` lands in column phase `(x + pw) % 2`, at packed column `(x + pw) / 2`.
        let (even_at, odd_at) = (pw / 2, pw.div_ceil(2));
        for (r, line) in src.chunks_exact(s.w).enumerate() {
            let (a, u) = ((r + ph) % 2, (r + ph) / 2);
            let planes = &mut channel[a * 2 * self.plane..][..2 * self.plane];
            let (first, second) = planes.split_at_mut(self.plane);
            let (evens, odds) = if pw % 2 == 0 {
                (first, second)
            } else {
                (second, first)
            };
            let even = &mut evens[u * self.pitch + even_at..][..s.w.div_ceil(2)];
            let odd = &mut odds[u * self.pitch + odd_at..][..s.w / 2];
            // SAFETY: the instruction set was detected in `supports`.
            unsafe { isa::deinterleave(line, even, odd) };
        }
    }
}

/// Whether output position `p` reads each tap at a fixed offset from `p` in the input as it lies:
/// at stride 1, with the output as wide as the input.
fn reads_in_place(s: &ConvShape) -> bool {
    s.stride == [1, 1] && s.ow == s.w
}

/// `dst[k] = src[k * step]` for every `k` of `dst`.
fn gather_every(dst: &mut [f32], src: &[f32], step: usize) {
    if step == 1 && isa::available() {
        // SAFETY: the instruction set was just detected.
        unsafe { isa::copy_row(dst, &src[..dst.len()]) };
    } else {
        dst.iter_mut()
            .zip(src.iter().step_by(step))
            .for_each(|(d, &v)| *d = v);
    }
}

/// The grid's position vectors in runs of up to 3 (a tile each), as even as they go: 4 vectors make
/// two runs of 2, not 3 and 1.
fn vector_runs(vectors: usize) -> Vec<(usize, usize)> {
    let runs = vectors.div_ceil(POS_TILE);
    (0..runs)
        .map(|r| {
            (
                r * vectors / runs,
                (r + 1) * vectors / runs - r * vectors / runs,
            )
        })
        .collect()
}

/// What a forward tile reads: the input from its first position vector on, and the weights of its
/// output channels.
struct TileReads<'a> {
    x: *const f32,
    channel_stride: usize,
    channels: usize,
    reads: &'a [isize],
    /// [vector, tap] from the tile's first vector.
    masks: &'a [u16],
    /// [tap, channel, O].
    w: *const f32,
}

/// A forward tile over a run of position vectors: `forward_run` (float32 products) or
/// `pairs::forward_run` (bf16 products).
type TileRun = unsafe fn(&TileReads, &[f32; OUT_TILE], *mut f32, usize, usize, &[u16], usize);

/// `forward_tile` over a run of `len` (1 to `POS_TILE`) position vectors.
///
/// # Safety
/// As for `forward_tile`, with `P = len`.
unsafe fn forward_run(
    tile: &TileReads,
    bias: &[f32; OUT_TILE],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
    len: usize,
) {
    match len {
        1 => isa::forward_tile::<OUT_TILE, 1>(tile, bias, out, out_stride, rows, stores),
        2 => isa::forward_tile::<OUT_TILE, 2>(tile, bias, out, out_stride, rows, stores),
        _ => isa::forward_tile::<OUT_TILE, POS_TILE>(tile, bias, out, out_stride, rows, stores),
    }
}
