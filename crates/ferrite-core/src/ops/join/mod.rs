//! `cat` and `stack`: tensors joined along a dim, with gradients sliced back out.

mod cpu;
mod cuda;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::{checked_numel, normalize_dim};
use crate::storage::{mismatch, CpuElement, CpuStorage, Storage};
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
        let storages: Vec<&Storage> = guards.iter().map(|g| &**g).collect();
        let join = Join {
            outer,
            runs: parts.iter().map(|p| p.shape()[d] * inner).collect(),
            numel: checked_numel("cat", &shape)?,
        };
        // The first part's backend joins them all; a part elsewhere is a device mismatch.
        let data = match storages[0] {
            Storage::Cpu(_) => Storage::Cpu(match dtype {
                DType::F32 => CpuStorage::F32(cat_parts(&storages, &parts, &join)?),
                DType::BF16 => CpuStorage::BF16(cat_parts(&storages, &parts, &join)?),
                DType::I64 => CpuStorage::I64(cat_parts(&storages, &parts, &join)?),
                DType::Bool => CpuStorage::Bool(cat_parts(&storages, &parts, &join)?),
            }),
            Storage::Cuda(s) => {
                Storage::Cuda(cuda::cat(s.device(), &storages, &parts, &join, dtype)?)
            }
        };
        drop(guards);
        let out = Tensor::from_storage(data, &shape);
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

/// How `cat` interleaves its parts: `outer` times, a run of `runs[i]` elements of part `i`.
struct Join {
    outer: usize,
    runs: Vec<usize>,
    numel: usize,
}

/// The contiguous `parts` (all of dtype `T`, read through their `storages`) joined.
fn cat_parts<T: CpuElement>(
    storages: &[&Storage],
    parts: &[Tensor],
    join: &Join,
) -> Result<Vec<T>> {
    let slices = storages
        .iter()
        .zip(parts)
        .map(|(storage, part)| match storage {
            Storage::Cpu(s) => s.slice::<T>("cat", part.layout()),
            Storage::Cuda(_) => Err(mismatch("cat", storages[0], storage)),
        })
        .collect::<Result<Vec<_>>>()?;
    cpu::cat(&slices, join)
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
    use crate::device::Device;
    use crate::testing::{gradcheck, leaf_on, test_device};

    fn on(t: Tensor, device: Device) -> Tensor {
        t.to_device(device).unwrap()
    }

    test_device!(fn cat_joins_along_any_dim_and_promotes(device) {
        let a = on(
            Tensor::from_f32(vec![1., 2., 3., 4.], &[2, 2]).unwrap(),
            device,
        );
        let b = on(Tensor::from_i64(vec![5, 6], &[2, 1]).unwrap(), device);
        let c = Tensor::cat(&[a.clone(), b], 1).unwrap();
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec_f32().unwrap(), vec![1., 2., 5., 3., 4., 6.]);
        let rows = Tensor::cat(&[a.clone(), a.transpose(0, 1).unwrap()], 0).unwrap();
        assert_eq!(
            rows.to_vec_f32().unwrap(),
            vec![1., 2., 3., 4., 1., 3., 2., 4.]
        );
        let err = Tensor::cat(
            &[
                a.clone(),
                on(Tensor::from_f32(vec![0.; 3], &[1, 3]).unwrap(), device),
            ],
            0,
        )
        .unwrap_err();
        assert_eq!(err.code(), "ShapeMismatch");
    });

    test_device!(fn cat_keeps_each_dtype(device) {
        let ints = on(Tensor::from_i64(vec![1, 2, 3, 4], &[2, 2]).unwrap(), device);
        let bools = on(
            Tensor::from_bool(vec![true, false], &[2, 1]).unwrap(),
            device,
        );
        let cases = [
            (
                &ints,
                &ints,
                DType::I64,
                vec![1., 2., 1., 2., 3., 4., 3., 4.],
            ),
            (&bools, &bools, DType::Bool, vec![1., 1., 0., 0.]),
            (&ints, &bools, DType::I64, vec![1., 2., 1., 3., 4., 0.]),
        ];
        for (a, b, dtype, want) in cases {
            let c = Tensor::cat(&[a.clone(), b.clone()], 1).unwrap();
            assert_eq!(c.dtype(), dtype);
            assert_eq!(c.to_vec_f64().unwrap(), want);
        }
    });

    test_device!(fn stack_adds_a_dim(device) {
        let a = on(Tensor::from_f32(vec![1., 2.], &[2]).unwrap(), device);
        let s = Tensor::stack(&[a.clone(), a.clone(), a], -1).unwrap();
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(s.to_vec_f32().unwrap(), vec![1., 1., 1., 2., 2., 2.]);
    });

    test_device!(fn gradients_flow_back_to_each_part(device) {
        gradcheck(
            &[leaf_on(&[2, 3], 40, device), leaf_on(&[2, 2], 41, device)],
            |x| Tensor::cat(&[x[0].clone(), x[1].clone()], 1),
        );
        gradcheck(
            &[leaf_on(&[3], 42, device), leaf_on(&[3], 43, device)],
            |x| Tensor::stack(&[x[0].clone(), x[1].clone()], 0),
        );
        gradcheck(&[leaf_on(&[4, 3], 44, device)], |x| {
            x[0].narrow(0, 1, 2)?.select(1, 2)
        });
    });
}
