//! Rotation of 8-bit images about their centre with nearest-neighbour sampling, as torchvision's
//! `rotate` does it on tensors: exact quarter turns by transposition, any other angle through an
//! inverse affine grid in float32 sampled like `grid_sample(mode="nearest", align_corners=False)`.

use super::Hwc;
use crate::alloc;
use crate::error::{Error, Result};

impl Hwc {
    /// Rotates counter-clockwise by `angle` degrees; uncovered pixels get `fill`; `expand`
    /// grows the canvas to hold the whole rotated image.
    pub(super) fn rotate(self, angle: f64, fill: u8, expand: bool) -> Result<Hwc> {
        let angle = angle.rem_euclid(360.0);
        let square = self.height == self.width;
        match angle {
            0.0 => return Ok(self),
            180.0 => return Ok(self.quarter_turns(2)),
            90.0 if expand || square => return Ok(self.quarter_turns(1)),
            270.0 if expand || square => return Ok(self.quarter_turns(3)),
            _ => {}
        }
        let rad = (-angle).to_radians();
        // torchvision's `_get_inverse_affine_matrix` for a pure rotation about the centre.
        let matrix = [rad.cos(), rad.sin(), 0.0, -rad.sin(), rad.cos(), 0.0].map(|v| v as f32);
        let (width, height) = if expand {
            expanded_size(&matrix, self.width, self.height)
        } else {
            (self.width, self.height)
        };
        let c = self.channels;
        let len = height
            .checked_mul(width)
            .and_then(|n| n.checked_mul(c))
            .ok_or_else(|| {
                Error::invalid(
                    "randomRotation",
                    "the rotated image is larger than any memory",
                )
            })?;
        let mut out = alloc::filled("randomRotation", len, fill)?;
        // The grid in normalised [-1, 1] input coordinates, as `_affine_grid` builds it.
        let (half_w, half_h) = (
            (0.5 * self.width as f64) as f32,
            (0.5 * self.height as f64) as f32,
        );
        let theta = [
            matrix[0] / half_w,
            matrix[1] / half_w,
            matrix[2] / half_w,
            matrix[3] / half_h,
            matrix[4] / half_h,
            matrix[5] / half_h,
        ];
        let (scale_x, scale_y) = (self.width as f32 / 2.0, self.height as f32 / 2.0);
        let source = |g: f32, scale: f32, size: usize| {
            let i = ((g + 1.0) * scale - 0.5).round_ties_even();
            (i >= 0.0 && i < size as f32).then_some(i as usize)
        };
        for (oy, row) in out.chunks_exact_mut(width * c).enumerate() {
            let by = ((1.0 - height as f64) * 0.5) as f32 + oy as f32;
            for (ox, px) in row.chunks_exact_mut(c).enumerate() {
                let bx = ((1.0 - width as f64) * 0.5) as f32 + ox as f32;
                let gx = bx * theta[0] + by * theta[1] + theta[2];
                let gy = bx * theta[3] + by * theta[4] + theta[5];
                if let (Some(x), Some(y)) = (
                    source(gx, scale_x, self.width),
                    source(gy, scale_y, self.height),
                ) {
                    let at = (y * self.width + x) * c;
                    px.copy_from_slice(&self.data[at..at + c]);
                }
            }
        }
        Ok(Hwc {
            data: out,
            height,
            width,
            channels: c,
        })
    }

    /// `torch.rot90(image, k)` over the height and width: `k` counter-clockwise quarter turns.
    fn quarter_turns(self, k: usize) -> Hwc {
        let (h, w, c) = (self.height, self.width, self.channels);
        let (oh, ow) = if k % 2 == 1 { (w, h) } else { (h, w) };
        let mut out = Vec::with_capacity(self.data.len());
        for i in 0..oh {
            for j in 0..ow {
                let (y, x) = match k {
                    1 => (j, w - 1 - i),
                    2 => (h - 1 - i, w - 1 - j),
                    _ => (h - 1 - j, i),
                };
                let at = (y * w + x) * c;
                out.extend_from_slice(&self.data[at..at + c]);
            }
        }
        Hwc {
            data: out,
            height: oh,
            width: ow,
            channels: c,
        }
    }
}

/// The canvas `(width, height)` holding the rotated corners, computed in float32 with
/// torchvision's 1e-4 truncation before rounding outwards.
fn expanded_size(matrix: &[f32; 6], width: usize, height: usize) -> (usize, usize) {
    let (half_w, half_h) = ((0.5 * width as f64) as f32, (0.5 * height as f64) as f32);
    let corners = [
        (-half_w, -half_h),
        (-half_w, half_h),
        (half_w, half_h),
        (half_w, -half_h),
    ];
    let (mut min, mut max) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for (x, y) in corners {
        let p = [
            x * matrix[0] + y * matrix[1] + matrix[2],
            x * matrix[3] + y * matrix[4] + matrix[5],
        ];
        for d in 0..2 {
            min[d] = min[d].min(p[d]);
            max[d] = max[d].max(p[d]);
        }
    }
    let (tol, inverse_tol) = (1e-4f64 as f32, (1.0f64 / 1e-4) as f32);
    let size = |d: usize, half: f32| {
        let hi = (((max[d] + half) * inverse_tol).trunc() * tol).ceil();
        let lo = (((min[d] + half) * inverse_tol).trunc() * tol).floor();
        (hi - lo) as usize
    };
    (size(0, half_w), size(1, half_h))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x3 one-channel image 0..6.
    fn tiny() -> Hwc {
        Hwc {
            data: (0..6).collect(),
            height: 2,
            width: 3,
            channels: 1,
        }
    }

    #[test]
    fn quarter_turns_match_rot90() {
        // torch.rot90(torch.arange(6).reshape(2, 3), 1) == [[2, 5], [1, 4], [0, 3]]
        let r = tiny().rotate(90.0, 0, true).unwrap();
        assert_eq!((r.height, r.width, r.data), (3, 2, vec![2, 5, 1, 4, 0, 3]));
        let r = tiny().rotate(-90.0, 0, true).unwrap();
        assert_eq!(r.data, vec![3, 0, 4, 1, 5, 2]);
        assert_eq!(
            tiny().rotate(540.0, 0, false).unwrap().data,
            vec![5, 4, 3, 2, 1, 0]
        );
    }

    #[test]
    fn a_non_square_quarter_turn_without_expand_keeps_the_canvas_and_fills() {
        let r = tiny().rotate(90.0, 9, false).unwrap();
        assert_eq!((r.height, r.width), (2, 3));
        assert!(r.data.contains(&9));
    }

    #[test]
    fn expand_grows_the_canvas_for_the_rotated_corners() {
        let image = Hwc {
            data: vec![1; 10 * 20],
            height: 10,
            width: 20,
            channels: 1,
        };
        let r = image.rotate(45.0, 0, true).unwrap();
        // 20 cos 45 + 10 sin 45 = 21.2: 22 wide and high.
        assert_eq!((r.height, r.width), (22, 22));
    }
}
