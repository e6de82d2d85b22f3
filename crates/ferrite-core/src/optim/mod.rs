//! Optimizer update rules, applied in place with PyTorch's exact arithmetic (`torch.optim.SGD`,
//! `Adam`, `AdamW`), to one parameter per call or to many (`*_step_many`: one launch per CUDA
//! device). The caller keeps the per-parameter state tensors (momentum buffer, moments) and the
//! step count.

mod clip;
mod cpu;
pub(crate) mod cuda;

pub use clip::{clip_grad_norm, clip_grad_value};

use std::collections::HashSet;
use std::sync::Arc;

use crate::autograd::NoGradGuard;
use crate::cuda::CudaDevice;
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::storage::{SharedStorage, Storage};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy)]
pub struct SgdOptions {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct AdamOptions {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: weight decay shrinks the parameter directly instead of joining the gradient.
    pub decoupled_weight_decay: bool,
}

fn check_state(op: &'static str, param: &Tensor, name: &str, state: &Tensor) -> Result<()> {
    if state.shape() != param.shape() {
        return Err(Error::shape(
            op,
            format!(
                "{name} has shape {} but the parameter has shape {}",
                ShapeDisplay(state.shape()),
                ShapeDisplay(param.shape())
            ),
        ));
    }
    param.same_device(op, state)
}

/// One parameter of an SGD step and its state.
#[derive(Clone, Copy)]
pub struct SgdParam<'a> {
    pub param: &'a Tensor,
    pub grad: &'a Tensor,
    /// Required when `momentum != 0`; on the first step (`first_step`) it is set to the
    /// gradient, as PyTorch does.
    pub momentum_buffer: Option<&'a Tensor>,
    pub first_step: bool,
}

/// One SGD step of one parameter (see [`sgd_step_many`]).
pub fn sgd_step(
    param: &Tensor,
    grad: &Tensor,
    momentum_buffer: Option<&Tensor>,
    first_step: bool,
    o: &SgdOptions,
) -> Result<()> {
    let p = SgdParam {
        param,
        grad,
        momentum_buffer,
        first_step,
    };
    sgd_step_many(&[p], o)
}

/// One SGD step of every parameter in `params` (PyTorch's `foreach` form): all of them are
/// checked before any changes, CPU parameters are updated one by one, and the parameters on a
/// CUDA device in one launch.
pub fn sgd_step_many(params: &[SgdParam], o: &SgdOptions) -> Result<()> {
    let _no_grad = NoGradGuard::new();
    let checked = params
        .iter()
        .map(|p| check_sgd(p, o))
        .collect::<Result<Vec<_>>>()?;
    let written = checked
        .iter()
        .flat_map(|(p, _)| [p.param].into_iter().chain(p.momentum_buffer));
    check_distinct("sgd", written, checked.iter().map(|(_, g)| g))?;
    let mut batches = DeviceBatches::default();
    for (p, grad) in &checked {
        sgd_one(p, grad, o, &mut batches)?;
    }
    for (device, tensors) in &batches.0 {
        cuda::sgd(device, tensors, o)?;
    }
    Ok(())
}

/// Checks one parameter's step; gives it back without a buffer when there is no momentum, and
/// its gradient as a contiguous float32 tensor.
fn check_sgd<'a>(p: &SgdParam<'a>, o: &SgdOptions) -> Result<(SgdParam<'a>, Tensor)> {
    float32_param("sgd", p.param)?;
    check_state("sgd", p.param, "grad", p.grad)?;
    if o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0) {
        return Err(Error::invalid(
            "sgd",
            "nesterov momentum requires a momentum and zero dampening",
        ));
    }
    let buffer = match (o.momentum != 0.0, p.momentum_buffer) {
        (true, Some(b)) => {
            check_state("sgd", p.param, "momentum buffer", b)?;
            Some(b)
        }
        (true, None) => {
            return Err(Error::invalid(
                "sgd",
                "momentum is set but no momentum buffer was given",
            ))
        }
        (false, _) => None,
    };
    let grad = float32_contiguous("sgd", p.grad)?;
    p.param.check_in_place::<f32>("sgd")?;
    if let Some(b) = buffer {
        b.check_in_place::<f32>("sgd")?;
    }
    let p = SgdParam {
        momentum_buffer: buffer,
        ..*p
    };
    Ok((p, grad))
}

/// Updates a CPU parameter now, or adds a CUDA one to its device's launch.
fn sgd_one(
    p: &SgdParam,
    grad: &Tensor,
    o: &SgdOptions,
    batches: &mut DeviceBatches<cuda::SgdTensor>,
) -> Result<()> {
    let (param, buffer) = (p.param, p.momentum_buffer);
    let g = grad.storage().read();
    let mut ps = param.storage().write();
    let mut buf = buffer.map(|b| b.storage().write());
    match (&*g, &mut *ps, buffer.zip(buf.as_deref_mut())) {
        (Storage::Cpu(g), Storage::Cpu(ps), Some((b, Storage::Cpu(buf)))) => cpu::sgd_momentum(
            ps.slice_mut("sgd", param.layout())?,
            g.slice("sgd", grad.layout())?,
            buf.slice_mut("sgd", b.layout())?,
            p.first_step,
            o,
        ),
        (Storage::Cpu(g), Storage::Cpu(ps), None) => cpu::sgd_plain(
            ps.slice_mut("sgd", param.layout())?,
            g.slice("sgd", grad.layout())?,
            o,
        ),
        (Storage::Cuda(g), Storage::Cuda(ps), buf) => {
            let buffer = match buf {
                Some((b, Storage::Cuda(buf))) => buf.ptr_mut::<f32>("sgd", b.layout())?,
                None => 0,
                Some((b, Storage::Cpu(_))) => return Err(device_mismatch("sgd", param, b)),
            };
            let tensor = cuda::SgdTensor {
                param: ps.ptr_mut::<f32>("sgd", param.layout())?,
                grad: g.ptr::<f32>("sgd", grad.layout())?,
                buffer,
                len: param.numel(),
                first_step: p.first_step,
            };
            batches.push(ps.device(), tensor);
        }
        (Storage::Cpu(_), Storage::Cpu(_), Some((b, Storage::Cuda(_)))) => {
            return Err(device_mismatch("sgd", param, b))
        }
        (Storage::Cpu(_), Storage::Cuda(_), _) | (Storage::Cuda(_), Storage::Cpu(_), _) => {
            return Err(device_mismatch("sgd", param, grad))
        }
    }
    Ok(())
}

/// One parameter of an Adam/AdamW step and its state.
#[derive(Clone, Copy)]
pub struct AdamParam<'a> {
    pub param: &'a Tensor,
    pub grad: &'a Tensor,
    pub exp_avg: &'a Tensor,
    pub exp_avg_sq: &'a Tensor,
    /// Required with amsgrad.
    pub max_exp_avg_sq: Option<&'a Tensor>,
    /// Counts from 1 and drives the bias corrections.
    pub step: u64,
}

/// One Adam/AdamW step of one parameter (see [`adam_step_many`]).
pub fn adam_step(
    param: &Tensor,
    grad: &Tensor,
    exp_avg: &Tensor,
    exp_avg_sq: &Tensor,
    max_exp_avg_sq: Option<&Tensor>,
    step: u64,
    o: &AdamOptions,
) -> Result<()> {
    let p = AdamParam {
        param,
        grad,
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq,
        step,
    };
    adam_step_many(&[p], o)
}

/// One Adam/AdamW step of every parameter in `params`, checked before any changes; the
/// parameters on a CUDA device are updated in one launch (see [`sgd_step_many`]).
pub fn adam_step_many(params: &[AdamParam], o: &AdamOptions) -> Result<()> {
    let _no_grad = NoGradGuard::new();
    let checked = params
        .iter()
        .map(|p| check_adam(p, o))
        .collect::<Result<Vec<_>>>()?;
    let written = checked.iter().flat_map(|(p, _)| {
        [p.param, p.exp_avg, p.exp_avg_sq]
            .into_iter()
            .chain(p.max_exp_avg_sq)
    });
    check_distinct("adam", written, checked.iter().map(|(_, g)| g))?;
    let mut batches = DeviceBatches::default();
    for (p, grad) in &checked {
        adam_one(p, grad, o, &mut batches)?;
    }
    for (device, tensors) in &batches.0 {
        cuda::adam(device, tensors, o)?;
    }
    Ok(())
}

/// Checks one parameter's step; gives it back without max_exp_avg_sq unless amsgrad is set, and
/// its gradient as a contiguous float32 tensor.
fn check_adam<'a>(p: &AdamParam<'a>, o: &AdamOptions) -> Result<(AdamParam<'a>, Tensor)> {
    float32_param("adam", p.param)?;
    check_state("adam", p.param, "grad", p.grad)?;
    check_state("adam", p.param, "exp_avg", p.exp_avg)?;
    check_state("adam", p.param, "exp_avg_sq", p.exp_avg_sq)?;
    if p.step == 0 {
        return Err(Error::invalid("adam", "step counts from 1"));
    }
    let max_sq = match (o.amsgrad, p.max_exp_avg_sq) {
        (true, Some(m)) => {
            check_state("adam", p.param, "max_exp_avg_sq", m)?;
            Some(m)
        }
        (true, None) => {
            return Err(Error::invalid(
                "adam",
                "amsgrad is set but no max_exp_avg_sq state was given",
            ))
        }
        (false, _) => None,
    };
    let grad = float32_contiguous("adam", p.grad)?;
    for state in [p.param, p.exp_avg, p.exp_avg_sq].into_iter().chain(max_sq) {
        state.check_in_place::<f32>("adam")?;
    }
    let p = AdamParam {
        max_exp_avg_sq: max_sq,
        ..*p
    };
    Ok((p, grad))
}

/// Updates a CPU parameter now, or adds a CUDA one to its device's launch.
fn adam_one(
    p: &AdamParam,
    grad: &Tensor,
    o: &AdamOptions,
    batches: &mut DeviceBatches<cuda::AdamTensor>,
) -> Result<()> {
    let AdamParam {
        param,
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq: max_sq,
        ..
    } = *p;
    let g = grad.storage().read();
    let mut ps = param.storage().write();
    let mut m = exp_avg.storage().write();
    let mut v = exp_avg_sq.storage().write();
    let mut vmax = max_sq.map(|t| t.storage().write());
    match (
        &*g,
        &mut *ps,
        &mut *m,
        &mut *v,
        max_sq.zip(vmax.as_deref_mut()),
    ) {
        (Storage::Cpu(g), Storage::Cpu(ps), Storage::Cpu(m), Storage::Cpu(v), vmax) => {
            let vmax = match vmax {
                Some((t, Storage::Cpu(vmax))) => Some(vmax.slice_mut("adam", t.layout())?),
                None => None,
                Some((t, Storage::Cuda(_))) => return Err(device_mismatch("adam", param, t)),
            };
            cpu::adam(
                ps.slice_mut("adam", param.layout())?,
                g.slice("adam", grad.layout())?,
                m.slice_mut("adam", exp_avg.layout())?,
                v.slice_mut("adam", exp_avg_sq.layout())?,
                vmax,
                p.step,
                o,
            )
        }
        (Storage::Cuda(g), Storage::Cuda(ps), Storage::Cuda(m), Storage::Cuda(v), vmax) => {
            let max_exp_avg_sq = match vmax {
                Some((t, Storage::Cuda(vmax))) => vmax.ptr_mut::<f32>("adam", t.layout())?,
                None => 0,
                Some((t, Storage::Cpu(_))) => return Err(device_mismatch("adam", param, t)),
            };
            let tensor = cuda::AdamTensor {
                param: ps.ptr_mut::<f32>("adam", param.layout())?,
                grad: g.ptr::<f32>("adam", grad.layout())?,
                exp_avg: m.ptr_mut::<f32>("adam", exp_avg.layout())?,
                exp_avg_sq: v.ptr_mut::<f32>("adam", exp_avg_sq.layout())?,
                max_exp_avg_sq,
                len: param.numel(),
                step: p.step,
            };
            batches.push(ps.device(), tensor);
        }
        // The devices were checked with the shapes; these only name them.
        (Storage::Cpu(_) | Storage::Cuda(_), _, _, _, _) => {
            let mut states = [grad, exp_avg, exp_avg_sq].into_iter();
            let other = states
                .find(|t| t.device() != param.device())
                .unwrap_or(grad);
            return Err(device_mismatch("adam", param, other));
        }
    }
    Ok(())
}

/// The CUDA tensors of one step, grouped by device: one launch each.
struct DeviceBatches<T>(Vec<(Arc<CudaDevice>, Vec<T>)>);

impl<T> Default for DeviceBatches<T> {
    fn default() -> Self {
        DeviceBatches(Vec::new())
    }
}

impl<T> DeviceBatches<T> {
    fn push(&mut self, device: &Arc<CudaDevice>, tensor: T) {
        match self.0.iter_mut().find(|(d, _)| Arc::ptr_eq(d, device)) {
            Some((_, tensors)) => tensors.push(tensor),
            None => self.0.push((device.clone(), vec![tensor])),
        }
    }
}

/// Refuses a step that would write one storage twice (a parameter listed twice, or state shared
/// between parameters) or write a gradient's storage: the updates would race on a device, and
/// locking the storage twice would deadlock.
fn check_distinct<'a>(
    op: &'static str,
    written: impl Iterator<Item = &'a Tensor>,
    grads: impl Iterator<Item = &'a Tensor>,
) -> Result<()> {
    let mut seen = HashSet::new();
    let twice = || {
        Error::invalid(
            op,
            "a parameter or state tensor appears twice in one step, or shares its storage with another",
        )
    };
    for t in written {
        if !seen.insert(t.storage() as *const SharedStorage) {
            return Err(twice());
        }
    }
    for g in grads {
        if seen.contains(&(g.storage() as *const SharedStorage)) {
            return Err(twice());
        }
    }
    Ok(())
}

fn device_mismatch(op: &'static str, param: &Tensor, other: &Tensor) -> Error {
    Error::DeviceMismatch {
        op,
        expected: param.device().to_string(),
        got: other.device().to_string(),
    }
}

/// The update kernels are float32 ones. A bfloat16 parameter (PyTorch would update it in its own
/// dtype) is refused by name rather than as a gradient of the wrong dtype.
fn float32_param(op: &'static str, param: &Tensor) -> Result<()> {
    match param.dtype() {
        DType::F32 => Ok(()),
        got @ (DType::BF16 | DType::I64 | DType::Bool) => Err(Error::dtype(
            op,
            "a float32 parameter (optimizers update float32 parameters and state; for bfloat16 compute keep the parameters float32 and use autocast)",
            got,
        )),
    }
}

/// The gradient as a contiguous float32 tensor, for the update kernels to read.
fn float32_contiguous(op: &'static str, grad: &Tensor) -> Result<Tensor> {
    if grad.dtype() != DType::F32 {
        return Err(Error::dtype(op, "a float32 tensor", grad.dtype()));
    }
    grad.contiguous()
}

#[cfg(test)]
mod tests;
