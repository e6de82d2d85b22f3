//! Elementwise ops of two tensors with PyTorch broadcasting and type promotion: arithmetic
//! (`add`, `sub`, `mul`, `div`, `pow`, `maximum`, `minimum`) and comparisons (`eq`, `lt`, ...).

mod cpu;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::broadcast_shapes;
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// The dtype both operands are converted to before the kernel runs.
    fn compute_dtype(self, lhs: DType, rhs: DType) -> Result<DType> {
        let promoted = DType::promote(lhs, rhs);
        match (self, promoted) {
            // True division, as in PyTorch: integers divide to float.
            (BinaryOp::Div, _) => Ok(DType::F32),
            (BinaryOp::Sub, DType::Bool) => Err(Error::dtype(
                "sub",
                "numeric tensors (subtracting bool tensors is not supported; use ne() for xor)",
                "bool and bool",
            )),
            (BinaryOp::Pow, DType::Bool) => Ok(DType::I64),
            _ => Ok(promoted),
        }
    }
}

impl Tensor {
    /// `lhs <op> rhs` elementwise, broadcasting both to a common shape.
    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        self.same_device(op.name(), rhs)?;
        let shape = broadcast_shapes(op.name(), self.shape(), rhs.shape())?;
        let dtype = op.compute_dtype(self.dtype(), rhs.dtype())?;
        let (a, b) = (self.to_dtype(dtype)?, rhs.to_dtype(dtype)?);
        let (al, bl) = (
            a.layout().broadcast_to(&shape),
            b.layout().broadcast_to(&shape),
        );
        let out = {
            let (sa, sb) = (a.storage().read(), b.storage().read());
            match (&*sa, &*sb) {
                (Storage::Cpu(a), Storage::Cpu(b)) => {
                    Storage::Cpu(cpu::binary(op, a, &al, b, &bl, &shape)?)
                }
            }
        };
        let out = Tensor::from_storage(out, &shape);
        Ok(record(out, &[self, rhs], || BinaryBackward {
            op,
            lhs: self.clone(),
            rhs: rhs.clone(),
        }))
    }

    /// `self <op> scalar`, with PyTorch's promotion for Python scalars: a float scalar makes an
    /// integer tensor float, an integral one keeps it integral.
    pub fn binary_scalar(&self, op: BinaryOp, scalar: f64) -> Result<Tensor> {
        let scalar = if self.dtype() == DType::F32 || scalar.fract() != 0.0 || !scalar.is_finite() {
            CpuStorage::F32(vec![scalar as f32])
        } else {
            CpuStorage::I64(vec![scalar as i64])
        };
        self.binary(op, &Tensor::from_cpu(scalar, &[])?)
    }

    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, rhs)
    }

    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, rhs)
    }

    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, rhs)
    }

    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, rhs)
    }

    pub fn pow(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Pow, rhs)
    }

    pub fn maximum(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Maximum, rhs)
    }

    pub fn minimum(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Minimum, rhs)
    }

    pub fn eq(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Eq, rhs)
    }
}

struct BinaryBackward {
    op: BinaryOp,
    lhs: Tensor,
    rhs: Tensor,
}

impl Backward for BinaryBackward {
    fn name(&self) -> &'static str {
        match self.op {
            BinaryOp::Add => "AddBackward0",
            BinaryOp::Sub => "SubBackward0",
            BinaryOp::Mul => "MulBackward0",
            BinaryOp::Div => "DivBackward0",
            BinaryOp::Pow => "PowBackward1",
            BinaryOp::Maximum => "MaximumBackward0",
            BinaryOp::Minimum => "MinimumBackward0",
            // Comparisons give bool tensors, which are never recorded.
            _ => "ComparisonBackward0",
        }
    }

    /// What each input's gradient reads, for the inputs that need one.
    fn saved(&self) -> Vec<&Tensor> {
        use BinaryOp::*;
        let (l, r) = (&self.lhs, &self.rhs);
        let (for_l, for_r) = match self.op {
            Add | Sub => (vec![], vec![]),
            Mul => (vec![r], vec![l]),
            Div => (vec![r], vec![l, r]),
            _ => (vec![l, r], vec![l, r]),
        };
        [(l, for_l), (r, for_r)]
            .into_iter()
            .filter(|(input, _)| input.requires_grad())
            .flat_map(|(_, read)| read)
            .collect()
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.lhs.clone(), self.rhs.clone()]
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        use BinaryOp::*;
        let (l, r) = (&self.lhs, &self.rhs);
        let as_float = |mask: Tensor| mask.to_dtype(DType::F32);
        let dl = |g: &Tensor| -> Result<Tensor> {
            match self.op {
                Add | Sub => Ok(g.clone()),
                Mul => g.mul(r),
                Div => g.div(r),
                // d(l^r)/dl = r * l^(r-1)
                Pow => g.mul(&r.mul(&l.pow(&r.binary_scalar(Sub, 1.0)?)?)?),
                // Ties share the gradient, as in PyTorch.
                Maximum => g.mul(
                    &as_float(l.binary(Gt, r)?)?
                        .add(&as_float(l.eq(r)?)?.binary_scalar(Mul, 0.5)?)?,
                ),
                Minimum => g.mul(
                    &as_float(l.binary(Lt, r)?)?
                        .add(&as_float(l.eq(r)?)?.binary_scalar(Mul, 0.5)?)?,
                ),
                _ => Err(Error::Internal {
                    op: self.op.name(),
                    detail: "no gradient for comparisons".into(),
                }),
            }
        };
        let dr = |g: &Tensor| -> Result<Tensor> {
            match self.op {
                Add => Ok(g.clone()),
                Sub => g.neg(),
                Mul => g.mul(l),
                Div => g.mul(l)?.div(&r.mul(r)?)?.neg(),
                // d(l^r)/dr = l^r * ln(l), taken as 0 where l == 0 (PyTorch's convention).
                Pow => {
                    let safe_base = l.add(&as_float(l.binary_scalar(Eq, 0.0)?)?)?;
                    g.mul(&l.pow(r)?)?.mul(&safe_base.log()?)
                }
                Maximum => g.mul(
                    &as_float(r.binary(Gt, l)?)?
                        .add(&as_float(l.eq(r)?)?.binary_scalar(Mul, 0.5)?)?,
                ),
                Minimum => g.mul(
                    &as_float(r.binary(Lt, l)?)?
                        .add(&as_float(l.eq(r)?)?.binary_scalar(Mul, 0.5)?)?,
                ),
                _ => Err(Error::Internal {
                    op: self.op.name(),
                    detail: "no gradient for comparisons".into(),
                }),
            }
        };
        Ok(vec![
            if needs[0] {
                Some(dl(g)?.sum_to_shape(l.shape())?)
            } else {
                None
            },
            if needs[1] {
                Some(dr(g)?.sum_to_shape(r.shape())?)
            } else {
                None
            },
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(data: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_f32(data.to_vec(), shape).unwrap()
    }

    #[test]
    fn broadcasts_rows_and_columns() {
        let a = f(&[1., 2., 3.], &[3, 1]);
        let b = f(&[10., 20.], &[2]);
        let c = a.add(&b).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec_f32().unwrap(), vec![11., 21., 12., 22., 13., 23.]);
    }

    #[test]
    fn integer_division_is_true_division() {
        let a = Tensor::from_i64(vec![7, -7], &[2]).unwrap();
        let q = a.binary_scalar(BinaryOp::Div, 2.0).unwrap();
        assert_eq!(q.dtype(), DType::F32);
        assert_eq!(q.to_vec_f32().unwrap(), vec![3.5, -3.5]);
    }

    #[test]
    fn scalar_promotion_matches_pytorch() {
        let a = Tensor::from_i64(vec![1, 2], &[2]).unwrap();
        assert_eq!(
            a.binary_scalar(BinaryOp::Add, 1.0).unwrap().dtype(),
            DType::I64
        );
        assert_eq!(
            a.binary_scalar(BinaryOp::Add, 0.5).unwrap().dtype(),
            DType::F32
        );
    }

    #[test]
    fn integer_pow_rejects_negative_exponents() {
        let a = Tensor::from_i64(vec![2, 3], &[2]).unwrap();
        assert_eq!(
            a.binary_scalar(BinaryOp::Pow, 3.0)
                .unwrap()
                .to_vec_i64()
                .unwrap(),
            vec![8, 27]
        );
        assert_eq!(
            a.binary_scalar(BinaryOp::Pow, -1.0).unwrap_err().code(),
            "InvalidArgument"
        );
    }

    #[test]
    fn comparisons_give_bool() {
        let a = f(&[1., 2., 3.], &[3]);
        let b = f(&[2.], &[1]);
        let lt = a.binary(BinaryOp::Lt, &b).unwrap();
        assert_eq!(lt.dtype(), DType::Bool);
        assert!(
            matches!(lt.to_cpu_storage().unwrap(), CpuStorage::Bool(v) if v == vec![true, false, false])
        );
    }

    #[test]
    fn mismatched_shapes_are_reported() {
        let err = f(&[1., 2.], &[2]).add(&f(&[1., 2., 3.], &[3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shapes [2] and [3] cannot be broadcast together (dim 0: 2 vs 3)"
        );
    }
}
