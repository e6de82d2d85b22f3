//! Activations: relu, sigmoid, tanh, softmax and log-softmax.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{apply, TensorHandle};

#[napi]
pub fn relu(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    apply(&env, input, "relu", |t| t.relu())
}

#[napi]
pub fn sigmoid(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    apply(&env, input, "sigmoid", |t| t.sigmoid())
}

#[napi]
pub fn tanh(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    apply(&env, input, "tanh", |t| t.tanh())
}

#[napi]
pub fn softmax(env: Env, input: TensorHandle, dim: i64) -> Result<TensorHandle, String> {
    apply(&env, input, "softmax", |t| t.softmax(dim))
}

#[napi]
pub fn log_softmax(env: Env, input: TensorHandle, dim: i64) -> Result<TensorHandle, String> {
    apply(&env, input, "log_softmax", |t| t.log_softmax(dim))
}
