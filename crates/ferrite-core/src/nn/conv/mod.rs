//! `conv2d`: 2-D convolution (cross-correlation, as in PyTorch) of an NCHW or unbatched CHW input
//! with a [out_channels, in_channels / groups, kh, kw] weight, an optional bias, and per-axis
//! stride, padding and dilation. `shape` validates the operands, `cpu` holds the kernels and
//! chooses among them for each pass.

mod activation;
mod cpu;
mod cuda;
#[cfg(test)]
pub(crate) mod cudnn_library;
#[cfg(test)]
mod reference;
mod shape;
#[cfg(test)]
mod tests;

pub use activation::Activation;
use cpu::bf16::storage::Floats;
pub use shape::Conv2dParams;
use shape::ConvShape;

use crate::autocast::{self, DeviceType, Policy};
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

const OP: &str = "conv2d";

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
        let s = ConvShape::new(self, weight, bias, params)?;
        let mut operands = vec![self, weight];
        operands.extend(bias);
        let policy = Policy::lower_precision(OP, &operands)?;
        let bf16_products = policy.compute == DType::BF16 && policy.native;
        if bf16_products
            && cpu::bf16::pays(&s)
            && !cpu::pairs_take_forward(&s)
            && !cpu::tiles_take_forward(&s)
        {
            // PyTorch's autocast rounds the bias to bf16 too; its gradient comes back through
            // the cast in the bias's own dtype.
            let b = bias.map(|b| b.to_dtype(DType::BF16)).transpose()?;
            return self.convolve(weight, b.as_ref(), s, Products::Bf16Gemm);
        }
        // Float32 operands: copies of bf16 ones. Without bf16 kernels (no AVX512-BF16, CUDA) the
        // products are float32 (more exact than bf16 ones). bf16 operands get a bf16 result, as
        // without the kernels; under autocast the result stays float32, since rounding it would
        // cost a pass over it and another where the next op (batch norm) casts it back up.
        let products = if bf16_products {
            Products::Bf16OnFloat32
        } else {
            Products::Float32
        };
        let f32 = |t: &Tensor| t.to_dtype(DType::F32);
        let b = bias.map(f32).transpose()?;
        let out = f32(self)?.convolve(&f32(weight)?, b.as_ref(), s, products)?;
        if autocast::dtype(DeviceType::of(self.device())).is_some() {
            return Ok(out);
        }
        out.to_dtype(policy.compute)
    }

    /// `conv2d` followed by `activation`, as one op where the kernels can fuse it: the same
    /// values and gradients as `conv2d(...)` then `relu()` / `relu6()` / `silu()`.
    pub fn conv2d_activated(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
        activation: Activation,
    ) -> Result<Tensor> {
        let mut operands = vec![self, weight];
        operands.extend(bias);
        if activation == Activation::Identity || !Activation::fuses(&operands) {
            return activation.compose(self.conv2d(weight, bias, params)?);
        }
        let s = ConvShape::new(self, weight, bias, params)?;
        self.convolve(weight, bias, s, Products::Activated(activation))
    }

    /// The convolution of `s` with `products`; all operands float32 unless those are `Bf16Gemm`.
    fn convolve(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        s: ConvShape,
        products: Products,
    ) -> Result<Tensor> {
        let (x, w) = (self.contiguous()?, weight.contiguous()?);
        let b = bias.map(Tensor::contiguous).transpose()?;
        let b_storage = b.as_ref().map(|b| (b.storage().read(), b.layout()));
        let cpu = |xs: &CpuStorage, ws: &CpuStorage, bias: Option<(&CpuStorage, &Layout)>| {
            if products == Products::Bf16Gemm {
                let b = bias
                    .map(|(bs, layout)| Floats::of(bs, layout))
                    .transpose()?;
                let (x, w) = (Floats::of(xs, x.layout())?, Floats::of(ws, w.layout())?);
                return Ok(Storage::Cpu(cpu::bf16::storage::forward(&s, x, w, b)));
            }
            let (x, w) = (xs.slice(OP, x.layout())?, ws.slice(OP, w.layout())?);
            let bias = bias.map(|(bs, layout)| bs.slice(OP, layout)).transpose()?;
            let y = match products {
                Products::Bf16OnFloat32 => cpu::forward_bf16_products(&s, x, w, bias),
                Products::Activated(activation) => {
                    cpu::forward_activated(&s, x, w, bias, activation)
                }
                _ => cpu::forward(&s, x, w, bias),
            };
            Result::Ok(Storage::Cpu(CpuStorage::F32(y)))
        };
        let out = match (
            &*x.storage().read(),
            &*w.storage().read(),
            b_storage
                .as_ref()
                .map(|(storage, layout)| (&**storage, *layout)),
        ) {
            (Storage::Cpu(xs), Storage::Cpu(ws), None) => cpu(xs, ws, None)?,
            (Storage::Cpu(xs), Storage::Cpu(ws), Some((Storage::Cpu(bs), layout))) => {
                cpu(xs, ws, Some((bs, layout)))?
            }
            (Storage::Cuda(xs), Storage::Cuda(ws), None) => {
                Storage::Cuda(cuda::forward(&s, (xs, x.layout()), (ws, w.layout()), None)?)
            }
            (Storage::Cuda(xs), Storage::Cuda(ws), Some((Storage::Cuda(bs), layout))) => {
                let b = Some((bs, layout));
                Storage::Cuda(cuda::forward(&s, (xs, x.layout()), (ws, w.layout()), b)?)
            }
            (xs @ Storage::Cpu(_), Storage::Cpu(_), Some((bs @ Storage::Cuda(_), _)))
            | (xs @ Storage::Cuda(_), Storage::Cuda(_), Some((bs @ Storage::Cpu(_), _))) => {
                return Err(mismatch(OP, xs, bs))
            }
            (xs @ Storage::Cpu(_), ws @ Storage::Cuda(_), _)
            | (xs @ Storage::Cuda(_), ws @ Storage::Cpu(_), _) => return Err(mismatch(OP, xs, ws)),
        };
        let shape = if self.rank() == 4 {
            vec![s.n, s.o, s.oh, s.ow]
        } else {
            vec![s.o, s.oh, s.ow]
        };
        let out = Tensor::from_storage(out, &shape);
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(record(out, &inputs, || ConvolutionBackward {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            shape: s,
            products,
        }))
    }
}

struct ConvolutionBackward {
    input: Tensor,
    weight: Tensor,
    bias: Option<Tensor>,
    shape: ConvShape,
    /// The forward's products: the gradients' too, each in its input's dtype.
    products: Products,
}

/// How a convolution's products are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Products {
    /// float32 operands and products.
    Float32,
    /// float32 as `Float32`, the output then activated by the kernels; never recorded for
    /// autograd (see `Activation::fuses`).
    Activated(Activation),
    /// The bf16 gemm (`cpu::bf16`), on float32 or bf16 operands as they lie: bf16 products summed
    /// in float32, a bf16 forward result.
    Bf16Gemm,
    /// Autocast's other convolutions: float32 operands and results, bf16 products in each pass
    /// where a bf16 kernel pays (`cpu::forward_bf16_products` and its gradients), float32 ones
    /// elsewhere.
    Bf16OnFloat32,
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

    /// Only the gradients asked for are computed.
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dy = g.contiguous()?;
        let dx = needs[0].then(|| self.backward_input(&dy)).transpose()?;
        let dw = needs[1].then(|| self.backward_weight(&dy)).transpose()?;
        let mut grads = vec![dx, dw];
        if let Some(bias) = &self.bias {
            grads.push(
                needs[2]
                    .then(|| self.backward_bias(&dy, bias))
                    .transpose()?,
            );
        }
        Ok(grads)
    }
}

impl ConvolutionBackward {
    /// The input's gradient from the contiguous output gradient `dy` and the saved weight.
    fn backward_input(&self, dy: &Tensor) -> Result<Tensor> {
        let w = self.weight.contiguous()?;
        let dx = match (&*dy.storage().read(), &*w.storage().read()) {
            (Storage::Cpu(gs), Storage::Cpu(ws)) if self.products == Products::Bf16Gemm => {
                let (dy, w) = (Floats::of(gs, dy.layout())?, Floats::of(ws, w.layout())?);
                let dtype = self.input.dtype();
                Storage::Cpu(cpu::bf16::storage::backward_input(
                    &self.shape,
                    dy,
                    w,
                    dtype,
                )?)
            }
            (Storage::Cpu(gs), Storage::Cpu(ws)) => {
                let (dy, w) = (gs.slice(OP, dy.layout())?, ws.slice(OP, w.layout())?);
                Storage::Cpu(CpuStorage::F32(match self.products {
                    Products::Bf16OnFloat32 => {
                        cpu::backward_input_bf16_products(&self.shape, dy, w)
                    }
                    _ => cpu::backward_input(&self.shape, dy, w),
                }))
            }
            (Storage::Cuda(gs), Storage::Cuda(ws)) => Storage::Cuda(cuda::backward_input(
                &self.shape,
                (gs, dy.layout()),
                (ws, w.layout()),
            )?),
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(OP, a, b)),
        };
        Ok(Tensor::from_storage(dx, self.input.shape()))
    }

    /// The weight's gradient from `dy` and the saved input.
    fn backward_weight(&self, dy: &Tensor) -> Result<Tensor> {
        let x = self.input.contiguous()?;
        let dw = match (&*dy.storage().read(), &*x.storage().read()) {
            (Storage::Cpu(gs), Storage::Cpu(xs)) if self.products == Products::Bf16Gemm => {
                let (dy, x) = (Floats::of(gs, dy.layout())?, Floats::of(xs, x.layout())?);
                let dtype = self.weight.dtype();
                Storage::Cpu(cpu::bf16::storage::backward_weight(
                    &self.shape,
                    x,
                    dy,
                    dtype,
                )?)
            }
            (Storage::Cpu(gs), Storage::Cpu(xs)) => {
                let (dy, x) = (gs.slice(OP, dy.layout())?, xs.slice(OP, x.layout())?);
                Storage::Cpu(CpuStorage::F32(match self.products {
                    Products::Bf16OnFloat32 => {
                        cpu::backward_weight_bf16_products(&self.shape, x, dy)
                    }
                    _ => cpu::backward_weight(&self.shape, x, dy),
                }))
            }
            (Storage::Cuda(gs), Storage::Cuda(xs)) => Storage::Cuda(cuda::backward_weight(
                &self.shape,
                (xs, x.layout()),
                (gs, dy.layout()),
            )?),
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(OP, a, b)),
        };
        Ok(Tensor::from_storage(dw, self.weight.shape()))
    }

    /// The bias's gradient from `dy`.
    fn backward_bias(&self, dy: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let db = match &*dy.storage().read() {
            Storage::Cpu(gs) if self.products == Products::Bf16Gemm => {
                let dy = Floats::of(gs, dy.layout())?;
                Storage::Cpu(cpu::bf16::storage::backward_bias(
                    &self.shape,
                    dy,
                    bias.dtype(),
                )?)
            }
            Storage::Cpu(gs) => Storage::Cpu(CpuStorage::F32(cpu::backward_bias(
                &self.shape,
                gs.slice(OP, dy.layout())?,
            ))),
            Storage::Cuda(gs) => {
                Storage::Cuda(cuda::backward_bias(&self.shape, (gs, dy.layout()))?)
            }
        };
        Ok(Tensor::from_storage(db, &[self.shape.o]))
    }
}
