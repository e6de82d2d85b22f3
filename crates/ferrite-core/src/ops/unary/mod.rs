//! Elementwise ops of one tensor. Transcendental ops compute in float, so integer inputs are
//! promoted to float32 first, as in PyTorch.

mod cpu;
pub(crate) mod cuda;

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
            (
                UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sqrt,
                DType::F32 | DType::BF16 | DType::I64 | DType::Bool,
            ) => Ok(DType::F32),
        }
    }
}

impl Tensor {
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        if self.dtype() == DType::BF16 {
            return self.through_f32(|x| x.unary(op));
        }
        let input = self.to_dtype(op.compute_dtype(self.dtype())?)?;
        let out = match &*input.storage().read() {
            Storage::Cpu(s) => Storage::Cpu(cpu::unary(op, s, input.layout())?),
            Storage::Cuda(s) => Storage::Cuda(cuda::unary(op, s, input.layout())?),
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
    use crate::testing::{assert_close, tensor, test_device};

    type Reference = fn(f64) -> f64;

    test_device!(fn float_ops_match_f64_and_read_strided_inputs(device) {
        let cases: [(UnaryOp, Reference); 5] = [
            (UnaryOp::Neg, |v| -v),
            (UnaryOp::Abs, f64::abs),
            (UnaryOp::Exp, f64::exp),
            (UnaryOp::Log, f64::ln),
            (UnaryOp::Sqrt, f64::sqrt),
        ];
        // Positive, so that log and sqrt are defined; transposed, so that the input is strided.
        let x = tensor(&[3, 4], 1, device)
            .abs()
            .unwrap()
            .binary_scalar(BinaryOp::Add, 0.1)
            .unwrap();
        let x = x.transpose(0, 1).unwrap();
        let dense = x.contiguous().unwrap().to_vec_f64().unwrap();
        for (op, f) in cases {
            let want: Vec<f64> = dense.iter().map(|&v| f(v)).collect();
            assert_close(&x.unary(op).unwrap().to_vec_f32().unwrap(), &want, 1e-6);
        }
    });

    test_device!(fn dtypes_follow_pytorch(device) {
        let ints = Tensor::from_i64(vec![0, 1, -4], &[3])
            .unwrap()
            .to_device(device)
            .unwrap();
        let bools = Tensor::from_bool(vec![true, false, true], &[3])
            .unwrap()
            .to_device(device)
            .unwrap();
        let e = std::f32::consts::E as f64;
        // (input, op, result dtype, values)
        let cases: [(&Tensor, UnaryOp, DType, [f64; 3]); 5] = [
            (&ints, UnaryOp::Neg, DType::I64, [0., -1., 4.]),
            (&ints, UnaryOp::Abs, DType::I64, [0., 1., 4.]),
            (&ints, UnaryOp::Exp, DType::F32, [1., e, (-4f32).exp() as f64]),
            (&bools, UnaryOp::Abs, DType::I64, [1., 0., 1.]),
            (&bools, UnaryOp::Sqrt, DType::F32, [1., 0., 1.]),
        ];
        for (x, op, dtype, want) in cases {
            let got = x.unary(op).unwrap();
            let case = format!("{} of {}", op.name(), x.dtype());
            assert_eq!(got.dtype(), dtype, "{case}");
            assert_eq!(got.to_vec_f64().unwrap(), want, "{case}");
        }
        assert_eq!(bools.neg().unwrap_err().code(), "DTypeMismatch");
    });
}
