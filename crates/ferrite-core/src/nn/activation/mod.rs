//! Activations: `relu`, `sigmoid`, `tanh` and `relu6` elementwise, `softmax` and `log_softmax` along a dim.
//! Each backward works from the saved output alone, as PyTorch's does.

mod cpu;
pub(crate) mod cuda;
pub(crate) mod rectifier;

pub(crate) use cpu::{exp_f32, softmax_row};
pub use rectifier::GeluApproximation;

use crate::autocast;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::normalize_dim;
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pointwise {
    Relu,
    Sigmoid,
    Tanh,
    Relu6,
}

impl Pointwise {
    fn name(self) -> &'static str {
        match self {
            Pointwise::Relu => "relu",
            Pointwise::Sigmoid => "sigmoid",
            Pointwise::Tanh => "tanh",
            Pointwise::Relu6 => "relu6",
        }
    }

    /// The dtype the kernel runs in: relu and relu6 keep int64, as PyTorch does; sigmoid and
    /// tanh compute in float32.
    fn compute_dtype(self, input: DType) -> Result<DType> {
        match (self, input) {
            (_, DType::F32 | DType::BF16) | (Pointwise::Relu | Pointwise::Relu6, DType::I64) => {
                Ok(input)
            }
            (Pointwise::Relu | Pointwise::Relu6, DType::Bool) => Err(Error::dtype(
                self.name(),
                "a float32 or int64 tensor",
                input,
            )),
            (Pointwise::Sigmoid | Pointwise::Tanh, DType::I64 | DType::Bool) => Ok(DType::F32),
        }
    }
}

/// `[outer, dim, inner]`: softmax runs along `dim`, for every `outer` and `inner` index.
#[derive(Clone, Copy)]
struct Dims {
    outer: usize,
    dim: usize,
    inner: usize,
}

impl Dims {
    /// `shape` seen along `axis`; a 0-d tensor is one row of one element.
    fn along(shape: &[usize], axis: usize) -> Dims {
        match shape.get(axis) {
            Some(&size) => Dims {
                outer: shape[..axis].iter().product(),
                dim: size,
                inner: shape[axis + 1..].iter().product(),
            },
            None => Dims {
                outer: 1,
                dim: 1,
                inner: 1,
            },
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

    /// `min(max(x, 0), 6)` elementwise (NaN stays NaN), PyTorch's `hardtanh(x, 0, 6)`: no
    /// gradient at and beyond 0 and 6. int64 tensors stay int64.
    pub fn relu6(&self) -> Result<Tensor> {
        self.pointwise(Pointwise::Relu6)
    }

    fn pointwise(&self, kind: Pointwise) -> Result<Tensor> {
        if self.dtype() == DType::BF16 {
            return self.through_f32(|x| x.pointwise(kind));
        }
        let input = self.to_dtype(kind.compute_dtype(self.dtype())?)?;
        // Strided inputs are read in place: the kernel walks the layout.
        let out = match &*input.storage().read() {
            Storage::Cpu(xs) => Storage::Cpu(cpu::pointwise_forward(kind, xs, input.layout())?),
            Storage::Cuda(xs) => Storage::Cuda(cuda::pointwise_forward(kind, xs, input.layout())?),
        };
        let out = Tensor::from_storage(out, self.shape());
        // The saved output is detached: a node holding its own output would be a reference cycle.
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
        match self.dtype() {
            DType::F32 => {}
            DType::BF16 => {
                return autocast::float32_policy(self, |x| x.softmax_along(op, dim, log))
            }
            DType::I64 | DType::Bool => {
                return Err(Error::dtype(
                    op,
                    "a float32 or bfloat16 tensor",
                    self.dtype(),
                ))
            }
        }
        let shape = self.shape();
        let dims = Dims::along(shape, normalize_dim(op, dim, shape.len())?);
        let x = self.contiguous()?;
        let out = match &*x.storage().read() {
            Storage::Cpu(xs) => Storage::Cpu(CpuStorage::F32(cpu::softmax_forward(
                xs.slice(op, x.layout())?,
                dims,
                log,
            ))),
            Storage::Cuda(xs) => {
                Storage::Cuda(cuda::softmax_forward(op, xs, x.layout(), dims, log)?)
            }
        };
        let out = Tensor::from_storage(out, shape);
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
            Pointwise::Relu6 => "HardtanhBackward0",
        }
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.output]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let op = self.kind.name();
        let (g, y) = (g.contiguous()?, &self.output);
        let dx = match (&*g.storage().read(), &*y.storage().read()) {
            (Storage::Cpu(gs), Storage::Cpu(ys)) => {
                Storage::Cpu(CpuStorage::F32(cpu::pointwise_backward_input(
                    self.kind,
                    gs.slice(op, g.layout())?,
                    ys.slice(op, y.layout())?,
                )?))
            }
            (Storage::Cuda(gs), Storage::Cuda(ys)) => Storage::Cuda(
                cuda::pointwise_backward_input(self.kind, gs, g.layout(), ys, y.layout())?,
            ),
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(op, a, b)),
        };
        Ok(vec![Some(Tensor::from_storage(dx, self.input.shape()))])
    }
}

struct SoftmaxBackward {
    input: Tensor,
    output: Tensor,
    dims: Dims,
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
        let (g, y) = (g.contiguous()?, &self.output);
        let dx = match (&*g.storage().read(), &*y.storage().read()) {
            (Storage::Cpu(gs), Storage::Cpu(ys)) => {
                Storage::Cpu(CpuStorage::F32(cpu::softmax_backward_input(
                    gs.slice(op, g.layout())?,
                    ys.slice(op, y.layout())?,
                    self.dims,
                    self.log,
                )))
            }
            (Storage::Cuda(gs), Storage::Cuda(ys)) => Storage::Cuda(cuda::softmax_backward_input(
                op,
                (gs, g.layout()),
                (ys, y.layout()),
                self.dims,
                self.log,
            )?),
            (a @ Storage::Cpu(_), b @ Storage::Cuda(_))
            | (a @ Storage::Cuda(_), b @ Storage::Cpu(_)) => return Err(mismatch(op, a, b)),
        };
        Ok(vec![Some(Tensor::from_storage(dx, self.input.shape()))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, floats, gradcheck, leaf_on, test_device, values};

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

    type Activation = fn(&Tensor) -> Result<Tensor>;
    type Reference = fn(f64) -> f64;

    test_device!(fn pointwise_activations_match_a_float64_reference(device) {
        let x: Vec<f32> = values(64, 1).iter().map(|v| v * 120.0).collect();
        let input = floats(x.clone(), &[8, 8], device);
        // (activation, float64 reference, tolerance)
        let cases: [(Activation, Reference, f64); 3] = [
            (Tensor::relu, |v| v.max(0.0), 0.0),
            (Tensor::sigmoid, |v| 1.0 / (1.0 + (-v).exp()), 1e-6),
            (Tensor::tanh, f64::tanh, 1e-6),
        ];
        for (f, reference, tol) in cases {
            let want: Vec<f64> = x.iter().map(|&v| reference(v as f64)).collect();
            assert_close(&f(&input).unwrap().to_vec_f32().unwrap(), &want, tol);
        }
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
    });

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
        let special = [
            (0.0, 1.0),
            (f32::NEG_INFINITY, 0.0),
            (-100.0, 0.0),
            (f32::INFINITY, f32::INFINITY),
        ];
        for (x, want) in special {
            assert_eq!(cpu::exp_f32(x), want, "exp({x})");
        }
        assert!(cpu::exp_f32(f32::NAN).is_nan());
    }

    test_device!(fn pointwise_dtypes_and_special_values(device) {
        let ints = Tensor::from_i64(vec![-2, 0, 3], &[3])
            .unwrap()
            .to_device(device)
            .unwrap();
        assert_eq!(ints.relu().unwrap().to_vec_i64().unwrap(), vec![0, 0, 3]);
        assert_eq!(ints.sigmoid().unwrap().dtype(), DType::F32);
        let special = floats(
            vec![f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -0.0],
            &[4],
            device,
        );
        let r = special.relu().unwrap().to_vec_f32().unwrap();
        assert!(r[0].is_nan());
        assert_eq!(r[1..], [0.0, f32::INFINITY, 0.0]);
        assert_eq!(
            special.sigmoid().unwrap().to_vec_f32().unwrap()[1..],
            [0.0, 1.0, 0.5]
        );
        let b = Tensor::ones(&[1], DType::Bool, device).unwrap();
        assert_eq!(b.relu().unwrap_err().code(), "DTypeMismatch");
    });

    test_device!(fn pointwise_gradients_match_finite_differences(device) {
        // Away from relu's kink, where a central difference is meaningless.
        let off_zero = || {
            let x = floats(
                values(12, 2)
                    .iter()
                    .map(|&v| v + 0.1 * v.signum())
                    .collect(),
                &[3, 4],
                device,
            );
            x.set_requires_grad(true).unwrap();
            x
        };
        gradcheck(&[off_zero()], |x| x[0].relu());
        gradcheck(&[leaf_on(&[3, 4], 3, device)], |x| x[0].sigmoid());
        gradcheck(&[leaf_on(&[3, 4], 4, device)], |x| x[0].tanh());
        let x = floats(vec![-1.0, 0.0, 2.0, 3.0, -5.0, 6.0], &[2, 3], device);
        x.set_requires_grad(true).unwrap();
        let y = x.relu().unwrap();
        // An upstream gradient that is a broadcast view.
        y.backward(
            Some(
                &floats(vec![1.0, 2.0, 3.0], &[3], device)
                    .expand(&[2, 3])
                    .unwrap(),
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            x.grad().unwrap().to_vec_f32().unwrap(),
            vec![0.0, 0.0, 3.0, 1.0, 0.0, 3.0]
        );
        let names: [(Activation, &str); 3] = [
            (Tensor::relu, "ReluBackward0"),
            (Tensor::sigmoid, "SigmoidBackward0"),
            (Tensor::tanh, "TanhBackward0"),
        ];
        for (f, name) in names {
            assert_eq!(f(&x).unwrap().grad_fn_name(), Some(name));
        }
    });

    test_device!(fn softmax_matches_a_float64_reference_along_every_dim(device) {
        let shape = [2, 3, 4];
        let x: Vec<f32> = values(24, 5).iter().map(|v| v * 4.0).collect();
        let input = floats(x.clone(), &shape, device);
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
            let input = floats(x.clone(), &shape, device);
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
    });

    test_device!(fn softmax_is_stable_for_large_logits_and_handles_scalars(device) {
        let x = floats(
            vec![1000.0, 1001.0, -1000.0, 0.0, 88.0, 89.0],
            &[2, 3],
            device,
        );
        let want = naive_softmax(&x.to_vec_f32().unwrap(), &[2, 3], 1, false);
        assert_close(&x.softmax(-1).unwrap().to_vec_f32().unwrap(), &want, 1e-6);
        let log = x.log_softmax(1).unwrap().to_vec_f32().unwrap();
        assert!((log[0] as f64 - (-1.0 - (1.0 + (-1.0f64).exp()).ln())).abs() < 1e-5);
        assert!(log.iter().all(|v| v.is_finite()));
        let scalar = floats(vec![3.0], &[], device);
        assert_eq!(scalar.softmax(0).unwrap().item().unwrap(), 1.0);
        assert_eq!(scalar.log_softmax(-1).unwrap().item().unwrap(), 0.0);
        assert_eq!(
            floats(vec![], &[0, 3], device).softmax(1).unwrap().shape(),
            &[0, 3]
        );
    });

    test_device!(fn softmax_gradients_match_finite_differences(device) {
        for dim in [0, 1, -1] {
            gradcheck(&[leaf_on(&[2, 3, 4], 7, device)], |x| x[0].softmax(dim));
            gradcheck(&[leaf_on(&[2, 3, 4], 8, device)], |x| x[0].log_softmax(dim));
        }
        let x = leaf_on(&[2, 3], 9, device);
        assert_eq!(
            x.softmax(1).unwrap().grad_fn_name(),
            Some("SoftmaxBackward0")
        );
        assert_eq!(
            x.log_softmax(1).unwrap().grad_fn_name(),
            Some("LogSoftmaxBackward0")
        );
    });

    test_device!(fn softmax_errors_have_codes(device) {
        let ints = Tensor::ones(&[2], DType::I64, device).unwrap();
        assert_eq!(ints.softmax(0).unwrap_err().code(), "DTypeMismatch");
        let x = floats(vec![1.0, 2.0], &[2], device);
        assert_eq!(x.log_softmax(1).unwrap_err().code(), "IndexOutOfRange");
        assert_eq!(x.softmax(-2).unwrap_err().code(), "IndexOutOfRange");
    });

    test_device!(fn relu6_clamps_to_0_6_and_passes_gradient_only_strictly_inside(device) {
        let x = floats(
            vec![-3.0, -0.0, 0.0, 0.5, 5.5, 6.0, 7.0, f32::NAN],
            &[8],
            device,
        );
        x.set_requires_grad(true).unwrap();
        let y = x.relu6().unwrap();
        let got = y.to_vec_f32().unwrap();
        assert_eq!(got[..7], [0.0, 0.0, 0.0, 0.5, 5.5, 6.0, 6.0]);
        assert!(got[7].is_nan());
        assert_eq!(y.grad_fn_name(), Some("HardtanhBackward0"));
        y.backward(
            Some(&floats(
                vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
                &[8],
                device,
            )),
            false,
        )
        .unwrap();
        // torch: x = tensor([-3., -0., 0., .5, 5.5, 6., 7., nan], requires_grad=True)
        //        F.relu6(x).backward(arange(1., 9.)); x.grad = [0, 0, 0, 4, 5, 0, 0, 8]
        assert_eq!(
            x.grad().unwrap().to_vec_f32().unwrap(),
            vec![0.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 8.0]
        );
        // Through a strided view, and int64 staying int64 (torch.relu6 of tensor([-1, 3, 7])).
        let wide: Vec<f32> = values(48, 11).iter().map(|v| v * 16.0).collect();
        let m = floats(wide.clone(), &[6, 8], device);
        let want: Vec<f64> = (0..48)
            .map(|i| (wide[(i % 6) * 8 + i / 6] as f64).clamp(0.0, 6.0))
            .collect();
        let tr = m.transpose(0, 1).unwrap().relu6().unwrap();
        assert_close(&tr.to_vec_f32().unwrap(), &want, 0.0);
        let ints = Tensor::from_i64(vec![-1, 3, 7], &[3])
            .unwrap()
            .to_device(device)
            .unwrap();
        assert_eq!(ints.relu6().unwrap().to_vec_i64().unwrap(), vec![0, 3, 6]);
        let b = Tensor::ones(&[1], DType::Bool, device).unwrap();
        assert_eq!(b.relu6().unwrap_err().code(), "DTypeMismatch");
    });

    test_device!(fn relu6_gradient_matches_finite_differences_away_from_the_edges(device) {
        // Values in (-3, 9) kept 0.1 away from 0 and 6, where a central difference is meaningless.
        let data: Vec<f32> = values(24, 12)
            .iter()
            .map(|&v| {
                let v = 3.0 + 6.0 * v;
                if (v.abs() < 0.1) || ((v - 6.0).abs() < 0.1) {
                    v + 0.2
                } else {
                    v
                }
            })
            .collect();
        let x = floats(data, &[4, 6], device);
        x.set_requires_grad(true).unwrap();
        gradcheck(&[x], |x| x[0].relu6());
    });
}
