//! Activations: relu, add-relu, sigmoid, tanh, softmax, log-softmax, relu6, leaky relu, gelu, silu and
//! hardswish.

use ferrite_core::nn::activation::GeluApproximation;
use ferrite_core::trace::Op;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::js_error;
use crate::handle::{run_op, TensorHandle};

#[napi]
pub fn relu(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "relu", Op::Relu, &[Some(input)])
}

/// `relu(input + other)` in one op, as a residual block ends.
#[napi]
pub fn add_relu(
    env: Env,
    input: TensorHandle,
    other: TensorHandle,
) -> Result<TensorHandle, String> {
    run_op(&env, "add_relu", Op::AddRelu, &[Some(input), Some(other)])
}

#[napi]
pub fn sigmoid(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "sigmoid", Op::Sigmoid, &[Some(input)])
}

#[napi]
pub fn tanh(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "tanh", Op::Tanh, &[Some(input)])
}

#[napi]
pub fn softmax(env: Env, input: TensorHandle, dim: i64) -> Result<TensorHandle, String> {
    run_op(&env, "softmax", Op::Softmax { dim }, &[Some(input)])
}

#[napi]
pub fn log_softmax(env: Env, input: TensorHandle, dim: i64) -> Result<TensorHandle, String> {
    run_op(&env, "log_softmax", Op::LogSoftmax { dim }, &[Some(input)])
}

#[napi]
pub fn relu6(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "relu6", Op::Relu6, &[Some(input)])
}

#[napi]
pub fn leaky_relu(
    env: Env,
    input: TensorHandle,
    negative_slope: f64,
) -> Result<TensorHandle, String> {
    let op = Op::LeakyRelu { negative_slope };
    run_op(&env, "leaky_relu", op, &[Some(input)])
}

/// `approximate` is 'none' (the exact erf form) or 'tanh'.
#[napi]
pub fn gelu(env: Env, input: TensorHandle, approximate: String) -> Result<TensorHandle, String> {
    let approximate = GeluApproximation::parse(&approximate).map_err(js_error)?;
    run_op(&env, "gelu", Op::Gelu { approximate }, &[Some(input)])
}

#[napi]
pub fn silu(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "silu", Op::Silu, &[Some(input)])
}

#[napi]
pub fn hardswish(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "hardswish", Op::Hardswish, &[Some(input)])
}
