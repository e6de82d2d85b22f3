//! [`PackPairs`] for strided matrices: vectorised for the two layouts matmul meets most (k
//! contiguous, as in a row-major left operand or a transposed weight; lines contiguous, as in a
//! row-major right operand), plainly for the rest.

use std::ops::Range;

use half::bf16;

use super::{pair, Element, PackPairs, Strided};

impl<T: Element> Strided<'_, T> {
    /// The element (line, depth), 0 past the depth (the missing half of an odd last pair).
    #[inline]
    fn value(&self, line: usize, i: usize) -> bf16 {
        if i < self.k {
            self.data[line * self.line_stride + i * self.k_stride].to_bf16()
        } else {
            bf16::ZERO
        }
    }

    fn pack_plain(&self, lines: Range<usize>, pairs: Range<usize>, stride: usize, dst: &mut [u32]) {
        for (p, row) in pairs.clone().zip(dst.chunks_mut(stride)) {
            for (l, out) in lines.clone().zip(row.iter_mut()) {
                *out = pair(self.value(l, 2 * p), self.value(l, 2 * p + 1));
            }
        }
    }

    /// Panics unless every element the lines and pairs name lies inside `data` and `dst` holds
    /// the rows it is asked to fill: the vector paths read and write through raw pointers.
    fn check(&self, lines: &Range<usize>, pairs: &Range<usize>, stride: usize, dst: &[u32]) {
        assert!(lines.end <= self.lines && pairs.end <= self.k.div_ceil(2));
        assert!(stride >= lines.len());
        if !lines.is_empty() && !pairs.is_empty() {
            let last_i = (2 * pairs.end).min(self.k) - 1;
            let last = (lines.end - 1) * self.line_stride + last_i * self.k_stride;
            assert!(
                last < self.data.len(),
                "strided operand reads past its data"
            );
            assert!(dst.len() >= (pairs.len() - 1) * stride + lines.len());
        }
    }
}

/// `PackPairs` for a strided operand of an element type: the vector path where a run of k or of
/// lines is contiguous, the plain one elsewhere.
macro_rules! strided_pack_pairs {
    ($t:ty) => {
        impl PackPairs for Strided<'_, $t> {
            fn k(&self) -> usize {
                self.k
            }

            fn pack(
                &self,
                lines: Range<usize>,
                pairs: Range<usize>,
                stride: usize,
                dst: &mut [u32],
            ) {
                self.check(&lines, &pairs, stride, dst);
                if lines.is_empty() || pairs.is_empty() {
                    return;
                }
                #[cfg(target_arch = "x86_64")]
                if super::available() && (self.k_stride == 1 || self.line_stride == 1) {
                    // SAFETY: AVX-512 is present, and `check` bounded every read and write.
                    return unsafe { simd::pack(self, lines, pairs, stride, dst) };
                }
                self.pack_plain(lines, pairs, stride, dst)
            }
        }
    };
}

strided_pack_pairs!(f32);
strided_pack_pairs!(bf16);

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use half::bf16;

    use super::super::kernel::{bf16_x32, lanes, transpose16};
    use super::{Element, Strided};

    /// Loads 32 consecutive elements (`count` of them, the rest 0) as 32 bf16 in order.
    pub(super) trait Load32: Element {
        /// # Safety
        /// AVX-512F/BW/DQ and AVX512-BF16 must be present; the first `count` (<= 32) elements
        /// at `at` must be readable.
        unsafe fn load32(at: *const Self, count: usize) -> __m512i;
    }

    impl Load32 for f32 {
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
        unsafe fn load32(at: *const f32, count: usize) -> __m512i {
            // SAFETY: masked to the `count` readable elements (a wholly masked load reads
            // nothing, so its address may lie past them).
            unsafe {
                let lo = _mm512_maskz_loadu_ps(lanes(count), at);
                let hi =
                    _mm512_maskz_loadu_ps(lanes(count.saturating_sub(16)), at.wrapping_add(16));
                bf16_x32(lo, hi)
            }
        }
    }

    impl Load32 for bf16 {
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
        unsafe fn load32(at: *const bf16, count: usize) -> __m512i {
            let mask = if count >= 32 {
                u32::MAX
            } else {
                (1u32 << count) - 1
            };
            // SAFETY: masked to the `count` readable elements.
            unsafe { _mm512_maskz_loadu_epi16(mask, at as *const i16) }
        }
    }

    /// Packs an operand whose depth (`k_stride == 1`) or lines (`line_stride == 1`) are
    /// contiguous.
    ///
    /// # Safety
    /// AVX-512F/BW/DQ and AVX512-BF16 must be present, and `Strided::check` must have passed for
    /// these arguments.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
    pub(super) unsafe fn pack<T: Load32>(
        op: &Strided<'_, T>,
        lines: Range<usize>,
        pairs: Range<usize>,
        stride: usize,
        dst: &mut [u32],
    ) {
        // SAFETY: passed on from the caller.
        unsafe {
            if op.k_stride == 1 {
                k_contiguous(op, lines, pairs, stride, dst)
            } else {
                lines_contiguous(op, lines, pairs, stride, dst)
            }
        }
    }

    /// Depth contiguous: 32 elements of a line are 16 pairs already in order; 16 lines' worth
    /// are transposed so that each pair row is stored whole.
    ///
    /// # Safety
    /// As [`pack`], with `op.k_stride == 1`.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
    unsafe fn k_contiguous<T: Load32>(
        op: &Strided<'_, T>,
        lines: Range<usize>,
        pairs: Range<usize>,
        stride: usize,
        dst: &mut [u32],
    ) {
        let data = op.data.as_ptr();
        let out = dst.as_mut_ptr();
        // `check` bounded the elements below this depth.
        let depth = (2 * pairs.end).min(op.k);
        for l0 in lines.clone().step_by(16) {
            let group = (lines.end - l0).min(16);
            for p0 in pairs.clone().step_by(16) {
                let first = 2 * p0;
                let mut rows = [_mm512_setzero_si512(); 16];
                for (g, row) in rows.iter_mut().enumerate().take(group) {
                    // SAFETY: line l0 + g < lines.end at depths first.. < depth, inside `data`.
                    *row = unsafe {
                        T::load32(data.add((l0 + g) * op.line_stride + first), depth - first)
                    };
                }
                // SAFETY: the CPU's features are the caller's promise.
                unsafe { transpose16(&mut rows) };
                let base = (p0 - pairs.start) * stride + (l0 - lines.start);
                for (j, row) in rows.iter().enumerate().take((pairs.end - p0).min(16)) {
                    // SAFETY: pair row p0 + j - pairs.start, lines l0.. l0 + group: inside
                    // `dst` (checked).
                    unsafe {
                        _mm512_mask_storeu_epi32(
                            out.add(base + j * stride) as *mut i32,
                            lanes(group),
                            *row,
                        )
                    };
                }
            }
        }
    }

    /// Lines contiguous: depths 2p and 2p + 1 of 32 lines, interleaved by word permutes into 32
    /// pairs.
    ///
    /// # Safety
    /// As [`pack`], with `op.line_stride == 1`.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
    unsafe fn lines_contiguous<T: Load32>(
        op: &Strided<'_, T>,
        lines: Range<usize>,
        pairs: Range<usize>,
        stride: usize,
        dst: &mut [u32],
    ) {
        let mut low = [0i16; 32];
        for (j, w) in low.iter_mut().enumerate() {
            *w = ((j / 2) + 32 * (j % 2)) as i16;
        }
        // SAFETY: 32 i16 are 64 bytes.
        let low = unsafe { _mm512_loadu_si512(low.as_ptr() as *const __m512i) };
        let high = _mm512_add_epi16(low, _mm512_set1_epi16(16));
        let data = op.data.as_ptr();
        let out = dst.as_mut_ptr();
        for p in pairs.clone() {
            let (lo, hi) = (2 * p * op.k_stride, (2 * p + 1) * op.k_stride);
            let has_hi = 2 * p + 1 < op.k;
            for l in lines.clone().step_by(32) {
                let count = (lines.end - l).min(32);
                let at = (p - pairs.start) * stride + (l - lines.start);
                // SAFETY: `count` lines from l at depths 2p and (when < k) 2p + 1, which `check`
                // bounded; the stores to pair row p of `dst`, lines < lines.end.
                unsafe {
                    let x0 = T::load32(data.add(lo + l), count);
                    let x1 = T::load32(data.wrapping_add(hi + l), if has_hi { count } else { 0 });
                    let first = _mm512_permutex2var_epi16(x0, low, x1);
                    let second = _mm512_permutex2var_epi16(x0, high, x1);
                    _mm512_mask_storeu_epi32(out.add(at) as *mut i32, lanes(count), first);
                    _mm512_mask_storeu_epi32(
                        out.wrapping_add(at + 16) as *mut i32,
                        lanes(count.saturating_sub(16)),
                        second,
                    );
                }
            }
        }
    }
}
