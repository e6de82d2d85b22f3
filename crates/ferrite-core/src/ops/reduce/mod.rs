//! Reductions over some or all dims: `sum`, `mean`, `max`/`min` (values and indices), `argmax`/`argmin`.

mod cpu;
pub(crate) mod cuda;

use crate::autocast;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::normalize_dim;
use crate::storage::Storage;
use crate::tensor::Tensor;
use crate::BinaryOp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    ArgMax,
    ArgMin,
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::ArgMax => "argmax",
            ReduceOp::ArgMin => "argmin",
        }
    }
}

/// Where a reduction's rows come from: `rows` outputs, each folding `len` contiguous inputs.
pub(crate) struct Rows {
    pub rows: usize,
    pub len: usize,
}

impl Tensor {
    /// Sum over `dims` (all dims when empty). Integers and bools sum to int64.
    pub fn sum(&self, dims: &[i64], keep_dim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, dims, keep_dim)
    }

    /// Mean over `dims` (all dims when empty); float tensors only, as in PyTorch.
    pub fn mean(&self, dims: &[i64], keep_dim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, dims, keep_dim)
    }

    /// Largest element over all dims (NaN if any element is NaN).
    pub fn max(&self) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, &[], false)
    }

    pub fn min(&self) -> Result<Tensor> {
        self.reduce(ReduceOp::Min, &[], false)
    }

    /// Largest elements along `dim` and their (first) indices.
    pub fn max_dim(&self, dim: i64, keep_dim: bool) -> Result<(Tensor, Tensor)> {
        Ok((
            self.reduce(ReduceOp::Max, &[dim], keep_dim)?,
            self.reduce(ReduceOp::ArgMax, &[dim], keep_dim)?,
        ))
    }

    pub fn min_dim(&self, dim: i64, keep_dim: bool) -> Result<(Tensor, Tensor)> {
        Ok((
            self.reduce(ReduceOp::Min, &[dim], keep_dim)?,
            self.reduce(ReduceOp::ArgMin, &[dim], keep_dim)?,
        ))
    }

    /// Index of the first largest element along `dim`, or in the flattened tensor when `None`.
    pub fn argmax(&self, dim: Option<i64>, keep_dim: bool) -> Result<Tensor> {
        self.arg_reduce(ReduceOp::ArgMax, dim, keep_dim)
    }

    pub fn argmin(&self, dim: Option<i64>, keep_dim: bool) -> Result<Tensor> {
        self.arg_reduce(ReduceOp::ArgMin, dim, keep_dim)
    }

    fn arg_reduce(&self, op: ReduceOp, dim: Option<i64>, keep_dim: bool) -> Result<Tensor> {
        match dim {
            Some(d) => self.reduce(op, &[d], keep_dim),
            // PyTorch keeps every dim as size 1 for keepdim without a dim.
            None if keep_dim => self
                .detach()
                .reshape(&[-1])?
                .reduce(op, &[0], false)?
                .reshape(&vec![1; self.rank()]),
            None => self.detach().reshape(&[-1])?.reduce(op, &[0], false),
        }
    }

    pub fn reduce(&self, op: ReduceOp, dims: &[i64], keep_dim: bool) -> Result<Tensor> {
        let rank = self.rank();
        let mut reduced = vec![false; rank];
        for &d in dims {
            let d = normalize_dim(op.name(), d, rank)?;
            if rank > 0 && std::mem::replace(&mut reduced[d], true) {
                return Err(Error::invalid(
                    op.name(),
                    format!("dim {d} appears more than once in the list of dims"),
                ));
            }
        }
        if dims.is_empty() {
            reduced.fill(true);
        }
        let shape = self.shape();
        let kept: Vec<usize> = (0..rank).filter(|&d| !reduced[d]).collect();
        let folded: Vec<usize> = (0..rank).filter(|&d| reduced[d]).collect();
        let rows = Rows {
            rows: kept.iter().map(|&d| shape[d]).product(),
            len: folded.iter().map(|&d| shape[d]).product(),
        };
        if rows.len == 0 && !matches!(op, ReduceOp::Sum | ReduceOp::Mean) {
            return Err(Error::invalid(
                op.name(),
                format!(
                    "cannot reduce over a zero-size dimension (shape {})",
                    ShapeDisplay(shape)
                ),
            ));
        }
        // bf16 reduces in float32: sum and mean are float32-policy ops under autocast.
        if self.dtype() == DType::BF16 {
            let reduce = |x: &Tensor| x.reduce(op, dims, keep_dim);
            return match op {
                ReduceOp::Sum | ReduceOp::Mean => autocast::float32_policy(self, reduce),
                ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin => {
                    self.through_f32(reduce)
                }
            };
        }
        if op == ReduceOp::Mean && !self.dtype().is_float() {
            return Err(Error::dtype(
                "mean",
                "a float32 tensor (use .to('float32') first)",
                self.dtype(),
            ));
        }
        let out_shape: Vec<usize> = if keep_dim {
            (0..rank)
                .map(|d| if reduced[d] { 1 } else { shape[d] })
                .collect()
        } else {
            kept.iter().map(|&d| shape[d]).collect()
        };
        // Reduced dims last and dense, so each output folds one contiguous run.
        let order: Vec<i64> = kept.iter().chain(&folded).map(|&d| d as i64).collect();
        let arranged = self.detach().permute(&order)?.contiguous()?;
        let out = match &*arranged.storage().read() {
            Storage::Cpu(s) => Storage::Cpu(cpu::reduce(op, s, arranged.layout(), &rows)?),
            Storage::Cuda(s) => Storage::Cuda(cuda::reduce(op, s, arranged.layout(), &rows)?),
        };
        let out = Tensor::from_storage(out, &out_shape);
        let saved = out.detach();
        let all = folded.len() != 1 || dims.is_empty();
        Ok(record(out, &[self], || ReduceBackward {
            op,
            input: self.clone(),
            output: saved,
            folded,
            keep_dim,
            all,
        }))
    }
}

struct ReduceBackward {
    op: ReduceOp,
    input: Tensor,
    output: Tensor,
    folded: Vec<usize>,
    keep_dim: bool,
    /// Reduced over every element (`max()`) rather than along one given dim (`max(dim)`).
    all: bool,
}

impl Backward for ReduceBackward {
    fn name(&self) -> &'static str {
        match (self.op, self.all) {
            (ReduceOp::Sum, true) => "SumBackward0",
            (ReduceOp::Sum, false) => "SumBackward1",
            (ReduceOp::Mean, true) => "MeanBackward0",
            (ReduceOp::Mean, false) => "MeanBackward1",
            (ReduceOp::Max, true) => "MaxBackward1",
            (ReduceOp::Max, false) => "MaxBackward0",
            (ReduceOp::Min, true) => "MinBackward1",
            (ReduceOp::Min, false) => "MinBackward0",
            // Index outputs are int64 and never recorded.
            (ReduceOp::ArgMax | ReduceOp::ArgMin, _) => "ArgReduceBackward0",
        }
    }

    /// `max()` compares the input with the output; `max(dim)` finds the index in the input again.
    fn saved(&self) -> Vec<&Tensor> {
        match self.op {
            ReduceOp::Max | ReduceOp::Min if self.all => vec![&self.input, &self.output],
            ReduceOp::Max | ReduceOp::Min => vec![&self.input],
            ReduceOp::Sum | ReduceOp::Mean | ReduceOp::ArgMax | ReduceOp::ArgMin => vec![],
        }
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let x = &self.input;
        // The gradient and the output with the reduced dims back as size 1, to broadcast over x.
        let unfold = |t: &Tensor| -> Result<Tensor> {
            let mut t = t.clone();
            if !self.keep_dim {
                for &d in &self.folded {
                    t = t.unsqueeze(d as i64)?;
                }
            }
            Ok(t)
        };
        let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
        let g = unfold(g)?;
        let dx = match self.op {
            ReduceOp::Sum => g.expand(&shape)?.contiguous()?,
            ReduceOp::Mean => {
                let count: usize = self.folded.iter().map(|&d| x.shape()[d]).product();
                g.binary_scalar(BinaryOp::Div, count as f64)?
                    .expand(&shape)?
                    .contiguous()?
            }
            ReduceOp::Max | ReduceOp::Min if self.all => {
                // Ties share the gradient evenly, as in PyTorch's max(); a NaN result goes to
                // the NaN inputs (x == out is false for them).
                let out = unfold(&self.output)?;
                let is_nan = |t: &Tensor| t.binary(BinaryOp::Ne, t)?.to_dtype(DType::F32);
                let nan_hits = is_nan(x)?.mul(&is_nan(&out)?)?;
                let hits = x.eq(&out)?.to_dtype(DType::F32)?.add(&nan_hits)?;
                g.mul(&hits.div(&hits.sum(&[], false)?)?)?
            }
            ReduceOp::Max | ReduceOp::Min => {
                // Only the selected index gets the gradient, as in PyTorch's max(dim).
                let dim = self.folded[0];
                let index = if self.op == ReduceOp::Max {
                    x.argmax(Some(dim as i64), true)?
                } else {
                    x.argmin(Some(dim as i64), true)?
                };
                let mut position_shape = vec![1usize; x.rank()];
                position_shape[dim] = x.shape()[dim];
                let positions =
                    Tensor::arange(0.0, x.shape()[dim] as f64, 1.0, DType::I64, x.device())?
                        .reshape(&position_shape.iter().map(|&d| d as i64).collect::<Vec<_>>())?;
                g.mul(&positions.eq(&index)?.to_dtype(DType::F32)?)?
            }
            ReduceOp::ArgMax | ReduceOp::ArgMin => {
                return Err(Error::Internal {
                    op: self.op.name(),
                    detail: "indices have no gradient".into(),
                })
            }
        };
        Ok(vec![Some(dx)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::testing::test_device;

    fn t(data: &[f32], shape: &[usize], device: Device) -> Tensor {
        Tensor::from_f32(data.to_vec(), shape)
            .unwrap()
            .to_device(device)
            .unwrap()
    }

    test_device!(fn every_reduction_on_every_dtype(device) {
        let floats = t(&[1., 5., 2., 7., 0., 7.], &[2, 3], device);
        let ints = floats.to_dtype(DType::I64).unwrap();
        let bools = Tensor::from_bool(vec![true, false, true, false, false, false], &[2, 3])
            .unwrap()
            .to_device(device)
            .unwrap();
        use DType::{Bool, F32, I64};
        use ReduceOp::*;
        // Along dim 1: (input, op, result dtype, values).
        let cases: [(&Tensor, ReduceOp, DType, [f64; 2]); 16] = [
            (&floats, Sum, F32, [8., 14.]),
            (
                &floats,
                Mean,
                F32,
                [(8f32 / 3.) as f64, (14f32 / 3.) as f64],
            ),
            (&floats, Max, F32, [5., 7.]),
            (&floats, Min, F32, [1., 0.]),
            (&floats, ArgMax, I64, [1., 0.]),
            (&floats, ArgMin, I64, [0., 1.]),
            (&ints, Sum, I64, [8., 14.]),
            (&ints, Max, I64, [5., 7.]),
            (&ints, Min, I64, [1., 0.]),
            (&ints, ArgMax, I64, [1., 0.]),
            (&ints, ArgMin, I64, [0., 1.]),
            (&bools, Sum, I64, [2., 0.]),
            (&bools, Max, Bool, [1., 0.]),
            (&bools, Min, Bool, [0., 0.]),
            (&bools, ArgMax, I64, [0., 0.]),
            (&bools, ArgMin, I64, [1., 0.]),
        ];
        for (x, op, dtype, want) in cases {
            let got = x.reduce(op, &[1], false).unwrap();
            assert_eq!(got.dtype(), dtype, "{} of {}", op.name(), x.dtype());
            assert_eq!(
                got.to_vec_f64().unwrap(),
                want,
                "{} of {}",
                op.name(),
                x.dtype()
            );
        }
        assert_eq!(
            bools.sum(&[], false).unwrap().to_vec_i64().unwrap(),
            vec![2]
        );
        for x in [&ints, &bools] {
            assert_eq!(x.mean(&[], false).unwrap_err().code(), "DTypeMismatch");
        }
    });

    test_device!(fn sums_over_dims_with_and_without_keepdim(device) {
        let x = t(&[1., 2., 3., 4., 5., 6.], &[2, 3], device);
        assert_eq!(x.sum(&[], false).unwrap().to_vec_f32().unwrap(), vec![21.]);
        assert_eq!(
            x.sum(&[0], false).unwrap().to_vec_f32().unwrap(),
            vec![5., 7., 9.]
        );
        let k = x.sum(&[1], true).unwrap();
        assert_eq!(k.shape(), &[2, 1]);
        assert_eq!(k.to_vec_f32().unwrap(), vec![6., 15.]);
        assert_eq!(
            x.mean(&[-1], false).unwrap().to_vec_f32().unwrap(),
            vec![2., 5.]
        );
    });

    test_device!(fn max_and_argmax_pick_the_first_of_ties(device) {
        let x = t(&[1., 5., 5., 7., 2., 7.], &[2, 3], device);
        let (v, i) = x.max_dim(1, false).unwrap();
        assert_eq!(v.to_vec_f32().unwrap(), vec![5., 7.]);
        assert_eq!(i.to_vec_i64().unwrap(), vec![1, 0]);
        assert_eq!(
            x.argmax(None, false).unwrap().to_vec_i64().unwrap(),
            vec![3]
        );
        assert_eq!(x.argmax(None, true).unwrap().shape(), &[1, 1]);
    });

    test_device!(fn nan_propagates_through_max(device) {
        let x = t(&[1., f32::NAN, 3.], &[3], device);
        assert!(x.max().unwrap().item().unwrap().is_nan());
        assert_eq!(x.argmax(None, false).unwrap().item().unwrap(), 1.0);
    });

    test_device!(fn large_sums_are_accurate_and_parallel(device) {
        let n = 1 << 20;
        let x = Tensor::full(&[n], 0.1, DType::F32, device).unwrap();
        let s = x.sum(&[], false).unwrap().item().unwrap();
        assert!((s - 0.1f32 as f64 * n as f64).abs() < 1e-2, "sum was {s}");
    });

    test_device!(fn empty_reductions(device) {
        let e = t(&[], &[0, 3], device);
        assert_eq!(
            e.sum(&[0], false).unwrap().to_vec_f32().unwrap(),
            vec![0., 0., 0.]
        );
        assert_eq!(e.max().unwrap_err().code(), "InvalidArgument");
        assert_eq!(e.sum(&[0, 0], false).unwrap_err().code(), "InvalidArgument");
    });
}
