//! Batch normalisation.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::guard;
use crate::tensor::{wrap, NativeTensor};

/// Optional per-channel tensors, unwrapped (a disposed one is an error).
fn optional<'a>(
    op: &'static str,
    t: Option<&'a NativeTensor>,
) -> Result<Option<&'a ferrite_core::Tensor>, String> {
    t.map(|t| t.get(op)).transpose()
}

/// Normalises over dim 1; in training the running statistics are updated in place.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    env: Env,
    input: &NativeTensor,
    running_mean: Option<&NativeTensor>,
    running_var: Option<&NativeTensor>,
    weight: Option<&NativeTensor>,
    bias: Option<&NativeTensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<NativeTensor, String> {
    const OP: &str = "batch_norm";
    let (x, rm, rv) = (
        input.get(OP)?,
        optional(OP, running_mean)?,
        optional(OP, running_var)?,
    );
    let (w, b) = (optional(OP, weight)?, optional(OP, bias)?);
    guard(OP, || x.batch_norm(rm, rv, w, b, training, momentum, eps)).map(|t| wrap(&env, t))
}
