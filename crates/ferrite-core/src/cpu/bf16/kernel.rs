//! The `vdpbf16ps` microkernel: one MR x (16 * NV) tile of the product from packed micro-panels,
//! and the float32 -> bf16 rounding shared with the packing.

use std::arch::x86_64::*;

/// Where a tile's float32 accumulators start.
#[derive(Clone, Copy)]
pub(super) enum Init {
    Zero,
    /// From a float32 matrix with rows `ld` apart (a previous depth block, or `accumulate`).
    Load {
        c: *const f32,
        ld: usize,
    },
}

/// Where a tile's sums go.
#[derive(Clone, Copy)]
pub(super) enum Store {
    F32 {
        c: *mut f32,
        ld: usize,
    },
    /// bf16 bits, each sum rounded to nearest even once.
    Bf16 {
        c: *mut u16,
        ld: usize,
    },
}

/// What a tile's epilogue does with its sums: adds `init` and the bias (a value per row), and
/// stores the first `rows` rows and `cols` columns.
#[derive(Clone, Copy)]
pub(super) struct Epilogue {
    pub init: Init,
    pub bias: Option<*const f32>,
    pub store: Store,
    pub rows: usize,
    pub cols: usize,
}

/// The bits of `bf16::from_f32` for 16 floats, in the low halves of the lanes. Done in integers
/// (add 0x7fff plus the kept lowest bit, then shift) rather than with `vcvtneps2bf16`, which
/// flushes subnormal inputs to zero where `half` and PyTorch round them; NaNs are kept quiet.
///
/// # Safety
/// The CPU must support AVX-512F (see [`super::available`]).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(super) unsafe fn bf16_bits(x: __m512) -> __m512i {
    let bits = _mm512_castps_si512(x);
    let high = _mm512_srli_epi32::<16>(bits);
    let lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
    let bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff));
    let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(bits, bias));
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    let quiet = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
    _mm512_mask_blend_epi32(nan, rounded, quiet)
}

/// 32 floats (`lo` the first 16, `hi` the next) as the bits of `bf16::from_f32`, in order.
/// `vcvtne2ps2bf16` rounds to nearest even in one instruction but flushes subnormal inputs to zero
/// (where `half` and PyTorch round them); chunks holding one, or a NaN, take the integer path.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW, AVX-512DQ and AVX512-BF16.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
pub(super) unsafe fn bf16_x32(lo: __m512, hi: __m512) -> __m512i {
    // fpclass: 0x01 quiet NaN, 0x20 subnormal, 0x80 signalling NaN.
    let odd = _mm512_fpclass_ps_mask::<0xa1>(lo) | _mm512_fpclass_ps_mask::<0xa1>(hi);
    if odd == 0 {
        // SAFETY: both are plain 512-bit vectors.
        return unsafe { std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo)) };
    }
    let mut even_words = [0i16; 32];
    for (j, w) in even_words.iter_mut().enumerate() {
        *w = (2 * j) as i16;
    }
    // SAFETY: 32 i16 are 64 bytes.
    let index = unsafe { _mm512_loadu_si512(even_words.as_ptr() as *const __m512i) };
    // SAFETY: the caller's CPU features cover `bf16_bits`'.
    unsafe { _mm512_permutex2var_epi16(bf16_bits(lo), index, bf16_bits(hi)) }
}

/// Transposes 16 vectors of 16 u32 (row i lane j becomes row j lane i).
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose16(r: &mut [__m512i; 16]) {
    let mut t = [_mm512_setzero_si512(); 16];
    // 32-bit then 64-bit interleaves: 128-bit lane q of r[4g + c] holds column 4q + c of rows
    // 4g..4g + 4.
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for g in 0..4 {
        let b = 4 * g;
        r[b] = _mm512_unpacklo_epi64(t[b], t[b + 2]);
        r[b + 1] = _mm512_unpackhi_epi64(t[b], t[b + 2]);
        r[b + 2] = _mm512_unpacklo_epi64(t[b + 1], t[b + 3]);
        r[b + 3] = _mm512_unpackhi_epi64(t[b + 1], t[b + 3]);
    }
    // Then two rounds of 128-bit lane shuffles gather each column's four quarters.
    for h in 0..2 {
        for c in 0..4 {
            let (x, y) = (r[8 * h + c], r[8 * h + c + 4]);
            t[8 * h + c] = _mm512_shuffle_i32x4::<0x88>(x, y);
            t[8 * h + c + 4] = _mm512_shuffle_i32x4::<0xdd>(x, y);
        }
    }
    for c in 0..8 {
        r[c] = _mm512_shuffle_i32x4::<0x88>(t[c], t[c + 8]);
        r[c + 8] = _mm512_shuffle_i32x4::<0xdd>(t[c], t[c + 8]);
    }
}

/// The lanes `< count` (count clamped to 0..=16) of a 16-lane vector.
#[inline]
pub(super) fn lanes(count: usize) -> __mmask16 {
    if count >= 16 {
        0xffff
    } else {
        ((1u32 << count) - 1) as __mmask16
    }
}

/// `tile = init + a_panel @ b_panel [+ bias per row]` for one MR x NR tile (NR = 16 * NV), of which
/// the first `rows` rows and `cols` columns are stored (all of these from `out`).
///
/// `a` is a packed micro-panel of `kc` pairs x MR rows (`a[p * MR + r]`), `b` one of `kc` pairs x NR
/// columns (`b[p * NR + j]`). Each pair step loads NV vectors of `b` and, per row, broadcasts the
/// row's pair into every lane: `vdpbf16ps` then adds both products of the pair to each of the
/// MR x NV float32 accumulators, which stay in registers for the whole depth.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and AVX512-BF16. `a` must be valid for `kc * MR`
/// reads and `b` for `kc * NR`; `bias`, when given, for `rows` reads. `init` (when `Load`) and
/// `store` must point at matrices holding `rows` rows of `cols` valid elements `ld` apart, and
/// `store`'s must not be read or written by anyone else during the call; `rows <= MR`,
/// `cols <= NR`.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(super) unsafe fn tile<const MR: usize, const NV: usize>(
    kc: usize,
    a: *const u32,
    b: *const u32,
    out: Epilogue,
) {
    prefetch_init(out);
    // SAFETY: passed on from the caller.
    let acc = unsafe { depth_loop::<MR, NV>([[_mm512_setzero_ps(); NV]; MR], kc, a, b) };
    // SAFETY: passed on from the caller.
    unsafe { finish(&acc, out) }
}

/// Starts moving the sums from before (`init`) towards L1 while the products run: loaded only
/// when needed, they waited on memory (a tile is revisited a whole depth block later).
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn prefetch_init(out: Epilogue) {
    if let Init::Load { c, ld } = out.init {
        for r in 0..out.rows {
            for v in 0..out.cols.div_ceil(16) {
                _mm_prefetch::<_MM_HINT_T0>(c.wrapping_add(r * ld + 16 * v) as *const i8);
            }
        }
    }
}

/// A tile's epilogue `out` on the sums `acc` (row r, columns 16v..16v + 16 in `acc[r][v]`).
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and AVX512-BF16; `out` as in [`tile`], with
/// `out.rows <= acc.len()` and `out.cols <= 16 * NV`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(super) unsafe fn finish<const NV: usize>(acc: &[[__m512; NV]], out: Epilogue) {
    let Epilogue {
        init,
        bias,
        store,
        rows,
        cols,
    } = out;
    let mut masks = [0 as __mmask16; NV];
    for (v, mask) in masks.iter_mut().enumerate() {
        *mask = lanes(cols.saturating_sub(16 * v));
    }
    for (r, row) in acc.iter().enumerate().take(rows) {
        // SAFETY: r < rows, and `bias` holds `rows` values.
        let add = bias.map(|bias| _mm512_set1_ps(unsafe { *bias.add(r) }));
        for (v, &lane) in row.iter().enumerate() {
            let mut sum = lane;
            if let Init::Load { c, ld } = init {
                // SAFETY: row r < rows and the masked lanes are columns < cols, inside `init`
                // (a wholly masked load reads nothing, so its address may lie past them).
                let before =
                    unsafe { _mm512_maskz_loadu_ps(masks[v], c.wrapping_add(r * ld + 16 * v)) };
                sum = _mm512_add_ps(before, sum);
            }
            let sum = add.map_or(sum, |add| _mm512_add_ps(sum, add));
            match store {
                // SAFETY: row r < rows, and the masked lanes are columns < cols, inside `store`.
                Store::F32 { c, ld } => unsafe {
                    _mm512_mask_storeu_ps(c.wrapping_add(r * ld + 16 * v), masks[v], sum)
                },
                // SAFETY: as above; `vpmovdw` stores the low 16 bits of each masked lane.
                Store::Bf16 { c, ld } => unsafe {
                    _mm512_mask_cvtepi32_storeu_epi16(
                        c.wrapping_add(r * ld + 16 * v) as *mut i16,
                        masks[v],
                        bf16_bits(sum),
                    )
                },
            }
        }
    }
}

/// The pair steps of [`tile`], apart so that the accumulators live in registers: inline in the
/// epilogue's loops, LLVM kept some tile shapes' accumulators in memory.
///
/// # Safety
/// As [`tile`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn depth_loop<const MR: usize, const NV: usize>(
    mut acc: [[__m512; NV]; MR],
    kc: usize,
    a: *const u32,
    b: *const u32,
) -> [[__m512; NV]; MR] {
    let nr = 16 * NV;
    for p in 0..kc {
        // SAFETY: p < kc, so the pair row p of both panels is inside them.
        let (ap, bp) = unsafe { (a.add(p * MR), b.add(p * nr)) };
        let mut bv = [_mm512_setzero_si512(); NV];
        for (v, vector) in bv.iter_mut().enumerate() {
            // SAFETY: lanes 16v..16v+16 of pair row p, inside the panel (NR = 16 * NV).
            *vector = unsafe { _mm512_loadu_si512(bp.add(16 * v) as *const __m512i) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: r < MR, inside pair row p of `a`.
            let pair = unsafe { *ap.add(r) };
            let av: __m512bh = to_bh(_mm512_set1_epi32(pair as i32));
            for (lane, &bvec) in row.iter_mut().zip(&bv) {
                *lane = _mm512_dpbf16_ps(*lane, av, to_bh(bvec));
            }
        }
    }
    acc
}

/// The same 512 bits read as 32 bf16 values.
#[inline(always)]
fn to_bh(v: __m512i) -> __m512bh {
    // SAFETY: both are plain 512-bit vectors; every bit pattern is a valid value of either.
    unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
}
