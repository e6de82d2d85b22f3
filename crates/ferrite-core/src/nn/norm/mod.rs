//! Batch normalisation over dim 1 of `[N, C, ...]` inputs, like `torch.nn.functional.batch_norm`:
//! training normalises with the batch's statistics and folds them into the running ones in place;
//! evaluation normalises with the running ones. `batch_norm_relu` is the same followed by a ReLU,
//! fused on the CPU: the ReLU is applied as the output is written and its mask as the backward
//! reads the upstream gradient, with the arithmetic of the two ops run one after the other.

mod cpu;
pub(crate) mod cuda;

use crate::autocast;
use crate::autograd::{record, Backward};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

const OP: &str = "batch_norm";

/// `[n, c, s]`: batch, channels, positions per channel and sample.
#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    c: usize,
    s: usize,
}

/// What a backward pass computes: the gradients asked for, and whether the forward normalised
/// with the batch's statistics (which then depend on the input) or with constant running ones.
#[derive(Clone, Copy)]
struct BackwardPlan {
    training: bool,
    input: bool,
    weight: bool,
    bias: bool,
}

impl Tensor {
    /// `(x - mean) / sqrt(var + eps) * weight + bias` per channel (dim 1). In training the mean
    /// and biased variance are the batch's, and the running statistics given become
    /// `(1 - momentum) * running + momentum * batch` (with the unbiased variance); otherwise
    /// `running_mean` and `running_var` are used and left alone.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        momentum: f64,
        eps: f64,
    ) -> Result<Tensor> {
        let per_channel = [running_mean, running_var, weight, bias];
        self.batch_norm_then(per_channel, training, momentum, eps, false)
    }

    /// `batch_norm(...).relu()` in one op: the same values and gradients, bit for bit, with one
    /// pass over memory fewer each way on the CPU. On CUDA it runs the two ops.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_relu(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        momentum: f64,
        eps: f64,
    ) -> Result<Tensor> {
        let per_channel = [running_mean, running_var, weight, bias];
        self.batch_norm_then(per_channel, training, momentum, eps, true)
    }

    /// Batch norm, followed by a ReLU when `relu_after`.
    fn batch_norm_then(
        &self,
        per_channel: [Option<&Tensor>; 4],
        training: bool,
        momentum: f64,
        eps: f64,
        relu_after: bool,
    ) -> Result<Tensor> {
        let [running_mean, running_var, weight, bias] = per_channel;
        if self.dtype() == DType::BF16 {
            return autocast::float32_policy(self, |x| {
                x.batch_norm_then(per_channel, training, momentum, eps, relu_after)
            });
        }
        if relu_after && matches!(self.device(), Device::Cuda(_)) {
            let normalised = self.batch_norm_then(per_channel, training, momentum, eps, false)?;
            return normalised.relu();
        }
        let d = self.check_batch_norm([running_mean, running_var, weight, bias], training)?;
        let statistics = match (training, running_mean, running_var) {
            (true, _, _) => Statistics::Batch {
                running: self.running_to_update([running_mean, running_var])?,
                momentum,
            },
            (false, Some(rm), Some(rv)) => Statistics::Running(rm, rv),
            _ => {
                return Err(Error::invalid(
                    OP,
                    "running_mean and running_var must be given when not training",
                ))
            }
        };
        let x = self.contiguous()?;
        // No weight scales by 1 and no bias shifts by 0: the same arithmetic either way.
        let per_channel = |t: Option<&Tensor>, fill: f64| match t {
            Some(t) => t.contiguous(),
            None => Tensor::full(&[d.c], fill, DType::F32, self.device()),
        };
        let (w, b) = (per_channel(weight, 1.0)?, per_channel(bias, 0.0)?);
        let (f, batch_stats) = match &*x.storage().read() {
            Storage::Cpu(xs) => forward_cpu(
                xs.slice(OP, x.layout())?,
                d,
                statistics,
                [&w, &b],
                eps,
                relu_after,
            )?,
            xs @ Storage::Cuda(_) => {
                let copy_weight = weight.is_some();
                let f = forward_cuda(xs, &x, d, statistics, [&w, &b], copy_weight, eps)?;
                (f, None)
            }
        };
        // On the CPU the running statistics are updated once the input is no longer read (they
        // may share its memory); cuDNN updated them in its forward.
        if let (Some(stats), Statistics::Batch { running, momentum }) = (batch_stats, statistics) {
            update_running_cpu(running, &stats, d, momentum)?;
        }
        let out = Tensor::from_storage(f.out, self.shape());
        // The backward masks with the output; detached, as a node holding its own output would
        // be a reference cycle.
        let relu_output = relu_after.then(|| out.detach());
        let inputs: Vec<&Tensor> = [Some(self), weight, bias].into_iter().flatten().collect();
        Ok(record(out, &inputs, || BatchNormBackward {
            input: self.clone(),
            relu_output,
            weight: weight.cloned(),
            bias: bias.cloned(),
            mean: f.mean,
            invstd: f.invstd,
            weight_term: f.weight_term,
            training,
            eps,
            dims: d,
        }))
    }

    /// The running statistics a training call updates, checked before anything is computed.
    fn running_to_update<'t>(
        &self,
        running: [Option<&'t Tensor>; 2],
    ) -> Result<[Option<&'t Tensor>; 2]> {
        for t in running.into_iter().flatten() {
            t.check_in_place::<f32>(OP)?;
        }
        Ok(running)
    }

    /// Validates the input and the per-channel tensors; returns the input's `[n, c, s]` view.
    fn check_batch_norm(&self, per_channel: [Option<&Tensor>; 4], training: bool) -> Result<Dims> {
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(
                OP,
                "a float32 or bfloat16 input",
                self.dtype(),
            ));
        }
        let shape = self.shape();
        if shape.len() < 2 {
            return Err(Error::shape(
                OP,
                format!(
                    "expected an input of shape [N, C, ...] (2 or more dims), got {}",
                    ShapeDisplay(shape)
                ),
            ));
        }
        let d = Dims {
            n: shape[0],
            c: shape[1],
            s: shape[2..].iter().product(),
        };
        for (name, t) in ["running_mean", "running_var", "weight", "bias"]
            .into_iter()
            .zip(per_channel)
        {
            let Some(t) = t else { continue };
            self.same_device(OP, t)?;
            if t.dtype() != DType::F32 {
                return Err(Error::dtype(OP, format!("a float32 {name}"), t.dtype()));
            }
            if t.numel() != d.c {
                return Err(Error::shape(
                    OP,
                    format!(
                        "{name} should contain {} elements, one per channel of the input {}, not {}",
                        d.c,
                        ShapeDisplay(shape),
                        t.numel()
                    ),
                ));
            }
        }
        if training && d.n * d.s == 1 {
            return Err(Error::invalid(
                OP,
                format!(
                    "Expected more than 1 value per channel when training, got input size {}",
                    ShapeDisplay(shape)
                ),
            ));
        }
        Ok(d)
    }
}

/// Where a forward's statistics come from.
#[derive(Clone, Copy)]
enum Statistics<'t> {
    /// The batch's, folded into the running ones given ([mean, var]) with `momentum`.
    Batch {
        running: [Option<&'t Tensor>; 2],
        momentum: f64,
    },
    /// The running mean and variance, left alone.
    Running(&'t Tensor, &'t Tensor),
}

/// What the backward reads of the weight, fixed at forward time so that a later in-place change
/// of the weight does not reach it.
enum WeightTerm {
    /// `weight * invstd` per channel: what the CPU kernels scale by.
    Scale(Tensor),
    /// A copy of the weight (the ones made for none): cuDNN's backward scales by it itself.
    Weight(Tensor),
}

/// A forward's output and what its backward reads besides the input.
struct Forward {
    out: Storage,
    mean: Tensor,
    invstd: Tensor,
    weight_term: WeightTerm,
}

/// The error for an operand of a CPU call found elsewhere (`same_device` normally rejects it
/// before any storage is read).
fn off_cpu(t: &Tensor) -> Error {
    Error::DeviceMismatch {
        op: OP,
        expected: "cpu".into(),
        got: t.device().to_string(),
    }
}

fn f32_tensor(values: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_storage(Storage::Cpu(CpuStorage::F32(values)), shape)
}

/// The CPU forward, and in training the batch's (mean, biased var) per channel, which the
/// caller folds into the running statistics.
#[allow(clippy::type_complexity)]
fn forward_cpu(
    x: &[f32],
    d: Dims,
    statistics: Statistics,
    [w, b]: [&Tensor; 2],
    eps: f64,
    relu_after: bool,
) -> Result<(Forward, Option<Vec<(f64, f64)>>)> {
    let (mean, invstd, stats) = match statistics {
        Statistics::Batch { .. } => {
            let stats = cpu::channel_stats(x, d);
            let (mean, invstd) = cpu::batch_mean_invstd(&stats, eps);
            (mean, invstd, Some(stats))
        }
        Statistics::Running(rm, rv) => {
            let (mean, invstd) = running_statistics_cpu(rm, rv, eps)?;
            (mean, invstd, None)
        }
    };
    let (scale, out) = match (&*w.storage().read(), &*b.storage().read()) {
        (Storage::Cpu(ws), Storage::Cpu(bs)) => {
            // y = (x - mean) * scale + bias per channel, with scale = weight * invstd.
            let scale = cpu::channel_scale(&invstd, ws.slice(OP, w.layout())?);
            let shift = bs.slice(OP, b.layout())?;
            let out = cpu::forward(x, d, &mean, &scale, shift, relu_after);
            (scale, out)
        }
        (Storage::Cuda(_), _) => return Err(off_cpu(w)),
        (Storage::Cpu(_), Storage::Cuda(_)) => return Err(off_cpu(b)),
    };
    let c = [d.c];
    let f = Forward {
        out: Storage::Cpu(CpuStorage::F32(out)),
        mean: f32_tensor(mean, &c),
        invstd: f32_tensor(invstd, &c),
        weight_term: WeightTerm::Scale(f32_tensor(scale, &c)),
    };
    Ok((f, stats))
}

/// Folds the batch's statistics into the running ones given, in place (PyTorch's momentum, the
/// unbiased variance).
fn update_running_cpu(
    [running_mean, running_var]: [Option<&Tensor>; 2],
    stats: &[(f64, f64)],
    d: Dims,
    momentum: f64,
) -> Result<()> {
    if let Some(t) = running_mean {
        match &mut *t.storage().write() {
            Storage::Cpu(r) => {
                cpu::update_running_mean(r.slice_mut(OP, t.layout())?, stats, momentum)
            }
            Storage::Cuda(_) => return Err(off_cpu(t)),
        }
    }
    if let Some(t) = running_var {
        let count = (d.n * d.s) as f64;
        match &mut *t.storage().write() {
            Storage::Cpu(r) => {
                cpu::update_running_var(r.slice_mut(OP, t.layout())?, stats, count, momentum)
            }
            Storage::Cuda(_) => return Err(off_cpu(t)),
        }
    }
    Ok(())
}

/// Evaluation on the CPU: a copy of the running mean, and `1 / sqrt(running_var + eps)`.
fn running_statistics_cpu(
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f64,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (rm, rv) = (running_mean.contiguous()?, running_var.contiguous()?);
    let statistics = match (&*rm.storage().read(), &*rv.storage().read()) {
        (Storage::Cpu(ms), Storage::Cpu(vs)) => {
            cpu::running_mean_invstd(ms.slice(OP, rm.layout())?, vs.slice(OP, rv.layout())?, eps)
        }
        (Storage::Cuda(_), _) => return Err(off_cpu(&rm)),
        (Storage::Cpu(_), Storage::Cuda(_)) => return Err(off_cpu(&rv)),
    };
    Ok(statistics)
}

/// The device address of a contiguous float32 operand on the input's device `x`.
fn cuda_ptr(x: &Storage, t: &Tensor) -> Result<u64> {
    match &*t.storage().read() {
        Storage::Cuda(s) => s.ptr::<f32>(OP, t.layout()),
        other @ Storage::Cpu(_) => Err(mismatch(OP, x, other)),
    }
}

/// The address of a running statistic cuDNN updates in place (a write: its version moves on).
/// It may not share the input's memory, which cuDNN reads in the same call.
fn cuda_running_ptr(x_storage: &Storage, x: &Tensor, t: &Tensor) -> Result<u64> {
    if t.shares_storage(x) {
        return Err(Error::invalid(
            OP,
            "the running statistics cannot share memory with the input on CUDA",
        ));
    }
    match &mut *t.storage().write() {
        Storage::Cuda(s) => s.ptr_mut::<f32>(OP, t.layout()),
        other @ Storage::Cpu(_) => Err(mismatch(OP, x_storage, other)),
    }
}

/// The CUDA forward (cuDNN); `copy_weight` when `w` is the caller's weight rather than ones
/// made for none.
fn forward_cuda(
    xs: &Storage,
    x: &Tensor,
    d: Dims,
    statistics: Statistics,
    [w, b]: [&Tensor; 2],
    copy_weight: bool,
    eps: f64,
) -> Result<Forward> {
    let Storage::Cuda(cx) = xs else {
        return Err(Error::Internal {
            op: OP,
            detail: "forward_cuda on a CPU input".into(),
        });
    };
    let dev = cx.device();
    let xp = cx.ptr::<f32>(OP, x.layout())?;
    let affine = [cuda_ptr(xs, w)?, cuda_ptr(xs, b)?];
    let n = match statistics {
        Statistics::Batch { running, momentum } => {
            let running = running.map(|t| t.map(|t| cuda_running_ptr(xs, x, t)).transpose());
            let [rm, rv] = running;
            cuda::forward_training(dev, xp, d, affine, [rm?, rv?], momentum, eps)?
        }
        Statistics::Running(rm, rv) => {
            let (rm, rv) = (rm.contiguous()?, rv.contiguous()?);
            let running = [cuda_ptr(xs, &rm)?, cuda_ptr(xs, &rv)?];
            cuda::forward_eval(dev, xp, d, affine, running, eps)?
        }
    };
    let weight = match copy_weight {
        true => Tensor::from_storage(
            Storage::Cuda(cuda::copy_channels(dev, affine[0], d.c)?),
            &[d.c],
        ),
        false => w.clone(),
    };
    let c = [d.c];
    Ok(Forward {
        out: Storage::Cuda(n.out),
        mean: Tensor::from_storage(Storage::Cuda(n.mean), &c),
        invstd: Tensor::from_storage(Storage::Cuda(n.invstd), &c),
        weight_term: WeightTerm::Weight(weight),
    })
}

struct BatchNormBackward {
    input: Tensor,
    /// The output, for a batch norm followed by a ReLU: the backward's `dy` is the ReLU's.
    relu_output: Option<Tensor>,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    /// Per channel: the mean and `1 / sqrt(var + eps)` the forward normalised with.
    mean: Tensor,
    invstd: Tensor,
    weight_term: WeightTerm,
    training: bool,
    eps: f64,
    dims: Dims,
}

impl Backward for BatchNormBackward {
    fn name(&self) -> &'static str {
        match self.relu_output {
            None => "NativeBatchNormBackward0",
            Some(_) => "NativeBatchNormReluBackward0",
        }
    }

    /// The statistics and weight term are this node's own tensors, made at forward time (the
    /// weight is read through them); the input (and a ReLU's output) come from outside.
    fn saved(&self) -> Vec<&Tensor> {
        [Some(&self.input), self.relu_output.as_ref()]
            .into_iter()
            .flatten()
            .collect()
    }

    fn inputs(&self) -> Vec<Tensor> {
        [Some(&self.input), self.weight.as_ref(), self.bias.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let plan = BackwardPlan {
            training: self.training,
            input: needs[0],
            weight: self.weight.is_some() && needs[1],
            // The bias, when there is one, is the last input.
            bias: self.bias.is_some() && needs[needs.len() - 1],
        };
        let (x, dy) = (self.input.contiguous()?, g.contiguous()?);
        let [dx, dw, db] = match (&*x.storage().read(), &*dy.storage().read()) {
            (Storage::Cpu(xs), Storage::Cpu(gs)) => {
                let (x, dy) = (xs.slice(OP, x.layout())?, gs.slice(OP, dy.layout())?);
                match &self.relu_output {
                    None => self.backward_cpu(x, dy, None, plan)?,
                    Some(y) => match &*y.storage().read() {
                        Storage::Cpu(ys) => {
                            self.backward_cpu(x, dy, Some(ys.slice(OP, y.layout())?), plan)?
                        }
                        Storage::Cuda(_) => return Err(off_cpu(y)),
                    },
                }
            }
            (xs @ Storage::Cuda(cx), Storage::Cuda(gs)) => {
                let (xp, gp) = (
                    cx.ptr::<f32>(OP, x.layout())?,
                    gs.ptr::<f32>(OP, dy.layout())?,
                );
                self.backward_cuda(xs, [xp, gp], plan)?
            }
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(OP, a, b)),
        };
        // Each gradient has the shape of what it is the gradient of.
        let shaped =
            |grad: Option<Storage>, t: &Tensor| grad.map(|g| Tensor::from_storage(g, t.shape()));
        let mut grads = vec![shaped(dx, &self.input)];
        if let Some(w) = &self.weight {
            grads.push(shaped(dw, w));
        }
        if let Some(b) = &self.bias {
            grads.push(shaped(db, b));
        }
        Ok(grads)
    }
}

impl BatchNormBackward {
    /// `relu_output`: the forward's output, when a ReLU followed it.
    fn backward_cpu(
        &self,
        x: &[f32],
        dy: &[f32],
        relu_output: Option<&[f32]>,
        plan: BackwardPlan,
    ) -> Result<[Option<Storage>; 3]> {
        let (mean, invstd) = (&self.mean, &self.invstd);
        let WeightTerm::Scale(scale) = &self.weight_term else {
            return Err(Error::Internal {
                op: OP,
                detail: "a CPU batch norm saved no scale".into(),
            });
        };
        let grads = match (
            &*mean.storage().read(),
            &*invstd.storage().read(),
            &*scale.storage().read(),
        ) {
            (Storage::Cpu(ms), Storage::Cpu(is), Storage::Cpu(ss)) => cpu::backward(
                x,
                dy,
                relu_output,
                self.dims,
                ms.slice(OP, mean.layout())?,
                is.slice(OP, invstd.layout())?,
                ss.slice(OP, scale.layout())?,
                plan,
            ),
            (Storage::Cuda(_), _, _) => return Err(off_cpu(mean)),
            (_, Storage::Cuda(_), _) => return Err(off_cpu(invstd)),
            (_, _, Storage::Cuda(_)) => return Err(off_cpu(scale)),
        };
        Ok(grads.map(|grad| grad.map(|g| Storage::Cpu(CpuStorage::F32(g)))))
    }

    /// `[x, dy]` are the contiguous input's and upstream gradient's device addresses.
    fn backward_cuda(
        &self,
        xs: &Storage,
        [x, dy]: [u64; 2],
        plan: BackwardPlan,
    ) -> Result<[Option<Storage>; 3]> {
        let Storage::Cuda(cx) = xs else {
            return Err(Error::Internal {
                op: OP,
                detail: "backward_cuda on a CPU input".into(),
            });
        };
        let WeightTerm::Weight(weight) = &self.weight_term else {
            return Err(Error::Internal {
                op: OP,
                detail: "a CUDA batch norm saved no weight".into(),
            });
        };
        let saved = cuda::Saved {
            x,
            dy,
            weight: cuda_ptr(xs, weight)?,
            mean: cuda_ptr(xs, &self.mean)?,
            invstd: cuda_ptr(xs, &self.invstd)?,
        };
        let grads = cuda::backward(cx.device(), &saved, self.dims, self.eps, plan)?;
        Ok(grads.map(|grad| grad.map(Storage::Cuda)))
    }
}

#[cfg(test)]
mod tests;
