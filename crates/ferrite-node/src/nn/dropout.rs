//! Dropout in training mode. Not traceable: a traced graph would replay one random mask, so
//! the JS side records nothing in evaluation mode and reaches this only when training.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{apply, TensorHandle};

#[napi]
pub fn dropout(
    env: Env,
    input: TensorHandle,
    p: f64,
    training: bool,
) -> Result<TensorHandle, String> {
    apply(&env, input, "dropout", |t| t.dropout(p, training))
}
