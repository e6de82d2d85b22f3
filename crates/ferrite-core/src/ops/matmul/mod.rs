//! `matmul` with PyTorch's rules: 1-D operands are promoted to matrices and squeezed back,
//! leading (batch) dims broadcast.

mod cpu;
pub(crate) mod cuda;

use crate::autocast::Policy;
use crate::autograd::{record, Backward};
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::{broadcast_shapes, signed};
use crate::nn::Activation;
use crate::storage::{mismatch, CpuStorage, Storage};
use crate::tensor::Tensor;

/// How a product is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compute {
    /// float32 operands, products and result.
    F32,
    /// bf16 products summed in float32 (operands of either float dtype, rounded as the kernel
    /// packs them), the result rounded to bf16 or (`round` false) left float32.
    Bf16 { round: bool },
}

impl Tensor {
    /// `self @ rhs` with PyTorch's rules. float32 operands give float32; bf16 ones (or either
    /// under autocast) bf16 products summed in float32, a bf16 result.
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.same_device("matmul", rhs)?;
        for t in [self, rhs] {
            match t.dtype() {
                DType::F32 | DType::BF16 => {}
                DType::I64 | DType::Bool => {
                    return Err(Error::dtype(
                        "matmul",
                        "float32 or bfloat16 tensors",
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
        self.matmul_sums(rhs, true)
    }

    /// `self @ rhs` as [`Tensor::matmul`] computes it but with its sums left in float32 where
    /// `matmul` would round them to bf16, for an epilogue that PyTorch adds before that rounding
    /// (`linear`'s bias).
    pub(crate) fn matmul_unrounded(&self, rhs: &Tensor) -> Result<Tensor> {
        self.matmul_sums(rhs, false)
    }

    /// `matmul`, its bf16 results rounded from the float32 sums only when `round`.
    fn matmul_sums(&self, rhs: &Tensor, round: bool) -> Result<Tensor> {
        let policy = Policy::lower_precision("matmul", &[self, rhs])?;
        match (policy.compute, policy.native) {
            (DType::BF16, true) => self.product(rhs, Compute::Bf16 { round }),
            (DType::BF16, false) => matmul_through_f32(self, rhs, round),
            (DType::F32, _) => {
                let (a, b) = (self.to_dtype(DType::F32)?, rhs.to_dtype(DType::F32)?);
                a.product(&b, Compute::F32)
            }
            (other @ (DType::I64 | DType::Bool), _) => Err(Error::Internal {
                op: "matmul",
                detail: format!("a lower-precision policy computing in {other}"),
            }),
        }
    }

    /// `activation(self @ rhs + bias)` for float32 CPU matrices `self` [m, k] and `rhs` [k, n]
    /// (any strides) and a [n] bias, with the bias and activation applied to each block of output
    /// rows right after its gemm, while it is in cache. Not recorded for autograd: the kernel of
    /// `linear_activated` where that runs as one op, which checks the shapes, dtypes and device.
    pub(crate) fn matmul_activated(
        &self,
        rhs: &Tensor,
        bias: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Tensor> {
        let (m, k, n) = (self.shape()[0], self.shape()[1], rhs.shape()[1]);
        let bias = bias.map(Tensor::contiguous).transpose()?;
        let bias_storage = bias.as_ref().map(|b| b.storage().read());
        let out = match (&*self.storage().read(), &*rhs.storage().read()) {
            (Storage::Cpu(CpuStorage::F32(a)), Storage::Cpu(CpuStorage::F32(b))) => {
                let bias = match (&bias, &bias_storage) {
                    (Some(t), Some(storage)) => match &**storage {
                        Storage::Cpu(s) => Some(s.slice::<f32>("linear", t.layout())?),
                        Storage::Cuda(_) => {
                            return Err(Error::Internal {
                                op: "linear",
                                detail: "a CUDA bias for the fused CPU kernel".into(),
                            })
                        }
                    },
                    _ => None,
                };
                let (al, bl) = (self.layout(), rhs.layout());
                let dims = [m, k, n];
                cpu::matmul_activated((a, al), (b, bl), dims, bias, activation)?
            }
            _ => {
                return Err(Error::Internal {
                    op: "linear",
                    detail: "the fused linear kernel takes float32 CPU operands".into(),
                })
            }
        };
        Ok(Tensor::from_storage(
            Storage::Cpu(CpuStorage::F32(out)),
            &[m, n],
        ))
    }

    /// `self @ rhs` computed as `compute` says, recorded for autograd.
    fn product(&self, rhs: &Tensor, compute: Compute) -> Result<Tensor> {
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
                Storage::Cpu(cpu::matmul(x, &al, y, &bl, [m, k, n], compute)?)
            }
            (Storage::Cuda(x), Storage::Cuda(y)) => match compute {
                Compute::F32 => Storage::Cuda(cuda::matmul((x, &al), (y, &bl), [m, k, n])?),
                // `native_bf16` is false on CUDA, so bf16 products never come here.
                Compute::Bf16 { .. } => {
                    return Err(Error::Internal {
                        op: "matmul",
                        detail: "bf16 products on a CUDA device".into(),
                    })
                }
            },
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
            compute,
        }))
    }
}

/// bf16 operands where no bf16 kernels run (a CPU without AVX512-BF16, CUDA): float32 copies
/// multiplied in float32, the result rounded once (when `round`); the casts carry the gradients
/// back.
fn matmul_through_f32(a: &Tensor, b: &Tensor, round: bool) -> Result<Tensor> {
    let (a, b) = (a.to_dtype(DType::F32)?, b.to_dtype(DType::F32)?);
    let sums = a.product(&b, Compute::F32)?;
    if round {
        sums.to_dtype(DType::BF16)
    } else {
        Ok(sums)
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
    compute: Compute,
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
        // Each gradient in its operand's dtype: from bf16 products, a float32 operand's straight
        // from the float32 sums, never rounded through bf16.
        let compute_for = |operand: &Tensor| match self.compute {
            Compute::F32 => Compute::F32,
            Compute::Bf16 { .. } => Compute::Bf16 {
                round: operand.dtype() == DType::BF16,
            },
        };
        // A gradient is computed in its operand's memory order: for a transposed operand (the
        // weight in `linear`) as the transpose of the product the other way round, so handing it
        // back through the transpose copies nothing.
        let transposed =
            |t: &Tensor| t.layout().strides()[t.rank() - 2] == 1 && t.shape()[t.rank() - 1] > 1;
        let t = |x: &Tensor| x.transpose(-1, -2);
        let da = needs[0]
            .then(|| {
                let compute = compute_for(&self.lhs);
                let da = if transposed(&a) {
                    t(&b.product(&t(&g)?, compute)?)?
                } else {
                    g.product(&t(&b)?, compute)?
                };
                da.sum_to_shape(a.shape())?
                    .reshape(&signed(self.lhs.shape()))
            })
            .transpose()?;
        let db = needs[1]
            .then(|| {
                let compute = compute_for(&self.rhs);
                let db = if transposed(&b) {
                    t(&t(&g)?.product(&a, compute)?)?
                } else {
                    t(&a)?.product(&g, compute)?
                };
                db.sum_to_shape(b.shape())?
                    .reshape(&signed(self.rhs.shape()))
            })
            .transpose()?;
        Ok(vec![da, db])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autocast::{self, DeviceType};
    use crate::device::Device;
    use crate::testing::{assert_close, gradcheck, leaf_on, tensor, test_device, values};

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

    test_device!(fn gradients_of_transposed_operands_match_finite_differences(device) {
        // Transposed operands get their gradients computed transposed (see the backward).
        let (a, b) = (leaf_on(&[4, 3], 16, device), leaf_on(&[5, 4], 17, device));
        gradcheck(&[a, b], |x| {
            x[0].transpose(0, 1)?.matmul(&x[1].transpose(0, 1)?)
        });
        let (a, b) = (leaf_on(&[2, 4, 3], 18, device), leaf_on(&[5, 4], 19, device));
        gradcheck(&[a, b], |x| {
            x[0].transpose(-1, -2)?.matmul(&x[1].transpose(0, 1)?)
        });
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
            "matmul: expected float32 or bfloat16 tensors, got int64 (shapes [2, 3] and [3, 2])"
        );
        let scalar = from(vec![1.0], &[], device);
        assert_eq!(a.matmul(&scalar).unwrap_err().code(), "ShapeMismatch");
    });

    /// Autocast on for the CPU while alive.
    struct Autocast(Option<DType>);

    impl Autocast {
        fn cpu() -> Autocast {
            Autocast(autocast::set(DeviceType::Cpu, Some(DType::BF16)).unwrap())
        }
    }

    impl Drop for Autocast {
        fn drop(&mut self) {
            autocast::set(DeviceType::Cpu, self.0).unwrap();
        }
    }

    /// Checks `got` (m x n) against `a @ b` in f64 for row-major `a` (m x k) and `b` (k x n):
    /// each operand rounded to bf16 (relative 2^-8 each), float32 sums over k, and (`rounded`)
    /// the result rounded to bf16.
    fn assert_bf16_close(got: &[f64], a: &[f32], b: &[f32], [m, k, n]: [usize; 3], rounded: bool) {
        for i in 0..m {
            for j in 0..n {
                let terms = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64);
                let want: f64 = terms.clone().sum();
                let size: f64 = terms.map(f64::abs).sum();
                let mut tol = size * (2f64.powi(-7) + 2f64.powi(-16) + k as f64 * 2f64.powi(-24));
                if rounded {
                    tol += (want.abs() + tol) * 2f64.powi(-8);
                }
                let g = got[i * n + j];
                assert!((g - want).abs() <= tol, "[{i},{j}]: {g} vs {want} ± {tol}");
            }
        }
    }

    fn as_leaf(t: Tensor) -> Tensor {
        let t = t.detach();
        t.set_requires_grad(true).unwrap();
        t
    }

    fn bf16(t: &Tensor) -> Tensor {
        t.to_dtype(DType::BF16).unwrap()
    }

    /// The values of a bf16 tensor (exactly those of its float32 source where that was rounded).
    fn rounded(t: &Tensor) -> Vec<f32> {
        bf16(t)
            .to_vec_f64()
            .unwrap()
            .iter()
            .map(|&x| x as f32)
            .collect()
    }

    #[test]
    fn bf16_operands_give_bf16_within_bf16_rounding() {
        let device = Device::Cpu;
        let (m, k, n) = (130, 70, 90);
        let (ta, tb) = (tensor(&[m, k], 1, device), tensor(&[k, n], 2, device));
        let (a, b) = (rounded(&ta), rounded(&tb));
        let c = bf16(&ta).matmul(&bf16(&tb)).unwrap();
        assert_eq!(c.dtype(), DType::BF16);
        assert_bf16_close(&c.to_vec_f64().unwrap(), &a, &b, [m, k, n], true);
        // Transposed views: (B^T A^T)^T.
        let (bt, at) = (
            bf16(&tb).transpose(0, 1).unwrap(),
            bf16(&ta).transpose(0, 1).unwrap(),
        );
        let c2 = bt.matmul(&at).unwrap().transpose(0, 1).unwrap();
        assert_bf16_close(&c2.to_vec_f64().unwrap(), &a, &b, [m, k, n], true);
        // A broadcast batch and a vector.
        let (x, w) = (tensor(&[2, 4, 3], 3, device), tensor(&[3, 5], 4, device));
        let batched = bf16(&x).matmul(&bf16(&w)).unwrap();
        assert_eq!(batched.shape(), &[2, 4, 5]);
        let got = batched.to_vec_f64().unwrap();
        assert_bf16_close(
            &got[20..],
            &rounded(&x)[12..],
            &rounded(&w),
            [4, 3, 5],
            true,
        );
        let v = tensor(&[3], 5, device);
        let mv = bf16(&w.transpose(0, 1).unwrap()).matmul(&bf16(&v)).unwrap();
        assert_eq!((mv.shape(), mv.dtype()), (&[5][..], DType::BF16));
        let wt: Vec<f32> = rounded(&w.transpose(0, 1).unwrap().contiguous().unwrap());
        assert_bf16_close(
            &mv.to_vec_f64().unwrap(),
            &wt,
            &rounded(&v),
            [5, 3, 1],
            true,
        );
    }

    /// The float32 gradients of `(a @ b) * c` summed, for comparison.
    fn float32_grads(a: &Tensor, b: &Tensor, c: &Tensor) -> (Vec<f32>, Vec<f32>) {
        let (a, b) = (as_leaf(a.clone()), as_leaf(b.clone()));
        let y = a.matmul(&b).unwrap();
        y.mul(c)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        let grad = |t: &Tensor| t.grad().unwrap().to_vec_f32().unwrap();
        (grad(&a), grad(&b))
    }

    /// Within what rounding the upstream gradient and the other operand to bf16 (2^-8 each)
    /// allows, each gradient being a sum of `k` products of values in [-1, 1], plus rounding the
    /// gradient itself to bf16.
    fn assert_grad_close(got: &[f32], want: &[f32], k: usize) {
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let tol = k as f64 * 2f64.powi(-7) + (w as f64).abs() * 2f64.powi(-8);
            assert!(
                (g as f64 - w as f64).abs() <= tol,
                "[{i}]: {g} vs {w} ± {tol}"
            );
        }
    }

    #[test]
    fn under_autocast_float32_operands_give_bf16_and_float32_gradients() {
        let device = Device::Cpu;
        let (m, k, n) = (33, 40, 50);
        let (a, b) = (leaf_on(&[m, k], 6, device), leaf_on(&[k, n], 7, device));
        let c = tensor(&[m, n], 8, device);
        let native = autocast::native_bf16(device);
        let y = {
            let _on = Autocast::cpu();
            a.matmul(&b).unwrap()
        };
        // Without AVX512-BF16 autocast leaves the product in float32.
        assert_eq!(y.dtype(), if native { DType::BF16 } else { DType::F32 });
        assert_bf16_close(
            &y.to_vec_f64().unwrap(),
            &a.to_vec_f32().unwrap(),
            &b.to_vec_f32().unwrap(),
            [m, k, n],
            native,
        );
        let upstream = y.to_dtype(DType::F32).unwrap().mul(&c).unwrap();
        upstream
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        let (ga, gb) = (a.grad().unwrap(), b.grad().unwrap());
        assert_eq!((ga.dtype(), gb.dtype()), (DType::F32, DType::F32));
        let (ga, gb) = (ga.to_vec_f32().unwrap(), gb.to_vec_f32().unwrap());
        let (wa, wb) = float32_grads(&a, &b, &c);
        assert_grad_close(&ga, &wa, n);
        assert_grad_close(&gb, &wb, m);
        if native {
            // Straight from the float32 sums: not every gradient is a bf16 value.
            assert!(ga.iter().chain(&gb).any(|x| x.to_bits() & 0xffff != 0));
        }
    }

    #[test]
    fn bf16_leaves_get_bf16_gradients_near_the_float32_ones() {
        let device = Device::Cpu;
        let (m, k, n) = (20, 30, 17);
        let (a32, b32) = (tensor(&[m, k], 9, device), tensor(&[k, n], 10, device));
        let (a, b) = (as_leaf(bf16(&a32)), as_leaf(bf16(&b32)));
        let c = tensor(&[m, n], 11, device);
        let y = a.matmul(&b).unwrap();
        assert_eq!(y.dtype(), DType::BF16);
        let upstream = y.to_dtype(DType::F32).unwrap().mul(&c).unwrap();
        upstream
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        let (ga, gb) = (a.grad().unwrap(), b.grad().unwrap());
        assert_eq!((ga.dtype(), gb.dtype()), (DType::BF16, DType::BF16));
        let as_f32 = |t: Tensor| t.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap();
        let (wa, wb) = float32_grads(
            &a.to_dtype(DType::F32).unwrap(),
            &b.to_dtype(DType::F32).unwrap(),
            &c,
        );
        assert_grad_close(&as_f32(ga), &wa, n);
        assert_grad_close(&as_f32(gb), &wb, m);
    }

    #[test]
    fn without_bf16_kernels_bf16_products_run_in_float32() {
        let device = Device::Cpu;
        let (m, k, n) = (9, 31, 12);
        let (a32, b32) = (tensor(&[m, k], 12, device), tensor(&[k, n], 13, device));
        let (a, b) = (as_leaf(bf16(&a32)), as_leaf(bf16(&b32)));
        let y = matmul_through_f32(&a, &b, true).unwrap();
        assert_eq!(y.dtype(), DType::BF16);
        assert_bf16_close(
            &y.to_vec_f64().unwrap(),
            &rounded(&a32),
            &rounded(&b32),
            [m, k, n],
            true,
        );
        y.to_dtype(DType::F32)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        assert_eq!(a.grad().unwrap().dtype(), DType::BF16);
        // d(sum(a @ b))/da[i][p] = sum_j b[p][j], rounded once.
        let ga = a.grad().unwrap().to_vec_f64().unwrap();
        let bv = rounded(&b32);
        for (i, g) in ga.iter().enumerate() {
            let p = i % k;
            let want: f64 = (0..n).map(|j| bv[p * n + j] as f64).sum();
            assert!(
                (g - want).abs() <= want.abs() * 2f64.powi(-8) + 1e-6,
                "{g} vs {want}"
            );
        }
    }

    #[test]
    fn mixed_dtypes_need_autocast() {
        let a = tensor(&[2, 3], 14, Device::Cpu);
        let h = bf16(&tensor(&[3, 2], 15, Device::Cpu));
        let err = a.matmul(&h).unwrap_err();
        assert_eq!(err.code(), "DTypeMismatch");
        let _on = Autocast::cpu();
        let y = a.matmul(&h).unwrap();
        let native = autocast::native_bf16(Device::Cpu);
        assert_eq!(y.dtype(), if native { DType::BF16 } else { DType::F32 });
    }
}
