//! One sample's forward over a narrow output plane (at most 4 positions: VGG's 2x2 layers at
//! batch 1) as dot products that read the weight once, in place. gemm packs the weight first,
//! which at these widths costs more than the products: a 512 -> 512 layer's 9.4 MB weight against
//! 2x2 positions ran at 13-18 GFLOP/s on one thread, 32-40 here (bench/KERNELS.md, "One sample
//! on two threads").

/// Output positions up to which [`products`] takes a one-sample forward: at 16 (4x4) these dot
/// products, re-reading a block's weight rows from L2 for every 4 positions, lost to gemm.
pub(super) const MAX_POSITIONS: usize = 4;

/// Output rows and positions of the widest block: 16 accumulators, 8 loads per 16 multiply-adds.
const BLOCK: usize = 4;

/// Whether this CPU runs [`products`] (AVX-512F).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// `y [o, n] += w [o, k] @ cols_t [n, k]^T`: each output row's dot products with the `n` columns,
/// which `cols_t` holds transposed (a row of `k` per position).
///
/// Panics when [`available`] is false, `n` exceeds [`MAX_POSITIONS`] or a slice is too short.
pub(super) fn products(w: &[f32], cols_t: &[f32], k: usize, y: &mut [f32], n: usize) {
    assert!(
        available() && n > 0 && n <= MAX_POSITIONS,
        "narrow products: AVX-512F and 1 to 4 positions"
    );
    let o = y.len() / n;
    assert!(
        w.len() >= o * k && cols_t.len() >= n * k,
        "narrow products: operand too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        let mut row = 0;
        while row < o {
            let rows = if o - row >= BLOCK { BLOCK } else { 1 };
            // SAFETY: AVX-512F was checked above; rows `row..row + rows` of `w` (k each) and of
            // `y` (n each) and every row of `cols_t` lie inside the slices, as checked above.
            unsafe {
                let (w, y) = (w.as_ptr().add(row * k), y.as_mut_ptr().add(row * n));
                match rows {
                    BLOCK => avx512::rows::<BLOCK>(w, cols_t.as_ptr(), k, y, n),
                    _ => avx512::rows::<1>(w, cols_t.as_ptr(), k, y, n),
                }
            }
            row += rows;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::BLOCK;

    /// `R` output rows against all `n` positions, `BLOCK` positions at a time, then one at a time.
    ///
    /// # Safety
    /// AVX-512F must be available; `w` must be readable for `R` rows of `k`, `cols_t` for `n`
    /// rows of `k`, and `y` writable for `R` rows of `n`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn rows<const R: usize>(
        w: *const f32,
        cols_t: *const f32,
        k: usize,
        y: *mut f32,
        n: usize,
    ) {
        let mut p = 0;
        while p < n {
            let cols = cols_t.add(p * k);
            if n - p >= BLOCK {
                block::<R, BLOCK>(w, cols, k, y.add(p), n);
                p += BLOCK;
            } else {
                block::<R, 1>(w, cols, k, y.add(p), n);
                p += 1;
            }
        }
    }

    /// `y[r * n + q] += dot(w row r, cols row q)` for `R` rows and `P` positions, 16 values of `k`
    /// per step in `R * P` accumulators, the tail of `k` through masked loads.
    ///
    /// # Safety
    /// AVX-512F must be available; `w` must be readable for `R` rows of `k`, `cols` for `P` rows
    /// of `k`, and `y` writable at `r * n + q` for every `r < R`, `q < P`.
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize, const P: usize>(
        w: *const f32,
        cols: *const f32,
        k: usize,
        y: *mut f32,
        n: usize,
    ) {
        let mut sums = [[_mm512_setzero_ps(); P]; R];
        let step = |sums: &mut [[__m512; P]; R], at: usize, mask: __mmask16| {
            let a: [__m512; R] =
                std::array::from_fn(|r| _mm512_maskz_loadu_ps(mask, w.add(r * k + at)));
            let b: [__m512; P] =
                std::array::from_fn(|q| _mm512_maskz_loadu_ps(mask, cols.add(q * k + at)));
            for (row, a) in sums.iter_mut().zip(a) {
                for (sum, b) in row.iter_mut().zip(b) {
                    *sum = _mm512_fmadd_ps(a, b, *sum);
                }
            }
        };
        let full = k - k % 16;
        for at in (0..full).step_by(16) {
            step(&mut sums, at, !0);
        }
        if full < k {
            step(&mut sums, full, (1u16 << (k - full)) - 1);
        }
        for (r, row) in sums.iter().enumerate() {
            for (q, sum) in row.iter().enumerate() {
                *y.add(r * n + q) += _mm512_reduce_add_ps(*sum);
            }
        }
    }
}
