//! The direct kernels' NEON tiles: 4-lane vectors. NEON has no masked loads or stores: the lanes a
//! mask drops are read and written one at a time, in the tiles at the padding's edges only.

use std::arch::aarch64::*;
use std::mem::MaybeUninit;

use super::{TileReads, ALL_LANES, CHANNEL_BLOCK};

/// f32 lanes of one NEON vector.
pub(super) const LANES: usize = 4;
/// Output channels times position vectors of the forward tile: 24 accumulators, 3 input vectors
/// and the tile's 8 weights as 2 vectors (read by lane-indexed multiply-adds) take 29 of NEON's
/// 32 registers; each input vector feeds 8 multiply-adds and each weight vector 12.
pub(super) const OUT_TILE: usize = 8;
pub(super) const POS_TILE: usize = 3;

/// NEON (Advanced SIMD), which every 64-bit Arm application core has.
pub(super) fn available() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

/// `out[o][p] = bias[o] + sum over taps t and channels c of w[t][c][o] * x[c * channel_stride +
/// reads[t] + p]` for O output rows (`out_stride` apart, the first `rows` stored) and P vectors of
/// 4 positions; each load keeps only the lanes its mask names (the rest read as zero), each store
/// writes only the lanes of `stores`.
///
/// # Safety
/// NEON must be available; every lane a mask keeps must be readable, `w` must hold
/// `reads.len() * channels * O` floats, and each of the first `rows` rows of `out` the lanes
/// `stores` names of P vectors.
#[target_feature(enable = "neon")]
pub(super) unsafe fn forward_tile<const O: usize, const P: usize>(
    tile: &TileReads,
    bias: &[f32; O],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
) {
    let mut acc: [[float32x4_t; P]; O] = std::array::from_fn(|o| [vdupq_n_f32(bias[o]); P]);
    let taps = tile.reads.len();
    // A block of channels at a time, so that its input planes stay in L1 through all the taps.
    for first in (0..tile.channels).step_by(CHANNEL_BLOCK) {
        let block = CHANNEL_BLOCK.min(tile.channels - first);
        for (t, &read) in tile.reads.iter().enumerate() {
            let masks: [u16; P] = std::array::from_fn(|p| tile.masks[p * taps + t]);
            let src = tile
                .x
                .wrapping_add(first * tile.channel_stride)
                .wrapping_offset(read);
            let w = tile.w.add((t * tile.channels + first) * O);
            let run = ChannelRun {
                src,
                stride: tile.channel_stride,
                w,
                block,
            };
            // Whole vectors are plain loads; only the tiles at the padding's edges pick lanes.
            if masks.iter().all(|&m| m == ALL_LANES) {
                add_channels::<O, P, false>(&mut acc, &run, &masks);
            } else {
                add_channels::<O, P, true>(&mut acc, &run, &masks);
            }
        }
    }
    for (o, acc) in acc.iter().enumerate().take(rows) {
        for (p, &a) in acc.iter().enumerate() {
            let at = out.add(o * out_stride + p * LANES);
            if stores[p] == ALL_LANES {
                vst1q_f32(at, a);
            } else {
                let mut lanes = [0.0f32; LANES];
                vst1q_f32(lanes.as_mut_ptr(), a);
                for (l, &v) in lanes.iter().enumerate() {
                    if stores[p] >> l & 1 != 0 {
                        *at.add(l) = v;
                    }
                }
            }
        }
    }
}

/// A run of `block` input channels of a forward tile at one tap: the first channel's reads at
/// `src`, the next ones `stride` floats apart, their weights from `w` on, O per channel.
struct ChannelRun {
    src: *const f32,
    stride: usize,
    w: *const f32,
    block: usize,
}

/// Adds `run`'s products to the forward tile's accumulators, loading only the lanes of `masks`
/// when MASKED (all of them otherwise).
///
/// # Safety
/// NEON must be available; as for `forward_tile`, for the run's channels.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn add_channels<const O: usize, const P: usize, const MASKED: bool>(
    acc: &mut [[float32x4_t; P]; O],
    run: &ChannelRun,
    masks: &[u16; P],
) {
    const {
        assert!(
            O.is_multiple_of(LANES),
            "the forward tile's weights fill whole vectors"
        )
    };
    let (mut src, mut w) = (run.src, run.w);
    for _ in 0..run.block {
        let xv: [float32x4_t; P] = std::array::from_fn(|p| {
            let at = src.wrapping_add(p * LANES);
            if MASKED {
                load_lanes(masks[p], at)
            } else {
                vld1q_f32(at)
            }
        });
        for (quad, acc) in acc.chunks_exact_mut(LANES).enumerate() {
            let wv = vld1q_f32(w.add(quad * LANES));
            for (p, &x) in xv.iter().enumerate() {
                acc[0][p] = vfmaq_laneq_f32::<0>(acc[0][p], x, wv);
                acc[1][p] = vfmaq_laneq_f32::<1>(acc[1][p], x, wv);
                acc[2][p] = vfmaq_laneq_f32::<2>(acc[2][p], x, wv);
                acc[3][p] = vfmaq_laneq_f32::<3>(acc[3][p], x, wv);
            }
        }
        src = src.wrapping_add(run.stride);
        w = w.add(O);
    }
}

/// The lanes of `mask` from `at` on, zero elsewhere.
///
/// # Safety
/// NEON must be available; every lane `mask` keeps must be readable.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load_lanes(mask: u16, at: *const f32) -> float32x4_t {
    let lanes: [f32; LANES] =
        std::array::from_fn(|l| if mask >> l & 1 != 0 { *at.add(l) } else { 0.0 });
    vld1q_f32(lanes.as_ptr())
}

/// `sums[c * T + t][v] += sum over positions p of dy[p][v] * x[channels[c] + reads[t] + p]`, for
/// V vectors of output channels (`dy` rows `lanes` floats apart), C channel offsets and T tap
/// offsets. The tiles `weight` picks (at most 24 accumulators, V `dy` vectors and one input value
/// at a time) fit NEON's 32 registers as they fit AVX-512's 32.
///
/// # Safety
/// NEON must be available; `x + channels[c] + reads[t]` must be readable for `positions` floats,
/// and `dy` for `positions` rows of `lanes` floats, V vectors of which are read.
#[target_feature(enable = "neon")]
pub(super) unsafe fn backward_weight_tile<const V: usize, const C: usize, const T: usize>(
    x: *const f32,
    channels: &[usize; C],
    reads: &[usize; T],
    dy: *const f32,
    lanes: usize,
    positions: usize,
    sums: &mut [[[f32; LANES]; V]],
) {
    let mut acc: [[[float32x4_t; V]; T]; C] = std::array::from_fn(|c| {
        std::array::from_fn(|t| std::array::from_fn(|v| vld1q_f32(sums[c * T + t][v].as_ptr())))
    });
    let rows: [*const f32; C] = std::array::from_fn(|c| x.add(channels[c]));
    let mut dyp = dy;
    for p in 0..positions {
        let d: [float32x4_t; V] = std::array::from_fn(|v| vld1q_f32(dyp.add(v * LANES)));
        for c in 0..C {
            for t in 0..T {
                let xv = *rows[c].add(reads[t] + p);
                for v in 0..V {
                    acc[c][t][v] = vfmaq_n_f32(acc[c][t][v], d[v], xv);
                }
            }
        }
        dyp = dyp.add(lanes);
    }
    for c in 0..C {
        for t in 0..T {
            for v in 0..V {
                vst1q_f32(sums[c * T + t][v].as_mut_ptr(), acc[c][t][v]);
            }
        }
    }
}

/// Column `j` of `rows` (at most 4 rows of one length, at most 4) into the 4 floats of `dst` from
/// `j * stride` on, its lanes past the last row zero: a 4x4 transpose in two rounds of `trn`.
///
/// # Safety
/// NEON must be available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn transpose_block(rows: &[&[f32]], dst: &mut [f32], stride: usize) {
    let width = rows.first().map_or(0, |r| r.len());
    assert!(
        rows.len() <= LANES && width <= LANES && rows.iter().all(|r| r.len() == width),
        "transpose_block: at most 4 rows of one length up to 4"
    );
    if width == 0 {
        return;
    }
    let dst = &mut dst[..(width - 1) * stride + LANES];
    let r: [float32x4_t; LANES] = std::array::from_fn(|o| match rows.get(o) {
        Some(row) => {
            let mut lanes = [0.0f32; LANES];
            lanes[..width].copy_from_slice(row);
            vld1q_f32(lanes.as_ptr())
        }
        None => vdupq_n_f32(0.0),
    });
    // Lanes (0, 2) of `a` hold columns 0 and 2 of rows 0, 1; of `b`, columns 1 and 3; `c` and `d`
    // the same of rows 2, 3. Their 64-bit halves then pair into whole columns.
    let (a, b) = (vtrn1q_f32(r[0], r[1]), vtrn2q_f32(r[0], r[1]));
    let (c, d) = (vtrn1q_f32(r[2], r[3]), vtrn2q_f32(r[2], r[3]));
    let pair = |low: float32x4_t, high: float32x4_t, second: bool| {
        let (low, high) = (vreinterpretq_f64_f32(low), vreinterpretq_f64_f32(high));
        vreinterpretq_f32_f64(if second {
            vtrn2q_f64(low, high)
        } else {
            vtrn1q_f64(low, high)
        })
    };
    let columns = [
        pair(a, c, false),
        pair(b, d, false),
        pair(a, c, true),
        pair(b, d, true),
    ];
    for (j, column) in columns.iter().take(width).enumerate() {
        vst1q_f32(dst[j * stride..][..LANES].as_mut_ptr(), *column);
    }
}

/// `even[k] = values[2 * k]`, `odd[k] = values[2 * k + 1]`: `ld2` splits 8 values at a time.
///
/// # Safety
/// NEON must be available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn deinterleave(values: &[f32], even: &mut [f32], odd: &mut [f32]) {
    assert!(
        even.len() == values.len().div_ceil(2) && odd.len() == values.len() / 2,
        "deinterleave: the halves must hold the even and odd values"
    );
    let pairs = values.chunks_exact(2 * LANES);
    let tail = pairs.remainder();
    let whole = values.len() / (2 * LANES) * LANES;
    for (k, pair) in pairs.enumerate() {
        let split = vld2q_f32(pair.as_ptr());
        vst1q_f32(even[k * LANES..][..LANES].as_mut_ptr(), split.0);
        vst1q_f32(odd[k * LANES..][..LANES].as_mut_ptr(), split.1);
    }
    for (i, &v) in tail.iter().enumerate() {
        if i % 2 == 0 {
            even[whole + i / 2] = v;
        } else {
            odd[whole + i / 2] = v;
        }
    }
}

/// `out[2 * b] = even[b]`, `out[2 * b + 1] = odd[b]`: `st2` interleaves 8 values at a time.
///
/// # Safety
/// NEON must be available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn interleave(out: &mut [MaybeUninit<f32>], even: &[f32], odd: &[f32]) {
    assert!(even.len() == out.len().div_ceil(2) && odd.len() == out.len() / 2);
    let whole = out.len() / (2 * LANES) * LANES;
    let (pairs, tail) = out.split_at_mut(2 * whole);
    for (k, pair) in pairs.chunks_exact_mut(2 * LANES).enumerate() {
        let halves = float32x4x2_t(
            vld1q_f32(even[k * LANES..][..LANES].as_ptr()),
            vld1q_f32(odd[k * LANES..][..LANES].as_ptr()),
        );
        vst2q_f32(pair.as_mut_ptr().cast(), halves);
    }
    for (i, out) in tail.iter_mut().enumerate() {
        out.write(if i % 2 == 0 {
            even[whole + i / 2]
        } else {
            odd[whole + i / 2]
        });
    }
}

/// `dst.copy_from_slice(src)` in 4-lane moves, inline: the rows packed here are short (8-64
/// floats), as on AVX-512.
///
/// # Safety
/// NEON must be available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn copy_row(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy_row: lengths differ");
    let mut dst_vectors = dst.chunks_exact_mut(LANES);
    let mut src_vectors = src.chunks_exact(LANES);
    for (d, s) in (&mut dst_vectors).zip(&mut src_vectors) {
        vst1q_f32(d.as_mut_ptr(), vld1q_f32(s.as_ptr()));
    }
    dst_vectors
        .into_remainder()
        .copy_from_slice(src_vectors.remainder());
}
