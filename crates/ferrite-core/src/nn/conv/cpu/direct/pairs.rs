//! bf16 products on the direct kernels. The operands are rounded to bf16 and paired along the
//! input channels, two values in each 32-bit slot, so the float32 tiling, packing and layouts run
//! unchanged on half as many channels of pairs, and each `vdpbf16ps` does the work of two FMAs.
//! The sums stay float32, as in PyTorch's autocast; rounding the operands costs one pass over the
//! input, writing half its bytes, where the bf16 gemm's packing reads each input nine times. The
//! weight gradient, whose sums run along positions, pairs positions instead (`weight.rs`).

use rayon::prelude::*;

use super::weight::Products;
use super::{isa, Direct, TileReads, OUT_TILE, POS_TILE};
use crate::nn::conv::ConvShape;
use crate::nn::Activation;

/// Whether the paired kernels can run `s`: the direct kernels can, the CPU has AVX512-BF16 (and
/// AVX-512BW for the rounding), and there is one group (a pair never straddles two).
pub(in crate::nn::conv::cpu) fn supports(s: &ConvShape) -> bool {
    s.groups == 1 && crate::cpu::bf16::available() && super::supports(s)
}

/// Forward: `y = conv(x, w) (+ bias)` of `s`, with products of the bf16-rounded `x` and `w`
/// summed in float32; `s` must be supported.
pub(in crate::nn::conv::cpu) fn forward(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert!(
        supports(s),
        "conv2d: the paired bf16 kernels can't run {s:?}"
    );
    let paired = ConvShape {
        c: s.c.div_ceil(2),
        ..*s
    };
    let x = round_into_pairs(x, s.c, s.h * s.w);
    let w = round_into_pairs(w, s.c, s.taps());
    // Autocast's forward: an activation after it is an op of its own.
    Direct::new(&paired).forward_by(&x, &w, bias, Activation::Identity, forward_run)
}

/// Gradient of the weight of `s` with products of the bf16-rounded `x` and `dy` summed in float32;
/// `s` must be supported.
pub(in crate::nn::conv::cpu) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(
        supports(s),
        "conv2d: the paired bf16 kernels can't run {s:?}"
    );
    Direct::new(s).backward_weight_by(x, dy, Products::Bf16Pairs)
}

/// `values`, runs of `channels` planes of `plane` elements each, rounded to bf16 and paired: plane
/// `k` of a run holds channels 2k and 2k + 1 (zero past the last channel) of that run.
fn round_into_pairs(values: &[f32], channels: usize, plane: usize) -> Vec<f32> {
    let pairs = channels.div_ceil(2);
    let runs = values.len() / (channels * plane);
    let mut paired = vec![0.0; runs * pairs * plane];
    // Weights have planes of a few taps: a task per plane would cost more than the rounding.
    let min_planes = 4096usize.div_ceil(plane);
    paired
        .par_chunks_mut(plane)
        .with_min_len(min_planes)
        .enumerate()
        .for_each(|(i, dst)| {
            let (run, k) = (i / pairs, i % pairs);
            let channel = |c: usize| &values[(run * channels + c) * plane..][..plane];
            let odd = if 2 * k + 1 < channels {
                channel(2 * k + 1)
            } else {
                &[]
            };
            // SAFETY: `supports` checked AVX512-BF16 (with AVX-512F and BW, which it implies).
            unsafe { isa::round_into_pairs(channel(2 * k), odd, dst) }
        });
    paired
}

/// `forward_tile_bf16_pairs` over a run of `len` (1 to `POS_TILE`) position vectors.
///
/// # Safety
/// As for `forward_tile_bf16_pairs`, with `P = len`.
unsafe fn forward_run(
    tile: &TileReads,
    bias: &[f32; OUT_TILE],
    out: *mut f32,
    out_stride: usize,
    rows: usize,
    stores: &[u16],
    len: usize,
) {
    match len {
        1 => isa::forward_tile_bf16_pairs::<OUT_TILE, 1>(tile, bias, out, out_stride, rows, stores),
        2 => isa::forward_tile_bf16_pairs::<OUT_TILE, 2>(tile, bias, out, out_stride, rows, stores),
        _ => isa::forward_tile_bf16_pairs::<OUT_TILE, POS_TILE>(
            tile, bias, out, out_stride, rows, stores,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::conv::reference::{self, abs, assert_within_scale, params, rounded_to_bf16};
    use crate::testing::values;

    /// Odd and even channel counts (a zero pad channel), read in place and from packed planes
    /// (stride 2; no padding), channels past a whole block, output channels short of a tile and
    /// over two vectors (the weight gradient's 1, 2 and 4-vector tiles), grids of odd rows.
    #[test]
    #[cfg_attr(
        not(ferrite_bf16_on_host),
        ignore = "the building CPU has no AVX512-BF16, so no bf16 kernel can run"
    )]
    fn paired_products_are_the_rounded_operands_products() {
        crate::cpu::bf16::tests::assert_bf16_kernels_run_here();
        for (input, o, stride, padding) in [
            ([3, 3, 32, 32], 16, 1, 1),
            ([2, 16, 16, 16], 32, 1, 1),
            ([2, 17, 9, 9], 10, 2, 1),
            ([2, 70, 12, 12], 8, 1, 0),
            ([3, 8, 9, 9], 40, 1, 1),
            ([2, 16, 11, 7], 20, 2, 1),
        ] {
            let s = reference::shape(
                input,
                [o, 3, 3],
                params([stride; 2], [padding; 2], [1, 1], 1),
            );
            let x = values(s.n * s.c * s.h * s.w, 1);
            let w = values(s.o * s.c * s.taps(), 2);
            let bias = values(s.o, 3);
            let (xr, wr) = (rounded_to_bf16(&x), rounded_to_bf16(&w));
            let want = reference::forward(&s, &xr, &wr, Some(&bias));
            let scale = reference::forward(&s, &abs(&xr), &abs(&wr), Some(&abs(&bias)));
            // Exact products summed in float32: each of the 9c + 1 additions rounds by at most
            // 2^-24 of the running sum's magnitude.
            let tol = (9 * s.c + 1) as f64 * f64::from(f32::EPSILON) / 2.0;
            assert_within_scale(
                &format!("{s:?}"),
                &forward(&s, &x, &w, Some(&bias)),
                &want,
                &scale,
                tol,
            );
            // The weight gradient pairs positions; its float32 sums go into float64 totals
            // every few samples (see `weight.rs`), each after at most a plane's additions.
            let dy = values(s.n * s.o * s.ohw(), 4);
            let dyr = rounded_to_bf16(&dy);
            let want = reference::backward_weight(&s, &xr, &dyr);
            let scale = reference::backward_weight(&s, &abs(&xr), &abs(&dyr));
            let tol = (s.n * s.ohw()) as f64 * f64::from(f32::EPSILON) / 2.0;
            assert_within_scale(
                &format!("weight gradient {s:?}"),
                &backward_weight(&s, &x, &dy),
                &want,
                &scale,
                tol,
            );
        }
    }
}
