//! The direct kernels' AVX-512 tiles: 16-lane vectors with masked loads and stores.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{TileReads, CHANNEL_BLOCK};

/// f32 lanes of one AVX-512 vector.
pub(super) const LANES: usize = 16;
/// Output channels times position vectors of the forward tile: 24 accumulators, each input vector
/// feeding 8 multiply-adds and each weight 3, so loads stay under the two FMA ports' pace.
pub(super) const OUT_TILE: usize = 8;
pub(super) const POS_TILE: usize = 3;

/// AVX-512F with VL (every AVX-512 CPU since Skylake-X): without VL, 128- and 256-bit operations
/// such as zeroing idioms are VEX-encoded, which confines their registers to zmm0-15, and LLVM
/// spilled the kernels' accumulators.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")
}

/// The body of a forward tile over `TileReads`, with `$mac(acc, weight, input)` adding a weight
/// vector times an input vector to an accumulator: one body for float32 products and for
/// bf16-pair products, whose tiles differ in that one instruction.
macro_rules! forward_tile_body {
    ($tile:ident, $bias:ident, $out:ident, $out_stride:ident, $rows:ident, $stores:ident, $mac:expr) => {{
        let mut acc: [[__m512; P]; O] = std::array::from_fn(|o| [_mm512_set1_ps($bias[o]); P]);
        let taps = $tile.reads.len();
        // A block of channels at a time, so that its input planes stay in L1 through all the taps.
        for first in (0..$tile.channels).step_by(CHANNEL_BLOCK) {
            let block = CHANNEL_BLOCK.min($tile.channels - first);
            for (t, &read) in $tile.reads.iter().enumerate() {
                let masks: [__mmask16; P] = std::array::from_fn(|p| $tile.masks[p * taps + t]);
                let mut src = $tile
                    .x
                    .wrapping_add(first * $tile.channel_stride)
                    .wrapping_offset(read);
                let mut w = $tile.w.add((t * $tile.channels + first) * O);
                for _ in 0..block {
                    let xv: [__m512; P] = std::array::from_fn(|p| {
                        _mm512_maskz_loadu_ps(masks[p], src.wrapping_add(p * LANES))
                    });
                    for (o, acc) in acc.iter_mut().enumerate() {
                        let wv = _mm512_set1_ps(*w.add(o));
                        for (a, &v) in acc.iter_mut().zip(&xv) {
                            *a = $mac(*a, wv, v);
                        }
                    }
                    src = src.wrapping_add($tile.channel_stride);
                    w = w.add(O);
                }
            }
        }
        for (o, acc) in acc.iter().enumerate().take($rows) {
            for (p, &a) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps($out.add(o * $out_stride + p * LANES), $stores[p], a);
            }
        }
    }};
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
pub(super) unsafe fn forward_tile<const O: usize, const P: usize>(
    tile: &TileReads,
    bias: &[f32; O],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
) {
    let fma = |a, w, x| _mm512_fmadd_ps(w, x, a);
    forward_tile_body!(tile, bias, out, out_stride, rows, stores, fma)
}

/// `forward_tile` over channel pairs: every 32-bit element of `x` and `w` holds two bf16 values
/// (channels 2c and 2c + 1), and `vdpbf16ps` adds both products of a pair to a float32 lane, twice
/// the multiply-adds of an FMA per instruction.
///
/// # Safety
/// As for `forward_tile`, with AVX512-BF16 available too.
#[target_feature(enable = "avx512f,avx512vl,avx512bf16")]
pub(super) unsafe fn forward_tile_bf16_pairs<const O: usize, const P: usize>(
    tile: &TileReads,
    bias: &[f32; O],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
) {
    let dot = |a, w, x| _mm512_dpbf16_ps(a, as_bf16_pairs(w), as_bf16_pairs(x));
    forward_tile_body!(tile, bias, out, out_stride, rows, stores, dot)
}

/// The same 512 bits read as 16 pairs of bf16 values.
#[inline(always)]
fn as_bf16_pairs(v: __m512) -> __m512bh {
    // SAFETY: both are plain 512-bit vectors; every bit pattern is a valid value of either.
    unsafe { std::mem::transmute::<__m512, __m512bh>(v) }
}

/// `pairs[k]` holds `even[k]` rounded to bf16 (to nearest even, as PyTorch rounds) in its low
/// half and `odd[k]` (zero past `odd`'s end) in its high half, as 32 bits in an f32 slot: the
/// operands of `forward_tile_bf16_pairs`.
///
/// # Safety
/// AVX-512F, BW and AVX512-BF16 must be available.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(super) unsafe fn round_into_pairs(even: &[f32], odd: &[f32], pairs: &mut [f32]) {
    assert!(
        even.len() == pairs.len() && odd.len() <= pairs.len(),
        "round_into_pairs: a pair per even value"
    );
    for (k, out) in pairs.chunks_mut(LANES).enumerate() {
        let at = k * LANES;
        let lanes = first_lanes(out.len());
        let low = _mm512_maskz_loadu_ps(lanes, even.as_ptr().add(at));
        // No load past `odd`'s end (an empty one's pointer is dangling): a masked load that keeps
        // no lane of an unmapped page still takes a slow assist to suppress the fault.
        let high = if at < odd.len() {
            _mm512_maskz_loadu_ps(first_lanes(odd.len() - at), odd.as_ptr().add(at))
        } else {
            _mm512_setzero_ps()
        };
        let widen = |v| _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(v));
        let low = widen(_mm512_cvtneps_pbh(low));
        let high = _mm512_slli_epi32::<16>(widen(_mm512_cvtneps_pbh(high)));
        _mm512_mask_storeu_epi32(out.as_mut_ptr().cast(), lanes, _mm512_or_si512(low, high));
    }
}

/// The body of a weight-gradient tile: `$steps` rows of `dy` (`$lanes` apart), each against the
/// value of every channel and tap that `$broadcast(row, index)` reads at `reads[t] + $step * i`,
/// added by `$mac(acc, input, dy)`: one body for float32 products over positions and for bf16
/// products over pairs of positions.
macro_rules! backward_weight_tile_body {
    (
        $x:ident, $channels:ident, $reads:ident, $dy:ident, $lanes:ident, $steps:expr, $sums:ident,
        $step:expr, $broadcast:expr, $mac:expr
    ) => {{
        let mut acc: [[[__m512; V]; T]; C] = std::array::from_fn(|c| {
            std::array::from_fn(|t| {
                std::array::from_fn(|v| _mm512_loadu_ps($sums[c * T + t][v].as_ptr()))
            })
        });
        let rows = std::array::from_fn::<_, C, _>(|c| $x.add($channels[c]));
        let mut dyp = $dy;
        for i in 0..$steps {
            let d: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(dyp.add(v * LANES)));
            for c in 0..C {
                for t in 0..T {
                    let xv = $broadcast(rows[c], $reads[t] + $step * i);
                    for v in 0..V {
                        acc[c][t][v] = $mac(acc[c][t][v], xv, d[v]);
                    }
                }
            }
            dyp = dyp.add($lanes);
        }
        for c in 0..C {
            for t in 0..T {
                for v in 0..V {
                    _mm512_storeu_ps($sums[c * T + t][v].as_mut_ptr(), acc[c][t][v]);
                }
            }
        }
    }};
}

/// `sums[c * T + t][v] += sum over positions p of dy[p][v] * x[channels[c] + reads[t] + p]`, for V
/// vectors of output channels (`dy` rows `lanes` floats apart), C channel offsets and T tap offsets.
///
/// # Safety
/// AVX-512F and VL must be available; `x + channels[c] + reads[t]` must be readable for `positions`
/// floats, and `dy` for `positions` rows of `lanes` floats, V vectors of which are read.
#[target_feature(enable = "avx512f,avx512vl")]
pub(super) unsafe fn backward_weight_tile<const V: usize, const C: usize, const T: usize>(
    x: *const f32,
    channels: &[usize; C],
    reads: &[usize; T],
    dy: *const f32,
    lanes: usize,
    positions: usize,
    sums: &mut [[[f32; LANES]; V]],
) {
    let broadcast = |row: *const f32, at| _mm512_set1_ps(*row.add(at));
    let fma = |a, x, d| _mm512_fmadd_ps(x, d, a);
    backward_weight_tile_body!(x, channels, reads, dy, lanes, positions, sums, 1, broadcast, fma)
}

/// `backward_weight_tile` over pairs of positions with bf16 products: `x` holds bf16 values
/// (each load takes positions p and p + 1 of a channel as one 32-bit pair), `dy` rows of `lanes`
/// 32-bit slots, each the pair of positions 2q and 2q + 1 of one output channel, and `vdpbf16ps`
/// adds both products of a pair to a float32 lane.
///
/// # Safety
/// AVX-512F, VL and AVX512-BF16 must be available; `x + channels[c] + reads[t]` must be readable
/// for `2 * pairs` values, and `dy` for `pairs` rows of `lanes` slots, V vectors of which are
/// read.
#[target_feature(enable = "avx512f,avx512vl,avx512bf16")]
pub(super) unsafe fn backward_weight_tile_bf16_pairs<
    const V: usize,
    const C: usize,
    const T: usize,
>(
    x: *const u16,
    channels: &[usize; C],
    reads: &[usize; T],
    dy: *const f32,
    lanes: usize,
    pairs: usize,
    sums: &mut [[[f32; LANES]; V]],
) {
    let broadcast = |row: *const u16, at: usize| {
        let pair = row.add(at).cast::<i32>().read_unaligned();
        _mm512_castsi512_ps(_mm512_set1_epi32(pair))
    };
    let dot = |a, x, d| _mm512_dpbf16_ps(a, as_bf16_pairs(x), as_bf16_pairs(d));
    backward_weight_tile_body!(x, channels, reads, dy, lanes, pairs, sums, 2, broadcast, dot)
}

/// `values` rounded to bf16 (to nearest even) into `rounded`.
///
/// # Safety
/// AVX-512F, BW, VL and AVX512-BF16 must be available.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
pub(super) unsafe fn round_into_bf16(values: &[f32], rounded: &mut [u16]) {
    assert_eq!(
        values.len(),
        rounded.len(),
        "round_into_bf16: lengths differ"
    );
    for (src, dst) in values.chunks(LANES).zip(rounded.chunks_mut(LANES)) {
        let lanes = first_lanes(src.len());
        let v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, src.as_ptr()));
        let bits = std::mem::transmute::<__m256bh, __m256i>(v);
        _mm256_mask_storeu_epi16(dst.as_mut_ptr().cast(), lanes, bits);
    }
}

/// Column `j` of `rows` (at most 16 rows of one length, at most 16) into the 16 floats of `dst`
/// from `j * stride` on, its lanes past the last row zero: 16 rows transposed in registers, where
/// element by element the strided reads cost a noticeable share of the weight gradient.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn transpose_block(rows: &[&[f32]], dst: &mut [f32], stride: usize) {
    let width = rows.first().map_or(0, |r| r.len());
    assert!(
        rows.len() <= LANES && width <= LANES && rows.iter().all(|r| r.len() == width),
        "transpose_block: at most 16 rows of one length up to 16"
    );
    if width == 0 {
        return;
    }
    let dst = &mut dst[..(width - 1) * stride + LANES];
    let loaded: [__m512; LANES] = std::array::from_fn(|o| match rows.get(o) {
        Some(row) => _mm512_maskz_loadu_ps(first_lanes(width), row.as_ptr()),
        None => _mm512_setzero_ps(),
    });
    let columns = transpose16(&loaded);
    for (j, column) in columns.iter().take(width).enumerate() {
        _mm512_storeu_ps(dst[j * stride..][..LANES].as_mut_ptr(), *column);
    }
}

/// `rows` transposed: lane `i` of vector `j` of the result is lane `j` of `rows[i]`. In-lane
/// unpacks pair rows, 4-float shuffles make 4x4 blocks, and two rounds of 128-bit shuffles move
/// the blocks into place.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(rows: &[__m512; LANES]) -> [__m512; LANES] {
    // Pairs: 128-bit lane L of `pairs[2k]` holds columns 4L, 4L + 1 of rows 2k, 2k + 1
    // interleaved; of `pairs[2k + 1]`, columns 4L + 2, 4L + 3.
    let pairs: [__m512; LANES] = std::array::from_fn(|i| {
        let (a, b) = (rows[i & !1], rows[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // `quads[4k + m]`, 128-bit lane L: column 4L + m of rows 4k..4k + 4.
    let quads: [__m512; LANES] = std::array::from_fn(|i| {
        let (k, m) = (i / 4, i % 4);
        let (a, b) = (pairs[4 * k + m / 2], pairs[4 * k + 2 + m / 2]);
        if m % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(a, b)
        } else {
            _mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    // Column 4L + m gathers lane L of quads m, 4 + m, 8 + m and 12 + m.
    let mut columns = [_mm512_setzero_ps(); LANES];
    for m in 0..4 {
        let even_low = _mm512_shuffle_f32x4::<0x88>(quads[m], quads[4 + m]);
        let odd_low = _mm512_shuffle_f32x4::<0xDD>(quads[m], quads[4 + m]);
        let even_high = _mm512_shuffle_f32x4::<0x88>(quads[8 + m], quads[12 + m]);
        let odd_high = _mm512_shuffle_f32x4::<0xDD>(quads[8 + m], quads[12 + m]);
        columns[m] = _mm512_shuffle_f32x4::<0x88>(even_low, even_high);
        columns[8 + m] = _mm512_shuffle_f32x4::<0xDD>(even_low, even_high);
        columns[4 + m] = _mm512_shuffle_f32x4::<0x88>(odd_low, odd_high);
        columns[12 + m] = _mm512_shuffle_f32x4::<0xDD>(odd_low, odd_high);
    }
    columns
}

/// `even[k] = values[2 * k]`, `odd[k] = values[2 * k + 1]`: two permutes per 32 values (where
/// per-value gathers cost as much as the convolution's products).
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn deinterleave(values: &[f32], even: &mut [f32], odd: &mut [f32]) {
    assert!(
        even.len() == values.len().div_ceil(2) && odd.len() == values.len() / 2,
        "deinterleave: the halves must hold the even and odd values"
    );
    let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (k, values) in values.chunks(2 * LANES).enumerate() {
        let at = values.as_ptr();
        let low = _mm512_maskz_loadu_ps(first_lanes(values.len()), at);
        let high = _mm512_maskz_loadu_ps(
            first_lanes(values.len().saturating_sub(LANES)),
            at.wrapping_add(LANES),
        );
        let out = &mut even[k * LANES..][..values.len().div_ceil(2)];
        let gathered = _mm512_permutex2var_ps(low, evens, high);
        _mm512_mask_storeu_ps(out.as_mut_ptr(), first_lanes(out.len()), gathered);
        let out = &mut odd[k * LANES..][..values.len() / 2];
        let gathered = _mm512_permutex2var_ps(low, odds, high);
        _mm512_mask_storeu_ps(out.as_mut_ptr(), first_lanes(out.len()), gathered);
    }
}

/// `out[2 * b] = even[b]`, `out[2 * b + 1] = odd[b]`: 16 outputs from two masked loads and a
/// permute, where element-wise stores made writing `dx` cost as much as computing it.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn interleave(out: &mut [MaybeUninit<f32>], even: &[f32], odd: &[f32]) {
    assert!(even.len() == out.len().div_ceil(2) && odd.len() == out.len() / 2);
    let pairs = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    for (m, chunk) in out.chunks_mut(LANES).enumerate() {
        let at = m * LANES / 2;
        let low = _mm512_maskz_loadu_ps(first_lanes(even.len() - at), even.as_ptr().add(at));
        let high = _mm512_maskz_loadu_ps(
            first_lanes(odd.len().saturating_sub(at)),
            odd.as_ptr().wrapping_add(at),
        );
        let pairs = _mm512_permutex2var_ps(low, pairs, high);
        _mm512_mask_storeu_ps(chunk.as_mut_ptr().cast(), first_lanes(chunk.len()), pairs);
    }
}

/// `dst.copy_from_slice(src)` in masked 16-lane moves: the rows packed here are 8-64 floats, for
/// which calling memcpy cost more than the copy.
///
/// # Safety
/// AVX-512F must be available.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn copy_row(dst: &mut [f32], src: &[f32]) {
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

/// The mask of the first `count` lanes (all 16 from 16 on).
fn first_lanes(count: usize) -> __mmask16 {
    ((1u32 << count.min(LANES)) - 1) as __mmask16
}
