//! Losses between an input and a target of the same shape, element by element: `mse_loss` and
//! `binary_cross_entropy_with_logits` (with PyTorch's `weight` and `pos_weight`). A kernel writes
//! the per-element losses; `sum` or `mean` reduces them; the backward is one fused kernel pass
//! per gradient asked for, reading the reduced loss's gradient in place (no broadcast copy).

mod cpu;
pub(crate) mod cuda;

use crate::autocast;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::nn::loss::Reduction;
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

/// Which loss, with the per-element factors binary cross entropy takes: dense float32 copies of
/// `weight` and `pos_weight` broadcast to the input's shape.
#[derive(Clone)]
enum Kind {
    Mse,
    BceWithLogits {
        weight: Option<Tensor>,
        pos_weight: Option<Tensor>,
    },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Mse => "mse_loss",
            Kind::BceWithLogits { .. } => "binary_cross_entropy_with_logits",
        }
    }
}

/// Which gradient a backward kernel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrt {
    Input,
    Target,
}

/// How the upstream gradient reaches element `i`: `g[i * step] * scale` (`step` 0 for a reduced
/// loss, whose one gradient every element shares; `scale` `1 / n` for a mean).
#[derive(Clone, Copy)]
struct Upstream {
    step: usize,
    scale: f32,
}

impl Tensor {
    /// `(input - target)²` per element, reduced. `target` has the input's shape.
    pub fn mse_loss(&self, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
        if self.dtype() == DType::BF16 {
            return autocast::float32_policy(self, |x| x.mse_loss(target, reduction));
        }
        self.pointwise_loss(target, Kind::Mse, reduction)
    }

    /// Binary cross entropy between logits `self` and probabilities `target` of the same shape,
    /// `-w [p y log σ(x) + (1 - y) log(1 - σ(x))]` per element, computed as
    /// `w [(1 - y) x - (1 + (p - 1) y) log σ(x)]` with a stable log-sigmoid. `weight` (w) and
    /// `pos_weight` (p, the weight of positives, usually one per class along the last dim)
    /// broadcast to the input's shape.
    pub fn binary_cross_entropy_with_logits(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        pos_weight: Option<&Tensor>,
        reduction: Reduction,
    ) -> Result<Tensor> {
        const OP: &str = "binary_cross_entropy_with_logits";
        if self.dtype() == DType::BF16 {
            return autocast::float32_policy(self, |x| {
                x.binary_cross_entropy_with_logits(target, weight, pos_weight, reduction)
            });
        }
        let factor = |name: &str, t: Option<&Tensor>| {
            t.map(|t| self.broadcast_factor(OP, name, t)).transpose()
        };
        let kind = Kind::BceWithLogits {
            weight: factor("weight", weight)?,
            pos_weight: factor("pos_weight", pos_weight)?,
        };
        self.pointwise_loss(target, kind, reduction)
    }

    /// `t` (float32 or bfloat16, on this device) as a dense float32 tensor of this tensor's shape.
    fn broadcast_factor(&self, op: &'static str, name: &str, t: &Tensor) -> Result<Tensor> {
        self.same_device(op, t)?;
        if !t.dtype().is_float() {
            return Err(Error::dtype(
                op,
                format!("a floating-point {name}"),
                t.dtype(),
            ));
        }
        let (shape, from) = (self.shape(), t.shape());
        let fits = from.len() <= shape.len()
            && from
                .iter()
                .rev()
                .zip(shape.iter().rev())
                .all(|(&f, &s)| f == s || f == 1);
        if !fits {
            return Err(Error::shape(
                op,
                format!(
                    "{name} of shape {} cannot be broadcast to the input's shape {}",
                    ShapeDisplay(from),
                    ShapeDisplay(shape)
                ),
            ));
        }
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        t.detach().to_dtype(DType::F32)?.expand(&dims)?.contiguous()
    }

    fn pointwise_loss(&self, target: &Tensor, kind: Kind, reduction: Reduction) -> Result<Tensor> {
        let op = kind.name();
        self.same_device(op, target)?;
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(
                op,
                "a float32 or bfloat16 input",
                self.dtype(),
            ));
        }
        if !target.dtype().is_float() {
            return Err(Error::dtype(
                op,
                "a floating-point target (probabilities or values, not class indices)",
                target.dtype(),
            ));
        }
        if target.shape() != self.shape() {
            return Err(Error::shape(
                op,
                format!(
                    "the target's shape {} must be the input's {} (PyTorch would broadcast \
                     them, which is almost always a mistake)",
                    ShapeDisplay(target.shape()),
                    ShapeDisplay(self.shape())
                ),
            ));
        }
        let target = target.to_dtype(DType::F32)?;
        let (x, y) = (self.contiguous()?, target.contiguous()?);
        let losses = Tensor::from_storage(elementwise_losses(&kind, &x, &y)?, self.shape());
        let out = match reduction {
            Reduction::None => losses,
            Reduction::Sum => losses.sum(&[], false)?,
            Reduction::Mean => losses.mean(&[], false)?,
        };
        Ok(record(out, &[self, &target], || PointwiseLossBackward {
            kind,
            input: x,
            target: y,
            reduction,
        }))
    }
}

/// The per-element losses of the dense `x` and `y`.
fn elementwise_losses(kind: &Kind, x: &Tensor, y: &Tensor) -> Result<Storage> {
    let op = kind.name();
    let (weight, pos_weight) = factors(kind);
    let (ws, ps) = (
        weight.map(|t| t.storage().read()),
        pos_weight.map(|t| t.storage().read()),
    );
    let (ws, ps) = (ws.as_deref(), ps.as_deref());
    Ok(match (&*x.storage().read(), &*y.storage().read()) {
        (Storage::Cpu(xs), Storage::Cpu(ys)) => {
            let (x, y) = (xs.slice(op, x.layout())?, ys.slice(op, y.layout())?);
            Storage::Cpu(CpuStorage::F32(match kind {
                Kind::Mse => cpu::mse_forward(op, x, y)?,
                Kind::BceWithLogits { .. } => {
                    let w = cpu_factor(op, ws, weight)?;
                    let p = cpu_factor(op, ps, pos_weight)?;
                    cpu::bce_with_logits_forward(op, x, y, w, p)?
                }
            }))
        }
        (Storage::Cuda(xs), Storage::Cuda(ys)) => {
            let factors = [
                cuda_factor(op, ws, weight)?,
                cuda_factor(op, ps, pos_weight)?,
            ];
            Storage::Cuda(cuda::forward(
                kind,
                (xs, x.layout()),
                (ys, y.layout()),
                factors,
            )?)
        }
        (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
        | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(op, a, b)),
    })
}

fn factors(kind: &Kind) -> (Option<&Tensor>, Option<&Tensor>) {
    match kind {
        Kind::Mse => (None, None),
        Kind::BceWithLogits { weight, pos_weight } => (weight.as_ref(), pos_weight.as_ref()),
    }
}

/// A factor's CPU elements, when there is one.
fn cpu_factor<'a>(
    op: &'static str,
    storage: Option<&'a Storage>,
    t: Option<&Tensor>,
) -> Result<Option<&'a [f32]>> {
    match (storage, t) {
        (Some(Storage::Cpu(s)), Some(t)) => Ok(Some(s.slice(op, t.layout())?)),
        (Some(other @ Storage::Cuda(_)), Some(t)) => Err(Error::DeviceMismatch {
            op,
            expected: "cpu".into(),
            got: format!("{} ({})", t.device(), other.device()),
        }),
        _ => Ok(None),
    }
}

/// A factor's device address (0 for none: the kernels read 1).
fn cuda_factor(op: &'static str, storage: Option<&Storage>, t: Option<&Tensor>) -> Result<u64> {
    match (storage, t) {
        (Some(Storage::Cuda(s)), Some(t)) => s.ptr::<f32>(op, t.layout()),
        (Some(Storage::Cpu(_)), Some(t)) => Err(Error::DeviceMismatch {
            op,
            expected: "cuda".into(),
            got: t.device().to_string(),
        }),
        _ => Ok(0),
    }
}

struct PointwiseLossBackward {
    kind: Kind,
    /// Dense copies (or the caller's own dense tensors) of the input and target.
    input: Tensor,
    target: Tensor,
    reduction: Reduction,
}

impl PointwiseLossBackward {
    fn gradient(&self, g: &Tensor, wrt: Wrt) -> Result<Tensor> {
        let op = self.kind.name();
        let n = self.input.numel();
        let upstream = match self.reduction {
            Reduction::None => Upstream {
                step: 1,
                scale: 1.0,
            },
            Reduction::Sum => Upstream {
                step: 0,
                scale: 1.0,
            },
            Reduction::Mean => Upstream {
                step: 0,
                scale: 1.0 / n as f32,
            },
        };
        let (x, y) = (&self.input, &self.target);
        let (weight, pos_weight) = factors(&self.kind);
        let (ws, ps) = (
            weight.map(|t| t.storage().read()),
            pos_weight.map(|t| t.storage().read()),
        );
        let (ws, ps) = (ws.as_deref(), ps.as_deref());
        let storages = (
            &*g.storage().read(),
            &*x.storage().read(),
            &*y.storage().read(),
        );
        let grad = match storages {
            (Storage::Cpu(gs), Storage::Cpu(xs), Storage::Cpu(ys)) => {
                let g = gs.slice(op, g.layout())?;
                let (x, y) = (xs.slice(op, x.layout())?, ys.slice(op, y.layout())?);
                Storage::Cpu(CpuStorage::F32(match self.kind {
                    Kind::Mse => cpu::mse_backward(op, g, upstream, x, y, wrt)?,
                    Kind::BceWithLogits { .. } => {
                        let w = cpu_factor(op, ws, weight)?;
                        let p = cpu_factor(op, ps, pos_weight)?;
                        cpu::bce_with_logits_backward(op, g, upstream, x, y, [w, p], wrt)?
                    }
                }))
            }
            (Storage::Cuda(gs), Storage::Cuda(xs), Storage::Cuda(ys)) => {
                let factors = [
                    cuda_factor(op, ws, weight)?,
                    cuda_factor(op, ps, pos_weight)?,
                ];
                Storage::Cuda(cuda::backward(
                    &self.kind,
                    (gs, g.layout(), upstream),
                    (xs, x.layout()),
                    (ys, y.layout()),
                    factors,
                    wrt,
                )?)
            }
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_), _)
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_), _)
            | (_, a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (_, a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(op, a, b)),
        };
        Ok(Tensor::from_storage(grad, self.input.shape()))
    }
}

impl Backward for PointwiseLossBackward {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Mse => "MseLossBackward0",
            Kind::BceWithLogits { .. } => "BinaryCrossEntropyWithLogitsBackward0",
        }
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.input, &self.target]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone(), self.target.clone()]
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let g = g.contiguous()?;
        let input = needs[0]
            .then(|| self.gradient(&g, Wrt::Input))
            .transpose()?;
        let target = needs[1]
            .then(|| self.gradient(&g, Wrt::Target))
            .transpose()?;
        Ok(vec![input, target])
    }
}

#[cfg(test)]
mod tests;
