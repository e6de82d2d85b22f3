//! Optimizer steps: one call per parameter, updating it and its state in place.

use ferrite_core::optim::{self, AdamOptions, SgdOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::guard;
use crate::handle::TensorHandle;

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
    let options = SgdOptions {
        lr: config.lr,
        momentum: config.momentum,
        dampening: config.dampening,
        weight_decay: config.weight_decay,
        nesterov: config.nesterov,
        maximize: config.maximize,
    };
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
    let options = AdamOptions {
        lr: config.lr,
        beta1: config.beta1,
        beta2: config.beta2,
        eps: config.eps,
        weight_decay: config.weight_decay,
        amsgrad: config.amsgrad,
        maximize: config.maximize,
        decoupled_weight_decay: config.decoupled_weight_decay,
    };
    guard("adam", || {
        optim::adam_step(&p, &g, &m, &v, vmax.as_ref(), step as u64, &options)
    })
}
