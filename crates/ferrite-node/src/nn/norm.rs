//! Batch normalisation.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::guard;
use crate::handle::{wrap, TensorHandle};

/// Optional per-channel tensors, looked up (a disposed one is an error).
fn optional(
    op: &'static str,
    t: Option<TensorHandle>,
) -> Result<Option<ferrite_core::Tensor>, String> {
    t.map(|t| t.get(op)).transpose()
}

/// Normalises over dim 1; in training the running statistics are updated in place.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    env: Env,
    input: TensorHandle,
    running_mean: Option<TensorHandle>,
    running_var: Option<TensorHandle>,
    weight: Option<TensorHandle>,
    bias: Option<TensorHandle>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<TensorHandle, String> {
    const OP: &str = "batch_norm";
    let (x, rm, rv) = (
        input.get(OP)?,
        optional(OP, running_mean)?,
        optional(OP, running_var)?,
    );
    let (w, b) = (optional(OP, weight)?, optional(OP, bias)?);
    guard(OP, || {
        x.batch_norm(
            rm.as_ref(),
            rv.as_ref(),
            w.as_ref(),
            b.as_ref(),
            training,
            momentum,
            eps,
        )
    })
    .map(|t| wrap(&env, t))
}
