//! torchvision's transforms for 8-bit images (`Pad`, `RandomHorizontalFlip`, `RandomCrop`,
//! `CenterCrop`, `Resize`, `RandomResizedCrop`, `ColorJitter`, `RandomRotation`, `Grayscale`)
//! and tensors (`ToTensor`, `Normalize`), applied to every image of a batch at its own size.

mod color;
mod resize;
mod rotate;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

pub use color::{ColorAdjustment, JitterRanges};

use super::{ImageRef, ImageSet};
use crate::alloc;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// Constant padding, in pixels per side.
    Pad {
        left: usize,
        top: usize,
        right: usize,
        bottom: usize,
        fill: u8,
    },
    RandomHorizontalFlip {
        p: f64,
    },
    /// Pads first (per side, left/top/right/bottom), then crops a random window.
    RandomCrop {
        height: usize,
        width: usize,
        padding: [usize; 4],
        pad_if_needed: bool,
        fill: u8,
    },
    CenterCrop {
        height: usize,
        width: usize,
    },
    /// Bilinear resize: `size` is `[shorter side]` (aspect ratio kept, the longer side capped at
    /// `max_size`) or `[height, width]`.
    Resize {
        size: Vec<usize>,
        max_size: Option<usize>,
        antialias: bool,
    },
    /// A crop of random area (`scale` of the image's) and aspect ratio (`ratio`, width over
    /// height) resized to `height` x `width`.
    RandomResizedCrop {
        height: usize,
        width: usize,
        scale: [f64; 2],
        ratio: [f64; 2],
        antialias: bool,
    },
    /// `RandomResizedCrop` with its crop given: the window at (`top`, `left`) of
    /// `crop_height` x `crop_width`, resized to `height` x `width` (torchvision's `resized_crop`).
    ResizedCrop {
        top: usize,
        left: usize,
        crop_height: usize,
        crop_width: usize,
        height: usize,
        width: usize,
        antialias: bool,
    },
    /// Brightness, contrast, saturation and hue factors drawn from their ranges, applied in a
    /// random order.
    ColorJitter(JitterRanges),
    /// `ColorJitter` with its draw given: these adjustments, in this order.
    AdjustColor(Vec<ColorAdjustment>),
    /// A rotation by an angle drawn uniformly from `degrees`, counter-clockwise.
    RandomRotation {
        degrees: [f64; 2],
        fill: u8,
        expand: bool,
    },
    /// `RandomRotation` with its angle given (torchvision's `rotate`).
    Rotate {
        angle: f64,
        fill: u8,
        expand: bool,
    },
    /// ITU-R 601-2 luma, as 1 or 3 channels.
    Grayscale {
        channels: usize,
    },
    /// HWC bytes to CHW floats in [0, 1].
    ToTensor,
    /// Per-channel `(x - mean) / std`, on the output of `ToTensor`.
    Normalize {
        mean: Vec<f32>,
        std: Vec<f32>,
    },
}

/// An image between two transforms: 8-bit pixels until `ToTensor`, floats after.
enum Sample {
    Bytes(Hwc),
    Floats(Chw),
}

/// 8-bit pixels, row-major with the channels of a pixel together.
#[derive(Debug)]
struct Hwc {
    data: Vec<u8>,
    height: usize,
    width: usize,
    channels: usize,
}

/// Float planes, one per channel.
struct Chw {
    data: Vec<f32>,
    channels: usize,
    height: usize,
    width: usize,
}

impl Sample {
    /// `[C, H, W]` floats: scaled by `ToTensor` earlier, or raw 0..255 values if it never ran.
    fn into_chw(self) -> Result<(Vec<f32>, [usize; 3])> {
        let image = match self {
            Sample::Floats(image) => image,
            Sample::Bytes(image) => image.to_chw(1.0)?,
        };
        Ok((image.data, [image.channels, image.height, image.width]))
    }
}

impl Hwc {
    fn to_chw(&self, scale: f32) -> Result<Chw> {
        let (height, width, channels) = (self.height, self.width, self.channels);
        let mut out = alloc::filled("toTensor", self.data.len(), 0f32)?;
        for c in 0..channels {
            let plane = &mut out[c * height * width..(c + 1) * height * width];
            for (o, px) in plane.iter_mut().zip(self.data.chunks_exact(channels)) {
                *o = px[c] as f32 * scale;
            }
        }
        Ok(Chw {
            data: out,
            channels,
            height,
            width,
        })
    }

    fn pad(self, [left, top, right, bottom]: [usize; 4], fill: u8) -> Result<Hwc> {
        let (height, width, channels) = (self.height, self.width, self.channels);
        let padded =
            |size: usize, before: usize, after: usize| size.checked_add(before)?.checked_add(after);
        let (h, w) = padded(height, top, bottom)
            .zip(padded(width, left, right))
            .ok_or_else(|| {
                Error::invalid("pad", "the padding makes the image larger than any memory")
            })?;
        let len = h
            .checked_mul(w)
            .and_then(|n| n.checked_mul(channels))
            .ok_or_else(|| {
                Error::invalid(
                    "pad",
                    format!("a padded image of {h}x{w} pixels is larger than any memory"),
                )
            })?;
        let mut out = alloc::filled("pad", len, fill)?;
        for y in 0..height {
            let src = &self.data[y * width * channels..(y + 1) * width * channels];
            let at = ((y + top) * w + left) * channels;
            out[at..at + width * channels].copy_from_slice(src);
        }
        Ok(Hwc {
            data: out,
            height: h,
            width: w,
            channels,
        })
    }

    fn flip_horizontally(&mut self) {
        let (width, channels) = (self.width, self.channels);
        for row in self.data.chunks_exact_mut(width * channels) {
            for x in 0..width / 2 {
                for c in 0..channels {
                    row.swap(x * channels + c, (width - 1 - x) * channels + c);
                }
            }
        }
    }

    /// The `[h, w]` window whose top-left pixel is at (`top`, `left`).
    fn crop(&self, top: usize, left: usize, [h, w]: [usize; 2]) -> Hwc {
        let channels = self.channels;
        let mut out = Vec::with_capacity(h * w * channels);
        for y in top..top + h {
            let at = (y * self.width + left) * channels;
            out.extend_from_slice(&self.data[at..at + w * channels]);
        }
        Hwc {
            data: out,
            height: h,
            width: w,
            channels,
        }
    }

    fn random_crop(
        self,
        [th, tw]: [usize; 2],
        padding: [usize; 4],
        pad_if_needed: bool,
        fill: u8,
        rng: &mut StdRng,
    ) -> Result<Hwc> {
        let mut image = self.pad(padding, fill)?;
        if pad_if_needed && (image.width < tw || image.height < th) {
            let (dx, dy) = (
                tw.saturating_sub(image.width),
                th.saturating_sub(image.height),
            );
            image = image.pad([dx, dy, dx, dy], fill)?;
        }
        let (height, width) = (image.height, image.width);
        if height < th || width < tw {
            return Err(Error::invalid(
                "randomCrop",
                format!("required crop size ({th}, {tw}) is larger than the input image size ({height}, {width})"),
            ));
        }
        let top = rng.random_range(0..=height - th);
        let left = rng.random_range(0..=width - tw);
        Ok(image.crop(top, left, [th, tw]))
    }

    fn center_crop(self, [th, tw]: [usize; 2]) -> Result<Hwc> {
        let image = if self.height < th || self.width < tw {
            // torchvision pads with zeros when the crop is larger than the image.
            let (dx, dy) = (
                tw.saturating_sub(self.width),
                th.saturating_sub(self.height),
            );
            self.pad([dx / 2, dy / 2, dx - dx / 2, dy - dy / 2], 0)?
        } else {
            self
        };
        // torchvision rounds the offsets: int(round((h - th) / 2.0)).
        let top = ((image.height - th) as f64 / 2.0).round_ties_even() as usize;
        let left = ((image.width - tw) as f64 / 2.0).round_ties_even() as usize;
        Ok(image.crop(top, left, [th, tw]))
    }
}

impl Chw {
    fn normalize(mut self, mean: &[f32], std: &[f32]) -> Result<Chw> {
        let channels = self.channels;
        if mean.len() != channels || std.len() != channels {
            return Err(Error::shape(
                "normalize",
                format!(
                    "got {} means and {} stds for an image with {channels} channels",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        let plane = self.height * self.width;
        for (c, values) in self.data.chunks_exact_mut(plane).enumerate() {
            let (m, s) = (mean[c], std[c]);
            for v in values {
                *v = (*v - m) / s;
            }
        }
        Ok(self)
    }
}

fn apply(image: ImageRef<'_>, transforms: &[Transform], rng: &mut StdRng) -> Result<Sample> {
    let mut sample = Sample::Bytes(Hwc {
        data: image.pixels.to_vec(),
        height: image.height,
        width: image.width,
        channels: image.channels,
    });
    for t in transforms {
        sample = apply_one(t, sample, rng)?;
    }
    Ok(sample)
}

fn apply_one(t: &Transform, sample: Sample, rng: &mut StdRng) -> Result<Sample> {
    use Sample::{Bytes, Floats};
    Ok(match (t, sample) {
        (
            Transform::Pad {
                left,
                top,
                right,
                bottom,
                fill,
            },
            Bytes(image),
        ) => Bytes(image.pad([*left, *top, *right, *bottom], *fill)?),
        (Transform::RandomHorizontalFlip { p }, Bytes(mut image)) => {
            if rng.random::<f64>() < *p {
                image.flip_horizontally();
            }
            Bytes(image)
        }
        (
            Transform::RandomCrop {
                height,
                width,
                padding,
                pad_if_needed,
                fill,
            },
            Bytes(image),
        ) => Bytes(image.random_crop([*height, *width], *padding, *pad_if_needed, *fill, rng)?),
        (Transform::CenterCrop { height, width }, Bytes(image)) => {
            Bytes(image.center_crop([*height, *width])?)
        }
        (
            Transform::Resize {
                size,
                max_size,
                antialias,
            },
            Bytes(image),
        ) => {
            let to = resize::output_size([image.height, image.width], size, *max_size)?;
            Bytes(image.resize(to, *antialias)?)
        }
        (
            Transform::RandomResizedCrop {
                height,
                width,
                scale,
                ratio,
                antialias,
            },
            Bytes(image),
        ) => {
            let [top, left, h, w] = random_resized_crop_window(&image, *scale, *ratio, rng);
            Bytes(
                image
                    .crop(top, left, [h, w])
                    .resize([*height, *width], *antialias)?,
            )
        }
        (
            Transform::ResizedCrop {
                top,
                left,
                crop_height,
                crop_width,
                height,
                width,
                antialias,
            },
            Bytes(image),
        ) => {
            if top + crop_height > image.height
                || left + crop_width > image.width
                || *crop_height == 0
                || *crop_width == 0
            {
                return Err(Error::invalid(
                    "resizedCrop",
                    format!(
                        "the {crop_height}x{crop_width} window at ({top}, {left}) is not inside the {}x{} image",
                        image.height, image.width
                    ),
                ));
            }
            Bytes(
                image
                    .crop(*top, *left, [*crop_height, *crop_width])
                    .resize([*height, *width], *antialias)?,
            )
        }
        (Transform::ColorJitter(ranges), Bytes(image)) => {
            Bytes(image.adjust_colors(&ranges.draw(rng))?)
        }
        (Transform::AdjustColor(adjustments), Bytes(image)) => {
            Bytes(image.adjust_colors(adjustments)?)
        }
        (
            Transform::RandomRotation {
                degrees: [lo, hi],
                fill,
                expand,
            },
            Bytes(image),
        ) => {
            let angle = lo + (hi - lo) * rng.random::<f64>();
            Bytes(image.rotate(angle, *fill, *expand)?)
        }
        (
            Transform::Rotate {
                angle,
                fill,
                expand,
            },
            Bytes(image),
        ) => Bytes(image.rotate(*angle, *fill, *expand)?),
        (Transform::Grayscale { channels }, Bytes(image)) => Bytes(image.grayscale(*channels)?),
        (Transform::ToTensor, Bytes(image)) => Floats(image.to_chw(1.0 / 255.0)?),
        (Transform::Normalize { mean, std }, Floats(image)) => Floats(image.normalize(mean, std)?),
        (Transform::Normalize { .. }, Bytes(_)) => {
            return Err(Error::invalid(
                "normalize",
                "normalize works on tensors: put toTensor() before normalize()",
            ));
        }
        (other, Floats(_)) => {
            return Err(Error::invalid(
                "transforms",
                format!("{other:?} works on images: put it before toTensor()"),
            ));
        }
    })
}

/// torchvision's `RandomResizedCrop.get_params`: up to 10 draws of an area fraction in `scale`
/// and a log-uniform aspect ratio in `ratio` until the window fits, else the centred window of
/// the ratio clamped into `ratio`. Returns `[top, left, height, width]`.
fn random_resized_crop_window(
    image: &Hwc,
    [scale_lo, scale_hi]: [f64; 2],
    [ratio_lo, ratio_hi]: [f64; 2],
    rng: &mut StdRng,
) -> [usize; 4] {
    let (height, width) = (image.height as f64, image.width as f64);
    let area = height * width;
    let (log_lo, log_hi) = (ratio_lo.ln(), ratio_hi.ln());
    for _ in 0..10 {
        let target_area = area * (scale_lo + (scale_hi - scale_lo) * rng.random::<f64>());
        let aspect = (log_lo + (log_hi - log_lo) * rng.random::<f64>()).exp();
        // Python's round() halves to even, as `round_ties_even`.
        let w = (target_area * aspect).sqrt().round_ties_even();
        let h = (target_area / aspect).sqrt().round_ties_even();
        if 0.0 < w && w <= width && 0.0 < h && h <= height {
            let (w, h) = (w as usize, h as usize);
            let top = rng.random_range(0..=image.height - h);
            let left = rng.random_range(0..=image.width - w);
            return [top, left, h, w];
        }
    }
    let in_ratio = width / height;
    let (min_ratio, max_ratio) = (ratio_lo.min(ratio_hi), ratio_lo.max(ratio_hi));
    let (h, w) = if in_ratio < min_ratio {
        ((width / min_ratio).round_ties_even() as usize, image.width)
    } else if in_ratio > max_ratio {
        (
            image.height,
            (height * max_ratio).round_ties_even() as usize,
        )
    } else {
        (image.height, image.width)
    };
    [(image.height - h) / 2, (image.width - w) / 2, h, w]
}

/// Derives the generator of one sample from the batch seed, so results don't depend on which
/// thread handles which sample.
fn sample_rng(seed: u64, position: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (position as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Transforms the images at `indices` and stacks them: images `[B, C, H, W]` float32 and
/// labels `[B]` int64.
pub fn load_batch(
    set: &ImageSet,
    indices: &[usize],
    transforms: &[Transform],
    seed: u64,
) -> Result<(Tensor, Tensor)> {
    let samples: Vec<(Vec<f32>, [usize; 3])> = indices
        .par_iter()
        .enumerate()
        .map(|(position, &index)| {
            apply(
                set.image(index)?,
                transforms,
                &mut sample_rng(seed, position),
            )?
            .into_chw()
        })
        .collect::<Result<_>>()?;
    let shape = samples.first().map(|s| s.1).unwrap_or([0, 0, 0]);
    if let Some((i, (_, other))) = samples.iter().enumerate().find(|(_, s)| s.1 != shape) {
        return Err(Error::shape(
            "DataLoader",
            format!(
                "images in a batch must have one size, but after the transforms image {} is {}x{} with {} channels and image {} is {}x{} with {} channels; end the image transforms with one that gives every image one size (centerCrop, randomCrop, randomResizedCrop or resize to [height, width])",
                indices[i], other[1], other[2], other[0], indices[0], shape[1], shape[2], shape[0]
            ),
        ));
    }
    let mut data = alloc::with_capacity("DataLoader", samples.iter().map(|s| s.0.len()).sum())?;
    for (s, _) in &samples {
        data.extend_from_slice(s);
    }
    let labels = indices.iter().map(|&i| set.labels()[i]).collect();
    Ok((
        Tensor::from_f32(data, &[indices.len(), shape[0], shape[1], shape[2]])?,
        Tensor::from_i64(labels, &[indices.len()])?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x3 RGB image whose bytes encode their own position.
    fn tiny() -> ImageSet {
        let pixels: Vec<u8> = (0..18).collect();
        let mut set = ImageSet::new();
        set.push(&pixels, 2, 3, 3, 4).unwrap();
        set
    }

    #[test]
    fn to_tensor_and_normalize_make_chw_floats() {
        let (x, y) = load_batch(
            &tiny(),
            &[0],
            &[
                Transform::ToTensor,
                Transform::Normalize {
                    mean: vec![0.0, 0.5, 1.0],
                    std: vec![1.0, 2.0, 0.5],
                },
            ],
            0,
        )
        .unwrap();
        assert_eq!(x.shape(), &[1, 3, 2, 3]);
        assert_eq!(y.to_vec_i64().unwrap(), vec![4]);
        let v = x.to_vec_f32().unwrap();
        assert!((v[0] - 0.0).abs() < 1e-7 && (v[1] - 3.0 / 255.0).abs() < 1e-7);
        assert!((v[6] - (1.0 / 255.0 - 0.5) / 2.0).abs() < 1e-6, "{}", v[6]);
    }

    #[test]
    fn pad_flip_and_crop_move_pixels_like_torchvision() {
        let set = tiny();
        let (x, _) = load_batch(
            &set,
            &[0],
            &[Transform::Pad {
                left: 1,
                top: 0,
                right: 0,
                bottom: 0,
                fill: 9,
            }],
            0,
        )
        .unwrap();
        assert_eq!(x.shape(), &[1, 3, 2, 4]);
        assert_eq!(x.to_vec_f32().unwrap()[..4], [9.0, 0.0, 3.0, 6.0]);
        let (f, _) =
            load_batch(&set, &[0], &[Transform::RandomHorizontalFlip { p: 1.0 }], 0).unwrap();
        assert_eq!(f.to_vec_f32().unwrap()[..3], [6.0, 3.0, 0.0]);
        let (c, _) = load_batch(
            &set,
            &[0],
            &[Transform::CenterCrop {
                height: 2,
                width: 1,
            }],
            0,
        )
        .unwrap();
        assert_eq!(c.to_vec_f32().unwrap()[..2], [3.0, 12.0]);
    }

    #[test]
    fn random_crop_covers_every_offset_and_is_seeded() {
        let set = tiny();
        let crop = [Transform::RandomCrop {
            height: 2,
            width: 2,
            padding: [1, 1, 1, 1],
            pad_if_needed: false,
            fill: 0,
        }];
        let firsts: std::collections::HashSet<u32> = (0..200)
            .map(|seed| {
                load_batch(&set, &[0], &crop, seed)
                    .unwrap()
                    .0
                    .to_vec_f32()
                    .unwrap()[3] as u32
            })
            .collect();
        assert!(firsts.len() >= 4, "offsets seen: {firsts:?}");
        let a = load_batch(&set, &[0, 0], &crop, 42)
            .unwrap()
            .0
            .to_vec_f32()
            .unwrap();
        let b = load_batch(&set, &[0, 0], &crop, 42)
            .unwrap()
            .0
            .to_vec_f32()
            .unwrap();
        assert_eq!(a, b);
        let too_big = [Transform::RandomCrop {
            height: 5,
            width: 5,
            padding: [0; 4],
            pad_if_needed: false,
            fill: 0,
        }];
        assert_eq!(
            load_batch(&set, &[0], &too_big, 0).unwrap_err().code(),
            "InvalidArgument"
        );
    }

    /// Ferrite's `RandomResizedCrop` windows against statistics of torchvision's `make_params`
    /// (20000 draws each, test/fixtures/gen_transforms.py): means within 5 standard errors,
    /// spreads within 3%, and the share of draws that fell back to the centred window.
    #[test]
    fn random_resized_crop_samples_windows_like_torchvision() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test/fixtures/transforms/cases.json"
        );
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let floats = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let mut rng = StdRng::seed_from_u64(11);
        for case in fixture["sampling"].as_array().unwrap() {
            let (size, scale, ratio) = (
                floats(&case["size"]),
                floats(&case["scale"]),
                floats(&case["ratio"]),
            );
            let image = Hwc {
                data: Vec::new(),
                height: size[0] as usize,
                width: size[1] as usize,
                channels: 3,
            };
            let fallback: Vec<usize> = floats(&case["fallbackWindow"])
                .iter()
                .map(|&v| v as usize)
                .collect();
            let n = case["draws"].as_u64().unwrap() as usize;
            let draws: Vec<[usize; 4]> = (0..n)
                .map(|_| {
                    random_resized_crop_window(
                        &image,
                        [scale[0], scale[1]],
                        [ratio[0], ratio[1]],
                        &mut rng,
                    )
                })
                .collect();
            let (want_mean, want_std) = (floats(&case["mean"]), floats(&case["std"]));
            for k in 0..4 {
                let mean = draws.iter().map(|d| d[k] as f64).sum::<f64>() / n as f64;
                let std = (draws
                    .iter()
                    .map(|d| (d[k] as f64 - mean).powi(2))
                    .sum::<f64>()
                    / n as f64)
                    .sqrt();
                let standard_error = want_std[k] * (2.0 / n as f64).sqrt();
                assert!(
                    (mean - want_mean[k]).abs() <= 5.0 * standard_error + 1e-9,
                    "{size:?} field {k}: mean {mean} vs torchvision {}",
                    want_mean[k]
                );
                assert!(
                    (std - want_std[k]).abs() <= 0.03 * want_std[k] + 1e-9,
                    "{size:?} field {k}: std {std} vs torchvision {}",
                    want_std[k]
                );
            }
            let share = draws.iter().filter(|d| d[..] == fallback[..]).count() as f64 / n as f64;
            let want = case["fallbackFraction"].as_f64().unwrap();
            let tolerance = 5.0 * (want * (1.0 - want) * 2.0 / n as f64).sqrt() + 2e-3;
            assert!(
                (share - want).abs() <= tolerance,
                "{size:?}: fallback share {share} vs torchvision {want}"
            );
        }
    }

    #[test]
    fn padding_beyond_memory_is_a_typed_error() {
        let pad = |side: usize| {
            let t = [Transform::Pad {
                left: side,
                top: side,
                right: side,
                bottom: side,
                fill: 0,
            }];
            load_batch(&tiny(), &[0], &t, 0).unwrap_err().code()
        };
        // 2^21 x 2^21 pixels of 3 bytes: more than the limit (the machine's memory) allows.
        assert_eq!(pad(1 << 20), "OutOfMemory");
        // Sizes whose product or sum overflows.
        assert_eq!(pad(1 << 40), "InvalidArgument");
        assert_eq!(pad(usize::MAX / 2), "InvalidArgument");
    }

    #[test]
    fn misordered_pipelines_and_bad_indices_are_errors() {
        let set = tiny();
        assert_eq!(
            load_batch(
                &set,
                &[0],
                &[Transform::Normalize {
                    mean: vec![0.0; 3],
                    std: vec![1.0; 3]
                }],
                0
            )
            .unwrap_err()
            .code(),
            "InvalidArgument"
        );
        assert_eq!(
            load_batch(
                &set,
                &[0],
                &[
                    Transform::ToTensor,
                    Transform::RandomHorizontalFlip { p: 0.5 }
                ],
                0
            )
            .unwrap_err()
            .code(),
            "InvalidArgument"
        );
        assert_eq!(
            load_batch(&set, &[3], &[], 0).unwrap_err().code(),
            "IndexOutOfRange"
        );
    }
}
