//! Optimizer steps, updating parameters and their state in place: one call per parameter, or
//! one per parameter group (`*StepMany`, one launch per CUDA device); gradient clipping.

use ferrite_core::optim::{self, AdamOptions, AdamParam, SgdOptions, SgdParam};
use ferrite_core::{Error, Tensor};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{guard, js_error, JsResult};
use crate::handle::{wrap, TensorHandle};

#[napi(object)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

#[napi(object)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled_weight_decay: bool,
}

#[napi]
pub fn sgd_step(
    param: TensorHandle,
    grad: TensorHandle,
    momentum_buffer: Option<TensorHandle>,
    first_step: bool,
    config: SgdConfig,
) -> Result<(), String> {
    let (p, g) = (param.get("sgd")?, grad.get("sgd")?);
    let buffer = momentum_buffer.map(|b| b.get("sgd")).transpose()?;
    let options = sgd_options(&config);
    guard("sgd", || {
        optim::sgd_step(&p, &g, buffer.as_ref(), first_step, &options)
    })
}

#[napi]
pub fn adam_step(
    param: TensorHandle,
    grad: TensorHandle,
    exp_avg: TensorHandle,
    exp_avg_sq: TensorHandle,
    max_exp_avg_sq: Option<TensorHandle>,
    step: u32,
    config: AdamConfig,
) -> Result<(), String> {
    let (p, g, m, v) = (
        param.get("adam")?,
        grad.get("adam")?,
        exp_avg.get("adam")?,
        exp_avg_sq.get("adam")?,
    );
    let vmax = max_exp_avg_sq.map(|t| t.get("adam")).transpose()?;
    let options = adam_options(&config);
    guard("adam", || {
        optim::adam_step(&p, &g, &m, &v, vmax.as_ref(), step as u64, &options)
    })
}

/// One SGD step of a group of parameters: entry i of each list belongs to `params[i]`;
/// `momentumBuffers` is null without momentum. All are checked before any changes.
#[napi]
pub fn sgd_step_many(
    params: Vec<TensorHandle>,
    grads: Vec<TensorHandle>,
    momentum_buffers: Option<Vec<TensorHandle>>,
    first_steps: Vec<bool>,
    config: SgdConfig,
) -> Result<(), String> {
    let n = params.len();
    same_length("sgd", n, &[grads.len(), first_steps.len()])?;
    same_length(
        "sgd",
        n,
        &momentum_buffers.as_ref().map_or(vec![], |b| vec![b.len()]),
    )?;
    let (p, g) = (tensors("sgd", &params)?, tensors("sgd", &grads)?);
    let buffers = momentum_buffers.map(|b| tensors("sgd", &b)).transpose()?;
    let list: Vec<SgdParam> = (0..n)
        .map(|i| SgdParam {
            param: &p[i],
            grad: &g[i],
            momentum_buffer: buffers.as_ref().map(|b| &b[i]),
            first_step: first_steps[i],
        })
        .collect();
    let options = sgd_options(&config);
    guard("sgd", || optim::sgd_step_many(&list, &options))
}

/// One Adam/AdamW step of a group of parameters: entry i of each list belongs to `params[i]`;
/// `maxExpAvgSqs` is null without amsgrad. All are checked before any changes.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn adam_step_many(
    params: Vec<TensorHandle>,
    grads: Vec<TensorHandle>,
    exp_avgs: Vec<TensorHandle>,
    exp_avg_sqs: Vec<TensorHandle>,
    max_exp_avg_sqs: Option<Vec<TensorHandle>>,
    steps: Vec<u32>,
    config: AdamConfig,
) -> Result<(), String> {
    let n = params.len();
    same_length(
        "adam",
        n,
        &[grads.len(), exp_avgs.len(), exp_avg_sqs.len(), steps.len()],
    )?;
    same_length(
        "adam",
        n,
        &max_exp_avg_sqs.as_ref().map_or(vec![], |v| vec![v.len()]),
    )?;
    let (p, g) = (tensors("adam", &params)?, tensors("adam", &grads)?);
    let (m, v) = (tensors("adam", &exp_avgs)?, tensors("adam", &exp_avg_sqs)?);
    let vmax = max_exp_avg_sqs.map(|t| tensors("adam", &t)).transpose()?;
    let list: Vec<AdamParam> = (0..n)
        .map(|i| AdamParam {
            param: &p[i],
            grad: &g[i],
            exp_avg: &m[i],
            exp_avg_sq: &v[i],
            max_exp_avg_sq: vmax.as_ref().map(|t| &t[i]),
            step: steps[i] as u64,
        })
        .collect();
    let options = adam_options(&config);
    guard("adam", || optim::adam_step_many(&list, &options))
}

/// Scales the gradients in place so that their `normType`-norm together is at most `maxNorm`, and
/// returns that norm before scaling (`torch.nn.utils.clip_grad_norm_`).
#[napi]
pub fn clip_grad_norm(
    env: Env,
    grads: Vec<TensorHandle>,
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<TensorHandle, String> {
    let grads = tensors("clipGradNorm", &grads)?;
    let total = guard("clipGradNorm", || {
        optim::clip_grad_norm(&grads, max_norm, norm_type, error_if_nonfinite)
    })?;
    Ok(wrap(&env, total))
}

/// Clamps the gradients in place into `[-clipValue, clipValue]` (`clip_grad_value_`).
#[napi]
pub fn clip_grad_value(grads: Vec<TensorHandle>, clip_value: f64) -> Result<(), String> {
    let grads = tensors("clipGradValue", &grads)?;
    guard("clipGradValue", || {
        optim::clip_grad_value(&grads, clip_value)
    })
}

fn tensors(op: &str, handles: &[TensorHandle]) -> JsResult<Vec<Tensor>> {
    handles.iter().map(|h| h.get(op)).collect()
}

/// Every list of a group step has one entry per parameter.
fn same_length(op: &'static str, params: usize, lengths: &[usize]) -> JsResult<()> {
    match lengths.iter().find(|&&len| len != params) {
        Some(len) => Err(js_error(Error::invalid(
            op,
            format!("got {params} parameters but a list of {len} entries for them"),
        ))),
        None => Ok(()),
    }
}

fn sgd_options(config: &SgdConfig) -> SgdOptions {
    SgdOptions {
        lr: config.lr,
        momentum: config.momentum,
        dampening: config.dampening,
        weight_decay: config.weight_decay,
        nesterov: config.nesterov,
        maximize: config.maximize,
    }
}

fn adam_options(config: &AdamConfig) -> AdamOptions {
    AdamOptions {
        lr: config.lr,
        beta1: config.beta1,
        beta2: config.beta2,
        eps: config.eps,
        weight_decay: config.weight_decay,
        amsgrad: config.amsgrad,
        maximize: config.maximize,
        decoupled_weight_decay: config.decoupled_weight_decay,
    }
}
