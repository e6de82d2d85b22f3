//! Classification losses over `[N, C]` scores and int64 class targets `[N]` (or one unbatched
//! sample: `[C]` scores and a 0-d target): `cross_entropy`, which fuses log-softmax and the
//! negative log-likelihood (with label smoothing), and `nll_loss` on log-probabilities.

mod cpu;
pub(crate) mod cuda;
pub(crate) mod pointwise;

use crate::autocast;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

/// How per-sample losses are combined, as PyTorch's `reduction` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// One loss per sample.
    None,
    /// The mean over the samples whose target is not ignored.
    Mean,
    Sum,
}

impl Reduction {
    pub fn parse(op: &'static str, name: &str) -> Result<Reduction> {
        match name {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(Error::invalid(
                op,
                format!("unknown reduction '{other}'; expected 'none', 'mean' or 'sum'"),
            )),
        }
    }
}

/// The validated problem: `rows` samples (sample positions, for `[N, C, d...]` scores) of `c`
/// classes and their targets.
struct Classes {
    rows: usize,
    c: usize,
    /// A dense int64 copy of the targets, `[rows]` in row-major order: the backward sees them as
    /// they were at forward time.
    targets: Tensor,
    /// Samples whose target is not `ignore_index`, the divisor of `Reduction::Mean`, for targets
    /// on the host; device kernels count them on the device, so that nothing waits for a read.
    counted: Option<usize>,
    /// The scores' shape without the class dim: that of the targets and of unreduced losses.
    loss_shape: Vec<usize>,
}

impl Classes {
    /// The host count of the targets that are not ignored (those on the CPU have one).
    fn host_count(&self, op: &'static str) -> Result<usize> {
        self.counted.ok_or_else(|| Error::Internal {
            op,
            detail: "targets on the CPU were not counted".into(),
        })
    }

    /// The shape of the loss `reduction` gives: the targets', or 0-d.
    fn reduced_shape(&self, reduction: Reduction) -> &[usize] {
        match reduction {
            Reduction::None => &self.loss_shape,
            Reduction::Mean | Reduction::Sum => &[],
        }
    }
}

impl Tensor {
    /// Cross entropy between the scores `self` (logits) and class indices `targets`: per sample
    /// `-(1 - s) * log_softmax(x)[target] - s / C * sum(log_softmax(x))` for label smoothing `s`,
    /// 0 where the target is `ignore_index`. Scores are `[N, C]`, `[N, C, d1, ...]` (targets
    /// `[N, d1, ...]`) or one unbatched `[C]` (a 0-d target). The backward is the fused
    /// `softmax - onehot`. A target out of range is an error on the CPU; on a CUDA device, where
    /// checking would wait for the device, its loss and gradient are NaN.
    pub fn cross_entropy(
        &self,
        targets: &Tensor,
        reduction: Reduction,
        ignore_index: i64,
        label_smoothing: f64,
    ) -> Result<Tensor> {
        const OP: &str = "cross_entropy";
        if self.dtype() == DType::BF16 {
            return autocast::float32_policy(self, |x| {
                x.cross_entropy(targets, reduction, ignore_index, label_smoothing)
            });
        }
        if !(0.0..=1.0).contains(&label_smoothing) {
            return Err(Error::invalid(
                OP,
                format!("label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"),
            ));
        }
        let classes = self.check_classes(OP, targets, ignore_index)?;
        let (x, t) = (self.class_rows()?, &classes.targets);
        let (out, probs) = match (&*x.storage().read(), &*t.storage().read()) {
            (Storage::Cpu(xs), Storage::Cpu(ts)) => {
                let (losses, probs) = cpu::cross_entropy_forward(
                    xs.slice(OP, x.layout())?,
                    ts.slice(OP, t.layout())?,
                    classes.c,
                    ignore_index,
                    label_smoothing,
                );
                let out = cpu::reduce(losses, reduction, classes.host_count(OP)?);
                (
                    Storage::Cpu(CpuStorage::F32(out)),
                    Storage::Cpu(CpuStorage::F32(probs)),
                )
            }
            (Storage::Cuda(xs), Storage::Cuda(ts)) => {
                let targets = cuda::Targets {
                    storage: ts,
                    layout: t.layout(),
                    ignore_index,
                };
                let (out, probs) = cuda::cross_entropy_forward(
                    (xs, x.layout()),
                    &targets,
                    classes.c,
                    label_smoothing,
                    reduction,
                )?;
                (Storage::Cuda(out), Storage::Cuda(probs))
            }
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(OP, a, b)),
        };
        let out = Tensor::from_storage(out, classes.reduced_shape(reduction));
        let kind = Kind::CrossEntropy {
            probs: Tensor::from_storage(probs, &[classes.rows, classes.c]),
            smoothing: label_smoothing,
        };
        Ok(record(out, &[self], || NllLossBackward {
            input: self.clone(),
            kind,
            classes,
            reduction,
            ignore_index,
        }))
    }

    /// Negative log-likelihood of the log-probabilities `self` at class indices `targets`:
    /// `-self[i, targets[i]]` per sample, 0 where the target is `ignore_index`. Shapes as for
    /// `cross_entropy`.
    pub fn nll_loss(
        &self,
        targets: &Tensor,
        reduction: Reduction,
        ignore_index: i64,
    ) -> Result<Tensor> {
        const OP: &str = "nll_loss";
        if self.dtype() == DType::BF16 {
            return autocast::float32_policy(self, |x| {
                x.nll_loss(targets, reduction, ignore_index)
            });
        }
        let classes = self.check_classes(OP, targets, ignore_index)?;
        let (x, t) = (self.class_rows()?, &classes.targets);
        let out = match (&*x.storage().read(), &*t.storage().read()) {
            (Storage::Cpu(xs), Storage::Cpu(ts)) => {
                let losses = cpu::nll_forward(
                    xs.slice(OP, x.layout())?,
                    ts.slice(OP, t.layout())?,
                    classes.c,
                    ignore_index,
                );
                Storage::Cpu(CpuStorage::F32(cpu::reduce(
                    losses,
                    reduction,
                    classes.host_count(OP)?,
                )))
            }
            (Storage::Cuda(xs), Storage::Cuda(ts)) => {
                let targets = cuda::Targets {
                    storage: ts,
                    layout: t.layout(),
                    ignore_index,
                };
                let out = cuda::nll_forward((xs, x.layout()), &targets, classes.c, reduction)?;
                Storage::Cuda(out)
            }
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(OP, a, b)),
        };
        let out = Tensor::from_storage(out, classes.reduced_shape(reduction));
        Ok(record(out, &[self], || NllLossBackward {
            input: self.clone(),
            kind: Kind::Nll,
            classes,
            reduction,
            ignore_index,
        }))
    }

    fn check_classes(
        &self,
        op: &'static str,
        targets: &Tensor,
        ignore_index: i64,
    ) -> Result<Classes> {
        self.same_device(op, targets)?;
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(op, "float32 or bfloat16 scores", self.dtype()));
        }
        if targets.dtype() != DType::I64 {
            return Err(Error::dtype(
                op,
                "int64 class indices as targets",
                targets.dtype(),
            ));
        }
        let (shape, target_shape) = (self.shape(), targets.shape());
        let (c, loss_shape) = match shape {
            [] => {
                return Err(Error::shape(
                    op,
                    "expected scores of shape [N, C], [N, C, d1, ...] or [C], got a 0-d tensor",
                ))
            }
            &[c] => (c, vec![]),
            _ => (shape[1], [&shape[..1], &shape[2..]].concat()),
        };
        if target_shape != loss_shape {
            return Err(Error::shape(
                op,
                match (shape.len(), target_shape) {
                    (2, &[m]) => format!(
                        "expected input batch_size ({}) to match target batch_size ({m})",
                        shape[0]
                    ),
                    _ => format!(
                        "expected targets of shape {} for scores of shape {}, got {}",
                        ShapeDisplay(&loss_shape),
                        ShapeDisplay(shape),
                        ShapeDisplay(target_shape)
                    ),
                },
            ));
        }
        let targets = targets.copy()?;
        let counted = match &*targets.storage().read() {
            Storage::Cpu(ts) => {
                let check = cpu::check_targets(ts.slice(op, targets.layout())?, c, ignore_index);
                if let Some(bad) = check.out_of_bounds {
                    return Err(Error::index(
                        op,
                        format!("target {bad} is out of bounds for {c} classes"),
                    ));
                }
                Some(check.counted)
            }
            // Checking here would wait for the device: its kernels count the targets and give
            // NaN for an out-of-range one.
            Storage::Cuda(_) => None,
        };
        Ok(Classes {
            rows: targets.numel(),
            c,
            targets,
            counted,
            loss_shape,
        })
    }

    /// The scores as dense `[rows, C]` data: `[N, C, d...]` is copied with its class dim moved last.
    fn class_rows(&self) -> Result<Tensor> {
        if self.rank() <= 2 {
            return self.contiguous();
        }
        let class_last: Vec<i64> = (0..self.rank() as i64)
            .filter(|&d| d != 1)
            .chain([1])
            .collect();
        self.detach().permute(&class_last)?.contiguous()
    }
}

enum Kind {
    /// Saves the softmax of the scores: the gradient is `p - onehot`, smoothed.
    CrossEntropy {
        probs: Tensor,
        smoothing: f64,
    },
    Nll,
}

/// PyTorch records cross entropy as `LogSoftmaxBackward0` then `NllLossBackward0`; the fused
/// node keeps the second name.
struct NllLossBackward {
    input: Tensor,
    kind: Kind,
    classes: Classes,
    reduction: Reduction,
    ignore_index: i64,
}

impl Backward for NllLossBackward {
    fn name(&self) -> &'static str {
        "NllLossBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let Classes {
            rows,
            c,
            ref targets,
            ..
        } = self.classes;
        let (g, reduction, ignore_index) = (g.contiguous()?, self.reduction, self.ignore_index);
        let dx = match &self.kind {
            Kind::CrossEntropy { probs, smoothing } => {
                const OP: &str = "cross_entropy";
                match (
                    &*g.storage().read(),
                    &*probs.storage().read(),
                    &*targets.storage().read(),
                ) {
                    (Storage::Cpu(gs), Storage::Cpu(ps), Storage::Cpu(ts)) => {
                        let weights = cpu::sample_weights(
                            gs.slice(OP, g.layout())?,
                            reduction,
                            rows,
                            self.classes.host_count(OP)?,
                        );
                        Storage::Cpu(CpuStorage::F32(cpu::cross_entropy_backward_input(
                            ps.slice(OP, probs.layout())?,
                            ts.slice(OP, targets.layout())?,
                            &weights,
                            c,
                            ignore_index,
                            *smoothing,
                        )))
                    }
                    (Storage::Cuda(gs), Storage::Cuda(ps), Storage::Cuda(ts)) => {
                        let targets = cuda::Targets {
                            storage: ts,
                            layout: targets.layout(),
                            ignore_index,
                        };
                        Storage::Cuda(cuda::cross_entropy_backward_input(
                            (gs, g.layout()),
                            (ps, probs.layout()),
                            &targets,
                            c,
                            *smoothing,
                            reduction,
                        )?)
                    }
                    (
                        a @ Storage::Cpu(_),
                        b @ Storage::Cuda(_),
                        Storage::Cpu(_) | Storage::Cuda(_),
                    )
                    | (
                        a @ Storage::Cuda(_),
                        b @ Storage::Cpu(_),
                        Storage::Cpu(_) | Storage::Cuda(_),
                    )
                    | (a @ Storage::Cpu(_), Storage::Cpu(_), b @ Storage::Cuda(_))
                    | (a @ Storage::Cuda(_), Storage::Cuda(_), b @ Storage::Cpu(_)) => {
                        return Err(mismatch(OP, a, b))
                    }
                }
            }
            Kind::Nll => {
                const OP: &str = "nll_loss";
                match (&*g.storage().read(), &*targets.storage().read()) {
                    (Storage::Cpu(gs), Storage::Cpu(ts)) => {
                        let weights = cpu::sample_weights(
                            gs.slice(OP, g.layout())?,
                            reduction,
                            rows,
                            self.classes.host_count(OP)?,
                        );
                        Storage::Cpu(CpuStorage::F32(cpu::nll_backward_input(
                            ts.slice(OP, targets.layout())?,
                            &weights,
                            c,
                            ignore_index,
                        )))
                    }
                    (Storage::Cuda(gs), Storage::Cuda(ts)) => {
                        let targets = cuda::Targets {
                            storage: ts,
                            layout: targets.layout(),
                            ignore_index,
                        };
                        Storage::Cuda(cuda::nll_backward_input(
                            (gs, g.layout()),
                            &targets,
                            c,
                            reduction,
                        )?)
                    }
                    (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
                    | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => {
                        return Err(mismatch(OP, a, b))
                    }
                }
            }
        };
        let shape = self.input.shape();
        if shape.len() <= 2 {
            return Ok(vec![Some(Tensor::from_storage(dx, shape))]);
        }
        // Rows of [N, d..., C] back to [N, C, d...].
        let class_last: Vec<usize> = [&shape[..1], &shape[2..], &shape[1..2]].concat();
        let class_back: Vec<i64> = [0, shape.len() as i64 - 1]
            .into_iter()
            .chain(1..shape.len() as i64 - 1)
            .collect();
        Ok(vec![Some(
            Tensor::from_storage(dx, &class_last).permute(&class_back)?,
        )])
    }
}

#[cfg(test)]
mod tests;
