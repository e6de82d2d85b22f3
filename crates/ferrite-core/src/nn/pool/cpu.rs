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
