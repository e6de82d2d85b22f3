//! 2-D pooling of an NCHW or unbatched CHW input, each channel plane on its own:
//! `max_pool2d` (saving the argmax indices its backward needs), `avg_pool2d` and
//! `adaptive_avg_pool2d`, with PyTorch's output sizes, `ceil_mode` and padding rules.

mod cpu;
pub(crate) mod cuda;
#[cfg(test)]
mod cudnn_library;

use crate::alloc;
use crate::autograd::{record, records, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::checked_numel;
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

/// The input coordinates one output position reads along one axis: `count` of them from `start`,
/// one step (the dilation) apart, and for averages the window's length counting padding.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    count: usize,
    padded: usize,
}

/// The windows of one pooling: input planes [planes, h, w] to output planes [planes, oh, ow].
#[derive(Debug, Clone)]
struct PoolShape {
    planes: usize,
    h: usize,
    w: usize,
    rows: Vec<Span>,
    cols: Vec<Span>,
    step: [usize; 2],
    /// What the spans were made from, for the CUDA kernels, which work each window out themselves.
    window: Window,
}

/// The parameters of a pooling's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Sliding {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    },
    /// PyTorch's adaptive bins.
    Adaptive,
}

impl PoolShape {
    /// Sliding windows of size `kernel`, as max and average pooling use them.
    fn sliding(
        planes: usize,
        [h, w]: [usize; 2],
        [oh, ow]: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Self {
        let spans = |out: usize, len: usize, a: usize| -> Vec<Span> {
            let (k, s, p, d) = (
                kernel[a] as isize,
                stride[a] as isize,
                padding[a] as isize,
                dilation[a] as isize,
            );
            let len = len as isize;
            (0..out as isize)
                .map(|o| {
                    let first = o * s - p;
                    let end = (first + (k - 1) * d + 1).min(len);
                    // Taps before the input are skipped in whole steps of the dilation.
                    let start = if first < 0 {
                        first + (-first + d - 1) / d * d
                    } else {
                        first
                    };
                    let count = if start < end {
                        (end - start - 1) / d + 1
                    } else {
                        0
                    };
                    let padded = (first + k).min(len + p) - first;
                    Span {
                        start: if count > 0 { start as usize } else { 0 },
                        count: count as usize,
                        padded: padded as usize,
                    }
                })
                .collect()
        };
        PoolShape {
            planes,
            h,
            w,
            rows: spans(oh, h, 0),
            cols: spans(ow, w, 1),
            step: dilation,
            window: Window::Sliding {
                kernel,
                stride,
                padding,
                dilation,
            },
        }
    }

    /// PyTorch's adaptive bins: output `i` of `out` averages `floor(i * len / out)..ceil((i + 1) * len / out)`.
    fn adaptive(planes: usize, [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Self {
        let spans = |out: usize, len: usize| -> Vec<Span> {
            (0..out)
                .map(|i| {
                    let (start, end) = (i * len / out, ((i + 1) * len).div_ceil(out));
                    Span {
                        start,
                        count: end - start,
                        padded: end - start,
                    }
                })
                .collect()
        };
        PoolShape {
            planes,
            h,
            w,
            rows: spans(oh, h),
            cols: spans(ow, w),
            step: [1, 1],
            window: Window::Adaptive,
        }
    }

    fn oh(&self) -> usize {
        self.rows.len()
    }

    fn ow(&self) -> usize {
        self.cols.len()
    }
}

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
        const OP: &str = "max_pool2d";
        if records(&[self]) {
            return Ok(self
                .max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)?
                .0);
        }
        if self.dtype() == DType::BF16 {
            // The maxima are bf16 values already: picked in float32, they round back exactly.
            return self
                .to_dtype(DType::F32)?
                .max_pool2d(kernel, stride, padding, dilation, ceil_mode)?
                .to_dtype(DType::BF16);
        }
        // No backward will route a gradient, so the picks' positions are not computed (as
        // PyTorch's inference path does not).
        let s = sliding_shape(OP, self, kernel, stride, padding, dilation, ceil_mode)?;
        let x = self.contiguous()?;
        let values = match &*x.storage().read() {
            Storage::Cpu(xs) => Storage::Cpu(CpuStorage::F32(cpu::max_pool2d_values(
                &s,
                xs.slice(OP, x.layout())?,
            ))),
            Storage::Cuda(xs) => cuda::max_pool2d_forward(OP, &s, (xs, x.layout()))
                .map(|(values, _)| Storage::Cuda(values))?,
        };
        Ok(Tensor::from_storage(values, &pooled_shape(self, &s)))
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
        if self.dtype() == DType::BF16 {
            // The maxima are bf16 values already: picked in float32, they round back exactly.
            let (values, indices) = self
                .to_dtype(DType::F32)?
                .max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)?;
            return Ok((values.to_dtype(DType::BF16)?, indices));
        }
        let s = sliding_shape(OP, self, kernel, stride, padding, dilation, ceil_mode)?;
        let x = self.contiguous()?;
        let (values, indices) = match &*x.storage().read() {
            Storage::Cpu(xs) => {
                let (values, indices) = cpu::max_pool2d_forward(&s, xs.slice(OP, x.layout())?);
                (
                    Storage::Cpu(CpuStorage::F32(values)),
                    Storage::Cpu(CpuStorage::I64(indices)),
                )
            }
            Storage::Cuda(xs) => {
                let (values, indices) = cuda::max_pool2d_forward(OP, &s, (xs, x.layout()))?;
                (Storage::Cuda(values), Storage::Cuda(indices))
            }
        };
        let shape = pooled_shape(self, &s);
        let indices = Tensor::from_storage(indices, &shape);
        let saved = indices.clone();
        let values = record(Tensor::from_storage(values, &shape), &[self], || {
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
        if self.dtype() == DType::BF16 {
            return self.through_f32(|x| {
                x.avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad)
            });
        }
        let s = sliding_shape(OP, self, kernel, stride, padding, [1, 1], ceil_mode)?;
        self.avg_pool(OP, "AvgPool2DBackward0", s, count_include_pad)
    }

    /// The mean over PyTorch's adaptive bins, so that the output planes are `output_size`
    /// whatever the input's: output row `i` of `oh` averages input rows
    /// `floor(i * h / oh)..ceil((i + 1) * h / oh)`, and likewise for columns.
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Tensor> {
        const OP: &str = "adaptive_avg_pool2d";
        if self.dtype() == DType::BF16 {
            return self.through_f32(|x| x.adaptive_avg_pool2d(output_size));
        }
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
        alloc::ensure_within_limit::<Span>(OP, oh.max(ow))?;
        let s = PoolShape::adaptive(planes, size, output_size);
        self.avg_pool(OP, "AdaptiveAvgPool2DBackward0", s, false)
    }

    /// The forward of both average poolings, which differ only in their windows.
    fn avg_pool(
        &self,
        op: &'static str,
        name: &'static str,
        s: PoolShape,
        count_padding: bool,
    ) -> Result<Tensor> {
        let x = self.contiguous()?;
        let out = match &*x.storage().read() {
            Storage::Cpu(xs) => Storage::Cpu(CpuStorage::F32(cpu::avg_pool2d_forward(
                &s,
                xs.slice(op, x.layout())?,
                count_padding,
            ))),
            Storage::Cuda(xs) => Storage::Cuda(cuda::avg_pool2d_forward(
                op,
                &s,
                (xs, x.layout()),
                count_padding,
            )?),
        };
        let out = Tensor::from_storage(out, &pooled_shape(self, &s));
        Ok(record(out, &[self], || AvgPoolBackward {
            name,
            input: self.clone(),
            shape: s,
            count_padding,
        }))
    }
}

/// The number of channel planes (n * c) and their size [h, w], for a float32 3-D or 4-D input.
fn planes_of(op: &'static str, input: &Tensor) -> Result<(usize, [usize; 2])> {
    if input.dtype() != DType::F32 {
        return Err(Error::dtype(
            op,
            "a float32 or bfloat16 tensor",
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
        let (g, indices) = (g.contiguous()?, &self.indices);
        let dx = match (&*g.storage().read(), &*indices.storage().read()) {
            (Storage::Cpu(dy), Storage::Cpu(picked)) => {
                Storage::Cpu(CpuStorage::F32(cpu::max_pool2d_backward_input(
                    &self.shape,
                    dy.slice(OP, g.layout())?,
                    picked.slice(OP, indices.layout())?,
                )))
            }
            (Storage::Cuda(dy), Storage::Cuda(picked)) => {
                Storage::Cuda(cuda::max_pool2d_backward_input(
                    OP,
                    &self.shape,
                    (dy, g.layout()),
                    (picked, indices.layout()),
                )?)
            }
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(OP, a, b)),
        };
        Ok(vec![Some(Tensor::from_storage(dx, self.input.shape()))])
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
        const OP: &str = "avg_pool2d_backward";
        let g = g.contiguous()?;
        let dx = match &*g.storage().read() {
            Storage::Cpu(dy) => Storage::Cpu(CpuStorage::F32(cpu::avg_pool2d_backward_input(
                &self.shape,
                dy.slice(OP, g.layout())?,
                self.count_padding,
            ))),
            Storage::Cuda(dy) => Storage::Cuda(cuda::avg_pool2d_backward_input(
                OP,
                &self.shape,
                (dy, g.layout()),
                self.count_padding,
            )?),
        };
        Ok(vec![Some(Tensor::from_storage(dx, self.input.shape()))])
    }
}

#[cfg(test)]
mod tests;
