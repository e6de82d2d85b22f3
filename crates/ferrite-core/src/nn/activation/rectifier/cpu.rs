//! The rectifier kernels on f32: forwards walk the input's layout (strided views are read in
//! place), gradients zip the contiguous upstream gradient with the contiguous input. Every
//! function here is branch-free arithmetic over `exp_f32`, so that the loops vectorise.

use std::f32::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

use super::{GeluApproximation, Rectifier};
use crate::cpu::map_strided;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::nn::activation::cpu::{exp_f32, zip_map};
use crate::storage::CpuStorage;

/// `1 / sqrt(2 pi)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
/// `sqrt(2 / pi)` and the cubic coefficient of the tanh approximation, as PyTorch writes them.
const TANH_BETA: f32 = std::f32::consts::SQRT_2 * FRAC_2_SQRT_PI * 0.5;
const TANH_KAPPA: f32 = 0.044_715;

/// `kind` over every element of the float32 `input` viewed through `layout`.
pub(super) fn forward(kind: Rectifier, input: &CpuStorage, layout: &Layout) -> Result<CpuStorage> {
    let op = kind.name();
    let CpuStorage::F32(x) = input else {
        return Err(Error::Internal {
            op,
            detail: "a rectifier kernel was handed a non-float32 tensor".into(),
        });
    };
    Ok(CpuStorage::F32(match kind {
        Rectifier::LeakyRelu { negative_slope } => {
            map_strided(
                op,
                x,
                layout,
                |v: f32| {
                    if v > 0.0 {
                        v
                    } else {
                        v * negative_slope
                    }
                },
            )?
        }
        Rectifier::Gelu(GeluApproximation::None) => map_strided(op, x, layout, gelu_erf)?,
        Rectifier::Gelu(GeluApproximation::Tanh) => map_strided(op, x, layout, gelu_tanh)?,
        Rectifier::Silu => map_strided(op, x, layout, |v: f32| v / (1.0 + exp_f32(-v)))?,
        Rectifier::Hardswish => {
            map_strided(op, x, layout, |v: f32| v * (v + 3.0).clamp(0.0, 6.0) / 6.0)?
        }
    }))
}

/// The input gradient of `kind` from the upstream gradient `g` and the input `x`, both dense.
pub(super) fn backward_input(kind: Rectifier, g: &[f32], x: &[f32]) -> Result<CpuStorage> {
    let op = kind.name();
    Ok(CpuStorage::F32(match kind {
        // PyTorch gives the negative slope at 0.
        Rectifier::LeakyRelu { negative_slope } => {
            zip_map(
                op,
                g,
                x,
                |g, x| {
                    if x > 0.0 {
                        g
                    } else {
                        g * negative_slope
                    }
                },
            )?
        }
        Rectifier::Gelu(GeluApproximation::None) => {
            zip_map(op, g, x, |g, x| g * gelu_erf_derivative(x))?
        }
        Rectifier::Gelu(GeluApproximation::Tanh) => {
            zip_map(op, g, x, |g, x| g * gelu_tanh_derivative(x))?
        }
        Rectifier::Silu => zip_map(op, g, x, |g, x| {
            let s = 1.0 / (1.0 + exp_f32(-x));
            g * s * (1.0 + x * (1.0 - s))
        })?,
        // PyTorch's pieces, boundaries included: 0 up to -3, x / 3 + 1/2 between, 1 from 3 on.
        Rectifier::Hardswish => zip_map(op, g, x, |g, x| {
            if x <= -3.0 {
                0.0
            } else if x < 3.0 {
                g * (x / 3.0 + 0.5)
            } else {
                g
            }
        })?,
    }))
}

/// `erfc(z)` with a relative error of a few float32 ulp for every z (Numerical Recipes'
/// Chebyshev fit, fractional error below 1.2e-7, of `t = 1 / (1 + z / 2)` over `|z|`,
/// reflected for negative z). Relative accuracy in the tail is what keeps `x * Φ(x)` accurate for
/// negative x, where `1 + erf(x)` would cancel.
#[inline(always)]
pub(crate) fn erfc_f32(z: f32) -> f32 {
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.5 * a);
    let mut p = 0.170_872_77f32;
    for k in [
        -0.822_152_23,
        1.488_515_9,
        -1.135_203_98,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_7,
        -1.265_512_2,
    ] {
        p = p * t + k;
    }
    let tail = t * exp_f32(-a * a + p);
    if z >= 0.0 {
        tail
    } else {
        2.0 - tail
    }
}

/// `x * Φ(x)` with `Φ(x) = erfc(-x / √2) / 2`.
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * erfc_f32(-x * FRAC_1_SQRT_2)
}

/// `Φ(x) + x φ(x)`.
#[inline(always)]
fn gelu_erf_derivative(x: f32) -> f32 {
    0.5 * erfc_f32(-x * FRAC_1_SQRT_2) + x * FRAC_1_SQRT_2PI * exp_f32(-0.5 * x * x)
}

/// `x (1 + tanh(u)) / 2`, computed as `x * sigmoid(2u)` (the same function), which stays accurate
/// in the negative tail where `1 + tanh(u)` cancels.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    let u = TANH_BETA * (x + TANH_KAPPA * x * x * x);
    x / (1.0 + exp_f32(-2.0 * u))
}

/// PyTorch's `(1 + tanh u) / 2 + x / 2 (1 - tanh² u) β (1 + 3κx²)`, with `s = sigmoid(2u)`:
/// `(1 + tanh u) / 2 = s` and `1 - tanh² u = 4 s (1 - s)`.
#[inline(always)]
fn gelu_tanh_derivative(x: f32) -> f32 {
    let u = TANH_BETA * (x + TANH_KAPPA * x * x * x);
    let s = 1.0 / (1.0 + exp_f32(-2.0 * u));
    s + 2.0 * x * s * (1.0 - s) * TANH_BETA * (1.0 + 3.0 * TANH_KAPPA * x * x)
}
