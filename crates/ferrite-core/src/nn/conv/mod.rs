//! `conv2d`: 2-D convolution (cross-correlation, as in PyTorch) of an NCHW or unbatched CHW input
//! with a [out_channels, in_channels / groups, kh, kw] weight, an optional bias, and per-axis
//! stride, padding and dilation.

mod cpu;
// AVX-512 intrinsics; elsewhere every convolution takes the im2col + gemm route.
#[cfg(target_arch = "x86_64")]
mod direct;

use cpu::ConvShape;

use crate::alloc;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::checked_numel;
use crate::tensor::Tensor;

const OP: &str = "conv2d";

/// Everything of a convolution but its operands; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Tensor {
    /// Convolves this [n, c, h, w] (or [c, h, w]) input with `weight` [o, c / groups, kh, kw], like
    /// `torch.nn.functional.conv2d`. The output is [n, o, oh, ow] (or [o, oh, ow]) with
    /// `oh = (h + 2 * padding - dilation * (kh - 1) - 1) / stride + 1`, rounded down.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
    ) -> Result<Tensor> {
        let s = conv_shape(self, weight, bias, params)?;
        let bias_values = bias.map(Tensor::to_vec_f32).transpose()?;
        let out = self.read_f32(OP, |x| {
            weight.read_f32(OP, |w| cpu::conv2d_fwd(&s, x, w, bias_values.as_deref()))
        })??;
        let shape = if self.rank() == 4 {
            vec![s.n, s.o, s.oh, s.ow]
        } else {
            vec![s.o, s.oh, s.ow]
        };
        let out = Tensor::from_f32(out, &shape)?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(record(out, &inputs, || ConvolutionBackward {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            shape: s,
        }))
    }
}

/// Validates the operands against each other and works out the output size.
fn conv_shape(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    params: Conv2dParams,
) -> Result<ConvShape> {
    let operands = || {
        format!(
            "input {} and weight {}",
            ShapeDisplay(input.shape()),
            ShapeDisplay(weight.shape())
        )
    };
    for t in [input, weight].into_iter().chain(bias) {
        input.same_device(OP, t)?;
        if t.dtype() != DType::F32 {
            return Err(Error::dtype(
                OP,
                "float32 tensors",
                format!("{} ({})", t.dtype(), operands()),
            ));
        }
    }
    let (n, [c, h, w]) = match *input.shape() {
        [n, c, h, w] => (n, [c, h, w]),
        [c, h, w] => (1, [c, h, w]),
        _ => {
            return Err(Error::shape(
                OP,
                format!(
                    "expected a 3-D (unbatched) or 4-D (batched) input, got input of shape {}",
                    ShapeDisplay(input.shape())
                ),
            ))
        }
    };
    let &[o, wc, kh, kw] = weight.shape() else {
        return Err(Error::shape(
            OP,
            format!(
                "expected a 4-D weight [out_channels, in_channels / groups, kh, kw], got weight of shape {}",
                ShapeDisplay(weight.shape())
            ),
        ));
    };
    let Conv2dParams {
        stride,
        padding,
        dilation,
        groups,
    } = params;
    if stride.contains(&0) {
        return Err(Error::invalid(
            OP,
            format!("stride must be positive, got {stride:?}"),
        ));
    }
    if dilation.contains(&0) {
        return Err(Error::invalid(
            OP,
            format!("dilation must be positive, got {dilation:?}"),
        ));
    }
    if groups == 0 {
        return Err(Error::invalid(OP, "groups must be positive, got 0"));
    }
    if weight.shape().contains(&0) {
        return Err(Error::shape(
            OP,
            format!(
                "expected a weight with no zero-size dim, got weight of shape {}",
                ShapeDisplay(weight.shape())
            ),
        ));
    }
    if o % groups != 0 {
        return Err(Error::shape(
            OP,
            format!(
                "expected the {o} output channels of weight {} to be divisible by groups {groups}",
                ShapeDisplay(weight.shape())
            ),
        ));
    }
    if c != wc * groups {
        return Err(Error::shape(
            OP,
            format!(
                "expected input{} to have {} channels (weight {} with groups {groups}), but got {c} channels",
                ShapeDisplay(input.shape()),
                wc * groups,
                ShapeDisplay(weight.shape())
            ),
        ));
    }
    if let Some(b) = bias.filter(|b| b.shape() != [o]) {
        return Err(Error::shape(
            OP,
            format!(
                "expected bias of shape [{o}] (one per output channel of weight {}), got {}",
                ShapeDisplay(weight.shape()),
                ShapeDisplay(b.shape())
            ),
        ));
    }
    let (span_h, span_w) = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1);
    let (padded_h, padded_w) = (h + 2 * padding[0], w + 2 * padding[1]);
    if padded_h < span_h || padded_w < span_w {
        return Err(Error::shape(
            OP,
            format!(
                "the padded input is {padded_h} x {padded_w} per channel but the dilated kernel spans \
                 {span_h} x {span_w} ({}); the kernel can't be larger than the input",
                operands()
            ),
        ));
    }
    let (oh, ow) = (
        (padded_h - span_h) / stride[0] + 1,
        (padded_w - span_w) / stride[1] + 1,
    );
    // The kernels size their buffers by the output and the padded input: refuse sizes over the
    // allocation limit before any buffer is made. An empty batch still plans one sample's planes
    // (a plane 2^32 wide took minutes).
    for dims in [[n.max(1), o, oh, ow], [n.max(1), c, padded_h, padded_w]] {
        alloc::ensure_within_limit::<f32>(OP, checked_numel(OP, &dims)?)?;
    }
    Ok(ConvShape {
        n,
        c,
        h,
        w,
        o,
        groups,
        kh,
        kw,
        stride,
        padding,
        dilation,
        oh,
        ow,
    })
}

struct ConvolutionBackward {
    input: Tensor,
    weight: Tensor,
    bias: Option<Tensor>,
    shape: ConvShape,
}

impl Backward for ConvolutionBackward {
    fn name(&self) -> &'static str {
        "ConvolutionBackward0"
    }

    /// The input's gradient reads the weight, the weight's reads the input.
    fn saved(&self) -> Vec<&Tensor> {
        [(&self.input, &self.weight), (&self.weight, &self.input)]
            .into_iter()
            .filter(|(input, _)| input.requires_grad())
            .map(|(_, read)| read)
            .collect()
    }

    fn inputs(&self) -> Vec<Tensor> {
        [&self.input, &self.weight]
            .into_iter()
            .chain(&self.bias)
            .cloned()
            .collect()
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let s = &self.shape;
        g.read_f32(OP, |dy| {
            let dx = needs[0]
                .then(|| {
                    self.weight.read_f32(OP, |w| {
                        Tensor::from_f32(cpu::conv2d_bwd_data(s, dy, w), self.input.shape())
                    })?
                })
                .transpose()?;
            let dw = needs[1]
                .then(|| {
                    self.input.read_f32(OP, |x| {
                        Tensor::from_f32(cpu::conv2d_bwd_filter(s, x, dy), self.weight.shape())
                    })?
                })
                .transpose()?;
            let mut grads = vec![dx, dw];
            if self.bias.is_some() {
                grads.push(
                    needs[2]
                        .then(|| Tensor::from_f32(cpu::conv2d_bwd_bias(s, dy), &[s.o]))
                        .transpose()?,
                );
            }
            Ok(grads)
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradcheck, leaf, values};

    fn params(
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

    /// Direct float64 convolution of an NCHW input, independent of im2col and gemm.
    pub(super) fn reference(
        x: &[f32],
        [n, c, h, w]: [usize; 4],
        wt: &[f32],
        [o, cg, kh, kw]: [usize; 4],
        bias: Option<&[f32]>,
        p: Conv2dParams,
    ) -> Vec<f64> {
        let [oh, ow] = [0, 1].map(|a| {
            let (len, k) = ([h, w][a], [kh, kw][a]);
            (len + 2 * p.padding[a] - p.dilation[a] * (k - 1) - 1) / p.stride[a] + 1
        });
        let og = o / p.groups;
        let mut out = vec![0f64; n * o * oh * ow];
        for b in 0..n {
            for oc in 0..o {
                let g = oc / og;
                for y in 0..oh {
                    for xo in 0..ow {
                        let mut acc = bias.map_or(0.0, |bs| bs[oc] as f64);
                        for ci in 0..cg {
                            let ch = g * cg + ci;
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = (y * p.stride[0] + i * p.dilation[0]) as isize
                                        - p.padding[0] as isize;
                                    let ix = (xo * p.stride[1] + j * p.dilation[1]) as isize
                                        - p.padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xv = x[((b * c + ch) * h + iy as usize) * w + ix as usize]
                                        as f64;
                                    acc += xv * wt[((oc * cg + ci) * kh + i) * kw + j] as f64;
                                }
                            }
                        }
                        out[((b * o + oc) * oh + y) * ow + xo] = acc;
                    }
                }
            }
        }
        out
    }

    /// Element-wise closeness of a float32 result to a float64 reference, relative to `scale`: the
    /// sum of the absolute values of the products that make each element. Winograd's transforms
    /// add and subtract before they multiply, so their rounding scales with that sum, not with the
    /// result, which cancellation can make much smaller.
    pub(super) fn assert_within_scale(got: &[f32], want: &[f64], scale: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
            assert!(
                (g as f64 - w).abs() <= tol * s,
                "element {i}: {g} vs {w} (scale {s})"
            );
        }
    }

    /// The input and weight gradients, in float64, of a 3x3 convolution at stride 1 (one group, no
    /// dilation) whose output gradient is `dy`: every product of the forward, credited to both.
    pub(super) fn gradients_reference(
        x: &[f32],
        [n, c, h, w]: [usize; 4],
        weight: &[f32],
        o: usize,
        dy: &[f32],
        [ph, pw]: [usize; 2],
    ) -> (Vec<f64>, Vec<f64>) {
        let [oh, ow] = [h + 2 * ph - 2, w + 2 * pw - 2];
        let (mut dx, mut dw) = (vec![0f64; x.len()], vec![0f64; weight.len()]);
        for (b, oc, y, xo) in (0..n).flat_map(|b| {
            (0..o).flat_map(move |oc| {
                (0..oh).flat_map(move |y| (0..ow).map(move |xo| (b, oc, y, xo)))
            })
        }) {
            let g = dy[((b * o + oc) * oh + y) * ow + xo] as f64;
            for (ci, i, j) in
                (0..c).flat_map(|ci| (0..3).flat_map(move |i| (0..3).map(move |j| (ci, i, j))))
            {
                let (Some(iy), Some(ix)) = ((y + i).checked_sub(ph), (xo + j).checked_sub(pw))
                else {
                    continue;
                };
                if iy >= h || ix >= w {
                    continue;
                }
                let (xi, wi) = (
                    ((b * c + ci) * h + iy) * w + ix,
                    ((oc * c + ci) * 3 + i) * 3 + j,
                );
                dx[xi] += g * weight[wi] as f64;
                dw[wi] += g * x[xi] as f64;
            }
        }
        (dx, dw)
    }

    fn check_forward(xs: [usize; 4], ws: [usize; 4], with_bias: bool, p: Conv2dParams) {
        let x = values(xs.iter().product(), 1);
        let w = values(ws.iter().product(), 2);
        let b = values(ws[0], 3);
        let xt = Tensor::from_f32(x.clone(), &xs).unwrap();
        let wt = Tensor::from_f32(w.clone(), &ws).unwrap();
        let bt = Tensor::from_f32(b.clone(), &[ws[0]]).unwrap();
        let got = xt.conv2d(&wt, with_bias.then_some(&bt), p).unwrap();
        let want = reference(&x, xs, &w, ws, with_bias.then_some(&b[..]), p);
        assert_eq!(got.numel(), want.len(), "{xs:?} {ws:?} {p:?}");
        for (i, (g, w)) in got.to_vec_f32().unwrap().iter().zip(&want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= 1e-4 * w.abs().max(1.0),
                "{xs:?} {ws:?} {p:?} at {i}: {g} vs {w}"
            );
        }
    }

    #[test]
    fn strides_past_the_input_leave_taps_that_read_nothing() {
        // Found by the fuzz suite (test/fuzz): a column stride of 2^31 panicked slicing the
        // input plane at the offset of a tap that no output column reads; so did padding as wide
        // as the dilated kernel around a 1-wide input.
        check_forward(
            [2, 4, 12, 1],
            [6, 2, 1, 3],
            true,
            params([3, 1], [2, 3], [3, 3], 2),
        );
        check_forward(
            [2, 4, 11, 12],
            [6, 2, 5, 4],
            false,
            params([1, 1 << 31], [0, 3], [1, 3], 2),
        );
        check_forward(
            [1, 2, 5, 6],
            [3, 2, 2, 3],
            true,
            params([9, 4], [1, 2], [2, 1], 1),
        );
    }

    #[test]
    fn outputs_over_the_allocation_limit_are_errors_before_any_buffer() {
        let x = Tensor::from_f32(vec![1.0], &[1, 1, 1, 1]).unwrap();
        let padding = Conv2dParams {
            padding: [1 << 20, 1 << 20],
            ..Conv2dParams::default()
        };
        // A [1, 1, 2^21 + 1, 2^21 + 1] output: 16 TiB of float32.
        let err = x.conv2d(&x, None, padding).unwrap_err();
        assert_eq!(err.code(), "OutOfMemory", "{err}");
        // Found by the fuzz suite: an empty batch passed, and planned planes 2^33 wide.
        let empty = Tensor::from_f32(vec![], &[0, 1, 3, 11]).unwrap();
        let wide = params([1, 1], [0, 1 << 32], [1, 1], 1);
        let err = empty.conv2d(&x, None, wide).unwrap_err();
        assert_eq!(err.code(), "OutOfMemory", "{err}");
    }

    #[test]
    fn empty_inputs_have_empty_gradients() {
        // Found by the fuzz suite: padding gives an empty input outputs, and backward split the
        // input's gradient into chunks of no elements, which panicked.
        let x = leaf(&[3, 1, 0, 3], 1);
        let w = leaf(&[1, 1, 2, 4], 2);
        let y = x
            .conv2d(&w, None, params([1, 2], [2, 1], [1, 1], 1))
            .unwrap();
        assert_eq!(y.shape(), &[3, 1, 3, 1]);
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        assert_eq!(x.grad().unwrap().shape(), &[3, 1, 0, 3]);
        assert_eq!(w.grad().unwrap().to_vec_f32().unwrap(), vec![0.0; 8]);
    }

    #[test]
    fn matches_a_direct_float64_convolution() {
        let d = Conv2dParams::default();
        check_forward([2, 3, 7, 9], [4, 3, 3, 3], true, d);
        check_forward(
            [2, 3, 7, 9],
            [4, 3, 2, 5],
            true,
            params([1, 2], [2, 1], [1, 1], 1),
        );
        check_forward(
            [1, 2, 9, 8],
            [3, 2, 3, 2],
            false,
            params([1, 1], [1, 0], [2, 2], 1),
        );
        check_forward(
            [2, 4, 6, 5],
            [6, 2, 3, 3],
            false,
            params([2, 2], [1, 1], [1, 1], 2),
        );
        check_forward(
            [3, 4, 7, 6],
            [4, 1, 3, 2],
            true,
            params([2, 1], [2, 1], [2, 1], 4),
        );
        check_forward([5, 3, 5, 5], [2, 3, 5, 5], true, d);
        check_forward([3, 5, 4, 6], [7, 5, 1, 1], true, d);
        check_forward(
            [2, 4, 3, 5],
            [6, 2, 1, 1],
            false,
            params([1, 1], [0, 0], [1, 1], 2),
        );
        check_forward(
            [2, 3, 6, 6],
            [4, 3, 1, 1],
            true,
            params([2, 2], [1, 1], [1, 1], 1),
        );
        check_forward(
            [9, 2, 5, 4],
            [3, 2, 3, 3],
            true,
            params([1, 1], [1, 1], [1, 1], 1),
        );
        // Planes of 16x16 outputs and more: batches that span chunks, padding on one axis only or
        // none, dilation with groups, non-square kernels.
        check_forward(
            [5, 3, 16, 16],
            [4, 3, 3, 3],
            true,
            params([1, 1], [1, 1], [1, 1], 1),
        );
        check_forward(
            [3, 4, 17, 18],
            [6, 2, 3, 2],
            true,
            params([1, 1], [2, 0], [2, 1], 2),
        );
        check_forward(
            [2, 3, 18, 18],
            [5, 3, 3, 3],
            false,
            params([1, 1], [0, 0], [1, 1], 1),
        );
        check_forward(
            [1, 2, 16, 20],
            [3, 2, 5, 3],
            true,
            params([1, 1], [2, 1], [1, 2], 1),
        );
        // One big image: the gemms split across threads instead of the batch.
        check_forward(
            [1, 16, 24, 20],
            [32, 16, 3, 3],
            true,
            params([1, 1], [1, 1], [1, 1], 1),
        );
    }

    #[test]
    fn small_planes_go_by_tap_classes_and_match_float64() {
        let cases = [
            // VGG's 4x4 and 2x2 layers, a kernel wider than the plane, stride and dilation, and
            // padding wide enough that some outputs read nothing but padding (bias only).
            (
                [3, 6, 4, 4],
                [8, 6, 3, 3],
                params([1, 1], [1, 1], [1, 1], 1),
            ),
            (
                [5, 4, 2, 2],
                [6, 4, 3, 3],
                params([1, 1], [1, 1], [1, 1], 1),
            ),
            (
                [2, 3, 4, 4],
                [4, 3, 5, 5],
                params([1, 1], [2, 2], [1, 1], 1),
            ),
            (
                [2, 4, 5, 3],
                [6, 4, 3, 3],
                params([2, 1], [1, 2], [1, 2], 1),
            ),
            (
                [2, 2, 2, 2],
                [3, 2, 3, 3],
                params([1, 1], [3, 3], [1, 1], 1),
            ),
        ];
        for (xs, ws, p) in cases {
            let shape = conv_shape(&leaf(&xs, 1), &leaf(&ws, 2), None, p).unwrap();
            assert!(shape.tap_classes().is_some(), "{xs:?} {ws:?} {p:?}");
            check_forward(xs, ws, true, p);
            let b = leaf(&[ws[0]], 3);
            gradcheck(&[leaf(&xs, 4), leaf(&ws, 5), b], |t| {
                t[0].conv2d(&t[1], t.get(2), p)
            });
        }
    }

    #[test]
    fn wide_layers_go_by_winograd_and_match_float64() {
        // VGG's 512->512 layer at 4x4, cut to the fewest channels and samples Winograd takes: the
        // forward, the input gradient (the transposed convolution by Winograd too) and the weight
        // gradient against float64. `cpu::winograd` tests the arithmetic on more shapes.
        let ([n, c, h, w], o) = ([16, 128, 4, 4], 128);
        let p = params([1, 1], [1, 1], [1, 1], 1);
        let (x, weight) = (leaf(&[n, c, h, w], 60), leaf(&[o, c, 3, 3], 61));
        let shape = conv_shape(&x, &weight, None, p).unwrap();
        assert!(cpu::winograd::Winograd::plan(&shape).is_some());
        assert!(cpu::winograd::Winograd::plan(&shape.transposed().unwrap()).is_some());
        let dy = values(n * o * h * w, 62);
        let y = x.conv2d(&weight, None, p).unwrap();
        let (xs, ws) = (x.to_vec_f32().unwrap(), weight.to_vec_f32().unwrap());
        let want = reference(&xs, [n, c, h, w], &ws, [o, c, 3, 3], None, p);
        assert_close(&y.to_vec_f32().unwrap(), &want, 1e-4);
        y.backward(
            Some(&Tensor::from_f32(dy.clone(), y.shape()).unwrap()),
            false,
        )
        .unwrap();
        let (dx, dw) = gradients_reference(&xs, [n, c, h, w], &ws, o, &dy, p.padding);
        assert_close(&x.grad().unwrap().to_vec_f32().unwrap(), &dx, 1e-4);
        assert_close(&weight.grad().unwrap().to_vec_f32().unwrap(), &dw, 1e-4);
    }

    #[test]
    fn unbatched_and_empty_batches() {
        let x = Tensor::from_f32(values(3 * 5 * 6, 4), &[3, 5, 6]).unwrap();
        let w = Tensor::from_f32(values(2 * 3 * 9, 5), &[2, 3, 3, 3]).unwrap();
        let y = x.conv2d(&w, None, Conv2dParams::default()).unwrap();
        assert_eq!(y.shape(), &[2, 3, 4]);
        let batched = x
            .unsqueeze(0)
            .unwrap()
            .conv2d(&w, None, Conv2dParams::default())
            .unwrap();
        assert_eq!(y.to_vec_f32().unwrap(), batched.to_vec_f32().unwrap());
        let empty = Tensor::from_f32(vec![], &[0, 3, 5, 6]).unwrap();
        assert_eq!(
            empty
                .conv2d(&w, None, Conv2dParams::default())
                .unwrap()
                .shape(),
            &[0, 2, 3, 4]
        );
        // Input planes with no rows: the output sees only padding.
        let flat = leaf(&[1, 3, 0, 6], 6);
        let y = flat
            .conv2d(
                &leaf(&[2, 3, 3, 3], 7),
                None,
                params([1, 1], [2, 1], [1, 1], 1),
            )
            .unwrap();
        assert_eq!(
            (y.shape(), y.to_vec_f32().unwrap()),
            (&[1, 2, 2, 6][..], vec![0.0; 24])
        );
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        assert_eq!(flat.grad().unwrap().shape(), &[1, 3, 0, 6]);
    }

    #[test]
    fn an_arange_case_checks_by_hand() {
        // torch.nn.functional.conv2d(torch.arange(9.).view(1, 1, 3, 3), torch.ones(1, 1, 2, 2), padding=1)
        let x = Tensor::arange(0.0, 9.0, 1.0, DType::F32, crate::Device::Cpu)
            .unwrap()
            .reshape(&[1, 1, 3, 3])
            .unwrap();
        let w = Tensor::ones(&[1, 1, 2, 2], DType::F32, crate::Device::Cpu).unwrap();
        let y = x
            .conv2d(&w, None, params([1, 1], [1, 1], [1, 1], 1))
            .unwrap();
        assert_eq!(y.shape(), &[1, 1, 4, 4]);
        let want = [
            0., 1., 3., 2., 3., 8., 12., 7., 9., 20., 24., 13., 6., 13., 15., 8.,
        ];
        assert_eq!(y.to_vec_f32().unwrap(), want);
    }

    #[test]
    fn gradients_match_finite_differences() {
        fn conv(p: Conv2dParams) -> impl Fn(&[Tensor]) -> Result<Tensor> {
            move |x| x[0].conv2d(&x[1], x.get(2), p)
        }
        gradcheck(
            &[
                leaf(&[2, 2, 5, 4], 10),
                leaf(&[3, 2, 3, 2], 11),
                leaf(&[3], 12),
            ],
            conv(Conv2dParams::default()),
        );
        gradcheck(
            &[
                leaf(&[2, 2, 5, 6], 13),
                leaf(&[3, 2, 2, 3], 14),
                leaf(&[3], 15),
            ],
            conv(params([1, 2], [2, 1], [1, 1], 1)),
        );
        gradcheck(
            &[leaf(&[1, 4, 6, 5], 16), leaf(&[4, 2, 2, 2], 17)],
            conv(params([2, 1], [1, 1], [2, 2], 2)),
        );
        gradcheck(
            &[
                leaf(&[2, 3, 3, 4], 18),
                leaf(&[2, 3, 1, 1], 19),
                leaf(&[2], 20),
            ],
            conv(Conv2dParams::default()),
        );
        gradcheck(
            &[
                leaf(&[2, 4, 3], 21),
                leaf(&[2, 2, 2, 2], 22),
                leaf(&[2], 23),
            ],
            conv(params([1, 1], [1, 0], [1, 1], 1)),
        );
        // Stride 1 with groups and dilation: the input gradient is a convolution of its own.
        gradcheck(
            &[leaf(&[2, 4, 5, 6], 24), leaf(&[6, 2, 3, 2], 25)],
            conv(params([1, 1], [2, 1], [2, 1], 2)),
        );
        // More than 64 output channels per group: the weight gradient is accumulated row-major.
        gradcheck(
            &[
                leaf(&[2, 2, 4, 3], 28),
                leaf(&[144, 1, 2, 2], 29),
                leaf(&[144], 30),
            ],
            conv(params([1, 1], [1, 0], [1, 1], 2)),
        );
        // Padding wider than the kernel's span: the input gradient goes through col2im.
        gradcheck(
            &[leaf(&[2, 2, 3, 3], 26), leaf(&[3, 2, 1, 2], 27)],
            conv(params([1, 1], [1, 1], [1, 1], 1)),
        );
    }

    #[test]
    fn weight_gradient_is_the_same_bit_for_bit_on_every_run() {
        // Four threads on fewer cores steal work in a different order from run to run; the sum of
        // the per-thread partial gradients must not follow it, or training would not be reproducible.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        // 8x8 planes go through im2col, 4x4 ones by tap classes.
        for ([n, c, hw], o) in [([300, 8, 8], 8), ([300, 8, 4], 8)] {
            let x = Tensor::from_f32(values(n * c * hw * hw, 50), &[n, c, hw, hw]).unwrap();
            let dy = Tensor::from_f32(values(n * o * hw * hw, 51), &[n, o, hw, hw]).unwrap();
            let grad = || {
                pool.install(|| {
                    let w = leaf(&[o, c, 3, 3], 52);
                    x.conv2d(&w, None, params([1, 1], [1, 1], [1, 1], 1))
                        .unwrap()
                        .backward(Some(&dy), false)
                        .unwrap();
                    w.grad().unwrap().to_vec_f32().unwrap()
                })
            };
            let first = grad();
            for _ in 0..20 {
                assert_eq!(grad(), first);
            }
        }
    }

    #[test]
    fn batches_split_into_chunks_match_sample_by_sample() {
        // Enough samples for several chunks of side-by-side im2col columns, the last one partial: at
        // stride 1 the input gradient is a convolution and 9x8 outputs take the weight gradient
        // sample by sample; at stride 2 the input gradient goes through col2im, and the weight
        // gradient through two chunks (5x10 outputs) or one, its gemm split across threads (5x5).
        let ([n, c, h, w], o) = ([37, 8, 9, 8], 8);
        let xs = values(n * c * h * w, 40);
        // On one thread, one task runs several chunks through the same buffers, the last one narrower.
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for (stride, padding) in [([1, 1], [1, 1]), ([2, 1], [1, 2]), ([2, 2], [1, 2])] {
            let p = params(stride, padding, [1, 1], 1);
            let gs = values(n * o * h * w, 43);
            let run = |x: &[f32], shape: &[usize], sample: usize| {
                let x = Tensor::from_f32(x.to_vec(), shape).unwrap();
                let (wt, bt) = (leaf(&[o, c, 3, 3], 41), leaf(&[o], 42));
                x.set_requires_grad(true).unwrap();
                let y = x.conv2d(&wt, Some(&bt), p).unwrap();
                let g = Tensor::from_f32(gs[sample * y.numel()..][..y.numel()].to_vec(), y.shape())
                    .unwrap();
                y.backward(Some(&g), false).unwrap();
                [y, x.grad().unwrap(), wt.grad().unwrap(), bt.grad().unwrap()]
                    .map(|t| t.to_vec_f32().unwrap())
            };
            let samples: Vec<_> = (0..n)
                .map(|i| run(&xs[i * c * h * w..][..c * h * w], &[c, h, w], i))
                .collect();
            let sum = |k: usize| {
                let mut total = vec![0f64; samples[0][k].len()];
                samples.iter().for_each(|s| {
                    total
                        .iter_mut()
                        .zip(&s[k])
                        .for_each(|(t, &v)| *t += v as f64)
                });
                total
            };
            for batched in [
                run(&xs, &[n, c, h, w], 0),
                one_thread.install(|| run(&xs, &[n, c, h, w], 0)),
            ] {
                for k in 0..2 {
                    let want: Vec<f64> = samples
                        .iter()
                        .flat_map(|s| s[k].iter().map(|&v| v as f64))
                        .collect();
                    assert_close(&batched[k], &want, 1e-5);
                }
                assert_close(&batched[2], &sum(2), 1e-4);
                assert_close(&batched[3], &sum(3), 1e-4);
            }
        }
    }

    #[test]
    fn backward_computes_only_the_gradients_asked_for() {
        let x = Tensor::from_f32(values(2 * 3 * 5 * 5, 30), &[2, 3, 5, 5]).unwrap();
        let w = leaf(&[4, 3, 3, 3], 31);
        let b = Tensor::from_f32(values(4, 32), &[4]).unwrap();
        let y = x.conv2d(&w, Some(&b), Conv2dParams::default()).unwrap();
        assert_eq!(y.grad_fn_name(), Some("ConvolutionBackward0"));
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        assert_eq!(w.grad().unwrap().shape(), &[4, 3, 3, 3]);
        assert!(x.grad().is_none() && b.grad().is_none());
    }

    #[test]
    fn bad_operands_are_typed_errors() {
        let t =
            |shape: &[usize]| Tensor::from_f32(vec![0.5; shape.iter().product()], shape).unwrap();
        let d = Conv2dParams::default();
        let code = |r: Result<Tensor>| r.unwrap_err().code();
        let err = t(&[1, 4, 8, 8])
            .conv2d(&t(&[16, 3, 3, 3]), None, params([1, 1], [0, 0], [1, 1], 2))
            .unwrap_err();
        assert_eq!(err.to_string(), "conv2d: expected input[1, 4, 8, 8] to have 6 channels (weight [16, 3, 3, 3] with groups 2), but got 4 channels");
        assert_eq!(err.code(), "ShapeMismatch");
        assert_eq!(
            code(t(&[4, 8, 8, 1, 1]).conv2d(&t(&[2, 4, 3, 3]), None, d)),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[8, 8]).conv2d(&t(&[2, 4, 3, 3]), None, d)),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(&t(&[2, 4, 3]), None, d)),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 2, 8]).conv2d(&t(&[2, 4, 3, 3]), None, d)),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 5, 8]).conv2d(
                &t(&[2, 4, 3, 3]),
                None,
                params([1, 1], [0, 0], [3, 1], 1)
            )),
            "ShapeMismatch"
        );
        assert!(t(&[1, 4, 2, 8])
            .conv2d(&t(&[2, 4, 3, 3]), None, params([1, 1], [1, 0], [1, 1], 1))
            .is_ok());
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(
                &t(&[2, 4, 3, 3]),
                None,
                params([0, 1], [0, 0], [1, 1], 1)
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(
                &t(&[2, 4, 3, 3]),
                None,
                params([1, 1], [0, 0], [1, 0], 1)
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(
                &t(&[2, 4, 3, 3]),
                None,
                params([1, 1], [0, 0], [1, 1], 0)
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(
                &t(&[3, 2, 3, 3]),
                None,
                params([1, 1], [0, 0], [1, 1], 2)
            )),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(&t(&[2, 4, 0, 3]), None, d)),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(&t(&[2, 4, 3, 3]), Some(&t(&[3])), d)),
            "ShapeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(&t(&[2, 4, 3, 3]), Some(&t(&[1, 2])), d)),
            "ShapeMismatch"
        );
        let ints = Tensor::from_i64(vec![0; 4 * 64], &[1, 4, 8, 8]).unwrap();
        assert_eq!(
            code(ints.conv2d(&t(&[2, 4, 3, 3]), None, d)),
            "DTypeMismatch"
        );
        assert_eq!(
            code(t(&[1, 4, 8, 8]).conv2d(
                &t(&[2, 4, 3, 3]),
                Some(&Tensor::from_i64(vec![0, 0], &[2]).unwrap()),
                d
            )),
            "DTypeMismatch"
        );
    }
}
