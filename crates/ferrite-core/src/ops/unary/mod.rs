//! Elementwise ops of one tensor. Transcendental ops compute in float, so integer inputs are
//! promoted to float32 first, as in PyTorch.

mod cpu;

use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::tensor::Tensor;
use crate::BinaryOp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
        }
    }

    fn compute_dtype(self, input: DType) -> Result<DType> {
        match (self, input) {
            (UnaryOp::Neg, DType::Bool) => Err(Error::dtype(
                "neg",
                "a numeric tensor (negating a bool tensor is not supported; use logical not)",
                "bool",
            )),
            (UnaryOp::Abs, DType::Bool) => Ok(DType::I64),
            (UnaryOp::Neg | UnaryOp::Abs, dtype) => Ok(dtype),
            _ => Ok(DType::F32),
        }
    }
}

impl Tensor {
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let input = self.to_dtype(op.compute_dtype(self.dtype())?)?;
        let out = match &*input.storage().read() {
            Storage::Cpu(s) => Storage::Cpu(cpu::unary(op, s, input.layout())?),
        };
        let out = Tensor::from_storage(out, self.shape());
        // The saved output is detached: a node holding its own output would be a reference cycle.
        let saved = out.detach();
        Ok(record(out, &[self], || UnaryBackward {
            op,
            input: self.clone(),
            output: saved,
        }))
    }

    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }

    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }

    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }

    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }

    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
}

struct UnaryBackward {
    op: UnaryOp,
    input: Tensor,
    output: Tensor,
}

impl Backward for UnaryBackward {
    fn name(&self) -> &'static str {
        match self.op {
            UnaryOp::Neg => "NegBackward0",
            UnaryOp::Abs => "AbsBackward0",
            UnaryOp::Exp => "ExpBackward0",
            UnaryOp::Log => "LogBackward0",
            UnaryOp::Sqrt => "SqrtBackward0",
        }
    }

    fn saved(&self) -> Vec<&Tensor> {
        match self.op {
            UnaryOp::Neg => vec![],
            UnaryOp::Abs | UnaryOp::Log => vec![&self.input],
            UnaryOp::Exp | UnaryOp::Sqrt => vec![&self.output],
        }
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (x, y) = (&self.input, &self.output);
        let dx = match self.op {
            UnaryOp::Neg => g.neg()?,
            UnaryOp::Abs => {
                let sign = x
                    .binary_scalar(BinaryOp::Gt, 0.0)?
                    .to_dtype(DType::F32)?
                    .sub(&x.binary_scalar(BinaryOp::Lt, 0.0)?.to_dtype(DType::F32)?)?;
                g.mul(&sign)?
            }
            UnaryOp::Exp => g.mul(y)?,
            UnaryOp::Log => g.div(x)?,
            UnaryOp::Sqrt => g.div(&y.binary_scalar(BinaryOp::Mul, 2.0)?)?,
        };
        Ok(vec![Some(dx)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_exp_is_float() {
        let t = Tensor::from_i64(vec![0, 1], &[2]).unwrap().exp().unwrap();
        assert_eq!(t.dtype(), DType::F32);
        assert_eq!(t.to_vec_f32().unwrap(), vec![1.0, std::f32::consts::E]);
    }

    #[test]
    fn neg_keeps_integers_and_rejects_bool() {
        let t = Tensor::from_i64(vec![3, -4], &[2]).unwrap();
        assert_eq!(t.neg().unwrap().to_vec_i64().unwrap(), vec![-3, 4]);
        let b = Tensor::from_bool(vec![true], &[1]).unwrap();
        assert_eq!(b.neg().unwrap_err().code(), "DTypeMismatch");
    }
}
