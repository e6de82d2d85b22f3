//! Batch normalisation over dim 1 of `[N, C, ...]` inputs, like `torch.nn.functional.batch_norm`:
//! training normalises with the batch's statistics and folds them into the running ones in place;
//! evaluation normalises with the running ones.

mod cpu;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::storage::{CpuStorage, Storage};
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
        let d = self.check_batch_norm([running_mean, running_var, weight, bias], training)?;
        let x = self.contiguous()?;
        let (mean, invstd) = match (training, running_mean, running_var) {
            (true, _, _) => batch_statistics(&x, d, [running_mean, running_var], momentum, eps)?,
            (false, Some(rm), Some(rv)) => running_statistics(rm, rv, eps)?,
            _ => {
                return Err(Error::invalid(
                    OP,
                    "running_mean and running_var must be given when not training",
                ))
            }
        };
        // No weight scales by 1 and no bias shifts by 0: the same arithmetic either way.
        let per_channel = |t: Option<&Tensor>, fill: f64| match t {
            Some(t) => t.contiguous(),
            None => Tensor::full(&[d.c], fill, DType::F32, self.device()),
        };
        let (w, b) = (per_channel(weight, 1.0)?, per_channel(bias, 0.0)?);
        let (out, scale) = match (
            &*x.storage().read(),
            &*mean.storage().read(),
            &*invstd.storage().read(),
            &*w.storage().read(),
            &*b.storage().read(),
        ) {
            (
                Storage::Cpu(xs),
                Storage::Cpu(ms),
                Storage::Cpu(is),
                Storage::Cpu(ws),
                Storage::Cpu(bs),
            ) => {
                // y = (x - mean) * scale + bias per channel, with scale = weight * invstd.
                let scale =
                    cpu::channel_scale(is.slice(OP, invstd.layout())?, ws.slice(OP, w.layout())?);
                let out = cpu::forward(
                    xs.slice(OP, x.layout())?,
                    d,
                    ms.slice(OP, mean.layout())?,
                    &scale,
                    bs.slice(OP, b.layout())?,
                );
                (
                    Storage::Cpu(CpuStorage::F32(out)),
                    Storage::Cpu(CpuStorage::F32(scale)),
                )
            }
            #[allow(unreachable_patterns)]
            _ => return Err(crate::cuda::pending("cuda")),
        };
        let out = Tensor::from_storage(out, self.shape());
        let inputs: Vec<&Tensor> = [Some(self), weight, bias].into_iter().flatten().collect();
        Ok(record(out, &inputs, || BatchNormBackward {
            input: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            mean,
            invstd,
            scale: Tensor::from_storage(scale, &[d.c]),
            training,
            dims: d,
        }))
    }

    /// Validates the input and the per-channel tensors; returns the input's `[n, c, s]` view.
    fn check_batch_norm(&self, per_channel: [Option<&Tensor>; 4], training: bool) -> Result<Dims> {
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(OP, "a float32 input", self.dtype()));
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

/// Training: the batch's per-channel mean and `1 / sqrt(var + eps)` (biased variance), folded
/// into the running statistics given, in place.
fn batch_statistics(
    x: &Tensor,
    d: Dims,
    [running_mean, running_var]: [Option<&Tensor>; 2],
    momentum: f64,
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    let (stats, mean, invstd) = match &*x.storage().read() {
        Storage::Cpu(xs) => {
            let stats = cpu::channel_stats(xs.slice(OP, x.layout())?, d);
            let (mean, invstd) = cpu::batch_mean_invstd(&stats, eps);
            (
                stats,
                Storage::Cpu(CpuStorage::F32(mean)),
                Storage::Cpu(CpuStorage::F32(invstd)),
            )
        }
        #[allow(unreachable_patterns)]
        _ => return Err(crate::cuda::pending("cuda")),
    };
    if let Some(t) = running_mean {
        t.check_in_place::<f32>(OP)?;
        match &mut *t.storage().write() {
            Storage::Cpu(r) => {
                cpu::update_running_mean(r.slice_mut(OP, t.layout())?, &stats, momentum)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(crate::cuda::pending("cuda")),
        }
    }
    if let Some(t) = running_var {
        t.check_in_place::<f32>(OP)?;
        let count = (d.n * d.s) as f64;
        match &mut *t.storage().write() {
            Storage::Cpu(r) => {
                cpu::update_running_var(r.slice_mut(OP, t.layout())?, &stats, count, momentum)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(crate::cuda::pending("cuda")),
        }
    }
    Ok((
        Tensor::from_storage(mean, &[d.c]),
        Tensor::from_storage(invstd, &[d.c]),
    ))
}

/// Evaluation: a copy of the running mean, and `1 / sqrt(running_var + eps)`.
fn running_statistics(
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    let (rm, rv) = (running_mean.contiguous()?, running_var.contiguous()?);
    let (mean, invstd) = match (&*rm.storage().read(), &*rv.storage().read()) {
        (Storage::Cpu(ms), Storage::Cpu(vs)) => {
            let (mean, invstd) = cpu::running_mean_invstd(
                ms.slice(OP, rm.layout())?,
                vs.slice(OP, rv.layout())?,
                eps,
            );
            (
                Storage::Cpu(CpuStorage::F32(mean)),
                Storage::Cpu(CpuStorage::F32(invstd)),
            )
        }
        #[allow(unreachable_patterns)]
        _ => return Err(crate::cuda::pending("cuda")),
    };
    let c = [rm.numel()];
    Ok((
        Tensor::from_storage(mean, &c),
        Tensor::from_storage(invstd, &c),
    ))
}

struct BatchNormBackward {
    input: Tensor,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    /// Per channel: the mean and `1 / sqrt(var + eps)` the forward normalised with, and
    /// `weight * invstd`.
    mean: Tensor,
    invstd: Tensor,
    scale: Tensor,
    training: bool,
    dims: Dims,
}

impl Backward for BatchNormBackward {
    fn name(&self) -> &'static str {
        "NativeBatchNormBackward0"
    }

    /// The statistics and scale are this node's own tensors, made at forward time (the weight is
    /// read through them); only the input comes from outside.
    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.input]
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
        let (mean, invstd, scale) = (&self.mean, &self.invstd, &self.scale);
        let [dx, dw, db] = match (
            &*x.storage().read(),
            &*dy.storage().read(),
            &*mean.storage().read(),
            &*invstd.storage().read(),
            &*scale.storage().read(),
        ) {
            (
                Storage::Cpu(xs),
                Storage::Cpu(gs),
                Storage::Cpu(ms),
                Storage::Cpu(is),
                Storage::Cpu(ss),
            ) => cpu::backward(
                xs.slice(OP, x.layout())?,
                gs.slice(OP, dy.layout())?,
                self.dims,
                ms.slice(OP, mean.layout())?,
                is.slice(OP, invstd.layout())?,
                ss.slice(OP, scale.layout())?,
                plan,
            )
            .map(|grad| grad.map(|g| Storage::Cpu(CpuStorage::F32(g)))),
            #[allow(unreachable_patterns)]
            _ => return Err(crate::cuda::pending("cuda")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::NoGradGuard;
    use crate::testing::{assert_close, floats, gradcheck, leaf_on, test_device, values};

    /// Per-channel (mean, biased var) of `[n, c, s]` data in f64.
    fn naive_stats(x: &[f32], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
        (0..c)
            .map(|ch| {
                let vals: Vec<f64> = (0..n)
                    .flat_map(|i| (0..s).map(move |j| x[(i * c + ch) * s + j] as f64))
                    .collect();
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                (
                    mean,
                    vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64,
                )
            })
            .collect()
    }

    fn naive_normalize(
        x: &[f32],
        c: usize,
        s: usize,
        stats: &[(f64, f64)],
        w: &[f32],
        b: &[f32],
        eps: f64,
    ) -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let ch = (i / s) % c;
                (v as f64 - stats[ch].0) / (stats[ch].1 + eps).sqrt() * w[ch] as f64 + b[ch] as f64
            })
            .collect()
    }

    test_device!(fn training_matches_a_float64_reference_for_every_rank(device) {
        // Short rows (walked by sample) and long ones, each small and large enough for threads.
        for shape in [
            vec![6, 3],
            vec![4, 3, 5],
            vec![2, 3, 4, 4],
            vec![1000, 40],
            vec![2, 3, 8, 8],
            vec![16, 4, 32, 32],
        ] {
            let (n, c, s) = (shape[0], shape[1], shape[2..].iter().product::<usize>());
            // Offset values, so that a one-pass variance would lose precision.
            let x: Vec<f32> = values(n * c * s, 1)
                .iter()
                .map(|v| v * 3.0 + 100.0)
                .collect();
            let (w, b) = (values(c, 2), values(c, 3));
            let y = floats(x.clone(), &shape, device)
                .batch_norm(
                    None,
                    None,
                    Some(&floats(w.clone(), &[c], device)),
                    Some(&floats(b.clone(), &[c], device)),
                    true,
                    0.1,
                    1e-5,
                )
                .unwrap();
            assert_eq!(y.shape(), &shape[..]);
            assert_close(
                &y.to_vec_f32().unwrap(),
                &naive_normalize(&x, c, s, &naive_stats(&x, n, c, s), &w, &b, 1e-5),
                1e-5,
            );
        }
    });

    test_device!(fn training_updates_running_stats_that_evaluation_then_uses(device) {
        let (n, c, s) = (4, 3, 6);
        let x = values(n * c * s, 4);
        let (rm, rv) = (floats(vec![0.5; c], &[c], device), floats(vec![2.0; c], &[c], device));
        floats(x.clone(), &[n, c, s], device)
            .batch_norm(Some(&rm), Some(&rv), None, None, true, 0.1, 1e-5)
            .unwrap();
        let stats = naive_stats(&x, n, c, s);
        let count = (n * s) as f64;
        let want_mean: Vec<f64> = stats.iter().map(|&(m, _)| 0.9 * 0.5 + 0.1 * m).collect();
        let want_var: Vec<f64> = stats
            .iter()
            .map(|&(_, v)| 0.9 * 2.0 + 0.1 * v * count / (count - 1.0))
            .collect();
        assert_close(&rm.to_vec_f32().unwrap(), &want_mean, 1e-6);
        assert_close(&rv.to_vec_f32().unwrap(), &want_var, 1e-6);

        let x2 = values(2 * c * s, 5);
        let y = floats(x2.clone(), &[2, c, s], device)
            .batch_norm(Some(&rm), Some(&rv), None, None, false, 0.1, 1e-3)
            .unwrap();
        let running: Vec<(f64, f64)> = want_mean
            .iter()
            .zip(&want_var)
            .map(|(&m, &v)| (m, v))
            .collect();
        assert_close(
            &y.to_vec_f32().unwrap(),
            &naive_normalize(&x2, c, s, &running, &[1.0; 3], &[0.0; 3], 1e-3),
            1e-5,
        );
        assert_close(&rm.to_vec_f32().unwrap(), &want_mean, 1e-6);
    });

    test_device!(fn gradients_match_finite_differences(device) {
        let channel = |seed| {
            floats(
                values(3, seed).iter().map(|v| v + 2.0).collect(),
                &[3],
                device,
            )
        };
        gradcheck(
            &[
                leaf_on(&[4, 3, 5], 6, device),
                leaf_on(&[3], 7, device),
                leaf_on(&[3], 8, device),
            ],
            |x| x[0].batch_norm(None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5),
        );
        gradcheck(&[leaf_on(&[5, 3], 9, device)], |x| {
            x[0].batch_norm(None, None, None, None, true, 0.1, 1e-5)
        });
        let (rm, rv) = (floats(values(3, 10), &[3], device), channel(11));
        gradcheck(
            &[
                leaf_on(&[2, 3, 2, 2], 12, device),
                leaf_on(&[3], 13, device),
                leaf_on(&[3], 14, device),
            ],
            |x| {
                x[0].batch_norm(
                    Some(&rm),
                    Some(&rv),
                    Some(&x[1]),
                    Some(&x[2]),
                    false,
                    0.1,
                    1e-5,
                )
            },
        );
    });

    test_device!(fn only_the_needed_gradients_are_computed(device) {
        let x = floats(values(24, 15), &[4, 3, 2], device);
        let (w, b) = (leaf_on(&[3], 16, device), floats(vec![0.0; 3], &[3], device));
        let y = x
            .batch_norm(None, None, Some(&w), Some(&b), true, 0.1, 1e-5)
            .unwrap();
        assert_eq!(y.grad_fn_name(), Some("NativeBatchNormBackward0"));
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        // sum(xhat) over each channel is 0, so dweight is 0 for a uniform upstream gradient.
        assert!(w
            .grad()
            .unwrap()
            .to_vec_f32()
            .unwrap()
            .iter()
            .all(|g| g.abs() < 1e-4));
        assert!(x.grad().is_none() && b.grad().is_none());
        let _g = NoGradGuard::new();
        assert!(!x
            .batch_norm(None, None, Some(&w), None, true, 0.1, 1e-5)
            .unwrap()
            .requires_grad());
    });

    test_device!(fn errors_have_codes(device) {
        const INVALID: &str = "InvalidArgument";
        const SHAPE: &str = "ShapeMismatch";
        let x = floats(values(16, 17), &[1, 16, 1, 1], device);
        let (rm, rv) = (
            floats(vec![0.0; 16], &[16], device),
            floats(vec![1.0; 16], &[16], device),
        );
        assert!(x
            .batch_norm(Some(&rm), Some(&rv), None, None, false, 0.1, 1e-5)
            .is_ok());
        let wrong = floats(vec![1.0; 8], &[8], device);
        let vector = floats(vec![1.0; 4], &[4], device);
        let ints = Tensor::ones(&[2, 2], DType::I64, device).unwrap();
        // (input, running_mean, bias, training, error code)
        let cases = [
            (&x, None, None, true, INVALID),
            (&x, None, None, false, INVALID),
            (&x, Some(&wrong), None, false, SHAPE),
            (&x, None, Some(&wrong), true, SHAPE),
            (&vector, None, None, true, SHAPE),
            (&ints, None, None, true, "DTypeMismatch"),
        ];
        for (i, (input, running_mean, bias, training, code)) in cases.into_iter().enumerate() {
            let err = input
                .batch_norm(running_mean, None, None, bias, training, 0.1, 1e-5)
                .unwrap_err();
            assert_eq!(err.code(), code, "case {i}: {err}");
        }
        let message = |running_mean: Option<&Tensor>, training: bool| {
            let err = x.batch_norm(running_mean, None, None, None, training, 0.1, 1e-5);
            err.unwrap_err().to_string()
        };
        assert_eq!(
            message(None, true),
            "batch_norm: Expected more than 1 value per channel when training, got input size \
             [1, 16, 1, 1]"
        );
        assert_eq!(
            message(Some(&wrong), false),
            "batch_norm: running_mean should contain 16 elements, one per channel of the input \
             [1, 16, 1, 1], not 8"
        );
    });

    test_device!(fn running_statistics_are_updated_only_where_in_place_updates_are_allowed(device) {
        let x = floats(values(24, 18), &[4, 3, 2], device);
        let leaf = leaf_on(&[3], 19, device);
        let err = x
            .batch_norm(Some(&leaf), None, None, None, true, 0.1, 1e-5)
            .unwrap_err();
        assert_eq!(err.code(), "InvalidArgument", "{err}");
        let before = leaf.to_vec_f32().unwrap();
        {
            let _g = NoGradGuard::new();
            x.batch_norm(Some(&leaf), None, None, None, true, 0.1, 1e-5)
                .unwrap();
        }
        assert_ne!(leaf.to_vec_f32().unwrap(), before);
        // Every other element of a [6] buffer: a strided view cannot be updated in place.
        let strided = floats(vec![1.0; 6], &[3, 2], device).select(1, 0).unwrap();
        let err = x
            .batch_norm(None, Some(&strided), None, None, true, 0.1, 1e-5)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "batch_norm: in-place updates need a contiguous tensor"
        );
    });
}
