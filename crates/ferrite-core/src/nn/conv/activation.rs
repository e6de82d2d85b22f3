//! `Activation`: the pointwise function a convolution's or linear layer's output applies after the
//! bias, so that the kernels can apply it to their output tiles while those are hot instead of in
//! a separate pass over memory. `value` is the one place of its float32 maths on the CPU; it
//! gives the same bits as the standalone ops (`relu`, `relu6`, `silu`).

use crate::autocast::{self, DeviceType};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::nn::activation::exp_f32;
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

    /// Whether a layer on these operands runs with its activation applied by the kernels, as one
    /// op: float32 CPU tensors, no autocast, and no gradient to record (which would need the
    /// activation's input). Elsewhere the layer and the activation's own op are composed.
    pub(crate) fn fuses(operands: &[&Tensor]) -> bool {
        let recording =
            crate::autograd::is_grad_enabled() && operands.iter().any(|t| t.requires_grad());
        !recording
            && autocast::dtype(DeviceType::Cpu).is_none()
            && operands
                .iter()
                .all(|t| t.dtype() == DType::F32 && t.device() == Device::Cpu)
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

    /// The activation of one float32 value, bit for bit as the standalone ops' CPU kernels
    /// compute it. Branch-free but for the match, which loops hoist out of their bodies.
    #[inline(always)]
    pub(crate) fn value(self, v: f32) -> f32 {
        match self {
            Activation::Identity => v,
            Activation::Relu => {
                if v > 0.0 || v.is_nan() {
                    v
                } else {
                    0.0
                }
            }
            // `clamp` keeps NaN.
            Activation::Relu6 => v.clamp(0.0, 6.0),
            Activation::Silu => v / (1.0 + exp_f32(-v)),
        }
    }

    /// `value` over every element of `ys`, with 16-lane vectors where the CPU has AVX-512F (the
    /// same bits: each element's operations are the same, none fused).
    #[inline]
    pub(crate) fn apply(self, ys: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self != Activation::Identity && is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was just detected.
            return unsafe { self.apply_avx512(ys) };
        }
        self.apply_lanes(ys)
    }

    /// `apply` compiled for AVX-512F.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn apply_avx512(self, ys: &mut [f32]) {
        self.apply_lanes(ys)
    }

    /// `value` over every element of `ys`, vectorised for the instruction set of the caller.
    #[inline(always)]
    pub(crate) fn apply_lanes(self, ys: &mut [f32]) {
        // One loop per activation, so that each vectorises without a match in its body.
        match self {
            Activation::Identity => {}
            Activation::Relu => ys.iter_mut().for_each(|y| *y = Activation::Relu.value(*y)),
            Activation::Relu6 => ys.iter_mut().for_each(|y| *y = Activation::Relu6.value(*y)),
            Activation::Silu => ys.iter_mut().for_each(|y| *y = Activation::Silu.value(*y)),
        }
    }
}
