//! ReLU's smooth and leaky relatives, elementwise: `leaky_relu`, `gelu` (exact or tanh),
//! `silu` and `hardswish`. Unlike relu, sigmoid and tanh, their gradients are functions of the
//! input, so the backward saves the input (as PyTorch's does).

mod cpu;
pub(crate) mod cuda;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::{mismatch, Storage};
use crate::tensor::Tensor;

/// How `gelu` computes the normal CDF, as PyTorch's `approximate` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeluApproximation {
    /// `Φ(x) = (1 + erf(x / √2)) / 2`.
    None,
    /// `(1 + tanh(√(2/π) (x + 0.044715 x³))) / 2`.
    Tanh,
}

impl GeluApproximation {
    pub fn parse(name: &str) -> Result<GeluApproximation> {
        match name {
            "none" => Ok(GeluApproximation::None),
            "tanh" => Ok(GeluApproximation::Tanh),
            other => Err(Error::invalid(
                "gelu",
                format!("approximate must be 'none' or 'tanh', got '{other}'"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GeluApproximation::None => "none",
            GeluApproximation::Tanh => "tanh",
        }
    }
}

/// One of the activations, with its parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Rectifier {
    LeakyRelu { negative_slope: f32 },
    Gelu(GeluApproximation),
    Silu,
    Hardswish,
}

impl Rectifier {
    fn name(self) -> &'static str {
        match self {
            Rectifier::LeakyRelu { .. } => "leaky_relu",
            Rectifier::Gelu(_) => "gelu",
            Rectifier::Silu => "silu",
            Rectifier::Hardswish => "hardswish",
        }
    }
}

impl Tensor {
    /// `x` where `x > 0`, else `negative_slope * x`.
    pub fn leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        self.rectifier(Rectifier::LeakyRelu {
            negative_slope: negative_slope as f32,
        })
    }

    /// `x * Φ(x)`, Φ the standard normal CDF (or its tanh approximation).
    pub fn gelu(&self, approximate: GeluApproximation) -> Result<Tensor> {
        self.rectifier(Rectifier::Gelu(approximate))
    }

    /// `x * sigmoid(x)` (also called swish).
    pub fn silu(&self) -> Result<Tensor> {
        self.rectifier(Rectifier::Silu)
    }

    /// `x * min(max(x + 3, 0), 6) / 6`.
    pub fn hardswish(&self) -> Result<Tensor> {
        self.rectifier(Rectifier::Hardswish)
    }

    fn rectifier(&self, kind: Rectifier) -> Result<Tensor> {
        let op = kind.name();
        match self.dtype() {
            DType::F32 => {}
            DType::BF16 => return self.through_f32(|x| x.rectifier(kind)),
            // PyTorch has no integer kernels for these either.
            DType::I64 | DType::Bool => {
                return Err(Error::dtype(
                    op,
                    "a float32 or bfloat16 tensor",
                    self.dtype(),
                ))
            }
        }
        // Strided inputs are read in place: the kernel walks the layout.
        let out = match &*self.storage().read() {
            Storage::Cpu(xs) => Storage::Cpu(cpu::forward(kind, xs, self.layout())?),
            Storage::Cuda(xs) => Storage::Cuda(cuda::forward(kind, xs, self.layout())?),
        };
        let out = Tensor::from_storage(out, self.shape());
        Ok(record(out, &[self], || RectifierBackward {
            kind,
            input: self.clone(),
        }))
    }
}

struct RectifierBackward {
    kind: Rectifier,
    input: Tensor,
}

impl Backward for RectifierBackward {
    fn name(&self) -> &'static str {
        match self.kind {
            Rectifier::LeakyRelu { .. } => "LeakyReluBackward0",
            Rectifier::Gelu(_) => "GeluBackward0",
            Rectifier::Silu => "SiluBackward0",
            Rectifier::Hardswish => "HardswishBackward0",
        }
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.input]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let op = self.kind.name();
        let (g, x) = (g.contiguous()?, self.input.contiguous()?);
        let dx = match (&*g.storage().read(), &*x.storage().read()) {
            (Storage::Cpu(gs), Storage::Cpu(xs)) => Storage::Cpu(cpu::backward_input(
                self.kind,
                gs.slice(op, g.layout())?,
                xs.slice(op, x.layout())?,
            )?),
            (Storage::Cuda(gs), Storage::Cuda(xs)) => Storage::Cuda(cuda::backward_input(
                self.kind,
                (gs, g.layout()),
                (xs, x.layout()),
            )?),
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(op, a, b)),
        };
        Ok(vec![Some(Tensor::from_storage(dx, self.input.shape()))])
    }
}

#[cfg(test)]
mod tests;
