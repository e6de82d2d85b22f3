//! The linear (fully connected) layer's op.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::tensor::NativeTensor;

/// `input @ weight^T + bias`.
#[napi]
pub fn linear(
    env: Env,
    input: &NativeTensor,
    weight: &NativeTensor,
    bias: Option<&NativeTensor>,
) -> Result<NativeTensor, String> {
    let weight = weight.get("linear")?;
    let bias = bias.map(|b| b.get("linear")).transpose()?;
    input.op(&env, "linear", |t| t.linear(weight, bias))
}
