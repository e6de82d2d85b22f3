//! Losses: classification (cross entropy, nll), regression (mse) and binary (bce with logits).

use ferrite_core::nn::loss::Reduction;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{apply, TensorHandle};

/// Cross entropy of logits against int64 class indices; `reduction` is 'none', 'mean' or 'sum'.
#[napi]
pub fn cross_entropy(
    env: Env,
    logits: TensorHandle,
    targets: TensorHandle,
    reduction: String,
    ignore_index: i64,
    label_smoothing: f64,
) -> Result<TensorHandle, String> {
    const OP: &str = "cross_entropy";
    let targets = targets.get(OP)?;
    apply(&env, logits, OP, |t| {
        t.cross_entropy(
            &targets,
            Reduction::parse(OP, &reduction)?,
            ignore_index,
            label_smoothing,
        )
    })
}

/// Negative log-likelihood of log-probabilities at int64 class indices.
#[napi]
pub fn nll_loss(
    env: Env,
    log_probs: TensorHandle,
    targets: TensorHandle,
    reduction: String,
    ignore_index: i64,
) -> Result<TensorHandle, String> {
    const OP: &str = "nll_loss";
    let targets = targets.get(OP)?;
    apply(&env, log_probs, OP, |t| {
        t.nll_loss(&targets, Reduction::parse(OP, &reduction)?, ignore_index)
    })
}

/// Mean squared error between an input and a target of the same shape.
#[napi]
pub fn mse_loss(
    env: Env,
    input: TensorHandle,
    target: TensorHandle,
    reduction: String,
) -> Result<TensorHandle, String> {
    const OP: &str = "mse_loss";
    let target = target.get(OP)?;
    apply(&env, input, OP, |t| {
        t.mse_loss(&target, Reduction::parse(OP, &reduction)?)
    })
}

/// Binary cross entropy of logits against probabilities of the same shape, with optional
/// per-element `weight` and per-class `pos_weight` (both broadcast to the input's shape).
#[napi]
pub fn binary_cross_entropy_with_logits(
    env: Env,
    input: TensorHandle,
    target: TensorHandle,
    weight: Option<TensorHandle>,
    pos_weight: Option<TensorHandle>,
    reduction: String,
) -> Result<TensorHandle, String> {
    const OP: &str = "binary_cross_entropy_with_logits";
    let target = target.get(OP)?;
    let weight = weight.map(|w| w.get(OP)).transpose()?;
    let pos_weight = pos_weight.map(|w| w.get(OP)).transpose()?;
    apply(&env, input, OP, |t| {
        t.binary_cross_entropy_with_logits(
            &target,
            weight.as_ref(),
            pos_weight.as_ref(),
            Reduction::parse(OP, &reduction)?,
        )
    })
}
