//! The weight gradient of a stride-1 convolution on AMX-BF16 tiles:
//! `dw[o][c][i][j] = sum over samples and positions f of dy[o][f] * x[c][f + i * Wp + j]`,
//! positions numbered in the padded plane's row pitch as in the forward (`dy` is zero at the
//! dropped ones).
//!
//! For each tap, a 32 x 32 (output x input channels) block of sums stays in four tiles while the
//! depth runs over 32 positions per step: the left tiles are 16 output channels x 32 positions of
//! `dy` (rounded once into rows of the pitch), the right ones 16 pairs of positions x 16 channels
//! of the input, from one of two pair-interleaved copies of the padded channels-last input (pairs
//! starting at even pixels, and at odd ones), so that every tap's shift is a whole pair. Samples
//! are split across threads in chunks, taken a few at a time so that their copies stay in L2;
//! each chunk's float32 sums are added in chunk order.

use std::arch::asm;
use std::arch::x86_64::*;

use rayon::prelude::*;

use super::{pad_channels_last, Plan, BLOCK, T};
use crate::cpu::bf16::amx::{self, Configured};
use crate::nn::conv::ConvShape;

/// The bytes of a chunk's copies aimed for at once: well inside a 2 MiB L2.
const GROUP_BYTES: usize = 1 << 20;

/// The sizes of the gradient's operands.
struct Sizes {
    /// Output channels rounded up to a block (rows of `dy`'s copy).
    op: usize,
    /// Input channels rounded up to a block (per pair of the interleaved copies).
    cx: usize,
    /// Pairs of pixels per sample in each interleaved copy.
    pairs: usize,
}

impl Sizes {
    fn new(s: &ConvShape, plan: &Plan) -> Sizes {
        Sizes {
            op: s.o.next_multiple_of(BLOCK),
            cx: s.c.next_multiple_of(BLOCK),
            pairs: plan.pixels.div_ceil(2) + 1,
        }
    }

    /// u16s of one sample's copies: `dy`, then the even and the odd interleaved input.
    fn per_sample(&self, plan: &Plan) -> [usize; 2] {
        [self.op * plan.positions, self.pairs * self.cx * 2]
    }
}

/// `dw` [o, c, kh, kw] for float32 NCHW `x` and `dy`, with bf16 products summed in float32.
///
/// Panics unless `super::weight_supports(s)` holds and the slices have `s`'s sizes.
pub(in crate::nn::conv::cpu) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(
        super::weight_supports(s),
        "tile weight gradient called for a shape it does not take"
    );
    assert_eq!(x.len(), s.n * s.c * s.hw());
    assert_eq!(dy.len(), s.n * s.o * s.ohw());
    let plan = Plan::new(s);
    let sizes = Sizes::new(s, &plan);
    let threads = rayon::current_num_threads().max(1);
    let per_chunk = s.n.div_ceil(threads).max(1);
    let partials: Vec<Vec<f32>> = (0..s.n.div_ceil(per_chunk))
        .into_par_iter()
        .map(|chunk| {
            let samples = chunk * per_chunk..s.n.min((chunk + 1) * per_chunk);
            // SAFETY: `supports` found AMX (so AVX-512 too); the slices hold every sample.
            unsafe { chunk_sums(s, &plan, &sizes, x, dy, samples) }
        })
        .collect();
    let mut dw = vec![0f32; s.o * s.c * s.taps()];
    for partial in &partials {
        for (o, c, t) in
            (0..s.o).flat_map(|o| (0..s.c).flat_map(move |c| (0..s.taps()).map(move |t| (o, c, t))))
        {
            dw[(o * s.c + c) * s.taps() + t] += partial[sum_index(&sizes, t, o, c)];
        }
    }
    dw
}

/// Where a chunk's sum for tap t, output channel o and input channel c lies: blocks of 32 x 32
/// (rows o, columns c, as the tiles store them), by tap, then output block, then input block.
fn sum_index(sizes: &Sizes, t: usize, o: usize, c: usize) -> usize {
    let (ob, cb) = (sizes.op / BLOCK, sizes.cx / BLOCK);
    ((t * ob + o / BLOCK) * cb + c / BLOCK) * BLOCK * BLOCK + o % BLOCK * BLOCK + c % BLOCK
}

/// The sums of the samples `samples`, laid out as [`sum_index`] says.
///
/// # Safety
/// AMX-BF16 available (`super::supports`), with AVX-512F, BW and AVX512-BF16; `x` and `dy` hold
/// every sample of `s`.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn chunk_sums(
    s: &ConvShape,
    plan: &Plan,
    sizes: &Sizes,
    x: &[f32],
    dy: &[f32],
    samples: std::ops::Range<usize>,
) -> Vec<f32> {
    let [dy_len, pairs_len] = sizes.per_sample(plan);
    let sample_bytes = 2 * (dy_len + 2 * pairs_len + plan.pixels * plan.cp);
    let group = (GROUP_BYTES / sample_bytes).clamp(1, samples.len().max(1));
    let mut sums = vec![0f32; s.taps() * sizes.op * sizes.cx];
    let mut dy_rows = vec![0u16; group * dy_len];
    let mut even = vec![0u16; group * pairs_len];
    let mut odd = vec![0u16; group * pairs_len];
    let mut padded = vec![0u16; plan.pixels * plan.cp];
    // SAFETY: AMX is here (the caller's promise); this thread's own configuration.
    let _tiles = unsafe { Configured::new() };
    for first in samples.clone().step_by(group) {
        let count = group.min(samples.end - first);
        for k in 0..count {
            let n = first + k;
            padded.fill(0);
            // SAFETY: features as this function's; the sizes match.
            unsafe {
                pad_channels_last(s, plan, &x[n * s.c * s.hw()..][..s.c * s.hw()], &mut padded);
                interleave(
                    plan,
                    sizes,
                    &padded,
                    &mut even[k * pairs_len..][..pairs_len],
                    0,
                );
                interleave(
                    plan,
                    sizes,
                    &padded,
                    &mut odd[k * pairs_len..][..pairs_len],
                    1,
                );
                dy_in_pitch(
                    s,
                    plan,
                    &dy[n * s.o * s.ohw()..][..s.o * s.ohw()],
                    &mut dy_rows[k * dy_len..][..dy_len],
                );
            }
        }
        // SAFETY: the copies hold `count` samples; features and tiles as above.
        unsafe { accumulate(s, plan, sizes, &dy_rows, &even, &odd, count, &mut sums) };
    }
    sums
}

/// `to[p][c][e]` = pixel `2p + shift + e`, channel c of the padded channels-last copy (zero past
/// its pixels and channels), for c below `Cx`.
///
/// # Safety
/// AVX-512F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn interleave(plan: &Plan, sizes: &Sizes, padded: &[u16], to: &mut [u16], shift: usize) {
    // Word 2i of the result is word i of the first pixel, word 2i + 1 word i of the second (at
    // word 32 on in the pair of registers).
    let mut index = [0u16; 32];
    for (i, v) in index.iter_mut().enumerate() {
        *v = (i / 2 + (i % 2) * 32) as u16;
    }
    // SAFETY: 64 bytes.
    let index = unsafe { _mm512_loadu_si512(index.as_ptr().cast()) };
    let pixel = |p: usize, c0: usize| -> __m512i {
        let (at, width) = (p * plan.cp + c0, T.min(plan.cp.saturating_sub(c0)));
        if p >= plan.pixels || width == 0 {
            return _mm512_setzero_si512();
        }
        let mask = ((1u32 << width) - 1) as __mmask32;
        // SAFETY: the masked words are channels c0.. of pixel p, inside `padded`.
        unsafe { _mm512_maskz_loadu_epi16(mask, padded.as_ptr().add(at).cast()) }
    };
    for p in 0..sizes.pairs {
        for c0 in (0..sizes.cx).step_by(T) {
            let (a, b) = (pixel(2 * p + shift, c0), pixel(2 * p + shift + 1, c0));
            let both = _mm512_permutex2var_epi16(a, index, b);
            // SAFETY: 32 words of pair p from channel c0: inside `to` (pairs x Cx x 2).
            unsafe {
                _mm512_storeu_si512(to.as_mut_ptr().add((p * sizes.cx + c0) * 2).cast(), both)
            };
        }
    }
}

/// One sample's `dy` [o, oh, ow] as rows of positions in the padded pitch, rounded to bf16: zero
/// at the dropped positions and past the plane.
///
/// # Safety
/// AVX-512F, BW and AVX512-BF16.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn dy_in_pitch(s: &ConvShape, plan: &Plan, dy: &[f32], to: &mut [u16]) {
    to.fill(0);
    for o in 0..s.o {
        for row in 0..s.oh {
            let from = &dy[(o * s.oh + row) * s.ow..][..s.ow];
            let dst = &mut to[o * plan.positions + row * plan.wp..][..s.ow];
            for at in (0..s.ow).step_by(2 * T) {
                let (lo, hi) = (lanes(s.ow, at), lanes(s.ow, at + T));
                // SAFETY: the masked lanes lie in both rows.
                unsafe {
                    let a = _mm512_maskz_loadu_ps(lo, from.as_ptr().add(at));
                    let b = _mm512_maskz_loadu_ps(hi, from.as_ptr().wrapping_add(at + T));
                    let bits = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(b, a));
                    let words = lo as u32 | (hi as u32) << T;
                    _mm512_mask_storeu_epi16(dst.as_mut_ptr().add(at).cast(), words, bits);
                }
            }
        }
    }
}

/// The lanes of 16 from `at` that lie below `len`.
fn lanes(len: usize, at: usize) -> __mmask16 {
    let count = len.saturating_sub(at).min(T);
    ((1u32 << count) - 1) as __mmask16
}

/// Adds the products of `count` samples' copies to `sums`.
///
/// # Safety
/// Tiles configured on this thread; the copies hold `count` samples each.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn accumulate(
    s: &ConvShape,
    plan: &Plan,
    sizes: &Sizes,
    dy_rows: &[u16],
    even: &[u16],
    odd: &[u16],
    count: usize,
    sums: &mut [f32],
) {
    let [dy_len, pairs_len] = sizes.per_sample(plan);
    let dy_pitch = plan.positions * 2;
    let x_pitch = sizes.cx * 4;
    for i in 0..s.kh {
        for j in 0..s.kw {
            let (t, shift) = (i * s.kw + j, i * plan.wp + j);
            let (copy, first_pair) = if shift % 2 == 0 {
                (even, shift / 2)
            } else {
                (odd, shift / 2)
            };
            for ob in 0..sizes.op / BLOCK {
                for cb in 0..sizes.cx / BLOCK {
                    let block = &mut sums[((t * (sizes.op / BLOCK) + ob) * (sizes.cx / BLOCK)
                        + cb)
                        * BLOCK
                        * BLOCK..][..BLOCK * BLOCK];
                    // SAFETY: configured tiles; the block is 32 x 32.
                    unsafe { amx::load_sums(block.as_ptr()) };
                    for k in 0..count {
                        let a0 = dy_rows[k * dy_len + ob * BLOCK * plan.positions..].as_ptr();
                        let b0 = copy[k * pairs_len + (first_pair * sizes.cx + cb * BLOCK) * 2..]
                            .as_ptr();
                        for f in (0..plan.positions).step_by(BLOCK) {
                            // SAFETY: the A tiles are 16 rows of `dy` from output channel
                            // 32ob (and 32ob + 16), positions f..f + 32, inside the sample's
                            // rows; the B tiles 16 pairs from pair first_pair + f / 2, channels
                            // 32cb.. (and + 16): inside the copy, which has a pair past every
                            // tap of every position.
                            unsafe {
                                asm!(
                                    "tileloadd tmm4, [{a} + {ap}*1]",
                                    "tileloadd tmm5, [{a2} + {ap}*1]",
                                    "tileloadd tmm6, [{b} + {bp}*1]",
                                    "tileloadd tmm7, [{b} + {bp}*1 + 64]",
                                    "tdpbf16ps tmm0, tmm4, tmm6",
                                    "tdpbf16ps tmm1, tmm4, tmm7",
                                    "tdpbf16ps tmm2, tmm5, tmm6",
                                    "tdpbf16ps tmm3, tmm5, tmm7",
                                    a = in(reg) a0.add(f),
                                    a2 = in(reg) a0.add(f + T * plan.positions),
                                    b = in(reg) b0.add(f / 2 * sizes.cx * 2),
                                    ap = in(reg) dy_pitch,
                                    bp = in(reg) x_pitch,
                                    options(nostack, readonly)
                                )
                            };
                        }
                    }
                    // SAFETY: as the load above.
                    unsafe { amx::store_sums(block.as_mut_ptr()) };
                }
            }
        }
    }
}
