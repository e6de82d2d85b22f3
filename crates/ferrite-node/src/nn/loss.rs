//! Classification losses.

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
