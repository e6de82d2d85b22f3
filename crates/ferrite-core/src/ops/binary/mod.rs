//! Elementwise ops of two tensors with PyTorch broadcasting and type promotion: arithmetic
//! (`add`, `sub`, `mul`, `div`, `pow`, `maximum`, `minimum`) and comparisons (`eq`, `lt`, ...).

mod cpu;
pub(crate) mod cuda;

use crate::autograd::{record, Backward};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::broadcast_shapes;
use crate::ops::copy;
use crate::storage::{mismatch, CpuStorage, Storage};
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
        use BinaryOp::*;
        let promoted = DType::promote(lhs, rhs);
        match (self, promoted) {
            // True division, as in PyTorch: integers divide to float.
            (Div, DType::F32 | DType::I64 | DType::Bool) => Ok(DType::F32),
            (_, DType::BF16) => Ok(DType::BF16),
            (Sub, DType::Bool) => Err(Error::dtype(
                "sub",
                "numeric tensors (subtracting bool tensors is not supported; use ne() for xor)",
                "bool and bool",
            )),
            (Pow, DType::Bool) => Ok(DType::I64),
            (_, DType::F32 | DType::I64)
            | (Add | Mul | Maximum | Minimum | Eq | Ne | Lt | Le | Gt | Ge, DType::Bool) => {
                Ok(promoted)
            }
        }
    }
}

impl Tensor {
    /// `lhs <op> rhs` elementwise, broadcasting both to a common shape.
    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        self.same_device(op.name(), rhs)?;
        let shape = broadcast_shapes(op.name(), self.shape(), rhs.shape())?;
        let dtype = op.compute_dtype(self.dtype(), rhs.dtype())?;
        if dtype == DType::BF16 {
            // Computed in float32 and rounded once (comparisons stay bool). As in PyTorch, an
            // int64 or bool operand becomes bfloat16 first (257 is 256 there), on either side.
            let lhs = self.to_dtype(DType::BF16)?;
            let rhs = rhs.to_dtype(DType::BF16)?.to_dtype(DType::F32)?;
            return lhs.through_f32(|x| x.binary(op, &rhs));
        }
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
                (Storage::Cuda(a), Storage::Cuda(b)) => {
                    Storage::Cuda(cuda::binary(op, a, &al, b, &bl, &shape)?)
                }
                (Storage::Cpu(_), Storage::Cuda(_)) | (Storage::Cuda(_), Storage::Cpu(_)) => {
                    return Err(mismatch(op.name(), &sa, &sb))
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

    /// `relu(self + rhs)` in one op, as a residual block ends: the same values and gradients,
    /// bit for bit, as `add` then `relu`, with one pass over memory each way where the two ops
    /// make three. Fused for float32 operands of one shape on the CPU; otherwise it runs the two
    /// ops (broadcasting and promoting as `add` does).
    pub fn add_relu(&self, rhs: &Tensor) -> Result<Tensor> {
        const OP: &str = "add_relu";
        self.same_device(OP, rhs)?;
        let fused = self.dtype() == DType::F32
            && rhs.dtype() == DType::F32
            && self.shape() == rhs.shape()
            && self.device() == Device::Cpu;
        if !fused {
            return self.add(rhs)?.relu();
        }
        let out = {
            let (sa, sb) = (self.storage().read(), rhs.storage().read());
            match (&*sa, &*sb) {
                (Storage::Cpu(CpuStorage::F32(a)), Storage::Cpu(CpuStorage::F32(b))) => {
                    cpu::add_relu(a, self.layout(), b, rhs.layout())?
                }
                _ => {
                    return Err(Error::Internal {
                        op: OP,
                        detail: "the fused kernel was handed a non-float32 or non-CPU operand"
                            .into(),
                    })
                }
            }
        };
        let out = Tensor::from_storage(Storage::Cpu(CpuStorage::F32(out)), self.shape());
        // Detached: a node holding its own output would be a reference cycle.
        let saved = out.detach();
        Ok(record(out, &[self, rhs], || AddReluBackward {
            lhs: self.clone(),
            rhs: rhs.clone(),
            output: saved,
        }))
    }

    /// `self <op> scalar`, with PyTorch's promotion for Python scalars: a float scalar makes an
    /// integer tensor float, an integral one keeps it integral. The scalar is made on this
    /// tensor's device (filled there on a GPU, not copied from the host).
    pub fn binary_scalar(&self, op: BinaryOp, scalar: f64) -> Result<Tensor> {
        if self.dtype() == DType::BF16 {
            // A scalar does not promote a bf16 tensor (PyTorch's wrapped numbers), and the op
            // computes in float32. PyTorch's CPU kernels take the scalar two ways: mul and div
            // as float32, the others rounded to bfloat16 first (so `x.eq(1 / 3)` holds where x
            // holds bfloat16's 1/3, and `x + 1 / 3` adds 0.333984375).
            let scalar = match op {
                BinaryOp::Mul | BinaryOp::Div => scalar,
                BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Pow
                | BinaryOp::Maximum
                | BinaryOp::Minimum
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge => half::bf16::from_f32(scalar as f32).to_f64(),
            };
            return self.through_f32(|x| x.binary_scalar(op, scalar));
        }
        let float = self.dtype() == DType::F32 || scalar.fract() != 0.0 || !scalar.is_finite();
        let rhs = match &*self.storage().read() {
            Storage::Cpu(_) => Tensor::from_cpu(
                if float {
                    CpuStorage::F32(vec![scalar as f32])
                } else {
                    CpuStorage::I64(vec![scalar as i64])
                },
                &[],
            )?,
            Storage::Cuda(s) => {
                let dtype = if float { DType::F32 } else { DType::I64 };
                let filled = copy::cuda::filled(op.name(), s.device(), scalar, dtype, 1)?;
                Tensor::from_storage(Storage::Cuda(filled), &[])
            }
        };
        self.binary(op, &rhs)
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

/// The share of a maximum's or minimum's gradient one side gets: 1, less all of it where the other
/// side wins (`other_wins`) and half where they tie. NaN compares false, so a NaN on either side
/// gives both sides the whole gradient, as in PyTorch.
fn other_share(other_wins: Tensor, tie: Tensor) -> Result<Tensor> {
    let tie_half = tie
        .to_dtype(DType::F32)?
        .binary_scalar(BinaryOp::Mul, 0.5)?;
    other_wins
        .to_dtype(DType::F32)?
        .add(&tie_half)?
        .neg()?
        .binary_scalar(BinaryOp::Add, 1.0)
}

/// Both inputs get the upstream gradient where the output is positive.
struct AddReluBackward {
    lhs: Tensor,
    rhs: Tensor,
    output: Tensor,
}

impl Backward for AddReluBackward {
    fn name(&self) -> &'static str {
        "AddReluBackward0"
    }

    fn saved(&self) -> Vec<&Tensor> {
        vec![&self.output]
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.lhs.clone(), self.rhs.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        const OP: &str = "add_relu";
        let (g, y) = (g.contiguous()?, &self.output);
        let masked = match (&*g.storage().read(), &*y.storage().read()) {
            (Storage::Cpu(gs), Storage::Cpu(ys)) => {
                cpu::relu_backward(gs.slice(OP, g.layout())?, ys.slice(OP, y.layout())?)?
            }
            (a, b) => return Err(mismatch(OP, a, b)),
        };
        let masked = Tensor::from_storage(Storage::Cpu(CpuStorage::F32(masked)), y.shape());
        Ok(vec![Some(masked.clone()), Some(masked)])
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
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => "ComparisonBackward0",
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
            Pow | Maximum | Minimum | Eq | Ne | Lt | Le | Gt | Ge => (vec![l, r], vec![l, r]),
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
                // d(l^r)/dl = r * l^(r-1), and 0 where r == 0 (l^0 is constant, even at l = 0 or
                // NaN, as in PyTorch): there the power taken is l^0 = 1 instead of l^-1.
                Pow => {
                    let power = r
                        .binary_scalar(Sub, 1.0)?
                        .add(&as_float(r.binary_scalar(Eq, 0.0)?)?)?;
                    g.mul(&r.mul(&l.pow(&power)?)?)
                }
                // Ties share the gradient, as in PyTorch; written as 1 minus the share of the
                // other side so that, as in PyTorch, both sides get it where either is NaN.
                Maximum => g.mul(&other_share(l.binary(Lt, r)?, l.eq(r)?)?),
                Minimum => g.mul(&other_share(l.binary(Gt, r)?, l.eq(r)?)?),
                Eq | Ne | Lt | Le | Gt | Ge => Err(no_gradient(self.op)),
            }
        };
        let dr = |g: &Tensor| -> Result<Tensor> {
            match self.op {
                Add => Ok(g.clone()),
                Sub => g.neg(),
                Mul => g.mul(l),
                Div => g.mul(l)?.div(&r.mul(r)?)?.neg(),
                // d(l^r)/dr = l^r * ln(l), taken as 0 where l == 0 and r >= 0 (PyTorch's
                // convention; for r < 0 it is inf * -inf as in PyTorch).
                Pow => {
                    let zero_base = as_float(l.binary_scalar(Eq, 0.0)?)?
                        .mul(&as_float(r.binary_scalar(Ge, 0.0)?)?)?;
                    g.mul(&l.pow(r)?)?.mul(&l.add(&zero_base)?.log()?)
                }
                Maximum => g.mul(&other_share(r.binary(Lt, l)?, l.eq(r)?)?),
                Minimum => g.mul(&other_share(r.binary(Gt, l)?, l.eq(r)?)?),
                Eq | Ne | Lt | Le | Gt | Ge => Err(no_gradient(self.op)),
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

fn no_gradient(op: BinaryOp) -> Error {
    Error::Internal {
        op: op.name(),
        detail: "no gradient for comparisons".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::testing::{assert_close_f32, tensor, test_device};
    use BinaryOp::*;

    fn on(t: Tensor, device: Device) -> Tensor {
        t.to_device(device).unwrap()
    }

    fn f(data: &[f32], shape: &[usize], device: Device) -> Tensor {
        on(Tensor::from_f32(data.to_vec(), shape).unwrap(), device)
    }

    /// Each op on one pair of operands: the result's dtype and values (bools as 0 or 1).
    type Case = (BinaryOp, DType, [f64; 4]);

    fn check_table(a: &Tensor, b: &Tensor, cases: &[Case]) {
        for &(op, dtype, want) in cases {
            let got = a.binary(op, b).unwrap();
            assert_eq!(got.dtype(), dtype, "{} on {}", op.name(), a.dtype());
            let got = got.to_vec_f64().unwrap();
            assert_eq!(got, want, "{} on {}", op.name(), a.dtype());
        }
    }

    test_device!(fn every_op_on_every_dtype(device) {
        use DType::{Bool, F32, I64};
        let a = f(&[3., -2., 0.5, 4.], &[4], device);
        let b = f(&[2., 2., -1., 4.], &[4], device);
        check_table(
            &a,
            &b,
            &[
                (Add, F32, [5., 0., -0.5, 8.]),
                (Sub, F32, [1., -4., 1.5, 0.]),
                (Mul, F32, [6., -4., -0.5, 16.]),
                (Div, F32, [1.5, -1., -0.5, 1.]),
                (Pow, F32, [9., 4., 2., 256.]),
                (Maximum, F32, [3., 2., 0.5, 4.]),
                (Minimum, F32, [2., -2., -1., 4.]),
                (Eq, Bool, [0., 0., 0., 1.]),
                (Ne, Bool, [1., 1., 1., 0.]),
                (Lt, Bool, [0., 1., 0., 0.]),
                (Le, Bool, [0., 1., 0., 1.]),
                (Gt, Bool, [1., 0., 1., 0.]),
                (Ge, Bool, [1., 0., 1., 1.]),
            ],
        );
        let a = on(Tensor::from_i64(vec![3, -2, 0, 4], &[4]).unwrap(), device);
        let b = on(Tensor::from_i64(vec![2, 2, 1, 4], &[4]).unwrap(), device);
        check_table(
            &a,
            &b,
            &[
                (Add, I64, [5., 0., 1., 8.]),
                (Sub, I64, [1., -4., -1., 0.]),
                (Mul, I64, [6., -4., 0., 16.]),
                (Div, F32, [1.5, -1., 0., 1.]),
                (Pow, I64, [9., 4., 0., 256.]),
                (Maximum, I64, [3., 2., 1., 4.]),
                (Minimum, I64, [2., -2., 0., 4.]),
                (Eq, Bool, [0., 0., 0., 1.]),
                (Ne, Bool, [1., 1., 1., 0.]),
                (Lt, Bool, [0., 1., 1., 0.]),
                (Le, Bool, [0., 1., 1., 1.]),
                (Gt, Bool, [1., 0., 0., 0.]),
                (Ge, Bool, [1., 0., 0., 1.]),
            ],
        );
        let a = on(
            Tensor::from_bool(vec![true, true, false, false], &[4]).unwrap(),
            device,
        );
        let b = on(
            Tensor::from_bool(vec![true, false, true, false], &[4]).unwrap(),
            device,
        );
        check_table(
            &a,
            &b,
            &[
                (Add, Bool, [1., 1., 1., 0.]),
                (Mul, Bool, [1., 0., 0., 0.]),
                (Pow, I64, [1., 1., 0., 1.]),
                (Maximum, Bool, [1., 1., 1., 0.]),
                (Minimum, Bool, [1., 0., 0., 0.]),
                (Eq, Bool, [1., 0., 0., 1.]),
                (Ne, Bool, [0., 1., 1., 0.]),
                (Lt, Bool, [0., 0., 1., 0.]),
                (Le, Bool, [1., 0., 1., 1.]),
                (Gt, Bool, [0., 1., 0., 0.]),
                (Ge, Bool, [1., 1., 0., 1.]),
            ],
        );
        assert_eq!(a.sub(&b).unwrap_err().code(), "DTypeMismatch");
    });

    test_device!(fn strided_and_broadcast_operands_match_dense_ones(device) {
        // Each inner-stride pair the kernel tells apart: (1, 1), (1, 0), (0, 1) and any other.
        let x = tensor(&[4, 5], 1, device);
        let y = tensor(&[5, 4], 2, device).transpose(0, 1).unwrap();
        let row = tensor(&[1, 5], 3, device);
        let column = tensor(&[4, 1], 4, device);
        for (a, b) in [(&x, &x), (&x, &column), (&column, &x), (&y, &row), (&x, &y)] {
            let dense = |t: &Tensor| {
                t.expand(&[4, 5])
                    .unwrap()
                    .contiguous()
                    .unwrap()
                    .to_vec_f32()
                    .unwrap()
            };
            let want: Vec<f32> = dense(a).iter().zip(dense(b)).map(|(&p, q)| p * q).collect();
            assert_close_f32(&a.mul(b).unwrap().to_vec_f32().unwrap(), &want, 0.0);
        }
    });

    test_device!(fn broadcasts_rows_and_columns(device) {
        let a = f(&[1., 2., 3.], &[3, 1], device);
        let b = f(&[10., 20.], &[2], device);
        let c = a.add(&b).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec_f32().unwrap(), vec![11., 21., 12., 22., 13., 23.]);
    });

    test_device!(fn integer_division_is_true_division(device) {
        let a = on(Tensor::from_i64(vec![7, -7], &[2]).unwrap(), device);
        let q = a.binary_scalar(Div, 2.0).unwrap();
        assert_eq!(q.dtype(), DType::F32);
        assert_eq!(q.to_vec_f32().unwrap(), vec![3.5, -3.5]);
    });

    test_device!(fn scalar_promotion_matches_pytorch(device) {
        let a = on(Tensor::from_i64(vec![1, 2], &[2]).unwrap(), device);
        assert_eq!(a.binary_scalar(Add, 1.0).unwrap().dtype(), DType::I64);
        assert_eq!(a.binary_scalar(Add, 0.5).unwrap().dtype(), DType::F32);
    });

    test_device!(fn integer_pow_rejects_negative_exponents(device) {
        let a = on(Tensor::from_i64(vec![2, 3], &[2]).unwrap(), device);
        let cube = a.binary_scalar(Pow, 3.0).unwrap();
        assert_eq!(cube.to_vec_i64().unwrap(), vec![8, 27]);
        assert_eq!(
            a.binary_scalar(Pow, -1.0).unwrap_err().code(),
            "InvalidArgument"
        );
    });

    test_device!(fn comparisons_give_bool(device) {
        let a = f(&[1., 2., 3.], &[3], device);
        let b = f(&[2.], &[1], device);
        let lt = a.binary(Lt, &b).unwrap();
        assert_eq!(lt.dtype(), DType::Bool);
        let CpuStorage::Bool(v) = lt.to_cpu_storage().unwrap() else {
            panic!("a bool tensor without bool storage");
        };
        assert_eq!(v, vec![true, false, false]);
    });

    test_device!(fn mismatched_shapes_are_reported(device) {
        let err = f(&[1., 2.], &[2], device)
            .add(&f(&[1., 2., 3.], &[3], device))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shapes [2] and [3] cannot be broadcast together (dim 0: 2 vs 3)"
        );
    });

    // Values printed by PyTorch 2.15 on the CPU: `x + 1/3` adds bfloat16's 1/3 (0.333984375),
    // `x * 0.1` multiplies by float32's 0.1; `torch.tensor([257]) * ones(bf16)` rounds 257 to 256
    // first and stays bfloat16.
    test_device!(fn bfloat16_operands_and_scalars_as_pytorch_takes_them(device) {
        let x = on(Tensor::from_f32(vec![0.0, 1.0, 0.375, 1.125], &[4]).unwrap(), device)
            .to_dtype(DType::BF16)
            .unwrap();
        let sum = x.binary_scalar(Add, 1.0 / 3.0).unwrap();
        assert_eq!(sum.dtype(), DType::BF16);
        // float32's 1/3 would give 0.70703125 at 0.375.
        assert_eq!(sum.to_vec_f64().unwrap(), [0.333984375, 1.3359375, 0.7109375, 1.4609375]);
        let eq = sum.binary_scalar(Eq, 1.0 / 3.0).unwrap();
        assert_eq!(eq.to_vec_f64().unwrap(), [1.0, 0.0, 0.0, 0.0]);
        // bfloat16's 0.1 would give 0.11279296875 at 1.125.
        let tenth = x.binary_scalar(Mul, 0.1).unwrap();
        assert_eq!(tenth.to_vec_f64().unwrap(), [0.0, 0.10009765625, 0.03759765625, 0.1123046875]);
        let ints = on(Tensor::from_i64(vec![257, 1, 2, 3], &[4]).unwrap(), device);
        for product in [ints.mul(&x).unwrap(), x.mul(&ints).unwrap()] {
            assert_eq!(product.dtype(), DType::BF16);
            assert_eq!(product.to_vec_f64().unwrap(), [0.0, 1.0, 0.75, 3.375]);
        }
        let ones = Tensor::ones(&[4], DType::BF16, device).unwrap();
        assert_eq!(ints.mul(&ones).unwrap().to_vec_f64().unwrap()[0], 256.0);
        let flags = on(Tensor::from_bool(vec![true, false, true, true], &[4]).unwrap(), device);
        assert_eq!(flags.add(&x).unwrap().to_vec_f64().unwrap(), [1.0, 1.0, 1.375, 2.125]);
    });

    /// The output and both gradients of `f` on leaves `a` and `b`, with `g` upstream.
    fn add_relu_outcome(
        f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
        a: &Tensor,
        b: &Tensor,
    ) -> [Vec<u32>; 3] {
        let (a, b) = (a.detach(), b.detach());
        a.set_requires_grad(true).unwrap();
        b.set_requires_grad(true).unwrap();
        let y = f(&a, &b).unwrap();
        let g = tensor(y.shape(), 7, y.device());
        y.backward(Some(&g), false).unwrap();
        let bits = |t: Tensor| {
            let t = t.to_dtype(DType::F32).unwrap();
            t.to_vec_f32()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        [bits(y), bits(a.grad().unwrap()), bits(b.grad().unwrap())]
    }

    test_device!(fn add_relu_is_add_then_relu_bit_for_bit(device) {
        let big = [4, 16, 32, 32];
        let mut with_nan: Vec<f32> = crate::testing::values(12, 3);
        with_nan[5] = f32::NAN;
        let pairs = [
            // Small, and large enough to be split across threads.
            (tensor(&[3, 4], 1, device), tensor(&[3, 4], 2, device)),
            (tensor(&big, 1, device), tensor(&big, 2, device)),
            // A transposed (strided) operand, a NaN, a broadcast one and bfloat16 ones.
            (tensor(&[4, 3], 1, device).transpose(0, 1).unwrap(), tensor(&[3, 4], 2, device)),
            (f(&with_nan, &[3, 4], device), tensor(&[3, 4], 2, device)),
            (tensor(&[3, 4], 1, device), tensor(&[4], 2, device)),
            (
                tensor(&[3, 4], 1, device).to_dtype(DType::BF16).unwrap(),
                tensor(&[3, 4], 2, device).to_dtype(DType::BF16).unwrap(),
            ),
        ];
        for (a, b) in &pairs {
            let fused = add_relu_outcome(|a, b| a.add_relu(b), a, b);
            let composed = add_relu_outcome(|a, b| a.add(b)?.relu(), a, b);
            assert_eq!(fused, composed, "{:?} + {:?}", a.shape(), b.shape());
            // Some outputs were clipped and some passed.
            assert!(fused[0].contains(&0) && fused[0].iter().any(|&v| f32::from_bits(v) > 0.0));
        }
    });
}
