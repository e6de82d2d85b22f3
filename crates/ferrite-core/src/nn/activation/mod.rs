//! Activations: `relu`, `sigmoid` and `tanh` elementwise, `softmax` and `log_softmax` along a dim.
//! Each backward works from the saved output alone, as PyTorch's does.

mod cpu;

pub(crate) use cpu::softmax_row;

use crate::autograd::{record, Backward};
use crate::cpu::map_strided;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::normalize_dim;
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pointwise {
    Relu,
    Sigmoid,
    Tanh,
}

impl Pointwise {
    fn name(self) -> &'static str {
        match self {
            Pointwise::Relu => "relu",
            Pointwise::Sigmoid => "sigmoid",
            Pointwise::Tanh => "tanh",
        }
    }
}

impl Tensor {
    /// `max(x, 0)` elementwise (NaN stays NaN); int64 tensors stay int64, as in PyTorch.
    pub fn relu(&self) -> Result<Tensor> {
        self.pointwise(Pointwise::Relu)
    }

    /// `1 / (1 + exp(-x))`; integer and bool inputs give float32.
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.pointwise(Pointwise::Sigmoid)
    }

    /// Hyperbolic tangent; integer and bool inputs give float32.
    pub fn tanh(&self) -> Result<Tensor> {
        self.pointwise(Pointwise::Tanh)
    }

    fn pointwise(&self, kind: Pointwise) -> Result<Tensor> {
        let input = match (kind, self.dtype()) {
            (_, DType::F32) | (Pointwise::Relu, DType::I64) => self.clone(),
            (Pointwise::Relu, dtype) => {
                return Err(Error::dtype("relu", "a float32 or int64 tensor", dtype))
            }
            _ => self.to_dtype(DType::F32)?,
        };
        let layout = input.layout();
        let out = match (&*input.storage().read(), kind) {
            (Storage::Cpu(CpuStorage::F32(x)), Pointwise::Relu) => {
                CpuStorage::F32(map_strided(kind.name(), x, layout, |v: f32| {
                    if v > 0.0 || v.is_nan() {
                        v
                    } else {
                        0.0
                    }
                })?)
            }
            // exp(-x) overflows to inf for very negative x, which still gives the right 0.
            (Storage::Cpu(CpuStorage::F32(x)), Pointwise::Sigmoid) => {
                CpuStorage::F32(map_strided(kind.name(), x, layout, |v: f32| {
                    1.0 / (1.0 + cpu::exp_f32(-v))
                })?)
            }
            (Storage::Cpu(CpuStorage::F32(x)), Pointwise::Tanh) => {
                CpuStorage::F32(map_strided(kind.name(), x, layout, f32::tanh)?)
            }
            (Storage::Cpu(CpuStorage::I64(x)), Pointwise::Relu) => {
                CpuStorage::I64(map_strided(kind.name(), x, layout, |v: i64| v.max(0))?)
            }
            _ => {
                return Err(Error::Internal {
                    op: kind.name(),
                    detail: "input was not converted to a kernel dtype".into(),
                })
            }
        };
        let out = Tensor::from_cpu(out, self.shape())?;
        let saved = out.detach();
        Ok(record(out, &[self], || PointwiseBackward {
            kind,
            input: self.clone(),
            output: saved,
        }))
    }

    /// `exp(x) / sum(exp(x))` along `dim` (negative counts from the end), computed with the max
    /// subtracted so that large logits don't overflow.
    pub fn softmax(&self, dim: i64) -> Result<Tensor> {
        self.softmax_along("softmax", dim, false)
    }

    /// `x - log(sum(exp(x)))` along `dim`, computed stably.
    pub fn log_softmax(&self, dim: i64) -> Result<Tensor> {
        self.softmax_along("log_softmax", dim, true)
    }

    fn softmax_along(&self, op: &'static str, dim: i64, log: bool) -> Result<Tensor> {
        if self.dtype() != DType::F32 {
            return Err(Error::dtype(op, "a float32 tensor", self.dtype()));
        }
        let shape = self.shape();
        let axis = normalize_dim(op, dim, shape.len())?;
        let dims = match shape.get(axis) {
            Some(&size) => cpu::Dims {
                outer: shape[..axis].iter().product(),
                dim: size,
                inner: shape[axis + 1..].iter().product(),
            },
            // A 0-d tensor is one row of one element.
            None => cpu::Dims {
                outer: 1,
                dim: 1,
                inner: 1,
            },
        };
        let out = Tensor::from_f32(self.read_f32(op, |x| cpu::softmax(x, dims, log))?, shape)?;
        let saved = out.detach();
        Ok(record(out, &[self], || SoftmaxBackward {
            input: self.clone(),
            output: saved,
            dims,
            log,
        }))
    }
}

struct PointwiseBackward {
    kind: Pointwise,
    input: Tensor,
    output: Tensor,
}

impl Backward for PointwiseBackward {
    fn name(&self) -> &'static str {
        match self.kind {
            Pointwise::Relu => "ReluBackward0",
            Pointwise::Sigmoid => "SigmoidBackward0",
            Pointwise::Tanh => "TanhBackward0",
        }
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.output]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let y = &self.output;
        let (gs, ys) = (g.storage().read(), y.storage().read());
        let (Storage::Cpu(CpuStorage::F32(gv)), Storage::Cpu(CpuStorage::F32(yv))) = (&*gs, &*ys)
        else {
            return Err(Error::Internal {
                op: self.kind.name(),
                detail: "gradient or output is not float32".into(),
            });
        };
        let (gl, yl) = (g.layout(), y.layout());
        let dx = match self.kind {
            // No gradient where the input was <= 0 (the output is 0 there).
            Pointwise::Relu => cpu::zip_map(self.kind.name(), gv, gl, yv, yl, |g, y| {
                if y > 0.0 {
                    g
                } else {
                    0.0
                }
            }),
            Pointwise::Sigmoid => {
                cpu::zip_map(self.kind.name(), gv, gl, yv, yl, |g, y| g * y * (1.0 - y))
            }
            Pointwise::Tanh => {
                cpu::zip_map(self.kind.name(), gv, gl, yv, yl, |g, y| g * (1.0 - y * y))
            }
        }?;
        Ok(vec![Some(Tensor::from_f32(dx, self.input.shape())?)])
    }
}

struct SoftmaxBackward {
    input: Tensor,
    output: Tensor,
    dims: cpu::Dims,
    log: bool,
}

impl Backward for SoftmaxBackward {
    fn name(&self) -> &'static str {
        if self.log {
            "LogSoftmaxBackward0"
        } else {
            "SoftmaxBackward0"
        }
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.output]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let op = if self.log { "log_softmax" } else { "softmax" };
        let dx = g.read_f32(op, |g| {
            self.output
                .read_f32(op, |y| cpu::softmax_backward(g, y, self.dims, self.log))
        })??;
        Ok(vec![Some(Tensor::from_f32(dx, self.input.shape())?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, gradcheck, leaf, values};

    fn t(data: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::from_f32(data, shape).unwrap()
    }

    /// Softmax along `axis` of a row-major `shape`, in f64 (log-softmax when `log`).
    fn naive_softmax(x: &[f32], shape: &[usize], axis: usize, log: bool) -> Vec<f64> {
        let (outer, dim) = (shape[..axis].iter().product::<usize>(), shape[axis]);
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out = vec![0f64; x.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| (o * dim + k) * inner + i;
                let max = (0..dim)
                    .map(|k| x[at(k)] as f64)
                    .fold(f64::NEG_INFINITY, f64::max);
                let lse = max
                    + (0..dim)
                        .map(|k| (x[at(k)] as f64 - max).exp())
                        .sum::<f64>()
                        .ln();
                for k in 0..dim {
                    let l = x[at(k)] as f64 - lse;
                    out[at(k)] = if log { l } else { l.exp() };
                }
            }
        }
        out
    }

    #[test]
    fn pointwise_activations_match_a_float64_reference() {
        let x: Vec<f32> = values(64, 1).iter().map(|v| v * 120.0).collect();
        let input = t(x.clone(), &[8, 8]);
        let relu: Vec<f64> = x.iter().map(|&v| (v as f64).max(0.0)).collect();
        let sigmoid: Vec<f64> = x.iter().map(|&v| 1.0 / (1.0 + (-v as f64).exp())).collect();
        let tanh: Vec<f64> = x.iter().map(|&v| (v as f64).tanh()).collect();
        assert_close(&input.relu().unwrap().to_vec_f32().unwrap(), &relu, 0.0);
        assert_close(
            &input.sigmoid().unwrap().to_vec_f32().unwrap(),
            &sigmoid,
            1e-6,
        );
        assert_close(&input.tanh().unwrap().to_vec_f32().unwrap(), &tanh, 1e-6);
        // Through a transposed view.
        let tr = input.transpose(0, 1).unwrap().relu().unwrap();
        assert_eq!(
            tr.to_vec_f32().unwrap(),
            input
                .relu()
                .unwrap()
                .transpose(0, 1)
                .unwrap()
                .to_vec_f32()
                .unwrap()
        );
    }

    #[test]
    fn vectorisable_exp_is_within_two_ulp() {
        for i in 0..=200_000 {
            let x = -87.0 + 175.0 * i as f32 / 200_000.0;
            let (got, want) = (cpu::exp_f32(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 2.5e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(cpu::exp_f32(0.0), 1.0);
        assert_eq!(cpu::exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(cpu::exp_f32(-100.0), 0.0);
        assert_eq!(cpu::exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(cpu::exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn pointwise_dtypes_and_special_values() {
        let ints = Tensor::from_i64(vec![-2, 0, 3], &[3]).unwrap();
        assert_eq!(ints.relu().unwrap().to_vec_i64().unwrap(), vec![0, 0, 3]);
        assert_eq!(ints.sigmoid().unwrap().dtype(), DType::F32);
        let special = t(vec![f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -0.0], &[4]);
        let r = special.relu().unwrap().to_vec_f32().unwrap();
        assert!(r[0].is_nan());
        assert_eq!(r[1..], [0.0, f32::INFINITY, 0.0]);
        assert_eq!(
            special.sigmoid().unwrap().to_vec_f32().unwrap()[1..],
            [0.0, 1.0, 0.5]
        );
        let b = Tensor::from_bool(vec![true], &[1]).unwrap();
        assert_eq!(b.relu().unwrap_err().code(), "DTypeMismatch");
    }

    #[test]
    fn pointwise_gradients_match_finite_differences() {
        // Away from relu's kink, where a central difference is meaningless.
        let off_zero = || {
            let x = t(
                values(12, 2)
                    .iter()
                    .map(|&v| v + 0.1 * v.signum())
                    .collect(),
                &[3, 4],
            );
            x.set_requires_grad(true).unwrap();
            x
        };
        gradcheck(&[off_zero()], |x| x[0].relu());
        gradcheck(&[leaf(&[3, 4], 3)], |x| x[0].sigmoid());
        gradcheck(&[leaf(&[3, 4], 4)], |x| x[0].tanh());
        let x = t(vec![-1.0, 0.0, 2.0, 3.0, -5.0, 6.0], &[2, 3]);
        x.set_requires_grad(true).unwrap();
        let y = x.relu().unwrap();
        assert_eq!(y.grad_fn_name(), Some("ReluBackward0"));
        // An upstream gradient that is a broadcast view.
        y.backward(
            Some(&t(vec![1.0, 2.0, 3.0], &[3]).expand(&[2, 3]).unwrap()),
            false,
        )
        .unwrap();
        assert_eq!(
            x.grad().unwrap().to_vec_f32().unwrap(),
            vec![0.0, 0.0, 3.0, 1.0, 0.0, 3.0]
        );
        assert_eq!(
            x.sigmoid().unwrap().grad_fn_name(),
            Some("SigmoidBackward0")
        );
        assert_eq!(x.tanh().unwrap().grad_fn_name(), Some("TanhBackward0"));
    }

    #[test]
    fn softmax_matches_a_float64_reference_along_every_dim() {
        let shape = [2, 3, 4];
        let x: Vec<f32> = values(24, 5).iter().map(|v| v * 4.0).collect();
        let input = t(x.clone(), &shape);
        for dim in -3..3i64 {
            let axis = dim.rem_euclid(3) as usize;
            assert_close(
                &input.softmax(dim).unwrap().to_vec_f32().unwrap(),
                &naive_softmax(&x, &shape, axis, false),
                1e-6,
            );
            assert_close(
                &input.log_softmax(dim).unwrap().to_vec_f32().unwrap(),
                &naive_softmax(&x, &shape, axis, true),
                1e-6,
            );
        }
        // Large enough for the parallel kernels, along the last and a middle dim.
        for (shape, axis) in [(vec![300, 200], 1), (vec![4, 100, 100], 1)] {
            let x = values(shape.iter().product(), 6);
            let input = t(x.clone(), &shape);
            assert_close(
                &input.softmax(axis as i64).unwrap().to_vec_f32().unwrap(),
                &naive_softmax(&x, &shape, axis, false),
                1e-6,
            );
            assert_close(
                &input
                    .log_softmax(axis as i64)
                    .unwrap()
                    .to_vec_f32()
                    .unwrap(),
                &naive_softmax(&x, &shape, axis, true),
                1e-5,
            );
        }
    }

    #[test]
    fn softmax_is_stable_for_large_logits_and_handles_scalars() {
        let x = t(vec![1000.0, 1001.0, -1000.0, 0.0, 88.0, 89.0], &[2, 3]);
        let want = naive_softmax(&x.to_vec_f32().unwrap(), &[2, 3], 1, false);
        assert_close(&x.softmax(-1).unwrap().to_vec_f32().unwrap(), &want, 1e-6);
        let log = x.log_softmax(1).unwrap().to_vec_f32().unwrap();
        assert!((log[0] as f64 - (-1.0 - (1.0 + (-1.0f64).exp()).ln())).abs() < 1e-5);
        assert!(log.iter().all(|v| v.is_finite()));
        let scalar = t(vec![3.0], &[]);
        assert_eq!(scalar.softmax(0).unwrap().item().unwrap(), 1.0);
        assert_eq!(scalar.log_softmax(-1).unwrap().item().unwrap(), 0.0);
        assert_eq!(t(vec![], &[0, 3]).softmax(1).unwrap().shape(), &[0, 3]);
    }

    #[test]
    fn softmax_gradients_match_finite_differences() {
        for dim in [0, 1, -1] {
            gradcheck(&[leaf(&[2, 3, 4], 7)], |x| x[0].softmax(dim));
            gradcheck(&[leaf(&[2, 3, 4], 8)], |x| x[0].log_softmax(dim));
        }
        let x = leaf(&[2, 3], 9);
        assert_eq!(
            x.softmax(1).unwrap().grad_fn_name(),
            Some("SoftmaxBackward0")
        );
        assert_eq!(
            x.log_softmax(1).unwrap().grad_fn_name(),
            Some("LogSoftmaxBackward0")
        );
    }

    #[test]
    fn softmax_errors_have_codes() {
        let ints = Tensor::from_i64(vec![1, 2], &[2]).unwrap();
        assert_eq!(ints.softmax(0).unwrap_err().code(), "DTypeMismatch");
        let x = t(vec![1.0, 2.0], &[2]);
        assert_eq!(x.log_softmax(1).unwrap_err().code(), "IndexOutOfRange");
        assert_eq!(x.softmax(-2).unwrap_err().code(), "IndexOutOfRange");
    }
}
