//! `Activation`: the pointwise function a convolution's or linear layer's output applies after the
//! bias, so that the kernels can apply it to their output tiles while those are hot instead of in
//! a separate pass over memory.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The pointwise function a convolution's or linear layer's output tiles apply after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Nothing: the output as it is.
    Identity,
    /// `max(x, 0)`, NaN staying NaN (`Tensor::relu`).
    Relu,
    /// `min(max(x, 0), 6)`, NaN staying NaN (`Tensor::relu6`).
    Relu6,
    /// `x * sigmoid(x)` (`Tensor::silu`).
    Silu,
}

impl Activation {
    /// `'identity'`, `'relu'`, `'relu6'` or `'silu'`.
    pub fn parse(name: &str) -> Result<Activation> {
        match name {
            "identity" => Ok(Activation::Identity),
            "relu" => Ok(Activation::Relu),
            "relu6" => Ok(Activation::Relu6),
            "silu" => Ok(Activation::Silu),
            other => Err(Error::invalid(
                "activation",
                format!("expected 'identity', 'relu', 'relu6' or 'silu', got '{other}'"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::Silu => "silu",
        }
    }

    /// This activation as the standalone op on `x`, with its own autograd node.
    pub(crate) fn compose(self, x: Tensor) -> Result<Tensor> {
        match self {
            Activation::Identity => Ok(x),
            Activation::Relu => x.relu(),
            Activation::Relu6 => x.relu6(),
            Activation::Silu => x.silu(),
        }
    }
}
