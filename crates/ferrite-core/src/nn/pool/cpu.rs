//! CPU kernels of 2-D pooling. Every channel plane is pooled on its own, so the planes are split
//! across threads; the windows along each axis come worked out as the `PoolShape`'s `Span`s.

use rayon::prelude::*;

use super::{PoolShape, Span};
use crate::cpu::{lane_sum, PARALLEL_MIN_ELEMS};

/// How the kernels walk a pooling's windows: which path, how many planes to a task, what to
/// divide by.
impl PoolShape {
    /// Whether every window is 2x2 at stride 2, undilated and wholly inside the input.
    fn pairs(&self) -> bool {
        let pairs = |spans: &[Span]| {
            spans
                .iter()
                .enumerate()
                .all(|(o, s)| s.start == 2 * o && s.count == 2)
        };
        self.step == [1, 1] && pairs(&self.rows) && pairs(&self.cols)
    }

    /// Planes per rayon task, so that tiny planes are not scheduled one by one.
    fn min_planes(&self) -> usize {
        let (rows, cols) = (
            self.rows.first().map_or(1, |s| s.count),
            self.cols.first().map_or(1, |s| s.count),
        );
        let work = (self.oh() * self.ow() * rows * cols)
            .max(self.h * self.w)
            .max(1);
        (PARALLEL_MIN_ELEMS / work).max(1)
    }

    /// The divisor of an average window: its area, with or without the padding it covers.
    fn divisor(ry: &Span, rx: &Span, count_padding: bool) -> f32 {
        if count_padding {
            (ry.padded * rx.padded) as f32
        } else {
            (ry.count * rx.count) as f32
        }
    }
}

/// Max pooling: the largest value of each window (NaN wins, as in PyTorch) and its flat index in
/// the input plane; ties keep the first.
pub(super) fn max_pool2d_forward(s: &PoolShape, x: &[f32]) -> (Vec<f32>, Vec<i64>) {
    let (hw, ohw, [dh, dw]) = (s.h * s.w, s.oh() * s.ow(), s.step);
    let mut values = vec![0.0; s.planes * ohw];
    let mut indices = vec![0i64; s.planes * ohw];
    let pairs = s.pairs();
    values
        .par_chunks_mut(ohw)
        .zip(indices.par_chunks_mut(ohw))
        .zip(x.par_chunks(hw))
        .with_min_len(s.min_planes())
        .for_each(|((values, indices), plane)| {
            if pairs {
                return max_pool_pairs(s, plane, values, indices);
            }
            let outputs = values.iter_mut().zip(indices.iter_mut());
            let windows = s
                .rows
                .iter()
                .flat_map(|ry| s.cols.iter().map(move |rx| (ry, rx)));
            for ((value, index), (ry, rx)) in outputs.zip(windows) {
                let (mut best, mut at) = (f32::NEG_INFINITY, ry.start * s.w + rx.start);
                for iy in (ry.start..).step_by(dh).take(ry.count) {
                    let row = &plane[iy * s.w..][..s.w];
                    for (j, &v) in row[rx.start..]
                        .iter()
                        .step_by(dw)
                        .take(rx.count)
                        .enumerate()
                    {
                        if v > best || v.is_nan() {
                            (best, at) = (v, iy * s.w + rx.start + j * dw);
                        }
                    }
                }
                (*value, *index) = (best, at as i64);
            }
        });
    (values, indices)
}

/// `max_pool2d_forward` over one plane for `PoolShape::pairs` windows (VGG's pooling): the same
/// picks, in the same order, without the generic walk over spans.
fn max_pool_pairs(s: &PoolShape, plane: &[f32], values: &mut [f32], indices: &mut [i64]) {
    let (w, ow) = (s.w, s.ow());
    let rows = values
        .chunks_exact_mut(ow)
        .zip(indices.chunks_exact_mut(ow));
    for (oy, (values, indices)) in rows.enumerate() {
        let (top, bottom) = (2 * oy * w, (2 * oy + 1) * w);
        #[cfg(target_arch = "x86_64")]
        if avx512::available() && w < i32::MAX as usize / 2 {
            // SAFETY: AVX-512F is present; the plane holds rows `top` and `bottom` of at least
            // 2 * ow inputs; the indices fit in i32.
            unsafe { avx512::max_pool_pairs_row_indices(plane, [top, bottom], values, indices) };
            continue;
        }
        for (ox, (value, index)) in values.iter_mut().zip(indices.iter_mut()).enumerate() {
            let (mut best, mut at) = (plane[top + 2 * ox], top + 2 * ox);
            for i in [top + 2 * ox + 1, bottom + 2 * ox, bottom + 2 * ox + 1] {
                if plane[i] > best || plane[i].is_nan() {
                    (best, at) = (plane[i], i);
                }
            }
            (*value, *index) = (best, at as i64);
        }
    }
}

/// Max pooling's maxima alone, for a forward no backward will follow: the values
/// `max_pool2d_forward` picks, without their positions.
pub(super) fn max_pool2d_values(s: &PoolShape, x: &[f32]) -> Vec<f32> {
    let (hw, ohw, [dh, dw]) = (s.h * s.w, s.oh() * s.ow(), s.step);
    let mut values = vec![0.0; s.planes * ohw];
    let pairs = s.pairs();
    values
        .par_chunks_mut(ohw)
        .zip(x.par_chunks(hw))
        .with_min_len(s.min_planes())
        .for_each(|(values, plane)| {
            if pairs {
                return max_pool_pairs_values(s, plane, values);
            }
            let windows = s
                .rows
                .iter()
                .flat_map(|ry| s.cols.iter().map(move |rx| (ry, rx)));
            for (value, (ry, rx)) in values.iter_mut().zip(windows) {
                let rows = (ry.start..).step_by(dh).take(ry.count);
                *value = rows
                    .flat_map(|iy| {
                        plane[iy * s.w + rx.start..]
                            .iter()
                            .step_by(dw)
                            .take(rx.count)
                    })
                    .fold(f32::NEG_INFINITY, |best, &v| max_or_nan(best, v));
            }
        });
    values
}

/// The larger of `a` and `b`, NaN if either is (NaN wins in PyTorch's max pooling).
fn max_or_nan(a: f32, b: f32) -> f32 {
    if a > b || a.is_nan() {
        a
    } else {
        b
    }
}

/// `max_pool2d_values` over one plane of 2x2 stride-2 windows, a row of windows at a time.
fn max_pool_pairs_values(s: &PoolShape, plane: &[f32], values: &mut [f32]) {
    let (w, ow) = (s.w, s.ow());
    for (oy, out) in values.chunks_exact_mut(ow).enumerate() {
        let (top, bottom) = (
            &plane[2 * oy * w..][..2 * ow],
            &plane[(2 * oy + 1) * w..][..2 * ow],
        );
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            // SAFETY: AVX-512F is present; `top` and `bottom` hold the 2 * out.len() inputs of
            // `out`'s windows.
            unsafe { avx512::max_pool_pairs_row(top, bottom, out) };
            continue;
        }
        for (o, (t, b)) in out
            .iter_mut()
            .zip(top.chunks_exact(2).zip(bottom.chunks_exact(2)))
        {
            *o = max_or_nan(max_or_nan(t[0], t[1]), max_or_nan(b[0], b[1]));
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| is_x86_feature_detected!("avx512f"))
    }

    /// `max_or_nan` lane by lane: `_mm512_max_ps` returns its second operand when either is NaN,
    /// so a NaN first operand is put back.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn max_or_nan(a: __m512, b: __m512) -> __m512 {
        _mm512_mask_mov_ps(
            _mm512_max_ps(a, b),
            _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a),
            a,
        )
    }

    /// One row of 2x2 windows: `out[i]` is the maximum of `top[2i..2i+2]` and `bottom[2i..2i+2]`,
    /// 16 windows to a step, the rows' two vertical maxima split into even and odd columns.
    ///
    /// # Safety
    /// AVX-512F must be available, and `top` and `bottom` must hold at least `2 * out.len()`
    /// elements.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn max_pool_pairs_row(top: &[f32], bottom: &[f32], out: &mut [f32]) {
        debug_assert!(top.len() >= 2 * out.len() && bottom.len() >= 2 * out.len());
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        for (i, out) in out.chunks_mut(16).enumerate() {
            let inputs = 2 * out.len();
            let low = lanes(inputs.min(16));
            let high = lanes(inputs.saturating_sub(16));
            // SAFETY: the masked loads read inputs [32 i, 32 i + inputs), all within `top` and
            // `bottom`; an empty high half is not loaded (a masked load of nothing still costs
            // a fault-suppression assist at an unmapped address).
            let (t0, b0, t1, b1) = unsafe {
                let (t, b) = (top.as_ptr().add(32 * i), bottom.as_ptr().add(32 * i));
                let (t1, b1) = if high == 0 {
                    (_mm512_setzero_ps(), _mm512_setzero_ps())
                } else {
                    (
                        _mm512_maskz_loadu_ps(high, t.add(16)),
                        _mm512_maskz_loadu_ps(high, b.add(16)),
                    )
                };
                (
                    _mm512_maskz_loadu_ps(low, t),
                    _mm512_maskz_loadu_ps(low, b),
                    t1,
                    b1,
                )
            };
            let (v0, v1) = (max_or_nan(t0, b0), max_or_nan(t1, b1));
            let m = max_or_nan(
                _mm512_permutex2var_ps(v0, even, v1),
                _mm512_permutex2var_ps(v0, odd, v1),
            );
            // SAFETY: the store writes out.len() lanes of `out`.
            unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr(), lanes(out.len()), m) };
        }
    }

    /// `max_pool_pairs`'s picks along one row of 2x2 windows, 16 windows to a step: the four
    /// candidates in the scalar path's order (top left, top right, bottom left, bottom right),
    /// each taken when greater or NaN, so ties keep the first and the last NaN wins.
    ///
    /// # Safety
    /// AVX-512F must be available; `plane` must hold `2 * values.len()` inputs from each of
    /// `rows`; `indices` must be as long as `values`, and every index must fit in i32.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn max_pool_pairs_row_indices(
        plane: &[f32],
        rows: [usize; 2],
        values: &mut [f32],
        indices: &mut [i64],
    ) {
        debug_assert!(rows.iter().all(|&r| plane.len() >= r + 2 * values.len()));
        debug_assert_eq!(values.len(), indices.len());
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        let chunks = values.chunks_mut(16).zip(indices.chunks_mut(16));
        for (i, (values, indices)) in chunks.enumerate() {
            let inputs = 2 * values.len();
            let (low, high) = (lanes(inputs.min(16)), lanes(inputs.saturating_sub(16)));
            let first = 32 * i;
            // Candidate k's value and plane index for each of the 16 windows.
            let candidates = rows.map(|row| {
                // SAFETY: the masked loads read [row + first, row + first + inputs) of `plane`;
                // an empty high half is not loaded (an empty masked load still costs an assist).
                let (v0, v1) = unsafe {
                    let at = plane.as_ptr().add(row + first);
                    let v1 = if high == 0 {
                        _mm512_setzero_ps()
                    } else {
                        _mm512_maskz_loadu_ps(high, at.add(16))
                    };
                    (_mm512_maskz_loadu_ps(low, at), v1)
                };
                let left = _mm512_add_epi32(even, _mm512_set1_epi32((row + first) as i32));
                [
                    (_mm512_permutex2var_ps(v0, even, v1), left),
                    (
                        _mm512_permutex2var_ps(v0, odd, v1),
                        _mm512_add_epi32(left, _mm512_set1_epi32(1)),
                    ),
                ]
            });
            let [[top_left, top_right], [bottom_left, bottom_right]] = candidates;
            let (mut best, mut at) = top_left;
            for (value, index) in [top_right, bottom_left, bottom_right] {
                let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(value, best)
                    | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(value, value);
                best = _mm512_mask_mov_ps(best, take, value);
                at = _mm512_mask_mov_epi32(at, take, index);
            }
            let n = values.len();
            // SAFETY: the stores write the n lanes of `values` and `indices`, in halves of 8.
            unsafe {
                _mm512_mask_storeu_ps(values.as_mut_ptr(), lanes(n), best);
                let halves = [
                    _mm512_castsi512_si256(at),
                    _mm512_extracti64x4_epi64::<1>(at),
                ];
                for (h, half) in halves.into_iter().enumerate() {
                    let kept = n.saturating_sub(8 * h).min(8);
                    if kept > 0 {
                        let wide = _mm512_cvtepi32_epi64(half);
                        let mask = lanes(kept) as __mmask8;
                        _mm512_mask_storeu_epi64(indices.as_mut_ptr().add(8 * h), mask, wide);
                    }
                }
            }
        }
    }

    /// A mask of the first `n` (at most 16) lanes.
    fn lanes(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// Max pooling's gradient: each output's gradient goes to the input element it picked.
pub(super) fn max_pool2d_backward_input(s: &PoolShape, dy: &[f32], indices: &[i64]) -> Vec<f32> {
    let (hw, ohw) = (s.h * s.w, s.oh() * s.ow());
    let mut dx = vec![0.0; s.planes * hw];
    dx.par_chunks_mut(hw)
        .zip(dy.par_chunks(ohw).zip(indices.par_chunks(ohw)))
        .with_min_len(s.min_planes())
        .for_each(|(dx, (dy, indices))| {
            for (&g, &i) in dy.iter().zip(indices) {
                dx[i as usize] += g;
            }
        });
    dx
}

/// Average pooling (sliding or adaptive windows): each window's sum over its divisor; a window
/// entirely in padding gives 0.
pub(super) fn avg_pool2d_forward(s: &PoolShape, x: &[f32], count_padding: bool) -> Vec<f32> {
    let (hw, ohw) = (s.h * s.w, s.oh() * s.ow());
    let mut y = vec![0.0; s.planes * ohw];
    y.par_chunks_mut(ohw)
        .zip(x.par_chunks(hw))
        .with_min_len(s.min_planes())
        .for_each(|(y, plane)| {
            let windows = s
                .rows
                .iter()
                .flat_map(|ry| s.cols.iter().map(move |rx| (ry, rx)));
            for (out, (ry, rx)) in y.iter_mut().zip(windows) {
                if ry.count == 0 || rx.count == 0 {
                    continue;
                }
                let sum = if rx.start == 0 && rx.count == s.w {
                    // Whole rows (global pooling, as in SE blocks) are one run: summed in lanes,
                    // not one add after another.
                    lane_sum(&plane[ry.start * s.w..][..ry.count * s.w], |v| v) as f32
                } else {
                    (ry.start..ry.start + ry.count)
                        .map(|iy| plane[iy * s.w + rx.start..][..rx.count].iter().sum::<f32>())
                        .sum()
                };
                *out = sum / PoolShape::divisor(ry, rx, count_padding);
            }
        });
    y
}

/// Average pooling's gradient: each output's gradient over its divisor, spread over its window.
pub(super) fn avg_pool2d_backward_input(
    s: &PoolShape,
    dy: &[f32],
    count_padding: bool,
) -> Vec<f32> {
    let (hw, ohw) = (s.h * s.w, s.oh() * s.ow());
    let mut dx = vec![0.0; s.planes * hw];
    dx.par_chunks_mut(hw)
        .zip(dy.par_chunks(ohw))
        .with_min_len(s.min_planes())
        .for_each(|(dx, dy)| {
            let windows = s
                .rows
                .iter()
                .flat_map(|ry| s.cols.iter().map(move |rx| (ry, rx)));
            for (&g, (ry, rx)) in dy.iter().zip(windows) {
                if ry.count == 0 || rx.count == 0 {
                    continue;
                }
                let share = g / PoolShape::divisor(ry, rx, count_padding);
                for iy in ry.start..ry.start + ry.count {
                    for d in &mut dx[iy * s.w + rx.start..][..rx.count] {
                        *d += share;
                    }
                }
            }
        });
    dx
}
