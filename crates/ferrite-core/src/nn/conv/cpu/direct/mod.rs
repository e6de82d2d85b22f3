//! Direct convolution for CPUs with AVX-512: no im2col matrix, which for the small channel counts of
//! CIFAR-sized models cost as much time as the products themselves (9 copies of every input per
//! pass, out of cache).
//!
//! Output position `(y, x)` reads tap `(i, j)` at a flat index plus an offset that depends on the tap
//! alone, so a tile of output channels times 16-wide runs of flat positions is a chain of broadcast
//! multiply-adds over (tap, channel) pairs. At stride 1 with the output as wide as the input (3x3
//! kernels with padding 1), that index is the output's own and the input is read as it lies, with
//! masked loads zeroing the lanes that fall in the padding. Otherwise each sample's input planes are
//! zero-padded into a copy with one row pitch for all of them and, at stride > 1, split into one
//! plane per stride phase (the rows and columns at each offset modulo the stride); the index is then
//! `y * pitch + x`, and the positions past the output width in each row are computed and dropped.
//! The weight gradient reads the packed planes at the same offsets, against `dy` laid out
//! channels-last at that pitch (zero in the dropped columns), with its vectors along the output
//! channels. A strided layer's input gradient runs the same forward tiles on `dy`, once per stride
//! phase of the input (see `strided::StridedPhases`).

mod forward;
mod strided;
#[cfg(test)]
mod tests;
mod weight;

use std::arch::x86_64::*;

use crate::nn::conv::ConvShape;
use strided::StridedPhases;

/// f32 lanes of one AVX-512 vector.
const LANES: usize = 16;
/// Output channels times position vectors of the forward tile: 24 accumulators, each input vector
/// feeding 8 multiply-adds and each weight 3, so loads stay under the two FMA ports' pace.
const OUT_TILE: usize = 8;
const POS_TILE: usize = 3;
/// Input channels a forward tile takes through all its taps before the next ones.
const CHANNEL_BLOCK: usize = 32;

/// Whether the direct kernels can run `s`: on a CPU with AVX-512, kernels of 9 taps or more (1x1
/// reads its input as it lies), and something to compute.
pub(super) fn supports(s: &ConvShape) -> bool {
    avx512() && s.taps() >= 9 && s.n * s.h * s.w * s.ohw() != 0
}

/// Whether the direct forward takes `s`, where im2col + gemm is slower. Read in place (see
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

/// Forward: `y = conv(x, w) (+ bias)` of `s`, which must be supported.
pub(super) fn forward(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    Direct::new(s).forward(x, w, bias)
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
    /// is the proof that the CPU has AVX-512, which its kernels' safety rests on.
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
                // SAFETY: AVX-512 was detected in `supports`.
                unsafe { self.pack_stride2(src, channel) };
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
    /// its even and odd columns by two permutes per 32 values, into the two planes of its row's
    /// phase (where per-row gathers cost as much as the convolution's products).
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_stride2(&self, src: &[f32], channel: &mut [f32]) {
        let s = self.s;
        let [ph, pw] = s.padding;
        let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        // Input column `x` lands in column phase `(x + pw) % 2`, at packed column `(x + pw) / 2`.
        let (even_phase, even_at) = (pw % 2, pw / 2);
        let (odd_phase, odd_at) = ((pw + 1) % 2, pw.div_ceil(2));
        for (r, line) in src.chunks_exact(s.w).enumerate() {
            let (a, u) = ((r + ph) % 2, (r + ph) / 2);
            let row = |b: usize| (a * 2 + b) * self.plane + u * self.pitch;
            let (even_row, odd_row) = (row(even_phase) + even_at, row(odd_phase) + odd_at);
            for (k, values) in line.chunks(2 * LANES).enumerate() {
                let at = values.as_ptr();
                let low = _mm512_maskz_loadu_ps(first_lanes(values.len()), at);
                let high = _mm512_maskz_loadu_ps(
                    first_lanes(values.len().saturating_sub(LANES)),
                    at.wrapping_add(LANES),
                );
                let (even, odd) = (values.len().div_ceil(2), values.len() / 2);
                let out = &mut channel[even_row + k * LANES..][..even];
                let gathered = _mm512_permutex2var_ps(low, evens, high);
                _mm512_mask_storeu_ps(out.as_mut_ptr(), first_lanes(even), gathered);
                let out = &mut channel[odd_row + k * LANES..][..odd];
                let gathered = _mm512_permutex2var_ps(low, odds, high);
                _mm512_mask_storeu_ps(out.as_mut_ptr(), first_lanes(odd), gathered);
            }
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
    if step == 1 && avx512() {
        // SAFETY: AVX-512 was just detected.
        unsafe { copy_row(dst, &src[..dst.len()]) };
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

/// `out[o][p] = bias[o] + sum over taps t and channels c of w[t][c][o] * x[c * channel_stride +
/// reads[t] + p]` for O output rows (`out_stride` apart, the first `rows` stored) and P vectors of
/// 16 positions; each load keeps only the lanes its mask names, each store writes only the lanes of
/// `stores`.
///
/// # Safety
/// AVX-512F and VL must be available; every lane a mask keeps must be readable, `w` must hold
/// `reads.len() * channels * O` floats, and each of the first `rows` rows of `out` the lanes
/// `stores` names of P vectors.
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn forward_tile<const O: usize, const P: usize>(
    tile: &TileReads,
    bias: &[f32; O],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
) {
    let mut acc: [[__m512; P]; O] = std::array::from_fn(|o| [_mm512_set1_ps(bias[o]); P]);
    let taps = tile.reads.len();
    // A block of channels at a time, so that its input planes stay in L1 through all the taps.
    for first in (0..tile.channels).step_by(CHANNEL_BLOCK) {
        let block = CHANNEL_BLOCK.min(tile.channels - first);
        for (t, &read) in tile.reads.iter().enumerate() {
            let masks: [__mmask16; P] = std::array::from_fn(|p| tile.masks[p * taps + t]);
            let mut src = tile
                .x
                .wrapping_add(first * tile.channel_stride)
                .wrapping_offset(read);
            let mut w = tile.w.add((t * tile.channels + first) * O);
            for _ in 0..block {
                let xv: [__m512; P] = std::array::from_fn(|p| {
                    _mm512_maskz_loadu_ps(masks[p], src.wrapping_add(p * LANES))
                });
                for (o, acc) in acc.iter_mut().enumerate() {
                    let wv = _mm512_set1_ps(*w.add(o));
                    for (a, &v) in acc.iter_mut().zip(&xv) {
                        *a = _mm512_fmadd_ps(wv, v, *a);
                    }
                }
                src = src.wrapping_add(tile.channel_stride);
                w = w.add(O);
            }
        }
    }
    for (o, acc) in acc.iter().enumerate().take(rows) {
        for (p, &a) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(out.add(o * out_stride + p * LANES), stores[p], a);
        }
    }
}

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
        1 => forward_tile::<OUT_TILE, 1>(tile, bias, out, out_stride, rows, stores),
        2 => forward_tile::<OUT_TILE, 2>(tile, bias, out, out_stride, rows, stores),
        _ => forward_tile::<OUT_TILE, POS_TILE>(tile, bias, out, out_stride, rows, stores),
    }
}

/// The mask of the first `count` lanes (all 16 from 16 on).
fn first_lanes(count: usize) -> __mmask16 {
    ((1u32 << count.min(LANES)) - 1) as __mmask16
}

/// `dst.copy_from_slice(src)` in masked 16-lane moves: the rows packed here are 8-64 floats, for
/// which calling memcpy cost more than the copy.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn copy_row(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy_row: lengths differ");
    for (d, s) in dst.chunks_mut(LANES).zip(src.chunks(LANES)) {
        let lanes = first_lanes(d.len());
        _mm512_mask_storeu_ps(
            d.as_mut_ptr(),
            lanes,
            _mm512_maskz_loadu_ps(lanes, s.as_ptr()),
        );
    }
}

/// AVX-512F with VL (every AVX-512 CPU since Skylake-X): without VL, 128- and 256-bit operations
/// such as zeroing idioms are VEX-encoded, which confines their registers to zmm0-15, and LLVM
/// spilled the kernels' accumulators.
fn avx512() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")
}
