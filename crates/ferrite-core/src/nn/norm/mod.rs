//! Batch normalisation over dim 1 of `[N, C, ...]` inputs, like `torch.nn.functional.batch_norm`:
//! training normalises with the batch's statistics and folds them into the running ones in place;
//! evaluation normalises with the running ones.

mod cpu;

use cpu::Dims;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::Tensor;

const OP: &str = "batch_norm";

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
        let (mean, invstd): (Vec<f32>, Vec<f32>) = match (training, running_mean, running_var) {
            (true, _, _) => {
                let stats = self.read_f32(OP, |x| cpu::channel_stats(x, d))?;
                update_running_stats(
                    running_mean,
                    running_var,
                    &stats,
                    (d.n * d.s) as f64,
                    momentum,
                )?;
                stats
                    .iter()
                    .map(|&(m, v)| (m as f32, (1.0 / (v + eps).sqrt()) as f32))
                    .unzip()
            }
            (false, Some(rm), Some(rv)) => (
                rm.read_f32(OP, |m| m.to_vec())?,
                rv.read_f32(OP, |v| {
                    v.iter()
                        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
                        .collect()
                })?,
            ),
            _ => {
                return Err(Error::invalid(
                    OP,
                    "running_mean and running_var must be given when not training",
                ))
            }
        };
        let weights = weight.map(|w| w.read_f32(OP, |w| w.to_vec())).transpose()?;
        let biases = bias.map(|b| b.read_f32(OP, |b| b.to_vec())).transpose()?;
        // y = (x - mean) * scale + bias per channel, with scale = weight * invstd.
        let scale: Vec<f32> = (0..d.c)
            .map(|c| invstd[c] * weights.as_ref().map_or(1.0, |w| w[c]))
            .collect();
        let shift = biases.unwrap_or_else(|| vec![0.0; d.c]);
        let out = Tensor::from_f32(
            self.read_f32(OP, |x| cpu::channel_affine(x, d, &mean, &scale, &shift))?,
            self.shape(),
        )?;
        let inputs: Vec<&Tensor> = [Some(self), weight, bias].into_iter().flatten().collect();
        Ok(record(out, &inputs, || BatchNormBackward {
            input: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            mean,
            invstd,
            scale,
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

/// Folds a batch's `(mean, biased var)` per channel into the running statistics, in place.
fn update_running_stats(
    mean: Option<&Tensor>,
    var: Option<&Tensor>,
    stats: &[(f64, f64)],
    count: f64,
    momentum: f64,
) -> Result<()> {
    let blend = |running: &mut f32, batch: f64| {
        *running = ((1.0 - momentum) * *running as f64 + momentum * batch) as f32
    };
    if let Some(t) = mean {
        t.write_f32(OP, |r| {
            r.iter_mut().zip(stats).for_each(|(r, &(m, _))| blend(r, m))
        })?;
    }
    if let Some(t) = var {
        // The running variance is unbiased, as in PyTorch.
        t.write_f32(OP, |r| {
            r.iter_mut()
                .zip(stats)
                .for_each(|(r, &(_, v))| blend(r, v * count / (count - 1.0)))
        })?;
    }
    Ok(())
}

struct BatchNormBackward {
    input: Tensor,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    mean: Vec<f32>,
    invstd: Vec<f32>,
    /// `weight * invstd` per channel.
    scale: Vec<f32>,
    training: bool,
    dims: Dims,
}

impl Backward for BatchNormBackward {
    fn name(&self) -> &'static str {
        "NativeBatchNormBackward0"
    }

    /// The statistics, weight and scale are copied at forward time; only the input is read.
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
        let d = self.dims;
        let need_x = needs[0];
        let need_w = self.weight.is_some() && needs[1];
        // The bias, when there is one, is the last input.
        let need_b = self.bias.is_some() && needs[needs.len() - 1];
        let (sums, dx) = self.input.read_f32(OP, |x| {
            g.read_f32(OP, |dy| {
                let sums = (need_w || need_b || (need_x && self.training))
                    .then(|| cpu::grad_sums(x, dy, &self.mean, d));
                let dx = match (need_x, &sums) {
                    (true, Some(sums)) if self.training => Some(self.training_dx(x, dy, sums)),
                    // In evaluation the statistics are constants: dx = dy * weight * invstd.
                    (true, _) => {
                        let zeros = vec![0.0; d.c];
                        Some(cpu::channel_affine(dy, d, &zeros, &self.scale, &zeros))
                    }
                    (false, _) => None,
                };
                (sums, dx)
            })
        })??;
        // Computed whenever a parameter needs a gradient.
        let sums = sums.unwrap_or_default();
        let per_channel = |t: &Tensor, f: &dyn Fn(usize, (f64, f64)) -> f64| -> Result<Tensor> {
            Tensor::from_f32(
                sums.iter()
                    .enumerate()
                    .map(|(c, &s)| f(c, s) as f32)
                    .collect(),
                t.shape(),
            )
        };
        let mut grads = vec![dx
            .map(|dx| Tensor::from_f32(dx, self.input.shape()))
            .transpose()?];
        if let Some(w) = &self.weight {
            // dweight = sum(dy * xhat), xhat = (x - mean) * invstd.
            grads.push(
                need_w
                    .then(|| per_channel(w, &|c, (_, dy_xmu)| dy_xmu * self.invstd[c] as f64))
                    .transpose()?,
            );
        }
        if let Some(b) = &self.bias {
            grads.push(
                need_b
                    .then(|| per_channel(b, &|_, (dy, _)| dy))
                    .transpose()?,
            );
        }
        Ok(grads)
    }
}

impl BatchNormBackward {
    /// dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), written as
    /// `a * dy + b * (x - mean) + k` per channel so that one pass computes it.
    fn training_dx(&self, x: &[f32], dy: &[f32], sums: &[(f64, f64)]) -> Vec<f32> {
        let count = (self.dims.n * self.dims.s) as f64;
        let c = self.dims.c;
        let (mut a, mut b, mut k) = (vec![0f32; c], vec![0f32; c], vec![0f32; c]);
        for (ch, &(dy_sum, dy_xmu_sum)) in sums.iter().enumerate() {
            let (scale, invstd) = (self.scale[ch] as f64, self.invstd[ch] as f64);
            a[ch] = scale as f32;
            b[ch] = (-scale * invstd * invstd * dy_xmu_sum / count) as f32;
            k[ch] = (-scale * dy_sum / count) as f32;
        }
        cpu::channel_affine2(dy, x, self.dims, &self.mean, [&a, &b, &k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::NoGradGuard;
    use crate::testing::{assert_close, gradcheck, leaf, values};

    fn t(data: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::from_f32(data, shape).unwrap()
    }

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

    #[test]
    fn training_matches_a_float64_reference_for_every_rank() {
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
            let y = t(x.clone(), &shape)
                .batch_norm(
                    None,
                    None,
                    Some(&t(w.clone(), &[c])),
                    Some(&t(b.clone(), &[c])),
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
    }

    #[test]
    fn training_updates_running_stats_that_evaluation_then_uses() {
        let (n, c, s) = (4, 3, 6);
        let x = values(n * c * s, 4);
        let (rm, rv) = (t(vec![0.5; c], &[c]), t(vec![2.0; c], &[c]));
        t(x.clone(), &[n, c, s])
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
        let y = t(x2.clone(), &[2, c, s])
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
    }

    #[test]
    fn gradients_match_finite_differences() {
        let channel = |seed| t(values(3, seed).iter().map(|v| v + 2.0).collect(), &[3]);
        gradcheck(&[leaf(&[4, 3, 5], 6), leaf(&[3], 7), leaf(&[3], 8)], |x| {
            x[0].batch_norm(None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5)
        });
        gradcheck(&[leaf(&[5, 3], 9)], |x| {
            x[0].batch_norm(None, None, None, None, true, 0.1, 1e-5)
        });
        let (rm, rv) = (t(values(3, 10), &[3]), channel(11));
        gradcheck(
            &[leaf(&[2, 3, 2, 2], 12), leaf(&[3], 13), leaf(&[3], 14)],
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
    }

    #[test]
    fn only_the_needed_gradients_are_computed() {
        let x = t(values(24, 15), &[4, 3, 2]);
        let (w, b) = (leaf(&[3], 16), t(vec![0.0; 3], &[3]));
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
    }

    #[test]
    fn errors_have_codes() {
        let x = t(values(16, 17), &[1, 16, 1, 1]);
        let err = x
            .batch_norm(None, None, None, None, true, 0.1, 1e-5)
            .unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert_eq!(
            err.to_string(),
            "batch_norm: Expected more than 1 value per channel when training, got input size [1, 16, 1, 1]"
        );
        assert!(x
            .batch_norm(
                Some(&t(vec![0.0; 16], &[16])),
                Some(&t(vec![1.0; 16], &[16])),
                None,
                None,
                false,
                0.1,
                1e-5
            )
            .is_ok());
        assert_eq!(
            x.batch_norm(None, None, None, None, false, 0.1, 1e-5)
                .unwrap_err()
                .code(),
            "InvalidArgument"
        );
        let wrong = t(vec![1.0; 8], &[8]);
        let err = x
            .batch_norm(Some(&wrong), None, None, None, false, 0.1, 1e-5)
            .unwrap_err();
        assert_eq!(err.code(), "ShapeMismatch");
        assert_eq!(
            err.to_string(),
            "batch_norm: running_mean should contain 16 elements, one per channel of the input [1, 16, 1, 1], not 8"
        );
        assert_eq!(
            x.batch_norm(None, None, None, Some(&wrong), true, 0.1, 1e-5)
                .unwrap_err()
                .code(),
            "ShapeMismatch"
        );
        assert_eq!(
            t(vec![1.0; 4], &[4])
                .batch_norm(None, None, None, None, true, 0.1, 1e-5)
                .unwrap_err()
                .code(),
            "ShapeMismatch"
        );
        let ints = Tensor::from_i64(vec![1; 4], &[2, 2]).unwrap();
        assert_eq!(
            ints.batch_norm(None, None, None, None, true, 0.1, 1e-5)
                .unwrap_err()
                .code(),
            "DTypeMismatch"
        );
    }
}
