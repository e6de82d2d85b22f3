//! Bilinear resizing of 8-bit images as torchvision's tensor path does it on the CPU
//! (`_upsample_bilinear2d_aa` on uint8, itself Pillow's `Resample.c`): separable passes,
//! horizontal first, each with a triangle filter whose support grows with the downscale factor
//! when antialiasing, weights normalised per output pixel and applied in 16-bit fixed point,
//! every pass rounded and clamped back to bytes.

use rayon::prelude::*;

use super::Hwc;
use crate::alloc;
use crate::error::{Error, Result};

/// The output `[height, width]` of `Resize(size, max_size)`: one number resizes the shorter side
/// and scales the longer one by `int(size * long / short)`, as torchvision rounds it.
pub(super) fn output_size(
    [height, width]: [usize; 2],
    size: &[usize],
    max_size: Option<usize>,
) -> Result<[usize; 2]> {
    match *size {
        [h, w] => Ok([h, w]),
        [requested] => {
            let (short, long) = if width <= height {
                (width, height)
            } else {
                (height, width)
            };
            let (mut new_short, mut new_long) = (
                requested,
                (requested as f64 * long as f64 / short as f64) as usize,
            );
            if let Some(max) = max_size {
                if new_long > max {
                    (new_short, new_long) = (
                        (max as f64 * new_short as f64 / new_long as f64) as usize,
                        max,
                    );
                }
            }
            Ok(if width <= height {
                [new_long, new_short]
            } else {
                [new_short, new_long]
            })
        }
        _ => Err(Error::invalid(
            "resize",
            format!("size must have 1 or 2 values, got {}", size.len()),
        )),
    }
}

/// For each output position along one axis: the first input index, how many inputs it reads,
/// and their fixed-point weights (`taps` per position, zero-padded).
struct Filter {
    starts: Vec<usize>,
    counts: Vec<usize>,
    weights: Vec<i32>,
    taps: usize,
    precision: u32,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

impl Filter {
    fn new(input: usize, output: usize, antialias: bool) -> Filter {
        let scale = input as f64 / output as f64;
        let (support, taps) = if antialias {
            let support = if scale >= 1.0 { scale } else { 1.0 };
            (support, support.ceil() as usize * 2 + 1)
        } else {
            (1.0, 2)
        };
        let inverse_scale = if scale >= 1.0 && antialias {
            1.0 / scale
        } else {
            1.0
        };
        let mut starts = Vec::with_capacity(output);
        let mut counts = Vec::with_capacity(output);
        let mut real = vec![0f64; output * taps];
        for (i, w) in real.chunks_exact_mut(taps).enumerate() {
            let center = scale * (i as f64 + 0.5);
            // C++'s casts truncate toward zero before the clamp, and so do Rust's.
            let start = ((center - support + 0.5) as i64).max(0);
            let end = ((center + support + 0.5) as i64).min(input as i64);
            let count = (end - start).max(0) as usize;
            let mut total = 0.0;
            for (j, wj) in w[..count].iter_mut().enumerate() {
                *wj = triangle(((j as i64 + start) as f64 - center + 0.5) * inverse_scale);
                total += *wj;
            }
            if total != 0.0 {
                w[..count].iter_mut().for_each(|wj| *wj /= total);
            }
            starts.push(start as usize);
            counts.push(count);
        }
        // The most fractional bits that keep the largest weight below 2^15.
        let largest = real.iter().copied().fold(real[0], f64::max);
        let mut precision = 0;
        while precision < 22
            && ((0.5 + largest * (1u32 << (precision + 1)) as f64) as i32) < 1 << 15
        {
            precision += 1;
        }
        let weights = real
            .iter()
            .map(|&w| (0.5 + w * (1u32 << precision) as f64) as i32)
            .collect();
        Filter {
            starts,
            counts,
            weights,
            taps,
            precision,
        }
    }

    fn round(&self, sum: i32) -> u8 {
        ((sum + ((1 << self.precision) >> 1)) >> self.precision).clamp(0, 255) as u8
    }
}

/// Rows below this many bytes of output are not worth a task of their own.
const MIN_ROWS_PER_TASK: usize = 16;

/// Resamples along x: each output pixel of a row mixes `counts[x]` input pixels of that row.
fn horizontal(image: &Hwc, width: usize, filter: &Filter) -> Result<Hwc> {
    let c = image.channels;
    let mut out = alloc::filled("resize", image.height * width * c, 0u8)?;
    let row: fn(&[u8], &mut [u8], &Filter, usize) = match c {
        1 => horizontal_row::<1>,
        2 => horizontal_row::<2>,
        3 => horizontal_row::<3>,
        4 => horizontal_row::<4>,
        _ => horizontal_row_any,
    };
    out.par_chunks_mut(width * c)
        .zip(image.data.par_chunks(image.width * c))
        .with_min_len(MIN_ROWS_PER_TASK)
        .for_each(|(dst, src)| row(src, dst, filter, c));
    Ok(Hwc {
        data: out,
        height: image.height,
        width,
        channels: c,
    })
}

/// One row of `horizontal` for `C` channels, their sums kept side by side.
fn horizontal_row<const C: usize>(src: &[u8], dst: &mut [u8], filter: &Filter, _channels: usize) {
    for (x, px) in dst.chunks_exact_mut(C).enumerate() {
        let (start, count) = (filter.starts[x], filter.counts[x]);
        let weights = &filter.weights[x * filter.taps..][..count];
        let mut sums = [0i32; C];
        for (&w, p) in weights.iter().zip(src[start * C..].chunks_exact(C)) {
            for (s, &v) in sums.iter_mut().zip(p) {
                *s += w * v as i32;
            }
        }
        for (o, s) in px.iter_mut().zip(sums) {
            *o = filter.round(s);
        }
    }
}

/// One row of `horizontal` for any number of channels, one channel at a time.
fn horizontal_row_any(src: &[u8], dst: &mut [u8], filter: &Filter, c: usize) {
    for (x, px) in dst.chunks_exact_mut(c).enumerate() {
        let (start, count) = (filter.starts[x], filter.counts[x]);
        let weights = &filter.weights[x * filter.taps..][..count];
        for (ch, o) in px.iter_mut().enumerate() {
            let sum: i32 = weights
                .iter()
                .zip(src[start * c + ch..].iter().step_by(c))
                .map(|(&w, &v)| w * v as i32)
                .sum();
            *o = filter.round(sum);
        }
    }
}

/// Resamples along y: each output row mixes `counts[y]` whole input rows, so the inner loop runs
/// over contiguous bytes and vectorises (with AVX2 when the CPU has it).
fn vertical(image: &Hwc, height: usize, filter: &Filter) -> Result<Hwc> {
    let row = image.width * image.channels;
    let mut out = alloc::filled("resize", height * row, 0u8)?;
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    out.par_chunks_mut(row)
        .enumerate()
        .with_min_len(MIN_ROWS_PER_TASK)
        .for_each_init(
            || vec![0i32; row],
            |sums, (y, dst)| {
                let (start, count) = (filter.starts[y], filter.counts[y]);
                let weights = &filter.weights[y * filter.taps..][..count];
                let src = &image.data[start * row..(start + count) * row];
                #[cfg(target_arch = "x86_64")]
                if avx2 {
                    // SAFETY: the CPU has AVX2, checked above.
                    unsafe { vertical_row_avx2(src, weights, sums, dst, filter) };
                    return;
                }
                vertical_row(src, weights, sums, dst, filter);
            },
        );
    Ok(Hwc {
        data: out,
        height,
        width: image.width,
        channels: image.channels,
    })
}

/// One output row of `vertical`: `src` holds the `weights.len()` input rows it mixes.
#[inline(always)]
fn vertical_row(src: &[u8], weights: &[i32], sums: &mut [i32], dst: &mut [u8], filter: &Filter) {
    sums.fill(0);
    for (&w, input) in weights.iter().zip(src.chunks_exact(dst.len())) {
        for (s, &v) in sums.iter_mut().zip(input) {
            *s += w * v as i32;
        }
    }
    for (o, &s) in dst.iter_mut().zip(sums.iter()) {
        *o = filter.round(s);
    }
}

/// `vertical_row` compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_row_avx2(
    src: &[u8],
    weights: &[i32],
    sums: &mut [i32],
    dst: &mut [u8],
    filter: &Filter,
) {
    vertical_row(src, weights, sums, dst, filter)
}

impl Hwc {
    /// Bilinear resize to `[height, width]`, antialiased when shrinking if `antialias`.
    pub(super) fn resize(self, [height, width]: [usize; 2], antialias: bool) -> Result<Hwc> {
        if height == 0 || width == 0 {
            return Err(Error::invalid(
                "resize",
                format!("cannot resize to {height}x{width} pixels"),
            ));
        }
        if self.height == 0 || self.width == 0 {
            return Err(Error::invalid(
                "resize",
                format!(
                    "cannot resize an empty {}x{} image",
                    self.height, self.width
                ),
            ));
        }
        height
            .checked_mul(width)
            .and_then(|n| n.checked_mul(self.channels))
            .ok_or_else(|| {
                Error::invalid(
                    "resize",
                    format!("a {height}x{width} image is larger than any memory"),
                )
            })?;
        let mut image = self;
        if width != image.width {
            image = horizontal(&image, width, &Filter::new(image.width, width, antialias))?;
        }
        if height != image.height {
            image = vertical(
                &image,
                height,
                &Filter::new(image.height, height, antialias),
            )?;
        }
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(height: usize, width: usize, channels: usize, data: Vec<u8>) -> Hwc {
        Hwc {
            data,
            height,
            width,
            channels,
        }
    }

    #[test]
    fn the_shorter_side_is_resized_with_torchvisions_rounding() {
        // torchvision: _compute_resized_output_size((375, 500), [256]) == [256, 341]
        assert_eq!(output_size([375, 500], &[256], None).unwrap(), [256, 341]);
        assert_eq!(output_size([500, 375], &[256], None).unwrap(), [341, 256]);
        assert_eq!(output_size([37, 53], &[24], None).unwrap(), [24, 34]);
        assert_eq!(
            output_size([375, 500], &[256], Some(300)).unwrap(),
            [225, 300]
        );
        assert_eq!(output_size([10, 20], &[3, 4], None).unwrap(), [3, 4]);
    }

    #[test]
    fn halving_with_antialias_averages_pairs() {
        // Downscaling by 2: the triangle spans 4 inputs; edge pixels lose the taps that fall
        // outside, then the weights are renormalised: (0*3 + 100*3 + 200*1) / 7 and
        // (100*1 + 200*3 + 100*3) / 7. torchvision gives [71, 143].
        let out = image(1, 4, 1, vec![0, 100, 200, 100])
            .resize([1, 2], true)
            .unwrap();
        assert_eq!(out.data, vec![71, 143]);
    }

    #[test]
    fn constant_images_stay_constant_at_any_scale() {
        for (h, w, th, tw) in [(37, 53, 24, 34), (12, 9, 40, 31), (160, 120, 13, 10)] {
            let out = image(h, w, 3, vec![201; h * w * 3])
                .resize([th, tw], true)
                .unwrap();
            assert_eq!((out.height, out.width), (th, tw));
            assert!(out.data.iter().all(|&v| v == 201));
        }
    }
}
