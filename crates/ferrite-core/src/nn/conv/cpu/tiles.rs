//! A stride-1 convolution on AMX-BF16 tiles, reading the input in place: no im2col. Autocast's
//! products (bf16 operands rounded to nearest even, float32 sums, float32 result). Here the
//! forward, which is also the input gradient (the same kernel on the transposed convolution);
//! the weight gradient in `weight.rs`.
//!
//! Each sample's input is rounded once into a zero-padded channels-last copy, `Cp` bf16 values per
//! pixel of the padded plane: the channels rounded up to 32, or 16 for at most 16 channels. Output
//! positions are numbered in the padded plane's row pitch too, `f = oh * Wp + ow`: then every tap
//! (i, j) of 16 consecutive positions reads 16 consecutive pixels, `f + i * Wp + j`, one
//! `tileloadd` of 16 rows of 32 channels. The positions with `ow >= OW` (the last `Wp - OW` of each
//! row) are computed and dropped. A step of the depth is a tap and 32 channels; at a pitch of 16
//! channels, two taps side by side (j and j + 1: a tile row of 32 values is then two neighbouring
//! pixels), so a 3x3 kernel takes 6 steps instead of 9 half-empty ones. The weight is packed once
//! per call as the tiles' right operand, for each step a 16-pair x 16-output-channel tile.
//!
//! A block is 32 positions x 32 output channels (four accumulator tiles, tmm0-3), or x 16 where
//! the output channels come in an odd number of 16s (tmm0 and tmm2), over all steps, then turned
//! 16 x 16 at a time into the NCHW float32 output, bias added.

use std::arch::asm;
use std::arch::x86_64::*;

use half::bf16;
use rayon::prelude::*;

use crate::cpu::bf16::amx::{self, Configured};
use crate::cpu::bf16::kernel::transpose16;
use crate::nn::conv::ConvShape;

mod weight;

pub(super) use weight::backward_weight;

/// Rows (positions, channel pairs) and columns (channels) of a tile.
const T: usize = 16;
/// Channels per tap in one tile row: 32 bf16 values.
const CHANNELS: usize = 2 * T;
/// Positions and output channels of a block: 2 x 2 tiles.
const BLOCK: usize = 2 * T;

/// Whether the tile kernel takes `s`: AMX-BF16 present, stride 1, no dilation, one group, at
/// least 16 channels in and out (fewer leave most of each tile zeros), and at most 128 x 256
/// channel pairs, past which packing the weight element by element costs more than the bf16 gemm
/// loses by packing its im2col (bench/KERNELS.md).
pub(super) fn supports(s: &ConvShape) -> bool {
    amx::available()
        && s.stride == [1, 1]
        && s.dilation == [1, 1]
        && s.groups == 1
        && s.c >= 16
        && s.o >= 16
        && s.c * s.o <= 128 * 256
        && s.oh > 0
        && s.ow > 0
}

/// Whether the tile kernel takes the weight gradient of `s`: as [`supports`], up to 64 x 128
/// channel pairs (2.4x the float32 kernels at 64 x 64; at 128 x 256 the bf16 gemm's packed panels
/// beat its strided tiles, bench/KERNELS.md).
pub(super) fn weight_supports(s: &ConvShape) -> bool {
    supports(s) && s.c * s.o <= 64 * 128
}

/// A step of the depth: the tile rows' first pixel, from the block's first position, and first
/// channel.
#[derive(Clone, Copy)]
struct Step {
    pixel: usize,
    channel: usize,
}

/// The sizes the kernel works in.
struct Plan {
    /// Padded plane width (the row pitch of positions and pixels).
    wp: usize,
    /// Channels per pixel of the padded copy: 16, or a multiple of 32.
    cp: usize,
    /// Output channels rounded up to a tile.
    op: usize,
    /// Output-channel tiles per block: 2, or 1 where `op` is an odd number of tiles.
    wide: usize,
    /// Positions computed per sample, a multiple of the block.
    positions: usize,
    /// Pixels per sample of the padded copy: every step of every computed position lies inside.
    pixels: usize,
    steps: Vec<Step>,
}

impl Plan {
    fn new(s: &ConvShape) -> Plan {
        let (hp, wp) = (s.h + 2 * s.padding[0], s.w + 2 * s.padding[1]);
        let positions = (s.oh * wp).next_multiple_of(BLOCK);
        // One pixel more: a step of two taps reads past an odd kernel width.
        let reach = (s.kh - 1) * wp + s.kw;
        let cp = if s.c <= T {
            T
        } else {
            s.c.next_multiple_of(CHANNELS)
        };
        let op = s.o.next_multiple_of(T);
        let steps = (0..s.kh)
            .flat_map(|i| (0..s.kw).map(move |j| (i, j)))
            .flat_map(|(i, j)| {
                let pixel = i * wp + j;
                match cp {
                    T => (j % 2 == 0)
                        .then_some(Step { pixel, channel: 0 })
                        .into_iter()
                        .collect(),
                    _ => (0..cp / CHANNELS)
                        .map(|q| Step {
                            pixel,
                            channel: q * CHANNELS,
                        })
                        .collect::<Vec<_>>(),
                }
            })
            .collect();
        Plan {
            wp,
            cp,
            op,
            wide: if op.is_multiple_of(BLOCK) { 2 } else { 1 },
            positions,
            pixels: (positions + reach).max(hp * wp),
            steps,
        }
    }

    /// The tap and channel that value `e` (0..32) of a tile row stands for in `step`, unless it
    /// is padding.
    fn value(&self, s: &ConvShape, step: Step, e: usize) -> Option<(usize, usize)> {
        let (i, j) = (step.pixel / self.wp, step.pixel % self.wp);
        let (j, c) = match self.cp {
            T => (j + e / T, e % T),
            _ => (j, step.channel + e),
        };
        (j < s.kw && c < s.c).then_some((i * s.kw + j, c))
    }
}

/// A pointer the tasks share; each writes only its own positions of the output.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: tasks write disjoint elements (see `forward`).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// `y = conv(x, w) + bias` for float32 NCHW tensors, with bf16 products summed in float32.
///
/// Panics unless [`supports`] holds and the slices have `s`'s sizes.
pub(super) fn forward(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    assert!(
        supports(s),
        "tile convolution called for a shape it does not take"
    );
    assert_eq!(x.len(), s.n * s.c * s.hw());
    assert_eq!(w.len(), s.o * s.c * s.taps());
    assert!(bias.is_none_or(|b| b.len() == s.o));
    let plan = Plan::new(s);
    let weight = pack_weight(s, &plan, w);
    // Each sample's copy is zeroed by its own task, in cache just before it is filled, rather
    // than the whole batch's up front in one pass.
    let len = s.n * plan.pixels * plan.cp;
    let mut padded: Vec<u16> = Vec::with_capacity(len);
    padded.spare_capacity_mut()[..len]
        .par_chunks_mut(plan.pixels * plan.cp)
        .zip(x.par_chunks(s.c * s.hw()))
        .for_each(|(to, from)| {
            to.iter_mut().for_each(|v| {
                v.write(0);
            });
            // SAFETY: every element was just written.
            let to = unsafe { &mut *(to as *mut [std::mem::MaybeUninit<u16>] as *mut [u16]) };
            // SAFETY: `supports` found AMX, so AVX-512 is here too; the sizes match (asserted).
            unsafe { pad_channels_last(s, &plan, from, to) }
        });
    // SAFETY: the tasks above wrote all `len` elements.
    unsafe { padded.set_len(len) };

    // Every output element is written once by the tasks below (the blocks cover every position
    // and output channel), so the output is not zeroed first: that pass cost as much as a layer's
    // padding.
    let len = s.n * s.o * s.ohw();
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let out = Shared(y.as_mut_ptr());
    // Tasks: a sample's blocks of positions, cut so that every thread gets a few.
    let blocks = plan.positions / BLOCK;
    let per_task = (s.n * blocks)
        .div_ceil(4 * rayon::current_num_threads())
        .clamp(1, blocks);
    let tasks: Vec<(usize, usize)> = (0..s.n)
        .flat_map(|n| (0..blocks).step_by(per_task).map(move |b| (n, b)))
        .collect();
    tasks.par_iter().for_each(|&(n, first)| {
        let input = &padded[n * plan.pixels * plan.cp..][..plan.pixels * plan.cp];
        let range = first..blocks.min(first + per_task);
        // SAFETY: AMX is here (`supports`); the tile session is this task's alone; the task
        // writes sample n's output at its own positions only.
        unsafe {
            let _tiles = Configured::new();
            run_blocks(
                s,
                &plan,
                input,
                &weight,
                bias,
                range,
                out.at(n * s.o * s.ohw()),
            );
        }
    });
    // SAFETY: the tasks wrote all `len` elements (see above).
    unsafe { y.set_len(len) };
    y
}

/// The weight as tiles: for step k and 16 output channels u, a tile of 16 pairs of the step's
/// values x 16 output channels x 2, at `(k * U + u) * 512`; zeros for padding.
fn pack_weight(s: &ConvShape, plan: &Plan, w: &[f32]) -> Vec<u16> {
    let u_count = plan.op / T;
    let mut packed = vec![0u16; plan.steps.len() * u_count * T * T * 2];
    packed
        .par_chunks_mut(u_count * T * T * 2)
        .zip(&plan.steps)
        .for_each(|(tiles, &step)| {
            for e in 0..CHANNELS {
                let Some((tap, c)) = plan.value(s, step, e) else {
                    continue;
                };
                for o in 0..s.o {
                    let at = ((o / T * T + e / 2) * T + o % T) * 2 + e % 2;
                    tiles[at] = bf16::from_f32(w[(o * s.c + c) * s.taps() + tap]).to_bits();
                }
            }
        });
    packed
}

/// One sample's input `x` [c, h, w] rounded into `to` channels-last: pixel (row, col) of the
/// padded plane at `(row * Wp + col) * Cp`, zeros around and past the channels. 16 channels x 16
/// pixels are turned in registers at a time.
///
/// # Safety
/// AVX-512F, BW and AVX512-BF16 must be available; `x` holds c * h * w values and `to` the
/// plan's pixels * Cp, all zero.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pad_channels_last(s: &ConvShape, plan: &Plan, x: &[f32], to: &mut [u16]) {
    let (ph, pw) = (s.padding[0], s.padding[1]);
    for row in 0..s.h {
        for c0 in (0..s.c).step_by(T) {
            for col0 in (0..s.w).step_by(T) {
                let cols = T.min(s.w - col0);
                let mask = ((1u32 << cols) - 1) as __mmask16;
                let mut block = [_mm512_setzero_si512(); T];
                for (dc, v) in block.iter_mut().enumerate().take(T.min(s.c - c0)) {
                    let from = &x[((c0 + dc) * s.h + row) * s.w + col0..][..cols];
                    // SAFETY: the masked lanes are the `cols` values of `from`.
                    *v = unsafe { _mm512_maskz_loadu_epi32(mask, from.as_ptr().cast()) };
                }
                // SAFETY: AVX-512F.
                unsafe { transpose16(&mut block) };
                for (k, v) in block.iter().enumerate().take(cols) {
                    let pixel = (row + ph) * plan.wp + pw + col0 + k;
                    let dst = &mut to[pixel * plan.cp + c0..][..T];
                    let bits = _mm512_cvtneps_pbh(_mm512_castsi512_ps(*v));
                    // SAFETY: 16 bf16 values into `dst`'s 16 (c0 + 16 <= Cp: Cp is 16 for at most
                    // 16 channels, else a multiple of 32 at or above c).
                    unsafe {
                        _mm256_storeu_si256(
                            dst.as_mut_ptr().cast(),
                            std::mem::transmute::<__m256bh, __m256i>(bits),
                        )
                    };
                }
            }
        }
    }
}

/// The position blocks `blocks` of one sample, every output channel, into `y` (the sample's
/// [o, oh, ow]).
///
/// # Safety
/// The tiles configured on this thread ([`Configured`]); AVX-512F, BW, AVX512-BF16; `input` the
/// sample's padded copy and `weight` the packed weight of `plan`; `y` valid for the sample's
/// output, of which no other thread writes these positions.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn run_blocks(
    s: &ConvShape,
    plan: &Plan,
    input: &[u16],
    weight: &[u16],
    bias: Option<&[f32]>,
    blocks: std::ops::Range<usize>,
    y: *mut f32,
) {
    let u_count = plan.op / T;
    let pixel_bytes = plan.cp * 2;
    let tile_u16 = T * T * 2;
    let mut sums = Sums([[0.0; BLOCK]; BLOCK]);
    for ob in 0..u_count / plan.wide {
        for block in blocks.clone() {
            let f0 = block * BLOCK;
            // SAFETY: configured tiles (the caller's promise).
            unsafe { amx::zero_sums() };
            for (k, step) in plan.steps.iter().enumerate() {
                let a = input[(f0 + step.pixel) * plan.cp + step.channel..].as_ptr();
                let b = weight[(k * u_count + plan.wide * ob) * tile_u16..].as_ptr();
                // SAFETY: the A tiles are 32 pixels from `a`, each 32 values from its channel:
                // inside the copy (`Plan::pixels` covers every step of every computed position).
                // The B tiles are the `wide` 1 KiB tiles from `b`, inside the packed weight.
                unsafe {
                    if plan.wide == 2 {
                        asm!(
                            "tileloadd tmm4, [{a} + {pitch}*1]",
                            "tileloadd tmm5, [{a2} + {pitch}*1]",
                            "tileloadd tmm6, [{b} + {row}*1]",
                            "tileloadd tmm7, [{b} + {row}*1 + 1024]",
                            "tdpbf16ps tmm0, tmm4, tmm6",
                            "tdpbf16ps tmm1, tmm4, tmm7",
                            "tdpbf16ps tmm2, tmm5, tmm6",
                            "tdpbf16ps tmm3, tmm5, tmm7",
                            a = in(reg) a,
                            a2 = in(reg) a.add(T * plan.cp),
                            b = in(reg) b,
                            pitch = in(reg) pixel_bytes,
                            row = in(reg) 4 * T,
                            options(nostack, readonly)
                        )
                    } else {
                        asm!(
                            "tileloadd tmm4, [{a} + {pitch}*1]",
                            "tileloadd tmm5, [{a2} + {pitch}*1]",
                            "tileloadd tmm6, [{b} + {row}*1]",
                            "tdpbf16ps tmm0, tmm4, tmm6",
                            "tdpbf16ps tmm2, tmm5, tmm6",
                            a = in(reg) a,
                            a2 = in(reg) a.add(T * plan.cp),
                            b = in(reg) b,
                            pitch = in(reg) pixel_bytes,
                            row = in(reg) 4 * T,
                            options(nostack, readonly)
                        )
                    }
                };
            }
            // SAFETY: configured tiles; a 32 x 32 buffer. Tile (positions p, channels u) lands at
            // row 16p, column 16u (tmm1 and tmm3 hold zeros unless `wide` is 2, and then are
            // not read).
            unsafe { amx::store_sums(sums.0.as_mut_ptr().cast()) };
            // SAFETY: passed on.
            unsafe { store_block(s, plan, &sums, bias, f0, ob * plan.wide * T, y) };
        }
    }
}

/// 32 x 32 float32 sums, positions by output channels.
#[repr(C, align(64))]
struct Sums([[f32; BLOCK]; BLOCK]);

/// Writes a block's sums (positions `f0..f0 + 32`, output channels `o0..o0 + 32`) into the NCHW
/// output, bias added, skipping positions past the output plane or in a row's dropped columns.
///
/// # Safety
/// AVX-512F; `y` valid for the sample's output, these positions this thread's alone.
#[target_feature(enable = "avx512f")]
unsafe fn store_block(
    s: &ConvShape,
    plan: &Plan,
    sums: &Sums,
    bias: Option<&[f32]>,
    f0: usize,
    o0: usize,
    y: *mut f32,
) {
    for p in 0..2 {
        for u in 0..plan.wide {
            let mut block = [_mm512_setzero_si512(); T];
            for (r, v) in block.iter_mut().enumerate() {
                // SAFETY: 16 floats of a 32-float row.
                *v = unsafe { _mm512_loadu_si512(sums.0[p * T + r][u * T..].as_ptr().cast()) };
            }
            // SAFETY: AVX-512F.
            unsafe { transpose16(&mut block) };
            let first = f0 + p * T;
            for (k, v) in block.iter().enumerate() {
                let o = o0 + u * T + k;
                if o >= s.o {
                    break;
                }
                let add = bias.map_or(0.0, |b| b[o]);
                let values = _mm512_add_ps(_mm512_castsi512_ps(*v), _mm512_set1_ps(add));
                // SAFETY: passed on; `o < s.o`.
                unsafe { store_positions(s, plan, values, first, y.add(o * s.ohw())) };
            }
        }
    }
}

/// Stores 16 values of positions `first..first + 16` into a channel's [oh, ow] plane, row segment
/// by row segment.
///
/// # Safety
/// AVX-512F; `plane` valid for oh * ow floats.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_positions(
    s: &ConvShape,
    plan: &Plan,
    values: __m512,
    first: usize,
    plane: *mut f32,
) {
    let mut lane = 0;
    while lane < T {
        let f = first + lane;
        let (row, col) = (f / plan.wp, f % plan.wp);
        if row >= s.oh {
            return;
        }
        let run = (T - lane).min(plan.wp - col);
        let kept = run.min(s.ow.saturating_sub(col));
        if kept > 0 {
            let mask = (((1u32 << kept) - 1) << lane) as __mmask16;
            // Lane l goes to column col + l - lane: the store's base is `lane` floats before
            // column col, and only the masked lanes (inside the row) are written.
            let base = plane.wrapping_add(row * s.ow + col).wrapping_sub(lane);
            // SAFETY: the masked lanes are columns col..col + kept < ow of row < oh.
            unsafe { _mm512_mask_storeu_ps(base, mask, values) };
        }
        lane += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::conv::reference::{self, abs, assert_within_scale, params, rounded_to_bf16};
    use crate::testing::values;

    /// The forward against float64 sums of the bf16-rounded operands' products, on shapes around
    /// the tiles: channels off 16 and 32, planes whose padded rows split blocks anywhere, kernels
    /// from 1x1 to 5x5, asymmetric padding, with and without bias; the weight gradient; and the
    /// input gradient as the transposed convolution's forward.
    #[test]
    #[cfg_attr(
        not(ferrite_amx_on_host),
        ignore = "the building CPU has no AMX-BF16 (or this is not Linux), so the tile kernel cannot run"
    )]
    fn every_pass_matches_float64_on_rounded_operands() {
        let cases = [
            ([2, 16, 8, 8], [16, 3, 3], [1, 1]),
            ([2, 16, 8, 8], [32, 3, 3], [1, 1]),
            ([3, 20, 7, 9], [24, 3, 3], [1, 1]),
            ([2, 16, 9, 7], [48, 5, 5], [2, 1]),
            ([1, 32, 16, 16], [64, 3, 3], [1, 1]),
            ([2, 48, 5, 11], [40, 1, 1], [0, 0]),
            ([1, 17, 12, 6], [33, 5, 5], [2, 2]),
            ([2, 64, 4, 4], [16, 3, 3], [0, 1]),
            ([1, 16, 3, 40], [16, 3, 1], [1, 0]),
            ([1, 16, 6, 6], [16, 1, 1], [0, 0]),
        ];
        for (i, ([n, c, h, w], [o, kh, kw], padding)) in cases.into_iter().enumerate() {
            let s = reference::shape(
                [n, c, h, w],
                [o, kh, kw],
                params([1, 1], padding, [1, 1], 1),
            );
            assert!(supports(&s), "case {i}");
            let x = values(n * c * h * w, 10 + i as u64);
            let wt = values(o * c * kh * kw, 20 + i as u64);
            let bias = values(o, 30 + i as u64);
            let (xr, wr) = (rounded_to_bf16(&x), rounded_to_bf16(&wt));
            // Float32 sums of exact products: c * taps additions, each off by 2^-24 of the sum.
            let tol = (c * kh * kw + 1) as f64 * f64::from(f32::EPSILON) / 2.0;
            for b in [None, Some(&bias[..])] {
                let want = reference::forward(&s, &xr, &wr, b);
                let scale = reference::forward(&s, &abs(&xr), &abs(&wr), b.map(abs).as_deref());
                let got = forward(&s, &x, &wt, b);
                assert_within_scale(
                    &format!("case {i} bias {}", b.is_some()),
                    &got,
                    &want,
                    &scale,
                    tol,
                );
            }
            let dy = values(n * o * s.ohw(), 40 + i as u64);
            let dyr = rounded_to_bf16(&dy);
            let want = reference::backward_weight(&s, &xr, &dyr);
            let scale = reference::backward_weight(&s, &abs(&xr), &abs(&dyr));
            let got = backward_weight(&s, &x, &dy);
            // Sums over samples and positions, then the threads' partial sums added.
            let tol = (n * s.ohw() + 2) as f64 * f64::from(f32::EPSILON) / 2.0;
            assert_within_scale(
                &format!("case {i} weight gradient"),
                &got,
                &want,
                &scale,
                tol,
            );
            if let Some(t) = s.transposed().filter(supports) {
                let want = reference::backward_input(&s, &wr, &dyr);
                let scale = reference::backward_input(&s, &abs(&wr), &abs(&dyr));
                let got = forward(&t, &dy, &super::super::flip_weight(&s, &wt), None);
                let tol = (o * kh * kw) as f64 * f64::from(f32::EPSILON) / 2.0;
                assert_within_scale(
                    &format!("case {i} input gradient"),
                    &got,
                    &want,
                    &scale,
                    tol,
                );
            }
        }
    }
}
