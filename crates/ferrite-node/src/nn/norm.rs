//! Batch normalisation.

use ferrite_core::trace::Op;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::handle::{run_op, TensorHandle};

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
    let op = Op::BatchNorm {
        training,
        momentum,
        eps,
    };
    let inputs = [Some(input), running_mean, running_var, weight, bias];
    run_op(&env, "batch_norm", op, &inputs)
}

/// `batch_norm` followed by a ReLU, in one op.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_relu(
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
    let op = Op::BatchNormRelu {
        training,
        momentum,
        eps,
    };
    let inputs = [Some(input), running_mean, running_var, weight, bias];
    run_op(&env, "batch_norm_relu", op, &inputs)
}
