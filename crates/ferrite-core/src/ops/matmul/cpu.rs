use gemm::{gemm, Parallelism};
use rayon::prelude::*;

use crate::alloc;
use crate::cpu::PARALLEL_GEMM_MIN_FLOPS;
use crate::error::{Error, Result};
use crate::layout::{checked_numel, Layout};
use crate::storage::CpuStorage;

/// `a @ b` for float32 operands laid out as `batched_matmul` takes them; `[m, k, n]` are the
/// matrix dims.
pub(super) fn matmul(
    a: &CpuStorage,
    al: &Layout,
    b: &CpuStorage,
    bl: &Layout,
    [m, k, n]: [usize; 3],
) -> Result<CpuStorage> {
    use CpuStorage as S;
    match (a, b) {
        (S::F32(a), S::F32(b)) => Ok(S::F32(batched_matmul(a, al, b, bl, m, k, n)?)),
        (S::F32(_) | S::BF16(_) | S::I64(_) | S::Bool(_), _) => Err(Error::Internal {
            op: "matmul",
            detail: "operands are not float32 storage".into(),
        }),
    }
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
    let offset_of = |layout: &Layout, mut batch: usize| {
        let mut at = layout.offset();
        for d in (0..batch_dims.len()).rev() {
            at += (batch % batch_dims[d]) * layout.strides()[d];
            batch /= batch_dims[d];
        }
        at
    };
    let one = |index: usize, dst: &mut [f32], parallelism: Parallelism| {
        let (ao, bo) = (offset_of(al, index), offset_of(bl, index));
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
