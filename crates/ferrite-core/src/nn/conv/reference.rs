//! Float64 references for the convolution tests: every product of a convolution taken one at a
//! time, in loops that share nothing with the kernels.

use super::{Conv2dParams, ConvShape};

/// Convolution parameters, positionally.
pub(crate) fn params(
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Conv2dParams {
    Conv2dParams {
        stride,
        padding,
        dilation,
        groups,
    }
}

/// The shape of a convolution of an `[n, c, h, w]` input with an `[o, c / groups, kh, kw]` weight.
pub(crate) fn shape(
    [n, c, h, w]: [usize; 4],
    [o, kh, kw]: [usize; 3],
    p: Conv2dParams,
) -> ConvShape {
    let out = |len: usize, k: usize, a: usize| {
        (len + 2 * p.padding[a] - p.dilation[a] * (k - 1) - 1) / p.stride[a] + 1
    };
    ConvShape {
        n,
        c,
        h,
        w,
        o,
        groups: p.groups,
        kh,
        kw,
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        oh: out(h, kh, 0),
        ow: out(w, kw, 1),
    }
}

/// Calls `f(output index, input index, weight index)` for every product of the convolution `s`:
/// an output element, the input element one of its taps reads and the weight between them, output
/// by output and, within one, channel by channel and tap by tap.
pub(crate) fn for_each_product(s: &ConvShape, mut f: impl FnMut(usize, usize, usize)) {
    let (cg, og, taps) = (s.cg(), s.og(), s.taps());
    for at in 0..s.n * s.o * s.ohw() {
        let (b, oc, y, xo) = (
            at / (s.o * s.ohw()),
            at / s.ohw() % s.o,
            at / s.ow % s.oh,
            at % s.ow,
        );
        let g = oc / og;
        for (ci, tap) in (0..cg).flat_map(|ci| (0..taps).map(move |t| (ci, t))) {
            let (i, j) = (tap / s.kw, tap % s.kw);
            let iy = (y * s.stride[0] + i * s.dilation[0]).checked_sub(s.padding[0]);
            let ix = (xo * s.stride[1] + j * s.dilation[1]).checked_sub(s.padding[1]);
            if let (Some(iy), Some(ix)) = (iy.filter(|&v| v < s.h), ix.filter(|&v| v < s.w)) {
                let input = ((b * s.c + g * cg + ci) * s.h + iy) * s.w + ix;
                f(at, input, (oc * cg + ci) * taps + tap);
            }
        }
    }
}

/// `y = conv(x, w) (+ bias)`.
pub(crate) fn forward(s: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
    let ohw = s.ohw();
    let mut y: Vec<f64> = (0..s.n * s.o * ohw)
        .map(|at| bias.map_or(0.0, |b| b[at / ohw % s.o] as f64))
        .collect();
    for_each_product(s, |out, input, weight| {
        y[out] += x[input] as f64 * w[weight] as f64;
    });
    y
}

/// `dx[b, ci, iy, ix]`: the sum of `dy` times the weight of every tap that read the input there.
pub(crate) fn backward_input(s: &ConvShape, w: &[f32], dy: &[f32]) -> Vec<f64> {
    let mut dx = vec![0f64; s.n * s.c * s.h * s.w];
    for_each_product(s, |out, input, weight| {
        dx[input] += dy[out] as f64 * w[weight] as f64;
    });
    dx
}

/// `dw[o, ci, i, j]`: the sum over samples and outputs of `dy` times the input its tap read.
pub(crate) fn backward_weight(s: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f64> {
    let mut dw = vec![0f64; s.o * s.cg() * s.taps()];
    for_each_product(s, |out, input, weight| {
        dw[weight] += dy[out] as f64 * x[input] as f64;
    });
    dw
}

/// `db[o]`: `dy` summed over the batch and the output plane.
pub(crate) fn backward_bias(s: &ConvShape, dy: &[f32]) -> Vec<f64> {
    let mut db = vec![0f64; s.o];
    for (at, &g) in dy.iter().enumerate() {
        db[at / s.ohw() % s.o] += g as f64;
    }
    db
}

/// The absolute values of `v`: with them, a reference gives the sum of the absolute values of the
/// products that make each element, the scale of [`assert_within_scale`].
pub(crate) fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

/// `v` rounded to bf16 (to nearest even) and back: the operands whose exact products bf16 kernels
/// sum.
pub(crate) fn rounded_to_bf16(v: &[f32]) -> Vec<f32> {
    v.iter()
        .map(|&x| half::bf16::from_f32(x).to_f32())
        .collect()
}

/// Element-wise closeness of `what`, a float32 result, to a float64 reference, relative to
/// `scale`: the sum of the absolute values of the products that make each element. Winograd's
/// transforms add and subtract before they multiply, so their rounding scales with that sum, not
/// with the result, which cancellation can make much smaller.
#[track_caller]
pub(crate) fn assert_within_scale(what: &str, got: &[f32], want: &[f64], scale: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol * s,
            "{what}: element {i}: {g} vs {w} (scale {s})"
        );
    }
}
