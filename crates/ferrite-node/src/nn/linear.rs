//! The linear (fully connected) layer's op.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{apply, TensorHandle};

/// `input @ weight^T + bias`.
#[napi]
pub fn linear(
    env: Env,
    input: TensorHandle,
    weight: TensorHandle,
    bias: Option<TensorHandle>,
) -> Result<TensorHandle, String> {
    let weight = weight.get("linear")?;
    let bias = bias.map(|b| b.get("linear")).transpose()?;
    apply(&env, input, "linear", |t| t.linear(&weight, bias.as_ref()))
}
