//! Batch norm on CUDA, in cuDNN's spatial mode with the input seen as [n, c, s, 1] (so [N, C]
//! inputs are [n, c, 1, 1] and every rank above 4 folds its positions into `s`):
//! training runs `cudnnBatchNormalizationForwardTraining`, which also folds the batch statistics
//! into the running ones in place (`exponentialAverageFactor` = momentum, with the unbiased
//! variance, as the CPU and PyTorch do) and saves the mean and `1 / sqrt(var + eps)` that
//! `cudnnBatchNormalizationBackward` reads; evaluation runs
//! `cudnnBatchNormalizationForwardInference`. The evaluation backward treats the statistics as
//! constants, which cuDNN's backward cannot, so `batch_norm.cu` computes it (as PyTorch's own
//! kernels do), and its evaluation forward where the cuDNN library is missing.
//!
//! Unverified on hardware: the kernels run on the CPU shim against the CPU backend; the cuDNN
//! calls run only on a GPU (the `cuda` tests skip them elsewhere).

use std::ptr;
use std::sync::Arc;

use cudarc::cudnn::sys;

use super::{BackwardPlan, Dims, OP};
use crate::cuda::{self, CudaDevice, CudaStorage, LaunchConfig, Module};
use crate::error::{Error, Result};
use crate::nn::cudnn::{self as dnn, call, TensorDesc, ONE, ZERO};

pub(crate) static MODULE: Module = Module::new("batch_norm", include_str!("batch_norm.cu"));

/// `BATCH_NORM_THREADS` in batch_norm.cu.
const SUM_THREADS: u32 = 256;

/// The input as cuDNN's 4-D tensor: [n, c, s, 1].
pub(super) fn cudnn_dims(d: Dims) -> [usize; 4] {
    [d.n, d.c, d.s, 1]
}

/// The input's and the per-channel tensors' descriptors.
fn descriptors(d: Dims) -> Result<(TensorDesc, TensorDesc)> {
    if d.n * d.c * d.s == 0 {
        return Err(Error::invalid(
            OP,
            format!("cuDNN batch norm needs a non-empty input, got [{}, {}, {}] (batch, channels, positions)", d.n, d.c, d.s),
        ));
    }
    let x = TensorDesc::nchw(OP, cudnn_dims(d))?;
    let channels = TensorDesc::batch_norm_channels(OP, &x)?;
    Ok((x, channels))
}

/// A new per-channel buffer.
fn channels(dev: &Arc<CudaDevice>, d: Dims) -> Result<(CudaStorage, u64)> {
    let s = CudaStorage::alloc::<f32>(dev, d.c)?;
    let p = s.base::<f32>(OP)?;
    Ok((s, p))
}

/// What the forward returns: the output, and the mean and `1 / sqrt(var + eps)` it used.
pub(super) struct Normalized {
    pub out: CudaStorage,
    pub mean: CudaStorage,
    pub invstd: CudaStorage,
}

/// Training: normalises with the batch's statistics and folds them into `running` ([mean, var],
/// device addresses of contiguous [c] buffers) where given.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_training(
    dev: &Arc<CudaDevice>,
    x: u64,
    d: Dims,
    [weight, bias]: [u64; 2],
    running: [Option<u64>; 2],
    momentum: f64,
    eps: f64,
) -> Result<Normalized> {
    let handle = dev.cudnn(OP)?;
    let (xd, cd) = descriptors(d)?;
    let out = CudaStorage::alloc::<f32>(dev, d.n * d.c * d.s)?;
    let ((mean, mp), (invstd, ip)) = (channels(dev, d)?, channels(dev, d)?);
    // cuDNN takes both running buffers or neither: a lone one gets a scratch partner.
    let scratch = match running {
        [Some(_), None] | [None, Some(_)] => Some(CudaStorage::zeros::<f32>(dev, d.c)?),
        _ => None,
    };
    let scratch_ptr = scratch.as_ref().map(|s| s.base::<f32>(OP)).transpose()?;
    let [rm, rv] = match (running, scratch_ptr) {
        ([None, None], _) => [ptr::null_mut(), ptr::null_mut()],
        ([m, v], fill) => [m.or(fill), v.or(fill)].map(|p| dnn::ptr(p.unwrap_or(0))),
    };
    let yp = out.base::<f32>(OP)?;
    // SAFETY: `xd` describes the contiguous input and output buffers ([n, c, s, 1]); `cd` the
    // [c] weight, bias, running and saved buffers; all live for the call; stream-ordered.
    call(OP, "cudnnBatchNormalizationForwardTraining", || unsafe {
        sys::cudnnBatchNormalizationForwardTraining(
            handle,
            sys::cudnnBatchNormMode_t::CUDNN_BATCHNORM_SPATIAL,
            dnn::scalar(&ONE),
            dnn::scalar(&ZERO),
            xd.raw(),
            dnn::ptr(x),
            xd.raw(),
            dnn::ptr(yp),
            cd.raw(),
            dnn::ptr(weight),
            dnn::ptr(bias),
            momentum,
            rm,
            rv,
            eps,
            dnn::ptr(mp),
            dnn::ptr(ip),
        )
    })?;
    Ok(Normalized { out, mean, invstd })
}

/// Evaluation: normalises with the running statistics (`running` = [mean, var]), keeping a
/// copy of the mean and `1 / sqrt(var + eps)` for the backward.
pub(super) fn forward_eval(
    dev: &Arc<CudaDevice>,
    x: u64,
    d: Dims,
    [weight, bias]: [u64; 2],
    [rm, rv]: [u64; 2],
    eps: f64,
) -> Result<Normalized> {
    let ((mean, mp), (invstd, ip)) = (channels(dev, d)?, channels(dev, d)?);
    dev.copy_device(OP, mp, rm, d.c * 4)?;
    let (c, eps32) = (d.c as i64, eps as f32);
    // SAFETY: `rv` and `ip` are [c] buffers; grid-stride over c.
    unsafe {
        dev.launch(
            OP,
            &MODULE,
            "batch_norm_invstd_f32",
            LaunchConfig::elementwise(d.c),
            &mut cuda::args![rv, ip, c, eps32],
        )?
    };
    let out = CudaStorage::alloc::<f32>(dev, d.n * d.c * d.s)?;
    let yp = out.base::<f32>(OP)?;
    if out.is_empty() {
        // Nothing to normalise (cuDNN refuses empty tensors).
    } else if dev.has_cudnn() {
        inference(dev, x, d, [weight, bias], [rm, rv], eps, yp)?;
    } else {
        affine(dev, [x, mp, ip, weight, bias], d, yp)?;
    }
    Ok(Normalized { out, mean, invstd })
}

fn inference(
    dev: &CudaDevice,
    x: u64,
    d: Dims,
    [weight, bias]: [u64; 2],
    [rm, rv]: [u64; 2],
    eps: f64,
    y: u64,
) -> Result<()> {
    let handle = dev.cudnn(OP)?;
    let (xd, cd) = descriptors(d)?;
    // SAFETY: as in `forward_training`, with the running buffers read only.
    call(OP, "cudnnBatchNormalizationForwardInference", || unsafe {
        sys::cudnnBatchNormalizationForwardInference(
            handle,
            sys::cudnnBatchNormMode_t::CUDNN_BATCHNORM_SPATIAL,
            dnn::scalar(&ONE),
            dnn::scalar(&ZERO),
            xd.raw(),
            dnn::ptr(x),
            xd.raw(),
            dnn::ptr(y),
            cd.raw(),
            dnn::ptr(weight),
            dnn::ptr(bias),
            dnn::ptr(rm),
            dnn::ptr(rv),
            eps,
        )
    })
}

/// `batch_norm_affine_f32`: y = (x - mean) * invstd * weight + bias; a 0 mean or bias is none.
fn affine(
    dev: &CudaDevice,
    [x, mean, invstd, weight, bias]: [u64; 5],
    d: Dims,
    y: u64,
) -> Result<()> {
    let (n, c, s) = (d.n as i64, d.c as i64, d.s as i64);
    let config = LaunchConfig::elementwise(d.n * d.c * d.s);
    // SAFETY: x and y hold n * c * s floats, the others c (or are null, which the kernel skips).
    unsafe {
        dev.launch(
            OP,
            &MODULE,
            "batch_norm_affine_f32",
            config,
            &mut cuda::args![x, mean, invstd, weight, bias, y, n, c, s],
        )
    }
}

/// A copy of a [c] buffer (the weight as the forward saw it, for cuDNN's backward).
pub(super) fn copy_channels(dev: &Arc<CudaDevice>, src: u64, c: usize) -> Result<CudaStorage> {
    let copy = CudaStorage::alloc::<f32>(dev, c)?;
    dev.copy_device(OP, copy.base::<f32>(OP)?, src, c * 4)?;
    Ok(copy)
}

/// The saved tensors the backward reads, as device addresses: the input, the upstream gradient,
/// the weight as of the forward, and the mean and `1 / sqrt(var + eps)` it normalised with.
pub(super) struct Saved {
    pub x: u64,
    pub dy: u64,
    pub weight: u64,
    pub mean: u64,
    pub invstd: u64,
}

/// The gradients `plan` asks for, as [input, weight, bias].
pub(super) fn backward(
    dev: &Arc<CudaDevice>,
    p: &Saved,
    d: Dims,
    eps: f64,
    plan: BackwardPlan,
) -> Result<[Option<CudaStorage>; 3]> {
    if plan.training {
        backward_training(dev, p, d, eps, plan)
    } else {
        backward_eval(dev, p, d, plan)
    }
}

/// cuDNN's backward through the batch statistics. It writes all three gradients; the ones not
/// asked for are dropped.
fn backward_training(
    dev: &Arc<CudaDevice>,
    p: &Saved,
    d: Dims,
    eps: f64,
    plan: BackwardPlan,
) -> Result<[Option<CudaStorage>; 3]> {
    let handle = dev.cudnn(OP)?;
    let (xd, cd) = descriptors(d)?;
    let dx = CudaStorage::alloc::<f32>(dev, d.n * d.c * d.s)?;
    let ((dw, wp), (db, bp)) = (channels(dev, d)?, channels(dev, d)?);
    let xp = dx.base::<f32>(OP)?;
    // SAFETY: `xd` describes the input, `dy` and `dx` buffers, `cd` the [c] weight, gradient and
    // saved buffers; stream-ordered.
    call(OP, "cudnnBatchNormalizationBackward", || unsafe {
        sys::cudnnBatchNormalizationBackward(
            handle,
            sys::cudnnBatchNormMode_t::CUDNN_BATCHNORM_SPATIAL,
            dnn::scalar(&ONE),
            dnn::scalar(&ZERO),
            dnn::scalar(&ONE),
            dnn::scalar(&ZERO),
            xd.raw(),
            dnn::ptr(p.x),
            xd.raw(),
            dnn::ptr(p.dy),
            xd.raw(),
            dnn::ptr(xp),
            cd.raw(),
            dnn::ptr(p.weight),
            dnn::ptr(wp),
            dnn::ptr(bp),
            eps,
            dnn::ptr(p.mean),
            dnn::ptr(p.invstd),
        )
    })?;
    Ok([
        plan.input.then_some(dx),
        plan.weight.then_some(dw),
        plan.bias.then_some(db),
    ])
}

/// The evaluation backward, with the statistics constant: dx = dy * weight * invstd,
/// dweight = sum(dy * (x - mean)) * invstd, dbias = sum(dy).
fn backward_eval(
    dev: &Arc<CudaDevice>,
    p: &Saved,
    d: Dims,
    plan: BackwardPlan,
) -> Result<[Option<CudaStorage>; 3]> {
    let dx = match plan.input {
        true => {
            let dx = CudaStorage::alloc::<f32>(dev, d.n * d.c * d.s)?;
            affine(
                dev,
                [p.dy, 0, p.invstd, p.weight, 0],
                d,
                dx.base::<f32>(OP)?,
            )?;
            Some(dx)
        }
        false => None,
    };
    let (dw, db) = (
        plan.weight.then(|| channels(dev, d)).transpose()?,
        plan.bias.then(|| channels(dev, d)).transpose()?,
    );
    if dw.is_some() || db.is_some() {
        let (wp, bp) = (
            dw.as_ref().map_or(0, |w| w.1),
            db.as_ref().map_or(0, |b| b.1),
        );
        let (n, c, s) = (d.n as i64, d.c as i64, d.s as i64);
        let config = LaunchConfig::rows(d.c, SUM_THREADS, 0);
        // SAFETY: x and dy hold n * c * s floats, mean and invstd c, the outputs c (or are null,
        // which the kernel skips); one block of SUM_THREADS per channel, grid-stride.
        unsafe {
            dev.launch(
                OP,
                &MODULE,
                "batch_norm_channel_sums_f32",
                config,
                &mut cuda::args![p.x, p.dy, p.mean, p.invstd, wp, bp, n, c, s],
            )?
        };
    }
    Ok([dx, dw.map(|w| w.0), db.map(|b| b.0)])
}

#[cfg(test)]
#[path = "cuda_tests.rs"]
mod tests;
