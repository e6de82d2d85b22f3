//! The linear (fully connected) layer's op.

use ferrite_core::trace::Op;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{run_op, TensorHandle};

/// `input @ weight^T + bias`.
#[napi]
pub fn linear(
    env: Env,
    input: TensorHandle,
    weight: TensorHandle,
    bias: Option<TensorHandle>,
) -> Result<TensorHandle, String> {
    run_op(
        &env,
        "linear",
        Op::Linear,
        &[Some(input), Some(weight), bias],
    )
}
