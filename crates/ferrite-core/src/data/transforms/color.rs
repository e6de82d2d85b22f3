//! Color transforms on 8-bit images with the arithmetic of torchvision's uint8 tensor path:
//! float32 values, `a * r + b * (1 - r)` as one fused multiply-add (PyTorch's vectorised
//! `add(alpha=)`), clamped and truncated back to bytes.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::Hwc;
use crate::error::{Error, Result};

/// One of `ColorJitter`'s four adjustments with its factor (torchvision's `adjust_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColorAdjustment {
    Brightness(f64),
    Contrast(f64),
    Saturation(f64),
    Hue(f64),
}

/// `ColorJitter`'s ranges: each factor is drawn uniformly from its range; `None` leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JitterRanges {
    pub brightness: Option<[f64; 2]>,
    pub contrast: Option<[f64; 2]>,
    pub saturation: Option<[f64; 2]>,
    pub hue: Option<[f64; 2]>,
}

impl JitterRanges {
    /// torchvision's `make_params`: a random order of the four, then each present factor.
    pub(super) fn draw(&self, rng: &mut StdRng) -> Vec<ColorAdjustment> {
        let mut order = [0, 1, 2, 3];
        order.shuffle(rng);
        let mut draw =
            |range: Option<[f64; 2]>| range.map(|[lo, hi]| lo + (hi - lo) * rng.random::<f64>());
        let (b, c, s, h) = (
            draw(self.brightness),
            draw(self.contrast),
            draw(self.saturation),
            draw(self.hue),
        );
        order
            .iter()
            .filter_map(|i| match i {
                0 => b.map(ColorAdjustment::Brightness),
                1 => c.map(ColorAdjustment::Contrast),
                2 => s.map(ColorAdjustment::Saturation),
                _ => h.map(ColorAdjustment::Hue),
            })
            .collect()
    }
}

// torchvision's Python constants, rounded to float32 as PyTorch rounds a scalar operand.
const RED: f32 = 0.2989f64 as f32;
const GREEN: f32 = 0.587f64 as f32;
const BLUE: f32 = 0.114f64 as f32;
const ONE_255TH: f32 = (1.0f64 / 255.0) as f32;
const ONE_SIXTH: f32 = (1.0f64 / 6.0) as f32;
/// `to_dtype(float32 -> uint8, scale=True)` multiplies by 255 + 1 - 1e-3 and truncates.
const TO_BYTE: f32 = 255.999f64 as f32;

/// ITU-R 601-2 luma in float32, as torchvision sums it: `r * 0.2989 + g * 0.587 + b * 0.114`.
#[inline(always)]
fn luma(px: &[u8]) -> f32 {
    (px[2] as f32).mul_add(BLUE, (px[1] as f32).mul_add(GREEN, px[0] as f32 * RED))
}

/// torchvision's `_blend` on bytes: `clamp(x * ratio + other * (1 - ratio), 0, 255)`, truncated.
#[inline(always)]
fn blend(x: u8, other: f32, ratio: f32, other_ratio: f32) -> u8 {
    other
        .mul_add(other_ratio, x as f32 * ratio)
        .clamp(0.0, 255.0) as u8
}

impl Hwc {
    fn check_color(&self, op: &'static str) -> Result<()> {
        if self.channels == 1 || self.channels == 3 {
            Ok(())
        } else {
            Err(Error::invalid(
                op,
                format!(
                    "works on images with 1 or 3 channels, got {}",
                    self.channels
                ),
            ))
        }
    }

    /// Applies `adjustments` in order.
    pub(super) fn adjust_colors(mut self, adjustments: &[ColorAdjustment]) -> Result<Hwc> {
        self.check_color("colorJitter")?;
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked above.
            unsafe { self.apply_adjustments_avx2_fma(adjustments) };
            return Ok(self);
        }
        self.apply_adjustments(adjustments);
        Ok(self)
    }

    /// The adjustments in order. Everything below is inlined into the AVX2 + FMA copy, where
    /// `mul_add` is one instruction instead of a call to libm's `fmaf` per value (both are exact,
    /// so the results are the same).
    #[inline(always)]
    fn apply_adjustments(&mut self, adjustments: &[ColorAdjustment]) {
        for a in adjustments {
            match *a {
                ColorAdjustment::Brightness(f) => self.adjust_brightness(f),
                ColorAdjustment::Contrast(f) => self.adjust_contrast(f),
                ColorAdjustment::Saturation(f) => self.adjust_saturation(f),
                ColorAdjustment::Hue(f) => self.adjust_hue(f),
            }
        }
    }

    /// `apply_adjustments` compiled for AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn apply_adjustments_avx2_fma(&mut self, adjustments: &[ColorAdjustment]) {
        self.apply_adjustments(adjustments)
    }

    #[inline(always)]
    fn adjust_brightness(&mut self, factor: f64) {
        let f = factor as f32;
        for v in &mut self.data {
            *v = (*v as f32 * f).clamp(0.0, 255.0) as u8;
        }
    }

    /// Blends with the mean of the (floored) grayscale image.
    #[inline(always)]
    fn adjust_contrast(&mut self, factor: f64) {
        let sum: u64 = if self.channels == 3 {
            self.data.chunks_exact(3).map(|px| luma(px) as u64).sum()
        } else {
            self.data.iter().map(|&v| v as u64).sum()
        };
        let mean = sum as f32 / (self.height * self.width) as f32;
        let (ratio, other) = (factor as f32, (1.0 - factor) as f32);
        for v in &mut self.data {
            *v = blend(*v, mean, ratio, other);
        }
    }

    /// Blends every pixel with its own (floored) gray; a 1-channel image is left as is.
    #[inline(always)]
    fn adjust_saturation(&mut self, factor: f64) {
        if self.channels == 1 {
            return;
        }
        let (ratio, other) = (factor as f32, (1.0 - factor) as f32);
        for px in self.data.chunks_exact_mut(3) {
            let gray = luma(px).floor();
            for v in px {
                *v = blend(*v, gray, ratio, other);
            }
        }
    }

    /// Rotates the hue through HSV in float32, as torchvision's `_rgb_to_hsv`/`_hsv_to_rgb`.
    #[inline(always)]
    fn adjust_hue(&mut self, factor: f64) {
        if self.channels == 1 {
            return;
        }
        let shift = factor as f32;
        for px in self.data.chunks_exact_mut(3) {
            let [h, s, v] = rgb_to_hsv(px);
            // PyTorch's float `remainder`: fmod, moved into [0, 1) when negative.
            let h = match (h + shift) % 1.0 {
                m if m < 0.0 => m + 1.0,
                m => m,
            };
            let rgb = hsv_to_rgb([h, s, v]);
            for (o, c) in px.iter_mut().zip(rgb) {
                *o = (c * TO_BYTE) as u8;
            }
        }
    }

    /// `Grayscale(num_output_channels)`: the luma truncated to a byte, repeated 1 or 3 times.
    pub(super) fn grayscale(self, channels: usize) -> Result<Hwc> {
        self.check_color("grayscale")?;
        let gray: Vec<u8> = if self.channels == 1 {
            self.data
        } else {
            self.data.chunks_exact(3).map(|px| luma(px) as u8).collect()
        };
        Ok(Hwc {
            data: if channels == 1 {
                gray
            } else {
                gray.iter().flat_map(|&g| [g; 3]).collect()
            },
            height: self.height,
            width: self.width,
            channels,
        })
    }
}

#[inline(always)]
fn rgb_to_hsv(px: &[u8]) -> [f32; 3] {
    let [r, g, b] = [0, 1, 2].map(|c| px[c] as f32 * ONE_255TH);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let equal = max == min;
    let range = max - min;
    let s = range / if equal { 1.0 } else { max };
    let divisor = if equal { 1.0 } else { range };
    let (rc, gc, bc) = (
        (max - r) / divisor,
        (max - g) / divisor,
        (max - b) / divisor,
    );
    let h = if max == r {
        bc - gc
    } else if max == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    let h = (h * ONE_SIXTH + 1.0) % 1.0;
    [h, s, max]
}

#[inline(always)]
fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let h6 = h * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let sf = s * f;
    let one_minus_s = 1.0 - s;
    let q = ((1.0 - sf) * v).clamp(0.0, 1.0);
    let t = ((sf + one_minus_s) * v).clamp(0.0, 1.0);
    let p = (one_minus_s * v).clamp(0.0, 1.0);
    match (i as i32).rem_euclid(6) {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn pixel(rgb: [u8; 3]) -> Hwc {
        Hwc {
            data: rgb.to_vec(),
            height: 1,
            width: 1,
            channels: 3,
        }
    }

    #[test]
    fn grayscale_truncates_like_torchvision() {
        // 255 * (0.2989 + 0.587 + 0.114) = 254.97: torchvision's uint8 path gives 254.
        assert_eq!(pixel([255, 255, 255]).grayscale(1).unwrap().data, vec![254]);
        assert_eq!(
            pixel([10, 200, 30]).grayscale(3).unwrap().data,
            vec![123; 3]
        );
    }

    #[test]
    fn hue_round_trip_keeps_the_pixel_up_to_truncation() {
        for rgb in [[255, 0, 0], [12, 200, 99], [7, 7, 7], [0, 0, 255]] {
            let out = pixel(rgb)
                .adjust_colors(&[ColorAdjustment::Hue(0.0)])
                .unwrap();
            assert_eq!(out.data, rgb.to_vec(), "{rgb:?}");
        }
        // A half turn maps pure red to cyan.
        let cyan = pixel([255, 0, 0])
            .adjust_colors(&[ColorAdjustment::Hue(0.5)])
            .unwrap();
        assert_eq!(cyan.data, vec![0, 255, 255]);
    }

    #[test]
    fn jitter_draws_every_order_and_stays_in_range() {
        let ranges = JitterRanges {
            brightness: Some([0.5, 1.5]),
            contrast: None,
            saturation: Some([0.0, 2.0]),
            hue: Some([-0.1, 0.1]),
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mut orders = std::collections::HashSet::new();
        for _ in 0..200 {
            let drawn = ranges.draw(&mut rng);
            assert_eq!(drawn.len(), 3);
            orders.insert(format!(
                "{:?}",
                drawn.iter().map(std::mem::discriminant).collect::<Vec<_>>()
            ));
            for a in drawn {
                match a {
                    ColorAdjustment::Brightness(f) => assert!((0.5..1.5).contains(&f)),
                    ColorAdjustment::Saturation(f) => assert!((0.0..2.0).contains(&f)),
                    ColorAdjustment::Hue(f) => assert!((-0.1..0.1).contains(&f)),
                    ColorAdjustment::Contrast(_) => panic!("contrast was not asked for"),
                }
            }
        }
        assert_eq!(orders.len(), 6);
    }

    #[test]
    fn four_channel_images_are_refused() {
        let rgba = Hwc {
            data: vec![0; 4],
            height: 1,
            width: 1,
            channels: 4,
        };
        assert_eq!(
            rgba.adjust_colors(&[]).unwrap_err().code(),
            "InvalidArgument"
        );
    }
}
