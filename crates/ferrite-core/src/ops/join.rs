//! `cat` and `stack`: tensors joined along a dim, with gradients sliced back out.

use crate::alloc;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::{checked_numel, normalize_dim};
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

impl Tensor {
    /// Joins `tensors` along `dim`; all other dims must agree. Dtypes are promoted as in PyTorch.
    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("cat", "expected a non-empty list of tensors"))?;
        let rank = first.rank();
        if rank == 0 {
            return Err(Error::shape(
                "cat",
                "zero-dimensional tensors cannot be concatenated; use stack()",
            ));
        }
        let d = normalize_dim("cat", dim, rank)?;
        let mut dtype = first.dtype();
        for (i, t) in tensors.iter().enumerate() {
            first.same_device("cat", t)?;
            let compatible =
                t.rank() == rank && (0..rank).all(|k| k == d || t.shape()[k] == first.shape()[k]);
            if !compatible {
                return Err(Error::shape(
                    "cat",
                    format!("sizes must match except in dim {d}: tensor 0 has shape {} but tensor {i} has shape {}", ShapeDisplay(first.shape()), ShapeDisplay(t.shape())),
                ));
            }
            dtype = DType::promote(dtype, t.dtype());
        }
        let mut shape = first.shape().to_vec();
        shape[d] = tensors.iter().map(|t| t.shape()[d]).sum();
        let outer: usize = shape[..d].iter().product();
        let inner: usize = shape[d + 1..].iter().product();
        let parts: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.detach().to_dtype(dtype)?.contiguous())
            .collect::<Result<_>>()?;
        let guards: Vec<_> = parts.iter().map(|p| p.storage().read()).collect();
        let runs: Vec<usize> = parts.iter().map(|p| p.shape()[d] * inner).collect();
        macro_rules! join {
            ($variant:ident) => {{
                let slices: Vec<&[_]> = guards
                    .iter()
                    .zip(&parts)
                    .map(|(g, p)| match &**g {
                        Storage::Cpu(CpuStorage::$variant(v)) => {
                            Ok(&v[p.layout().offset()..p.layout().offset() + p.numel()])
                        }
                        _ => Err(Error::Internal {
                            op: "cat",
                            detail: "parts were not converted to one dtype".into(),
                        }),
                    })
                    .collect::<Result<_>>()?;
                let mut out = alloc::with_capacity("cat", checked_numel("cat", &shape)?)?;
                for o in 0..outer {
                    for (s, &run) in slices.iter().zip(&runs) {
                        out.extend_from_slice(&s[o * run..(o + 1) * run]);
                    }
                }
                CpuStorage::$variant(out)
            }};
        }
        let data = match dtype {
            DType::F32 => join!(F32),
            DType::I64 => join!(I64),
            DType::Bool => join!(Bool),
        };
        drop(guards);
        let out = Tensor::from_cpu(data, &shape)?;
        let inputs: Vec<&Tensor> = tensors.iter().collect();
        Ok(record(out, &inputs, || CatBackward {
            inputs: tensors.to_vec(),
            dim: d,
        }))
    }

    /// Joins `tensors` along a new dim `dim`; all must have the same shape.
    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
        if let Some((i, t)) = tensors
            .iter()
            .enumerate()
            .find(|(_, t)| t.shape() != first.shape())
        {
            return Err(Error::shape(
                "stack",
                format!("expects each tensor to be equal size, but got {} at entry 0 and {} at entry {i}", ShapeDisplay(first.shape()), ShapeDisplay(t.shape())),
            ));
        }
        let d = normalize_dim("stack", dim, first.rank() + 1)? as i64;
        let expanded: Vec<Tensor> = tensors
            .iter()
            .map(|t| t.unsqueeze(d))
            .collect::<Result<_>>()?;
        Tensor::cat(&expanded, d)
    }
}

struct CatBackward {
    inputs: Vec<Tensor>,
    dim: usize,
}

impl Backward for CatBackward {
    fn name(&self) -> &'static str {
        "CatBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        self.inputs.clone()
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let mut start = 0;
        self.inputs
            .iter()
            .zip(needs)
            .map(|(t, &need)| {
                let len = t.shape()[self.dim];
                let slice = need
                    .then(|| g.narrow(self.dim as i64, start, len))
                    .transpose();
                start += len;
                slice
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{gradcheck, leaf};

    #[test]
    fn cat_joins_along_any_dim_and_promotes() {
        let a = Tensor::from_f32(vec![1., 2., 3., 4.], &[2, 2]).unwrap();
        let b = Tensor::from_i64(vec![5, 6], &[2, 1]).unwrap();
        let c = Tensor::cat(&[a.clone(), b], 1).unwrap();
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec_f32().unwrap(), vec![1., 2., 5., 3., 4., 6.]);
        let rows = Tensor::cat(&[a.clone(), a.transpose(0, 1).unwrap()], 0).unwrap();
        assert_eq!(
            rows.to_vec_f32().unwrap(),
            vec![1., 2., 3., 4., 1., 3., 2., 4.]
        );
        let err = Tensor::cat(
            &[a.clone(), Tensor::from_f32(vec![0.; 3], &[1, 3]).unwrap()],
            0,
        )
        .unwrap_err();
        assert_eq!(err.code(), "ShapeMismatch");
    }

    #[test]
    fn stack_adds_a_dim() {
        let a = Tensor::from_f32(vec![1., 2.], &[2]).unwrap();
        let s = Tensor::stack(&[a.clone(), a.clone(), a], -1).unwrap();
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(s.to_vec_f32().unwrap(), vec![1., 1., 1., 2., 2., 2.]);
    }

    #[test]
    fn gradients_flow_back_to_each_part() {
        gradcheck(&[leaf(&[2, 3], 40), leaf(&[2, 2], 41)], |x| {
            Tensor::cat(&[x[0].clone(), x[1].clone()], 1)
        });
        gradcheck(&[leaf(&[3], 42), leaf(&[3], 43)], |x| {
            Tensor::stack(&[x[0].clone(), x[1].clone()], 0)
        });
        gradcheck(&[leaf(&[4, 3], 44)], |x| x[0].narrow(0, 1, 2)?.select(1, 2));
    }
}
