use gemm::{gemm, Parallelism};
use half::bf16;
use rayon::prelude::*;

use super::Compute;
use crate::alloc;
use crate::cpu::bf16::{self as kernels, Element, Output, PackPairs, Strided};
use crate::cpu::PARALLEL_GEMM_MIN_FLOPS;
use crate::error::{Error, Result};
use crate::layout::{checked_numel, Layout};
use crate::nn::Activation;
use crate::storage::CpuStorage;

/// `a @ b` for operands laid out as `batched_matmul` takes them; `[m, k, n]` are the matrix dims.
/// `Compute::F32` takes float32 operands; `Compute::Bf16` either float dtype, and needs
/// `kernels::available()`.
pub(super) fn matmul(
    a: &CpuStorage,
    al: &Layout,
    b: &CpuStorage,
    bl: &Layout,
    [m, k, n]: [usize; 3],
    compute: Compute,
) -> Result<CpuStorage> {
    use CpuStorage as S;
    let dims = [m, k, n];
    let wrong = |what: &str| Error::Internal {
        op: "matmul",
        detail: format!("operands are not {what} storage"),
    };
    match compute {
        Compute::F32 => match (a, b) {
            (S::F32(a), S::F32(b)) => Ok(S::F32(batched_matmul(a, al, b, bl, m, k, n)?)),
            (S::F32(_) | S::BF16(_) | S::I64(_) | S::Bool(_), _) => Err(wrong("float32")),
        },
        Compute::Bf16 { round } => {
            if !kernels::available() {
                return Err(Error::Internal {
                    op: "matmul",
                    detail: "bf16 products on a CPU without AVX512-BF16".into(),
                });
            }
            match (a, b) {
                (S::F32(a), S::F32(b)) => bf16_products(a, al, b, bl, dims, round),
                (S::F32(a), S::BF16(b)) => bf16_products(a, al, b, bl, dims, round),
                (S::BF16(a), S::F32(b)) => bf16_products(a, al, b, bl, dims, round),
                (S::BF16(a), S::BF16(b)) => bf16_products(a, al, b, bl, dims, round),
                (S::F32(_) | S::BF16(_) | S::I64(_) | S::Bool(_), _) => Err(wrong("float")),
            }
        }
    }
}

/// The element offset of matrix `batch` of a layout broadcast to `batch_dims + [rows, cols]`.
fn batch_offset(layout: &Layout, batch_dims: &[usize], mut batch: usize) -> usize {
    let mut at = layout.offset();
    for d in (0..batch_dims.len()).rev() {
        at += (batch % batch_dims[d]) * layout.strides()[d];
        batch /= batch_dims[d];
    }
    at
}

/// `a @ b` per batch index through the bf16 kernels (float32 operands rounded as they are
/// packed): a bf16 result when `round`, else float32 straight from the float32 sums.
fn bf16_products<A: Element, B: Element>(
    a: &[A],
    al: &Layout,
    b: &[B],
    bl: &Layout,
    [m, k, n]: [usize; 3],
    round: bool,
) -> Result<CpuStorage>
where
    for<'x> Strided<'x, A>: PackPairs,
    for<'x> Strided<'x, B>: PackPairs,
{
    let batch_dims = &al.shape()[..al.rank() - 2];
    let batches: usize = batch_dims.iter().product();
    let len = checked_numel("matmul", &[batches, m, n])?;
    let (ar, br) = (al.rank(), bl.rank());
    // a's lines are its rows (k along its last dim); b's lines are its columns.
    let operands = |index: usize| {
        let a = Strided {
            data: a
                .get(batch_offset(al, batch_dims, index)..)
                .unwrap_or_default(),
            lines: m,
            k,
            line_stride: al.strides()[ar - 2],
            k_stride: al.strides()[ar - 1],
        };
        let b = Strided {
            data: b
                .get(batch_offset(bl, batch_dims, index)..)
                .unwrap_or_default(),
            lines: n,
            k,
            line_stride: bl.strides()[br - 1],
            k_stride: bl.strides()[br - 2],
        };
        (a, b)
    };
    // Large products split inside the kernel; a batch of small ones splits over the batch.
    let inside = m.saturating_mul(n).saturating_mul(k) >= PARALLEL_GEMM_MIN_FLOPS;
    let one = |index: usize, out: Output| {
        let (a, b) = operands(index);
        kernels::gemm([m, n], &a, &b, out, n, None, inside);
    };
    if round {
        let mut out = alloc::filled("matmul", len, bf16::ZERO)?;
        if m * n > 0 {
            let each = |(i, data): (usize, &mut [bf16])| one(i, Output::Bf16 { data });
            if inside {
                out.chunks_mut(m * n).enumerate().for_each(each);
            } else {
                out.par_chunks_mut(m * n).enumerate().for_each(each);
            }
        }
        Ok(CpuStorage::BF16(out))
    } else {
        let mut out = alloc::filled("matmul", len, 0f32)?;
        if m * n > 0 {
            let each = |(i, data): (usize, &mut [f32])| {
                one(
                    i,
                    Output::F32 {
                        data,
                        accumulate: false,
                    },
                )
            };
            if inside {
                out.chunks_mut(m * n).enumerate().for_each(each);
            } else {
                out.par_chunks_mut(m * n).enumerate().for_each(each);
            }
        }
        Ok(CpuStorage::F32(out))
    }
}

/// Output floats per task of `matmul_activated`'s bias and activation.
const EPILOGUE_BLOCK_FLOATS: usize = 16 * 1024;

/// `activation(a @ b + bias)` for `a` [m, k] and `b` [k, n] through their 2-D layouts: one gemm
/// (gemm per block of rows would pack `b` once per block, which cost more than a pass over the
/// output saves), then the bias and the activation in one pass over its rows, in place.
pub(super) fn matmul_activated(
    (a, al): (&[f32], &Layout),
    (b, bl): (&[f32], &Layout),
    [m, k, n]: [usize; 3],
    bias: Option<&[f32]>,
    activation: Activation,
) -> Result<Vec<f32>> {
    let mut out = alloc::filled("linear", checked_numel("linear", &[m, n])?, 0f32)?;
    if m * n == 0 {
        return Ok(out);
    }
    let parallelism = if m * n * k >= PARALLEL_GEMM_MIN_FLOPS {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the layouts were validated against the storages by the caller, so every element
    // gemm reads through these strides is inside `a` or `b`; `out` is m x n dense.
    unsafe {
        gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr().add(al.offset()),
            al.strides()[1] as isize,
            al.strides()[0] as isize,
            b.as_ptr().add(bl.offset()),
            bl.strides()[1] as isize,
            bl.strides()[0] as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
    let block_rows = (EPILOGUE_BLOCK_FLOATS / n).max(1);
    out.par_chunks_mut(block_rows * n).for_each(|rows| {
        for row in rows.chunks_exact_mut(n) {
            if let Some(bias) = bias {
                row.iter_mut().zip(bias).for_each(|(y, &b)| *y += b);
            }
            activation.apply(row);
        }
    });
    Ok(out)
}

/// `a @ b` for every batch index; `a` and `b` are viewed through layouts already broadcast to
/// `batch + [m, k]` and `batch + [k, n]`, so transposed and expanded operands need no copy.
fn batched_matmul(
    a: &[f32],
    al: &Layout,
    b: &[f32],
    bl: &Layout,
    m: usize,
    k: usize,
    n: usize,
) -> Result<Vec<f32>> {
    let batch_dims = &al.shape()[..al.rank() - 2];
    let batches: usize = batch_dims.iter().product();
    let mut out = alloc::filled("matmul", checked_numel("matmul", &[batches, m, n])?, 0f32)?;
    if m * n == 0 {
        return Ok(out);
    }
    let (ar, br) = (al.rank(), bl.rank());
    let one = |index: usize, dst: &mut [f32], parallelism: Parallelism| {
        let (ao, bo) = (
            batch_offset(al, batch_dims, index),
            batch_offset(bl, batch_dims, index),
        );
        // SAFETY: the layouts were validated against the storages by the caller, so every
        // element gemm reads through these strides is inside `a` or `b`; `dst` is m*n dense.
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr().add(ao),
                al.strides()[ar - 1] as isize,
                al.strides()[ar - 2] as isize,
                b.as_ptr().add(bo),
                bl.strides()[br - 1] as isize,
                bl.strides()[br - 2] as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            )
        }
    };
    if m * n * k >= PARALLEL_GEMM_MIN_FLOPS {
        let threads = Parallelism::Rayon(rayon::current_num_threads());
        out.chunks_mut(m * n)
            .enumerate()
            .for_each(|(i, dst)| one(i, dst, threads));
    } else {
        out.par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(i, dst)| one(i, dst, Parallelism::None));
    }
    Ok(out)
}
