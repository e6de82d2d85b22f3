//! Classification losses over `[N, C]` scores and int64 class targets `[N]` (or one unbatched
//! sample: `[C]` scores and a 0-d target): `cross_entropy`, which fuses log-softmax and the
//! negative log-likelihood (with label smoothing), and `nll_loss` on log-probabilities.

mod cpu;
pub(crate) mod cuda;

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
            return Err(Error::dtype(op, "float32 scores", self.dtype()));
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
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::testing::{assert_close, floats, gradcheck, leaf_on, test_device, values};

    fn targets_on(data: &[i64], shape: &[usize], device: Device) -> Tensor {
        Tensor::from_i64(data.to_vec(), shape)
            .unwrap()
            .to_device(device)
            .unwrap()
    }

    fn labels(data: &[i64], device: Device) -> Tensor {
        targets_on(data, &[data.len()], device)
    }

    /// Per-sample cross entropy with label smoothing, in f64 from the definition.
    fn naive_cross_entropy(x: &[f32], targets: &[i64], c: usize, ignore: i64, s: f64) -> Vec<f64> {
        targets
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let row: Vec<f64> = x[i * c..(i + 1) * c].iter().map(|&v| v as f64).collect();
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                let logp: Vec<f64> = row.iter().map(|v| v - lse).collect();
                if t == ignore {
                    0.0
                } else {
                    -(1.0 - s) * logp[t as usize] - s / c as f64 * logp.iter().sum::<f64>()
                }
            })
            .collect()
    }

    test_device!(fn cross_entropy_matches_a_float64_reference(device) {
        let (n, c) = (5, 4);
        let x: Vec<f32> = values(n * c, 1).iter().map(|v| v * 5.0).collect();
        let targets = [3, -100, 0, 1, 3];
        let logits = floats(x.clone(), &[n, c], device);
        for s in [0.0, 0.2] {
            let per_sample = naive_cross_entropy(&x, &targets, c, -100, s);
            let none = logits
                .cross_entropy(&labels(&targets, device), Reduction::None, -100, s)
                .unwrap();
            assert_eq!(none.shape(), &[n]);
            assert_close(&none.to_vec_f32().unwrap(), &per_sample, 1e-6);
            let sum: f64 = per_sample.iter().sum();
            let got_sum = logits
                .cross_entropy(&labels(&targets, device), Reduction::Sum, -100, s)
                .unwrap();
            assert_eq!(got_sum.shape(), &[] as &[usize]);
            assert_close(&got_sum.to_vec_f32().unwrap(), &[sum], 1e-6);
            let mean = logits
                .cross_entropy(&labels(&targets, device), Reduction::Mean, -100, s)
                .unwrap();
            assert_close(&mean.to_vec_f32().unwrap(), &[sum / 4.0], 1e-6);
        }
        // Large enough for the parallel kernel.
        let (n, c) = (400, 100);
        let x = values(n * c, 2);
        let targets: Vec<i64> = (0..n as i64).map(|i| (i * 7) % c as i64).collect();
        let got = floats(x.clone(), &[n, c], device)
            .cross_entropy(&labels(&targets, device), Reduction::None, -100, 0.1)
            .unwrap();
        assert_close(
            &got.to_vec_f32().unwrap(),
            &naive_cross_entropy(&x, &targets, c, -100, 0.1),
            1e-5,
        );
    });

    test_device!(fn cross_entropy_is_log_softmax_then_nll_and_stable(device) {
        let x = floats(vec![1000.0, 1001.0, 999.0, -5.0, 0.0, 5.0], &[2, 3], device);
        let y = labels(&[1, 0], device);
        let fused = x
            .cross_entropy(&y, Reduction::None, -100, 0.0)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        let composed = x
            .log_softmax(1)
            .unwrap()
            .nll_loss(&y, Reduction::None, -100)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        assert!(fused.iter().all(|v| v.is_finite()));
        assert_close(
            &fused,
            &composed.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            1e-6,
        );
        assert_close(
            &fused,
            &naive_cross_entropy(&x.to_vec_f32().unwrap(), &[1, 0], 3, -100, 0.0),
            1e-5,
        );
    });

    test_device!(fn unbatched_and_fully_ignored_inputs(device) {
        let x = floats(vec![0.5, -1.0, 2.0], &[3], device);
        let target = targets_on(&[2], &[], device);
        let none = x
            .cross_entropy(&target, Reduction::None, -100, 0.0)
            .unwrap();
        assert_eq!(none.shape(), &[] as &[usize]);
        assert_close(
            &none.to_vec_f32().unwrap(),
            &naive_cross_entropy(&x.to_vec_f32().unwrap(), &[2], 3, -100, 0.0),
            1e-6,
        );
        assert_eq!(
            x.nll_loss(&target, Reduction::Mean, -100)
                .unwrap()
                .item()
                .unwrap(),
            -2.0
        );
        let ignored = floats(values(6, 3), &[2, 3], device)
            .cross_entropy(&labels(&[-100, -100], device), Reduction::Mean, -100, 0.0)
            .unwrap();
        assert!(ignored.item().unwrap().is_nan());
    });

    test_device!(fn spatial_scores_have_a_loss_per_position(device) {
        let (n, c, hw) = (2, 3, 4);
        let x = values(n * c * hw, 10);
        let targets = targets_on(&[0, 2, 1, -100, 2, 2, 0, 1], &[n, 2, 2], device);
        // The same problem as [N * H * W, C] rows, gathered by hand.
        let rows: Vec<f32> = (0..n)
            .flat_map(|i| (0..hw).flat_map(move |p| (0..c).map(move |k| (i, k, p))))
            .map(|(i, k, p)| x[(i * c + k) * hw + p])
            .collect();
        let scores = floats(x.clone(), &[n, c, 2, 2], device);
        let got = scores
            .cross_entropy(&targets, Reduction::None, -100, 0.1)
            .unwrap();
        assert_eq!(got.shape(), &[n, 2, 2]);
        assert_close(
            &got.to_vec_f32().unwrap(),
            &naive_cross_entropy(&rows, &targets.to_vec_i64().unwrap(), c, -100, 0.1),
            1e-6,
        );
        for reduction in [Reduction::Mean, Reduction::None] {
            gradcheck(&[leaf_on(&[n, c, 2, 2], 11, device)], |x| {
                x[0].cross_entropy(&targets, reduction, -100, 0.1)
            });
            gradcheck(&[leaf_on(&[n, c, 2, 2], 12, device)], |x| {
                x[0].nll_loss(&targets, reduction, -100)
            });
        }
        let err = scores
            .nll_loss(&labels(&[0, 1], device), Reduction::Mean, -100)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "nll_loss: expected targets of shape [2, 2, 2] for scores of shape [2, 3, 2, 2], got [2]"
        );
    });

    test_device!(fn nll_loss_picks_the_targets(device) {
        let x = floats(vec![-0.5, -1.0, -2.0, -3.0, -0.1, -0.2], &[2, 3], device);
        let y = labels(&[2, 1], device);
        assert_eq!(
            x.nll_loss(&y, Reduction::None, -100)
                .unwrap()
                .to_vec_f32()
                .unwrap(),
            vec![2.0, 0.1]
        );
        assert_eq!(
            x.nll_loss(&y, Reduction::Sum, -100)
                .unwrap()
                .item()
                .unwrap() as f32,
            2.1
        );
        assert_eq!(
            x.nll_loss(&y, Reduction::Mean, 1).unwrap().item().unwrap(),
            2.0
        );
    });

    test_device!(fn gradients_match_finite_differences(device) {
        let y = labels(&[2, -100, 0, 3], device);
        for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            for s in [0.0, 0.3] {
                gradcheck(&[leaf_on(&[4, 5], 4, device)], |x| {
                    x[0].cross_entropy(&y, reduction, -100, s)
                });
            }
            gradcheck(&[leaf_on(&[4, 5], 5, device)], |x| {
                x[0].nll_loss(&y, reduction, -100)
            });
        }
        let target = targets_on(&[1], &[], device);
        gradcheck(&[leaf_on(&[5], 6, device)], |x| {
            x[0].cross_entropy(&target, Reduction::Mean, -100, 0.1)
        });
        let x = leaf_on(&[4, 5], 7, device);
        let loss = x.cross_entropy(&y, Reduction::Mean, -100, 0.0).unwrap();
        assert_eq!(loss.grad_fn_name(), Some("NllLossBackward0"));
        loss.backward(None, false).unwrap();
        // (softmax - onehot) / 3 counted samples; the ignored row gets nothing.
        let g = x.grad().unwrap().to_vec_f32().unwrap();
        let p = x.softmax(1).unwrap().to_vec_f32().unwrap();
        assert!((g[2] - (p[2] - 1.0) / 3.0).abs() < 1e-6 && (g[0] - p[0] / 3.0).abs() < 1e-6);
        assert!(g[5..10].iter().all(|&v| v == 0.0));
    });

    test_device!(fn errors_have_codes(device) {
        const INDEX: &str = "IndexOutOfRange";
        const DTYPE: &str = "DTypeMismatch";
        const SHAPE: &str = "ShapeMismatch";
        let x = floats(values(20, 8), &[2, 10], device);
        let ints = Tensor::zeros(&[2, 10], DType::I64, device).unwrap();
        let spatial = floats(values(8, 9), &[2, 2, 2], device);
        let floats = floats(vec![1.0, 2.0], &[2], device);
        let scalar = targets_on(&[1], &[], device);
        // (scores, targets, label smoothing or None for nll_loss, error code)
        let cases = [
            (&x, labels(&[1, 10], device), Some(0.0), INDEX),
            (&x, labels(&[-1, 0], device), None, INDEX),
            (&x, floats, Some(0.0), DTYPE),
            (&ints, labels(&[0, 0], device), None, DTYPE),
            (&x, labels(&[1, 2, 3], device), Some(0.0), SHAPE),
            (&x, scalar, Some(0.0), SHAPE),
            (&spatial, labels(&[0, 1], device), Some(0.0), SHAPE),
            (&x, labels(&[0, 1], device), Some(1.5), "InvalidArgument"),
        ];
        // A device checks targets in its kernels without waiting: out-of-range ones give NaN
        // there (nn::loss::cuda's tests), not an error.
        let host = device == Device::Cpu;
        for (scores, targets, smoothing, code) in &cases {
            if *code == INDEX && !host {
                continue;
            }
            let err = match smoothing {
                Some(s) => scores.cross_entropy(targets, Reduction::Mean, -100, *s),
                None => scores.nll_loss(targets, Reduction::Mean, -100),
            }
            .unwrap_err();
            assert_eq!(err.code(), *code, "{err}");
        }
        let message = |(scores, targets, _, _): &(&Tensor, Tensor, _, _)| {
            let err = scores.cross_entropy(targets, Reduction::Mean, -100, 0.0);
            err.unwrap_err().to_string()
        };
        if host {
            assert_eq!(
                message(&cases[0]),
                "cross_entropy: target 10 is out of bounds for 10 classes"
            );
        }
        assert_eq!(
            message(&cases[4]),
            "cross_entropy: expected input batch_size (2) to match target batch_size (3)"
        );
        assert_eq!(
            Reduction::parse("cross_entropy", "avg").unwrap_err().code(),
            "InvalidArgument"
        );
    });
}
