//! CPU kernels of `conv2d`, by route. One function per pass chooses the route for a shape, the
//! first of these that takes it:
//!
//! - forward (`forward_route`): im2col + gemm for one sample in one group; else Winograd
//!   F(2x2, 3x3) for 3x3 stride-1 layers with 128 channels or more in and out, 4x4 outputs or more
//!   and 16 samples or more; the direct kernels for kernels of 9 taps or more on 8x8 outputs or
//!   more, with at most 64 channels per group or read in place (stride 1, output as wide as the
//!   input); tap classes where at most 3/4 of im2col's products read inside the input (small
//!   planes, one group); else im2col + gemm.
//! - input gradient (`backward_input_route`): at stride > 1, the direct kernels once per stride
//!   phase (one group, no dilation, at least a sample per thread); at stride 1 with padding within
//!   the kernel's span, the transposed convolution by the route its forward takes, except that
//!   im2col with more output channels than input ones per group gives way to gemm + col2im; else
//!   gemm + col2im.
//! - weight gradient (`backward_weight_route`): Winograd as for the forward; the direct kernels
//!   with 8 channels or more per group on 32x32 outputs or more, or 8 to 64 on 8x8 or more; tap
//!   classes as for the forward; else im2col + gemm.
//! - bias gradient (`backward_bias`): one sum per output channel.
//!
//! The direct kernels need AVX-512 (x86-64) or NEON (aarch64): elsewhere their routes are never
//! taken, and the others decide as they do everywhere.
//!
//! `forward_activated` (`conv2d_activated`'s kernels) applies an `Activation` after the bias where
//! each forward route writes its output, so that no pass over the whole output follows: the direct
//! tiles right after each run of position vectors is stored (in L1), Winograd's output transform,
//! the tap classes' and im2col's scatters plane by plane as they leave the staged rows, and
//! im2col's one-sample chunks right after their gemm (in L2).

pub(crate) mod bf16;
mod chunks;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod direct;
mod gemm;
mod im2col;
mod narrow;
mod taps;
#[cfg(test)]
mod tests;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tiles;
mod winograd;

use rayon::prelude::*;

use crate::cpu::lane_sum;
use crate::nn::conv::ConvShape;
use crate::nn::Activation;
use winograd::Winograd;

/// The kernels that run a forward or a weight gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// Winograd F(2x2, 3x3): `winograd`.
    Winograd,
    /// The direct kernels (AVX-512 or NEON): `direct`.
    Direct,
    /// A gemm per class of output positions that read the same taps: `taps`.
    TapClasses,
    /// im2col + gemm: `im2col`.
    Im2col,
}

/// The kernels that run an input gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BackwardInputRoute {
    /// The forward, by this route, of the transposed convolution (`ConvShape::transposed`): `dy`
    /// convolved with the weight turned by 180 degrees, its channel dims swapped.
    Transposed(Route),
    /// The direct kernels, one stride-1 convolution of `dy` per stride phase of the input.
    StridedPhases,
    /// gemm, then col2im folds the columns back onto the input: `im2col`.
    Col2im,
}

/// The route of the forward of `s`.
pub(super) fn forward_route(s: &ConvShape) -> Route {
    if s.n == 1 && s.groups == 1 {
        // One sample: its whole output plane makes one gemm's columns, which read the weight
        // once. Winograd and the tap classes lay the weight out anew per call and read it again
        // per tile or class, costs that only a batch shares; on one sample of the tutorial's
        // layers the direct kernels ran slower than this gemm too (conv_epilogue bench).
        Route::Im2col
    } else {
        batched_route(s)
    }
}

/// The route of a forward that `forward_route` does not give to im2col for being one sample.
fn batched_route(s: &ConvShape) -> Route {
    if Winograd::fits(s) {
        Route::Winograd
    } else if direct::forward_fits(s) {
        Route::Direct
    } else if taps::fits(s) {
        Route::TapClasses
    } else {
        Route::Im2col
    }
}

/// The route of the input gradient of `s`.
pub(super) fn backward_input_route(s: &ConvShape) -> BackwardInputRoute {
    if direct::backward_input_fits(s) {
        return BackwardInputRoute::StridedPhases;
    }
    // Through gemm, with more output channels than input ones, col2im is cheaper: the transposed
    // convolution would unfold the larger `dy`, into gemms short of rows. The direct kernels
    // unfold nothing.
    // One sample's input gradient keeps the batched routes: the one-sample rule is the forward's.
    match s.transposed().map(|t| batched_route(&t)) {
        Some(Route::Im2col) if s.og() > s.cg() => BackwardInputRoute::Col2im,
        Some(route) => BackwardInputRoute::Transposed(route),
        None => BackwardInputRoute::Col2im,
    }
}

/// The route of the weight gradient of `s`.
pub(super) fn backward_weight_route(s: &ConvShape) -> Route {
    if Winograd::fits(s) {
        Route::Winograd
    } else if direct::backward_weight_fits(s) {
        Route::Direct
    } else if taps::fits(s) {
        Route::TapClasses
    } else {
        Route::Im2col
    }
}

/// Forward: `y = conv(x, w) (+ bias)` for `x` [n, c, h, w] and `w` [o, c / groups, kh, kw].
pub(super) fn forward(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    forward_activated(s, x, w, bias, Activation::Identity)
}

/// `activation(forward(...))`, each route applying it to its output tiles as it writes them.
pub(super) fn forward_activated(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
) -> Vec<f32> {
    forward_route(s).forward_activated(s, x, w, bias, activation)
}

/// Gradient of the input, [n, c, h, w], from `dy` [n, o, oh, ow] and the weight.
pub(super) fn backward_input(s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
    backward_input_route(s).backward_input(s, dy, w)
}

/// Gradient of the weight, [o, c / groups, kh, kw], from the input and `dy`.
pub(super) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    backward_weight_route(s).backward_weight(s, x, dy)
}

/// Whether autocast's forward of `s` runs on the direct kernels' channel pairs, which beat the
/// bf16 gemm wherever the direct route takes a float32 forward (and AVX512-BF16 is there).
#[cfg(target_arch = "x86_64")]
pub(super) fn pairs_take_forward(s: &ConvShape) -> bool {
    pairs_pay()
        && bf16_batch_pays(s)
        && forward_route(s) == Route::Direct
        && direct::pairs::supports(s)
}

/// Samples x output positions below which autocast's bf16 kernels do not pay: each call rounds
/// and packs the weight, which then costs more than the products save (at batch 1, ResNet's
/// forward ran 3.3x and VGG11's 7x slower on AMX tiles than in float32, bench/KERNELS.md).
const BF16_MIN_POSITIONS: usize = 1024;

/// Whether the batch of `s` is large enough for autocast's bf16 kernels (see
/// [`BF16_MIN_POSITIONS`]); below it every pass runs the float32 kernels.
pub(super) fn bf16_batch_pays(s: &ConvShape) -> bool {
    s.n * s.ohw() >= BF16_MIN_POSITIONS
}

/// Whether autocast's forward of `s` runs on AMX tiles (`tiles`), ahead of every other route:
/// it reads the input in place, where the bf16 gemm packs an im2col of it. Not for one sample,
/// where the float32 one-sample route was faster (ResNet at batch 1: 1.35 ms with the tiles,
/// 0.76 ms in float32).
pub(super) fn tiles_take_forward(s: &ConvShape) -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    return s.n > 1 && bf16_batch_pays(s) && tiles::supports(s);
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    return {
        let _ = s;
        false
    };
}

/// Whether the direct kernels' bf16 pairs (`vdpbf16ps`) can beat the bf16 gemm: not where the
/// gemm runs on AMX tiles, which outrun them (and on small layers, the float32 kernels do).
#[cfg(target_arch = "x86_64")]
pub(super) fn pairs_pay() -> bool {
    crate::cpu::bf16::Kernel::best() != crate::cpu::bf16::Kernel::Tiles
}

/// Off x86-64 there are no AVX512-BF16 pairs.
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn pairs_pay() -> bool {
    false
}

/// Off x86-64 there are no AVX512-BF16 pairs.
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn pairs_take_forward(_: &ConvShape) -> bool {
    false
}

/// The forward with bf16 products summed in float32, for float32 operands and result: on AMX
/// tiles where `tiles_take_forward`, on channel pairs where `pairs_take_forward`, else by the
/// float32 kernels (the bf16 gemm does not pay for such shapes, see `bf16::pays`), whose
/// products are exact on bf16 values too.
pub(super) fn forward_bf16_products(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if tiles_take_forward(s) {
        return tiles::forward(s, x, w, bias);
    }
    #[cfg(target_arch = "x86_64")]
    if pairs_take_forward(s) {
        return direct::pairs::forward(s, x, w, bias);
    }
    forward(s, x, w, bias)
}

/// The input gradient of `forward_bf16_products`: float32 for small batches; else the transposed
/// convolution on AMX tiles, or on channel pairs where its forward takes the direct kernels, else
/// the bf16 gemm where it pays, else float32.
pub(super) fn backward_input_bf16_products(s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
    if !bf16_batch_pays(s) {
        return backward_input(s, dy, w);
    }
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if let Some(t) = s.transposed().filter(|t| s.n > 1 && tiles::supports(t)) {
        return tiles::forward(&t, dy, &flip_weight(s, w), None);
    }
    #[cfg(target_arch = "x86_64")]
    if let (BackwardInputRoute::Transposed(Route::Direct), Some(t)) =
        (backward_input_route(s), s.transposed())
    {
        if pairs_pay() && direct::pairs::supports(&t) {
            return direct::pairs::forward(&t, dy, &flip_weight(s, w), None);
        }
    }
    if bf16::pays(s) && crate::cpu::bf16::available() {
        return bf16::backward_input(&bf16::Bf16Gemm, s, dy, w);
    }
    backward_input(s, dy, w)
}

/// The weight gradient of `forward_bf16_products`: float32 for small batches; else on AMX tiles
/// where they take it; the direct kernels on pairs of positions where their float32 route takes
/// `s` (they pack nothing, where the bf16 gemm packs both operands); else the bf16 gemm where it
/// pays, else float32.
pub(super) fn backward_weight_bf16_products(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if !bf16_batch_pays(s) {
        return backward_weight(s, x, dy);
    }
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if s.n > 1 && tiles::weight_supports(s) {
        return tiles::backward_weight(s, x, dy);
    }
    #[cfg(target_arch = "x86_64")]
    if pairs_pay() && backward_weight_route(s) == Route::Direct && direct::pairs::supports(s) {
        return direct::pairs::backward_weight(s, x, dy);
    }
    if bf16::pays(s) && crate::cpu::bf16::available() {
        return bf16::backward_weight(&bf16::Bf16Gemm, s, x, dy);
    }
    backward_weight(s, x, dy)
}

/// Gradient of the bias: `dy` summed over the batch and the output plane of each channel.
pub(super) fn backward_bias(s: &ConvShape, dy: &[f32]) -> Vec<f32> {
    let ohw = s.ohw();
    (0..s.o)
        .into_par_iter()
        .map(|o| {
            (0..s.n)
                .map(|n| lane_sum(&dy[(n * s.o + o) * ohw..][..ohw], |v| v))
                .sum::<f64>() as f32
        })
        .collect()
}

impl Route {
    /// Whether this route's kernels compute `s`, whether or not they are the fastest for it.
    pub(super) fn supports(self, s: &ConvShape) -> bool {
        match self {
            Route::Winograd => Winograd::supports(s),
            Route::Direct => direct::supports(s),
            Route::TapClasses => taps::supports(s),
            Route::Im2col => true,
        }
    }

    /// The forward of `s` by this route.
    pub(super) fn forward(
        self,
        s: &ConvShape,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        self.forward_activated(s, x, w, bias, Activation::Identity)
    }

    /// `activation(forward(...))` by this route, applied to each output tile as it is written.
    pub(super) fn forward_activated(
        self,
        s: &ConvShape,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        debug_assert!(self.supports(s), "conv2d: {self:?} can't run {s:?}");
        // Winograd and the tap classes lay the weight out their own way, reading it through this.
        let weight = |o, c, i, j| w[((o * s.c + c) * s.kh + i) * s.kw + j];
        match self {
            Route::Winograd => Winograd::new(s).forward(x, weight, bias, activation),
            Route::Direct => direct::forward(s, x, w, bias, activation),
            Route::TapClasses => taps::forward(s, x, weight, bias, activation),
            Route::Im2col => im2col::forward(s, x, w, bias, activation),
        }
    }

    /// The weight gradient of `s` by this route.
    pub(super) fn backward_weight(self, s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
        debug_assert!(self.supports(s), "conv2d: {self:?} can't run {s:?}");
        match self {
            Route::Winograd => Winograd::new(s).backward_weight(x, dy),
            Route::Direct => direct::backward_weight(s, x, dy),
            Route::TapClasses => taps::backward_weight(s, x, dy),
            Route::Im2col => im2col::backward_weight(s, x, dy),
        }
    }
}

impl BackwardInputRoute {
    /// Whether this route's kernels compute the input gradient of `s`.
    pub(super) fn supports(self, s: &ConvShape) -> bool {
        match self {
            BackwardInputRoute::Transposed(route) => {
                s.transposed().is_some_and(|t| route.supports(&t))
            }
            BackwardInputRoute::StridedPhases => direct::backward_input_supports(s),
            BackwardInputRoute::Col2im => true,
        }
    }

    /// The input gradient of `s` by this route.
    pub(super) fn backward_input(self, s: &ConvShape, dy: &[f32], w: &[f32]) -> Vec<f32> {
        debug_assert!(self.supports(s), "conv2d: {self:?} can't run {s:?}");
        match self {
            BackwardInputRoute::Transposed(route) => {
                let t = s
                    .transposed()
                    .expect("a transposed route has a transposed convolution");
                transposed_forward(route, s, &t, dy, w)
            }
            BackwardInputRoute::StridedPhases => direct::backward_input(s, dy, w),
            BackwardInputRoute::Col2im => im2col::backward_input(s, dy, w),
        }
    }
}

/// The input gradient of `s` as the forward of `t`, its transposed convolution, by `route`.
fn transposed_forward(
    route: Route,
    s: &ConvShape,
    t: &ConvShape,
    dy: &[f32],
    w: &[f32],
) -> Vec<f32> {
    // Winograd and the tap classes (one group) read the turned kernel straight into their own
    // layouts; the others take it turned (see `flip_weight`).
    let flipped = |o, c, i, j| w[((c * s.c + o) * s.kh + s.kh - 1 - i) * s.kw + s.kw - 1 - j];
    match route {
        Route::Winograd => Winograd::new(t).forward(dy, flipped, None, Activation::Identity),
        Route::TapClasses => taps::forward(t, dy, flipped, None, Activation::Identity),
        Route::Direct | Route::Im2col => route.forward(t, dy, &flip_weight(s, w), None),
    }
}

/// The weight of `ConvShape::transposed`: `w` [o, c / groups, kh, kw] as [c, o / groups, kh, kw],
/// each kernel turned by 180 degrees.
fn flip_weight(s: &ConvShape, w: &[f32]) -> Vec<f32> {
    let (cg, og, taps) = (s.cg(), s.og(), s.taps());
    let mut flipped = vec![0.0; w.len()];
    // A task per flipped row (input channel): 512->512 channels flip 2.4 M weights per backward.
    flipped
        .par_chunks_mut(og * taps)
        .enumerate()
        .for_each(|(gc, row)| {
            let (g, c) = (gc / cg, gc % cg);
            for (o, to) in row.chunks_exact_mut(taps).enumerate() {
                let from = &w[((g * og + o) * cg + c) * taps..][..taps];
                to.iter_mut()
                    .zip(from.iter().rev())
                    .for_each(|(t, &f)| *t = f);
            }
        });
    flipped
}

/// Off x86-64 and aarch64 there are no direct kernels: nothing supports them, so no route takes
/// them.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod direct {
    use crate::nn::conv::ConvShape;

    pub(super) fn supports(_: &ConvShape) -> bool {
        false
    }

    pub(super) fn forward_fits(_: &ConvShape) -> bool {
        false
    }

    pub(super) fn backward_weight_fits(_: &ConvShape) -> bool {
        false
    }

    pub(super) fn backward_input_supports(_: &ConvShape) -> bool {
        false
    }

    pub(super) fn backward_input_fits(_: &ConvShape) -> bool {
        false
    }

    pub(super) fn forward(
        _: &ConvShape,
        _: &[f32],
        _: &[f32],
        _: Option<&[f32]>,
        _: crate::nn::Activation,
    ) -> Vec<f32> {
        unreachable!("conv2d: no direct kernels off x86-64 and aarch64")
    }

    pub(super) fn backward_weight(_: &ConvShape, _: &[f32], _: &[f32]) -> Vec<f32> {
        unreachable!("conv2d: no direct kernels off x86-64 and aarch64")
    }

    pub(super) fn backward_input(_: &ConvShape, _: &[f32], _: &[f32]) -> Vec<f32> {
        unreachable!("conv2d: no direct kernels off x86-64 and aarch64")
    }
}
