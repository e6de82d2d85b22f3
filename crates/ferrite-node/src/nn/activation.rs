//! Activations: relu, sigmoid, tanh, softmax, log-softmax and relu6.

use ferrite_core::trace::Op;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{run_op, TensorHandle};

#[napi]
pub fn relu(env: Env, input: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "relu", Op::Relu, &[Some(input)])
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
