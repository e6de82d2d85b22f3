//! Activations: relu, sigmoid, tanh, softmax and log-softmax.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::tensor::NativeTensor;

#[napi]
pub fn relu(env: Env, input: &NativeTensor) -> Result<NativeTensor, String> {
    input.op(&env, "relu", |t| t.relu())
}

#[napi]
pub fn sigmoid(env: Env, input: &NativeTensor) -> Result<NativeTensor, String> {
    input.op(&env, "sigmoid", |t| t.sigmoid())
}

#[napi]
pub fn tanh(env: Env, input: &NativeTensor) -> Result<NativeTensor, String> {
    input.op(&env, "tanh", |t| t.tanh())
}

#[napi]
pub fn softmax(env: Env, input: &NativeTensor, dim: i64) -> Result<NativeTensor, String> {
    input.op(&env, "softmax", |t| t.softmax(dim))
}

#[napi]
pub fn log_softmax(env: Env, input: &NativeTensor, dim: i64) -> Result<NativeTensor, String> {
    input.op(&env, "log_softmax", |t| t.log_softmax(dim))
}
