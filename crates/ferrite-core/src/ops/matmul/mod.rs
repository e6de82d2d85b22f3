//! `matmul` with PyTorch's rules: 1-D operands are promoted to matrices and squeezed back,
//! leading (batch) dims broadcast.

mod cpu;
pub(crate) mod cuda;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::{broadcast_shapes, signed};
use crate::storage::{mismatch, Storage};
use crate::tensor::Tensor;

impl Tensor {
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.same_device("matmul", rhs)?;
        for t in [self, rhs] {
            match t.dtype() {
                DType::F32 => {}
                DType::BF16 | DType::I64 | DType::Bool => {
                    return Err(Error::dtype(
                        "matmul",
                        "float32 tensors",
                        format!(
                            "{} (shapes {} and {})",
                            t.dtype(),
                            ShapeDisplay(self.shape()),
                            ShapeDisplay(rhs.shape())
                        ),
                    ))
                }
            }
        }
        if self.rank() == 0 || rhs.rank() == 0 {
            return Err(Error::shape(
                "matmul",
                format!(
                    "both arguments need at least 1 dimension, got shapes {} and {}",
                    ShapeDisplay(self.shape()),
                    ShapeDisplay(rhs.shape())
                ),
            ));
        }
        let (a, b) = (as_matrix(&self.detach(), 0)?, as_matrix(&rhs.detach(), 1)?);
        let (ar, br) = (a.rank(), b.rank());
        let (m, k) = (a.shape()[ar - 2], a.shape()[ar - 1]);
        let (k2, n) = (b.shape()[br - 2], b.shape()[br - 1]);
        if k != k2 {
            return Err(Error::shape(
                "matmul",
                format!(
                    "shapes {} and {} cannot be multiplied ({k} != {k2})",
                    ShapeDisplay(self.shape()),
                    ShapeDisplay(rhs.shape())
                ),
            ));
        }
        let batch = broadcast_shapes("matmul", &a.shape()[..ar - 2], &b.shape()[..br - 2])?;
        let with = |tail: [usize; 2]| [batch.as_slice(), &tail].concat();
        let (al, bl) = (
            a.layout().broadcast_to(&with([m, k])),
            b.layout().broadcast_to(&with([k, n])),
        );
        let out = match (&*a.storage().read(), &*b.storage().read()) {
            (Storage::Cpu(x), Storage::Cpu(y)) => {
                Storage::Cpu(cpu::matmul(x, &al, y, &bl, [m, k, n])?)
            }
            (Storage::Cuda(x), Storage::Cuda(y)) => {
                Storage::Cuda(cuda::matmul((x, &al), (y, &bl), [m, k, n])?)
            }
            (x @ Storage::Cpu(_), y @ Storage::Cuda(_))
            | (x @ Storage::Cuda(_), y @ Storage::Cpu(_)) => return Err(mismatch("matmul", x, y)),
        };
        let mut shape = with([m, n]);
        if rhs.rank() == 1 {
            shape.pop();
        }
        if self.rank() == 1 {
            shape.remove(shape.len() - if rhs.rank() == 1 { 1 } else { 2 });
        }
        let out = Tensor::from_storage(out, &shape);
        Ok(record(out, &[self, rhs], || MatmulBackward {
            lhs: self.clone(),
            rhs: rhs.clone(),
        }))
    }
}

/// A 1-D operand as a matrix: a row (`at` = 0) on the left, a column (`at` = 1) on the right.
fn as_matrix(t: &Tensor, at: i64) -> Result<Tensor> {
    if t.rank() == 1 {
        t.unsqueeze(at)
    } else {
        Ok(t.clone())
    }
}

struct MatmulBackward {
    lhs: Tensor,
    rhs: Tensor,
}

impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        match (self.lhs.rank(), self.rhs.rank()) {
            (1, 1) => "DotBackward0",
            (2, 1) => "MvBackward0",
            (2, 2) => "MmBackward0",
            _ => "UnsafeViewBackward0",
        }
    }

    /// The lhs gradient reads the rhs, and the rhs gradient the lhs.
    fn saved(&self) -> Vec<&Tensor> {
        [(&self.lhs, &self.rhs), (&self.rhs, &self.lhs)]
            .into_iter()
            .filter(|(input, _)| input.requires_grad())
            .map(|(_, read)| read)
            .collect()
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.lhs.clone(), self.rhs.clone()]
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (as_matrix(&self.lhs, 0)?, as_matrix(&self.rhs, 1)?);
        // The gradient with the dims that 1-D operands squeezed away put back.
        let mut g = g.clone();
        if self.lhs.rank() == 1 {
            g = g.unsqueeze(if self.rhs.rank() == 1 { 0 } else { -2 })?;
        }
        if self.rhs.rank() == 1 {
            g = g.unsqueeze(-1)?;
        }
        let da = needs[0]
            .then(|| {
                g.matmul(&b.transpose(-1, -2)?)?
                    .sum_to_shape(a.shape())?
                    .reshape(&signed(self.lhs.shape()))
            })
            .transpose()?;
        let db = needs[1]
            .then(|| {
                a.transpose(-1, -2)?
                    .matmul(&g)?
                    .sum_to_shape(b.shape())?
                    .reshape(&signed(self.rhs.shape()))
            })
            .transpose()?;
        Ok(vec![da, db])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::testing::{assert_close, tensor, test_device, values};

    /// `a @ b` for row-major `a` (m x k) and `b` (k x n), summed in f64.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
            }
        }
        c
    }

    fn from(values: Vec<f32>, shape: &[usize], device: Device) -> Tensor {
        Tensor::from_f32(values, shape)
            .unwrap()
            .to_device(device)
            .unwrap()
    }

    test_device!(fn matches_a_naive_loop_for_large_and_transposed_operands(device) {
        let (m, k, n) = (130, 70, 90);
        let (ta, tb) = (tensor(&[m, k], 1, device), tensor(&[k, n], 2, device));
        let want = naive(&values(m * k, 1), &values(k * n, 2), m, k, n);
        assert_close(&ta.matmul(&tb).unwrap().to_vec_f32().unwrap(), &want, 1e-4);
        // (B^T A^T)^T == A B, through strided views.
        let bt = tb.transpose(0, 1).unwrap();
        let at = ta.transpose(0, 1).unwrap();
        let c2 = bt.matmul(&at).unwrap().transpose(0, 1).unwrap();
        assert_close(&c2.to_vec_f32().unwrap(), &want, 1e-4);
    });

    test_device!(fn vectors_and_batches(device) {
        let v = from(vec![1., 2., 3.], &[3], device);
        assert_eq!(v.matmul(&v).unwrap().shape(), &[] as &[usize]);
        assert_eq!(v.matmul(&v).unwrap().item().unwrap(), 14.0);
        let m = tensor(&[2, 4, 3], 3, device);
        assert_eq!(m.matmul(&v).unwrap().shape(), &[2, 4]);
        let w = tensor(&[3, 5], 4, device);
        let bm = m.matmul(&w).unwrap();
        assert_eq!(bm.shape(), &[2, 4, 5]);
        let second = from(values(24, 3)[12..].to_vec(), &[4, 3], device)
            .matmul(&w)
            .unwrap();
        assert_eq!(
            bm.to_vec_f32().unwrap()[20..],
            second.to_vec_f32().unwrap()[..]
        );
        // A broadcast batch: one matrix against each of a batch.
        let shared = tensor(&[4, 3], 5, device)
            .matmul(&tensor(&[2, 3, 5], 6, device))
            .unwrap();
        assert_eq!(shared.shape(), &[2, 4, 5]);
    });

    test_device!(fn reports_bad_operands(device) {
        let a = tensor(&[2, 3], 7, device);
        let err = a.matmul(&a).unwrap_err();
        assert_eq!(err.code(), "ShapeMismatch");
        assert_eq!(
            err.to_string(),
            "matmul: shapes [2, 3] and [2, 3] cannot be multiplied (3 != 2)"
        );
        let ints = a.to_dtype(DType::I64).unwrap();
        assert_eq!(
            a.matmul(&ints.transpose(0, 1).unwrap())
                .unwrap_err()
                .to_string(),
            "matmul: expected float32 tensors, got int64 (shapes [2, 3] and [3, 2])"
        );
        let scalar = from(vec![1.0], &[], device);
        assert_eq!(a.matmul(&scalar).unwrap_err().code(), "ShapeMismatch");
    });
}
