//! torchvision's transforms for 8-bit images (`Pad`, `RandomHorizontalFlip`, `RandomCrop`,
//! `CenterCrop`) and tensors (`ToTensor`, `Normalize`), applied to a whole batch at once.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

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
    /// HWC bytes to CHW floats in [0, 1].
    ToTensor,
    /// Per-channel `(x - mean) / std`, on the output of `ToTensor`.
    Normalize {
        mean: Vec<f32>,
        std: Vec<f32>,
    },
}

/// An image between two transforms.
enum Sample {
    Bytes {
        data: Vec<u8>,
        height: usize,
        width: usize,
        channels: usize,
    },
    Floats {
        data: Vec<f32>,
        channels: usize,
        height: usize,
        width: usize,
    },
}

impl Sample {
    /// `[C, H, W]` floats: scaled by `ToTensor` earlier, or raw 0..255 values if it never ran.
    fn into_chw(self) -> Result<(Vec<f32>, [usize; 3])> {
        Ok(match self {
            Sample::Floats {
                data,
                channels,
                height,
                width,
            } => (data, [channels, height, width]),
            Sample::Bytes {
                data,
                height,
                width,
                channels,
            } => (
                to_chw(&data, height, width, channels, 1.0)?,
                [channels, height, width],
            ),
        })
    }
}

fn to_chw(
    hwc: &[u8],
    height: usize,
    width: usize,
    channels: usize,
    scale: f32,
) -> Result<Vec<f32>> {
    let mut out = alloc::filled("toTensor", hwc.len(), 0f32)?;
    for c in 0..channels {
        let plane = &mut out[c * height * width..(c + 1) * height * width];
        for (o, px) in plane.iter_mut().zip(hwc.chunks_exact(channels)) {
            *o = px[c] as f32 * scale;
        }
    }
    Ok(out)
}

fn pad(
    data: &[u8],
    height: usize,
    width: usize,
    channels: usize,
    [left, top, right, bottom]: [usize; 4],
    fill: u8,
) -> Result<(Vec<u8>, usize, usize)> {
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
        let src = &data[y * width * channels..(y + 1) * width * channels];
        let at = ((y + top) * w + left) * channels;
        out[at..at + width * channels].copy_from_slice(src);
    }
    Ok((out, h, w))
}

fn crop(
    data: &[u8],
    width: usize,
    channels: usize,
    top: usize,
    left: usize,
    h: usize,
    w: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(h * w * channels);
    for y in top..top + h {
        let at = (y * width + left) * channels;
        out.extend_from_slice(&data[at..at + w * channels]);
    }
    out
}

fn apply(image: ImageRef<'_>, transforms: &[Transform], rng: &mut StdRng) -> Result<Sample> {
    let mut sample = Sample::Bytes {
        data: image.pixels.to_vec(),
        height: image.height,
        width: image.width,
        channels: image.channels,
    };
    for t in transforms {
        sample = match (t, sample) {
            (
                Transform::Pad {
                    left,
                    top,
                    right,
                    bottom,
                    fill,
                },
                Sample::Bytes {
                    data,
                    height,
                    width,
                    channels,
                },
            ) => {
                let (data, height, width) = pad(
                    &data,
                    height,
                    width,
                    channels,
                    [*left, *top, *right, *bottom],
                    *fill,
                )?;
                Sample::Bytes {
                    data,
                    height,
                    width,
                    channels,
                }
            }
            (
                Transform::RandomHorizontalFlip { p },
                Sample::Bytes {
                    mut data,
                    height,
                    width,
                    channels,
                },
            ) => {
                if rng.random::<f64>() < *p {
                    for row in data.chunks_exact_mut(width * channels) {
                        for x in 0..width / 2 {
                            for c in 0..channels {
                                row.swap(x * channels + c, (width - 1 - x) * channels + c);
                            }
                        }
                    }
                }
                Sample::Bytes {
                    data,
                    height,
                    width,
                    channels,
                }
            }
            (
                Transform::RandomCrop {
                    height: th,
                    width: tw,
                    padding,
                    pad_if_needed,
                    fill,
                },
                Sample::Bytes {
                    data,
                    height,
                    width,
                    channels,
                },
            ) => {
                let (mut data, mut height, mut width) =
                    pad(&data, height, width, channels, *padding, *fill)?;
                if *pad_if_needed && (width < *tw || height < *th) {
                    let (dx, dy) = (tw.saturating_sub(width), th.saturating_sub(height));
                    (data, height, width) =
                        pad(&data, height, width, channels, [dx, dy, dx, dy], *fill)?;
                }
                if height < *th || width < *tw {
                    return Err(Error::invalid(
                        "randomCrop",
                        format!("required crop size ({th}, {tw}) is larger than the input image size ({height}, {width})"),
                    ));
                }
                let top = rng.random_range(0..=height - th);
                let left = rng.random_range(0..=width - tw);
                Sample::Bytes {
                    data: crop(&data, width, channels, top, left, *th, *tw),
                    height: *th,
                    width: *tw,
                    channels,
                }
            }
            (
                Transform::CenterCrop {
                    height: th,
                    width: tw,
                },
                Sample::Bytes {
                    data,
                    height,
                    width,
                    channels,
                },
            ) => {
                let (data, height, width) = if height < *th || width < *tw {
                    // torchvision pads with zeros when the crop is larger than the image.
                    let (dx, dy) = (tw.saturating_sub(width), th.saturating_sub(height));
                    pad(
                        &data,
                        height,
                        width,
                        channels,
                        [dx / 2, dy / 2, dx - dx / 2, dy - dy / 2],
                        0,
                    )?
                } else {
                    (data, height, width)
                };
                // torchvision rounds the offsets: int(round((h - th) / 2.0)).
                let top = ((height - th) as f64 / 2.0).round_ties_even() as usize;
                let left = ((width - tw) as f64 / 2.0).round_ties_even() as usize;
                Sample::Bytes {
                    data: crop(&data, width, channels, top, left, *th, *tw),
                    height: *th,
                    width: *tw,
                    channels,
                }
            }
            (
                Transform::ToTensor,
                Sample::Bytes {
                    data,
                    height,
                    width,
                    channels,
                },
            ) => Sample::Floats {
                data: to_chw(&data, height, width, channels, 1.0 / 255.0)?,
                channels,
                height,
                width,
            },
            (
                Transform::Normalize { mean, std },
                Sample::Floats {
                    mut data,
                    channels,
                    height,
                    width,
                },
            ) => {
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
                for (c, plane) in data.chunks_exact_mut(height * width).enumerate() {
                    let (m, s) = (mean[c], std[c]);
                    for v in plane {
                        *v = (*v - m) / s;
                    }
                }
                Sample::Floats {
                    data,
                    channels,
                    height,
                    width,
                }
            }
            (Transform::Normalize { .. }, Sample::Bytes { .. }) => {
                return Err(Error::invalid(
                    "normalize",
                    "normalize works on tensors: put toTensor() before normalize()",
                ));
            }
            (other, Sample::Floats { .. }) => {
                return Err(Error::invalid(
                    "transforms",
                    format!("{other:?} works on images: put it before toTensor()"),
                ));
            }
        };
    }
    Ok(sample)
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
                "images in a batch must have one shape, but image {} is {other:?} and image {} is {shape:?}; add a randomCrop or centerCrop transform",
                indices[i], indices[0]
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
