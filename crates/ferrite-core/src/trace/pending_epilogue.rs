//! Until fuse-kernels lands: `Activation`, `conv2d_activated` and `linear_activated` as that
//! branch declares them, computed unfused. Removed by the merge.

use crate::error::Result;
use crate::nn::conv::Conv2dParams;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
    Relu6,
    Silu,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::Silu => "silu",
        }
    }

    fn apply(self, x: Tensor) -> Result<Tensor> {
        match self {
            Activation::Identity => Ok(x),
            Activation::Relu => x.relu(),
            Activation::Relu6 => x.relu6(),
            Activation::Silu => x.silu(),
        }
    }
}

impl Tensor {
    pub fn conv2d_activated(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
        activation: Activation,
    ) -> Result<Tensor> {
        activation.apply(self.conv2d(weight, bias, params)?)
    }

    pub fn linear_activated(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Tensor> {
        activation.apply(self.linear(weight, bias)?)
    }
}
