//! 2-D pooling of an NCHW or unbatched CHW input, each channel plane on its own:
//! `max_pool2d` (saving the argmax indices its backward needs), `avg_pool2d` and
//! `adaptive_avg_pool2d`, with PyTorch's output sizes, `ceil_mode` and padding rules.

mod cpu;

use cpu::PoolShape;

use crate::alloc;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::checked_numel;
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// The maximum of each `kernel` window, like `torch.nn.functional.max_pool2d`. Windows move by
    /// `stride`, their taps are `dilation` apart, `padding` (at most half the kernel) pads with
    /// -inf, and `ceil_mode` rounds the output size up, keeping only windows that start inside the
    /// input or its left padding.
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<Tensor> {
        Ok(self
            .max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)?
            .0)
    }

    /// `max_pool2d` and, as int64, the flat index in its input plane (`y * w + x`) of every maximum,
    /// like PyTorch's `return_indices=True`.
    pub fn max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<(Tensor, Tensor)> {
        const OP: &str = "max_pool2d";
        let s = sliding_shape(OP, self, kernel, stride, padding, dilation, ceil_mode)?;
        let (values, indices) = self.read_f32(OP, |x| cpu::max_pool2d_fwd(&s, x))?;
        let shape = pooled_shape(self, &s);
        let indices = Tensor::from_i64(indices, &shape)?;
        let saved = indices.clone();
        let values = record(Tensor::from_f32(values, &shape)?, &[self], || {
            MaxPoolBackward {
                input: self.clone(),
                indices: saved,
                shape: s,
            }
        });
        Ok((values, indices))
    }

    /// The mean of each `kernel` window, like `torch.nn.functional.avg_pool2d`. Padding counts as
    /// zeros in the divisor when `count_include_pad` is set, and is left out of it otherwise.
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        const OP: &str = "avg_pool2d";
        let s = sliding_shape(OP, self, kernel, stride, padding, [1, 1], ceil_mode)?;
        let out = self.read_f32(OP, |x| cpu::avg_pool2d_fwd(&s, x, count_include_pad))?;
        let out = Tensor::from_f32(out, &pooled_shape(self, &s))?;
        Ok(record(out, &[self], || AvgPoolBackward {
            name: "AvgPool2DBackward0",
            input: self.clone(),
            shape: s,
            count_padding: count_include_pad,
        }))
    }

    /// The mean over PyTorch's adaptive bins, so that the output planes are `output_size`
    /// whatever the input's: output row `i` of `oh` averages input rows
    /// `floor(i * h / oh)..ceil((i + 1) * h / oh)`, and likewise for columns.
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Tensor> {
        const OP: &str = "adaptive_avg_pool2d";
        let (planes, size) = planes_of(OP, self)?;
        if output_size.contains(&0) {
            return Err(Error::invalid(
                OP,
                format!("output size must be positive, got {output_size:?}"),
            ));
        }
        // The bins and the output are sized by `output_size` alone: refuse sizes over the
        // allocation limit before either is made (an output of [4, 2^31] took all memory).
        let [oh, ow] = output_size;
        alloc::ensure_within_limit::<f32>(OP, checked_numel(OP, &[planes, oh, ow])?)?;
        alloc::ensure_within_limit::<cpu::Span>(OP, oh.max(ow))?;
        let s = PoolShape::adaptive(planes, size, output_size);
        let out = self.read_f32(OP, |x| cpu::avg_pool2d_fwd(&s, x, false))?;
        let out = Tensor::from_f32(out, &pooled_shape(self, &s))?;
        Ok(record(out, &[self], || AvgPoolBackward {
            name: "AdaptiveAvgPool2DBackward0",
            input: self.clone(),
            shape: s,
            count_padding: false,
        }))
    }
}

/// The number of channel planes (n * c) and their size [h, w], for a float32 3-D or 4-D input.
fn planes_of(op: &'static str, input: &Tensor) -> Result<(usize, [usize; 2])> {
    if input.dtype() != DType::F32 {
        return Err(Error::dtype(
            op,
            "a float32 tensor",
            format!("{} (input {})", input.dtype(), ShapeDisplay(input.shape())),
        ));
    }
    let (n, [c, h, w]) = match *input.shape() {
        [n, c, h, w] => (n, [c, h, w]),
        [c, h, w] => (1, [c, h, w]),
        _ => {
            return Err(Error::shape(
                op,
                format!(
                    "expected a 3-D (unbatched) or 4-D (batched) input, got input of shape {}",
                    ShapeDisplay(input.shape())
                ),
            ))
        }
    };
    if c == 0 || h == 0 || w == 0 {
        return Err(Error::shape(
            op,
            format!(
                "expected non-zero channel, height and width sizes, got input of shape {}",
                ShapeDisplay(input.shape())
            ),
        ));
    }
    Ok((n * c, [h, w]))
}

/// Validates a sliding-window pooling and works out its output size, as PyTorch does.
fn sliding_shape(
    op: &'static str,
    input: &Tensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Result<PoolShape> {
    let (planes, size) = planes_of(op, input)?;
    for (name, value) in [
        ("kernel size", kernel),
        ("stride", stride),
        ("dilation", dilation),
    ] {
        if value.contains(&0) {
            return Err(Error::invalid(
                op,
                format!("{name} must be positive, got {value:?}"),
            ));
        }
    }
    if (0..2).any(|a| padding[a] > kernel[a] / 2) {
        return Err(Error::invalid(
            op,
            format!(
                "padding should be at most half of the kernel size, got padding {padding:?} and kernel size \
                 {kernel:?}"
            ),
        ));
    }
    let out = [0, 1].map(|a| {
        pooled_len(
            size[a],
            kernel[a],
            stride[a],
            padding[a],
            dilation[a],
            ceil_mode,
        )
    });
    if out.iter().any(|&o| o < 1) {
        return Err(Error::shape(
            op,
            format!(
                "input {} is too small for kernel size {kernel:?} with padding {padding:?} and dilation \
                 {dilation:?}: the output would be {} x {}",
                ShapeDisplay(input.shape()),
                out[0].max(0),
                out[1].max(0)
            ),
        ));
    }
    Ok(PoolShape::sliding(
        planes,
        size,
        out.map(|o| o as usize),
        kernel,
        stride,
        padding,
        dilation,
    ))
}

/// PyTorch's pooling output length: with `ceil_mode` the last window must still start inside the
/// input or its left padding.
fn pooled_len(
    len: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> i64 {
    let (len, kernel, stride, padding, dilation) = (
        len as i64,
        kernel as i64,
        stride as i64,
        padding as i64,
        dilation as i64,
    );
    let span = len + 2 * padding - dilation * (kernel - 1) - 1;
    let mut out = (span + if ceil_mode { stride - 1 } else { 0 }).div_euclid(stride) + 1;
    if ceil_mode && (out - 1) * stride >= len + padding {
        out -= 1;
    }
    out
}

/// The input's shape with its plane size replaced by the pooled one.
fn pooled_shape(input: &Tensor, s: &PoolShape) -> Vec<usize> {
    let mut shape = input.shape().to_vec();
    let rank = shape.len();
    shape[rank - 2..].copy_from_slice(&[s.oh(), s.ow()]);
    shape
}

struct MaxPoolBackward {
    input: Tensor,
    indices: Tensor,
    shape: PoolShape,
}

impl Backward for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "MaxPool2DWithIndicesBackward0"
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.indices]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        const OP: &str = "max_pool2d_backward";
        let storage = self.indices.storage().read();
        let Storage::Cpu(CpuStorage::I64(indices)) = &*storage else {
            return Err(Error::Internal {
                op: OP,
                detail: "indices without int64 storage".into(),
            });
        };
        let dx = g.read_f32(OP, |dy| cpu::max_pool2d_bwd(&self.shape, dy, indices))?;
        Ok(vec![Some(Tensor::from_f32(dx, self.input.shape())?)])
    }
}

/// The backward of both average poolings: they differ only in their windows.
struct AvgPoolBackward {
    name: &'static str,
    input: Tensor,
    shape: PoolShape,
    count_padding: bool,
}

impl Backward for AvgPoolBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = g.read_f32("avg_pool2d_backward", |dy| {
            cpu::avg_pool2d_bwd(&self.shape, dy, self.count_padding)
        })?;
        Ok(vec![Some(Tensor::from_f32(dx, self.input.shape())?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{gradcheck, leaf, values};

    /// A sliding-window pooling written out tap by tap in float64.
    struct Reference {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    }

    impl Reference {
        /// In ceil mode a window counts if it starts less than a stride after the last one that
        /// fits, and inside the input or its left padding.
        fn out_len(&self, len: usize, a: usize) -> usize {
            let (k, s, p, d) = (
                self.kernel[a],
                self.stride[a],
                self.padding[a],
                self.dilation[a],
            );
            let (reach, span) = (len + 2 * p, d * (k - 1) + 1);
            let fits = |o: usize| {
                if self.ceil_mode {
                    o * s < reach - span + s && o * s < len + p
                } else {
                    o * s + span <= reach
                }
            };
            (0..).take_while(|&o| fits(o)).count()
        }

        /// The input coordinate of tap `i` of output `o` along axis `a`, negative in the padding.
        fn coord(&self, o: usize, i: usize, a: usize) -> isize {
            (o * self.stride[a] + i * self.dilation[a]) as isize - self.padding[a] as isize
        }

        /// Every output of every plane: the float64 values and plane indices of its taps inside
        /// the input, and the size of its window clipped to the padded input.
        fn windows(
            &self,
            x: &[f32],
            [planes, h, w]: [usize; 3],
        ) -> Vec<(Vec<(f64, usize)>, usize)> {
            let (oh, ow) = (self.out_len(h, 0), self.out_len(w, 1));
            let mut all = Vec::new();
            for p in 0..planes {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let rows = (0..self.kernel[0])
                            .filter(|&i| self.coord(oy, i, 0) < (h + self.padding[0]) as isize)
                            .count();
                        let cols = (0..self.kernel[1])
                            .filter(|&j| self.coord(ox, j, 1) < (w + self.padding[1]) as isize)
                            .count();
                        let mut taps = Vec::new();
                        for i in 0..self.kernel[0] {
                            for j in 0..self.kernel[1] {
                                let (y, xx) = (self.coord(oy, i, 0), self.coord(ox, j, 1));
                                if y >= 0 && xx >= 0 && y < h as isize && xx < w as isize {
                                    let at = y as usize * w + xx as usize;
                                    taps.push((x[p * h * w + at] as f64, at));
                                }
                            }
                        }
                        all.push((taps, rows * cols));
                    }
                }
            }
            all
        }
    }

    fn close(got: &Tensor, want: &[f64]) {
        let got = got.to_vec_f32().unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
                "at {i}: {g} vs {w}"
            );
        }
    }

    fn max_case(shape: [usize; 4], r: Reference) {
        let x = values(shape.iter().product(), 7);
        let t = Tensor::from_f32(x.clone(), &shape).unwrap();
        let (values, indices) = t
            .max_pool2d_with_indices(r.kernel, r.stride, r.padding, r.dilation, r.ceil_mode)
            .unwrap();
        assert_eq!(
            values.shape(),
            [
                shape[0],
                shape[1],
                r.out_len(shape[2], 0),
                r.out_len(shape[3], 1)
            ]
        );
        let windows = r.windows(&x, [shape[0] * shape[1], shape[2], shape[3]]);
        // The first of equal maxima, as PyTorch picks.
        let best: Vec<(f64, usize)> = windows
            .iter()
            .map(|(taps, _)| {
                taps.iter()
                    .fold(taps[0], |b, &t| if t.0 > b.0 { t } else { b })
            })
            .collect();
        close(&values, &best.iter().map(|b| b.0).collect::<Vec<_>>());
        assert_eq!(
            indices.to_vec_i64().unwrap(),
            best.iter().map(|b| b.1 as i64).collect::<Vec<_>>()
        );
    }

    fn avg_case(shape: [usize; 4], r: Reference, count_include_pad: bool) {
        let x = values(shape.iter().product(), 8);
        let t = Tensor::from_f32(x.clone(), &shape).unwrap();
        let y = t
            .avg_pool2d(
                r.kernel,
                r.stride,
                r.padding,
                r.ceil_mode,
                count_include_pad,
            )
            .unwrap();
        let want: Vec<f64> = r
            .windows(&x, [shape[0] * shape[1], shape[2], shape[3]])
            .iter()
            .map(|(taps, padded)| {
                taps.iter().map(|t| t.0).sum::<f64>()
                    / if count_include_pad {
                        *padded
                    } else {
                        taps.len()
                    } as f64
            })
            .collect();
        assert_eq!(
            y.shape()[2..],
            [r.out_len(shape[2], 0), r.out_len(shape[3], 1)]
        );
        close(&y, &want);
    }

    fn window(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Reference {
        Reference {
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode,
        }
    }

    #[test]
    fn max_pool_matches_a_float64_reference() {
        max_case([2, 3, 6, 8], window([2, 2], [2, 2], [0, 0], [1, 1], false));
        max_case([2, 3, 7, 9], window([3, 3], [2, 2], [0, 0], [1, 1], false));
        max_case([1, 2, 5, 5], window([3, 3], [1, 1], [1, 1], [1, 1], false));
        max_case([1, 2, 5, 5], window([2, 2], [2, 2], [0, 0], [1, 1], true));
        max_case([2, 2, 7, 9], window([3, 3], [2, 2], [1, 1], [1, 1], true));
        max_case([1, 1, 5, 5], window([2, 2], [2, 2], [1, 1], [1, 1], true));
        max_case([1, 2, 6, 7], window([2, 3], [1, 2], [1, 1], [1, 1], false));
        max_case([1, 2, 7, 9], window([3, 3], [1, 1], [0, 0], [2, 2], false));
        max_case([1, 1, 6, 6], window([3, 3], [2, 2], [1, 1], [2, 1], true));
        max_case(
            [3, 40, 9, 11],
            window([3, 2], [2, 1], [1, 1], [1, 2], false),
        );
    }

    #[test]
    fn max_pool_keeps_the_first_tie_and_pads_with_minus_infinity() {
        let x = Tensor::from_f32(vec![-5., -5., -7., -5.], &[1, 2, 2]).unwrap();
        let (v, i) = x
            .max_pool2d_with_indices([2, 2], [1, 1], [1, 1], [1, 1], false)
            .unwrap();
        assert_eq!(v.shape(), &[1, 3, 3]);
        assert_eq!(
            v.to_vec_f32().unwrap(),
            vec![-5., -5., -5., -5., -5., -5., -7., -5., -5.]
        );
        assert_eq!(i.to_vec_i64().unwrap(), vec![0, 0, 1, 0, 0, 1, 2, 3, 3]);
        // 2x2 windows at stride 2 take their own path: the same first tie.
        let (v, i) = x
            .max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false)
            .unwrap();
        assert_eq!(
            (v.to_vec_f32().unwrap(), i.to_vec_i64().unwrap()),
            (vec![-5.], vec![0])
        );
        let nan = Tensor::from_f32(vec![1., f32::NAN, 3., 2.], &[1, 2, 2]).unwrap();
        assert!(nan
            .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
            .unwrap()
            .item()
            .unwrap()
            .is_nan());
    }

    #[test]
    fn avg_pool_matches_a_float64_reference() {
        avg_case(
            [2, 3, 6, 8],
            window([2, 2], [2, 2], [0, 0], [1, 1], false),
            true,
        );
        avg_case(
            [1, 2, 7, 9],
            window([3, 3], [2, 2], [1, 1], [1, 1], false),
            true,
        );
        avg_case(
            [1, 2, 7, 9],
            window([3, 3], [2, 2], [1, 1], [1, 1], false),
            false,
        );
        avg_case(
            [1, 2, 5, 5],
            window([2, 2], [2, 2], [0, 0], [1, 1], true),
            true,
        );
        avg_case(
            [1, 1, 6, 6],
            window([3, 3], [2, 2], [0, 0], [1, 1], true),
            true,
        );
        avg_case(
            [2, 1, 6, 8],
            window([3, 3], [2, 2], [1, 1], [1, 1], true),
            true,
        );
        avg_case(
            [2, 1, 6, 8],
            window([3, 3], [2, 2], [1, 1], [1, 1], true),
            false,
        );
        avg_case(
            [1, 2, 5, 7],
            window([2, 3], [1, 2], [1, 1], [1, 1], false),
            false,
        );
        avg_case(
            [2, 2, 9, 4],
            window([3, 1], [3, 1], [0, 0], [1, 1], false),
            true,
        );
        avg_case(
            [3, 40, 9, 11],
            window([3, 3], [2, 1], [1, 1], [1, 1], true),
            false,
        );
    }

    #[test]
    fn adaptive_outputs_over_the_allocation_limit_are_errors_before_any_buffer() {
        // Found by the fuzz suite: the bins of an output 2^31 wide took all memory.
        let x = Tensor::from_f32(vec![1.0; 4], &[1, 1, 2, 2]).unwrap();
        for size in [[4, 1 << 40], [1 << 40, 1]] {
            let e = x.adaptive_avg_pool2d(size).unwrap_err();
            assert_eq!(e.code(), "OutOfMemory", "{e}");
        }
        let empty = Tensor::from_f32(vec![], &[0, 1, 2, 2]).unwrap();
        let e = empty.adaptive_avg_pool2d([1, 1 << 40]).unwrap_err();
        assert_eq!(e.code(), "OutOfMemory", "{e}");
    }

    #[test]
    fn adaptive_avg_pool_uses_pytorch_bins() {
        // Rows 0..2, 1..4, 3..5 and columns 0..3, 2..5, 4..7 of arange(35).view(1, 5, 7): overlapping bins.
        let x = Tensor::arange(0.0, 35.0, 1.0, DType::F32, crate::Device::Cpu)
            .unwrap()
            .reshape(&[1, 5, 7])
            .unwrap();
        let y = x.adaptive_avg_pool2d([3, 3]).unwrap();
        assert_eq!(y.shape(), &[1, 3, 3]);
        close(&y, &[4.5, 6.5, 8.5, 15.0, 17.0, 19.0, 25.5, 27.5, 29.5]);
        // Upsampling repeats values; the identity size changes nothing.
        let small = Tensor::from_f32(vec![1., 2., 3., 4.], &[1, 1, 2, 2]).unwrap();
        close(
            &small.adaptive_avg_pool2d([3, 3]).unwrap(),
            &[1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.],
        );
        assert_eq!(
            x.adaptive_avg_pool2d([5, 7]).unwrap().to_vec_f32().unwrap(),
            x.to_vec_f32().unwrap()
        );
        close(&x.adaptive_avg_pool2d([1, 1]).unwrap(), &[17.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Distinct values, so that no max is a tie that finite differences would split.
        let distinct = |shape: &[usize], seed: u64| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|i| ((i as u64 * 37 + seed) % n as u64) as f32 / n as f32)
                .collect();
            let t = Tensor::from_f32(v, shape).unwrap();
            t.set_requires_grad(true).unwrap();
            t
        };
        gradcheck(&[distinct(&[2, 2, 5, 6], 1)], |x| {
            x[0].max_pool2d([3, 2], [2, 1], [1, 1], [1, 2], true)
        });
        gradcheck(&[distinct(&[2, 5, 5], 2)], |x| {
            x[0].max_pool2d([2, 2], [1, 1], [0, 0], [1, 1], false)
        });
        gradcheck(&[leaf(&[2, 2, 5, 6], 3)], |x| {
            x[0].avg_pool2d([3, 3], [2, 2], [1, 1], true, true)
        });
        gradcheck(&[leaf(&[2, 2, 5, 6], 4)], |x| {
            x[0].avg_pool2d([2, 3], [1, 2], [1, 1], false, false)
        });
        gradcheck(&[leaf(&[2, 5, 7], 5)], |x| x[0].adaptive_avg_pool2d([3, 4]));
        gradcheck(&[leaf(&[1, 2, 3, 2], 6)], |x| {
            x[0].adaptive_avg_pool2d([4, 3])
        });
    }

    #[test]
    fn unbatched_and_empty_batches() {
        let x = Tensor::from_f32(values(2 * 5 * 6, 10), &[2, 5, 6]).unwrap();
        let batched = x
            .unsqueeze(0)
            .unwrap()
            .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)
            .unwrap();
        let unbatched = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true).unwrap();
        assert_eq!(unbatched.shape(), &[2, 3, 3]);
        assert_eq!(
            unbatched.to_vec_f32().unwrap(),
            batched.to_vec_f32().unwrap()
        );
        let empty = Tensor::from_f32(vec![], &[0, 2, 5, 6]).unwrap();
        assert_eq!(
            empty
                .avg_pool2d([2, 2], [2, 2], [0, 0], false, true)
                .unwrap()
                .shape(),
            &[0, 2, 2, 3]
        );
        assert_eq!(
            empty.adaptive_avg_pool2d([2, 2]).unwrap().shape(),
            &[0, 2, 2, 2]
        );
    }

    #[test]
    fn grad_fn_names_match_pytorch() {
        let x = leaf(&[1, 2, 4, 4], 9);
        assert_eq!(
            x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
                .unwrap()
                .grad_fn_name(),
            Some("MaxPool2DWithIndicesBackward0")
        );
        assert_eq!(
            x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true)
                .unwrap()
                .grad_fn_name(),
            Some("AvgPool2DBackward0")
        );
        assert_eq!(
            x.adaptive_avg_pool2d([1, 1]).unwrap().grad_fn_name(),
            Some("AdaptiveAvgPool2DBackward0")
        );
    }

    #[test]
    fn bad_arguments_are_typed_errors() {
        let t =
            |shape: &[usize]| Tensor::from_f32(vec![0.5; shape.iter().product()], shape).unwrap();
        let max = |x: Tensor, k: [usize; 2], s: [usize; 2], p: [usize; 2], d: [usize; 2]| {
            x.max_pool2d(k, s, p, d, false).unwrap_err().code()
        };
        assert_eq!(
            max(t(&[5, 5]), [2, 2], [2, 2], [0, 0], [1, 1]),
            "ShapeMismatch"
        );
        assert_eq!(
            max(t(&[1, 1, 1, 5, 5]), [2, 2], [2, 2], [0, 0], [1, 1]),
            "ShapeMismatch"
        );
        assert_eq!(
            max(t(&[1, 0, 5, 5]), [2, 2], [2, 2], [0, 0], [1, 1]),
            "ShapeMismatch"
        );
        assert_eq!(
            max(t(&[1, 1, 2, 2]), [3, 3], [3, 3], [0, 0], [1, 1]),
            "ShapeMismatch"
        );
        assert_eq!(
            max(t(&[1, 1, 5, 5]), [3, 3], [1, 1], [0, 0], [3, 1]),
            "ShapeMismatch"
        );
        assert_eq!(
            max(t(&[1, 1, 5, 5]), [0, 2], [1, 1], [0, 0], [1, 1]),
            "InvalidArgument"
        );
        assert_eq!(
            max(t(&[1, 1, 5, 5]), [2, 2], [2, 0], [0, 0], [1, 1]),
            "InvalidArgument"
        );
        assert_eq!(
            max(t(&[1, 1, 5, 5]), [2, 2], [2, 2], [0, 0], [0, 1]),
            "InvalidArgument"
        );
        assert_eq!(
            max(t(&[1, 1, 5, 5]), [2, 2], [2, 2], [2, 0], [1, 1]),
            "InvalidArgument"
        );
        let avg = |x: Tensor, k: [usize; 2], s: [usize; 2], p: [usize; 2]| {
            x.avg_pool2d(k, s, p, false, true).unwrap_err().code()
        };
        assert_eq!(avg(t(&[5, 5]), [2, 2], [2, 2], [0, 0]), "ShapeMismatch");
        assert_eq!(
            avg(t(&[1, 1, 2, 2]), [5, 5], [1, 1], [1, 1]),
            "ShapeMismatch"
        );
        assert_eq!(
            avg(t(&[1, 1, 5, 5]), [3, 3], [1, 1], [2, 1]),
            "InvalidArgument"
        );
        assert_eq!(
            avg(t(&[1, 1, 5, 5]), [3, 3], [0, 1], [0, 0]),
            "InvalidArgument"
        );
        assert_eq!(
            t(&[5, 5]).adaptive_avg_pool2d([1, 1]).unwrap_err().code(),
            "ShapeMismatch"
        );
        assert_eq!(
            t(&[1, 5, 0])
                .adaptive_avg_pool2d([1, 1])
                .unwrap_err()
                .code(),
            "ShapeMismatch"
        );
        assert_eq!(
            t(&[1, 5, 5])
                .adaptive_avg_pool2d([0, 1])
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
        let ints = Tensor::from_i64(vec![1; 25], &[1, 5, 5]).unwrap();
        assert_eq!(
            ints.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
                .unwrap_err()
                .code(),
            "DTypeMismatch"
        );
        assert_eq!(
            ints.adaptive_avg_pool2d([2, 2]).unwrap_err().code(),
            "DTypeMismatch"
        );
        let err = t(&[1, 1, 2, 2])
            .max_pool2d([3, 3], [3, 3], [0, 0], [1, 1], false)
            .unwrap_err();
        assert_eq!(err.to_string(), "max_pool2d: input [1, 1, 2, 2] is too small for kernel size [3, 3] with padding [0, 0] and dilation [1, 1]: the output would be 0 x 0");
    }
}
