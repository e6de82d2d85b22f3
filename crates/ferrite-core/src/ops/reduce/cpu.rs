use rayon::prelude::*;

use super::{ReduceOp, Rows};
use crate::cpu::PARALLEL_MIN_ELEMS;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::CpuStorage;

/// Folds the `rows.rows` runs of `rows.len` elements of the contiguous `input` viewed through
/// `layout`; each dtype's folds are listed below it.
pub(super) fn reduce(
    op: ReduceOp,
    input: &CpuStorage,
    layout: &Layout,
    rows: &Rows,
) -> Result<CpuStorage> {
    let name = op.name();
    Ok(match input {
        CpuStorage::F32(_) => float(op, input.slice(name, layout)?, rows),
        CpuStorage::BF16(_) => {
            return Err(Error::Internal {
                op: name,
                detail: "bfloat16 reductions run in float32 (see Tensor::reduce)".into(),
            })
        }
        CpuStorage::I64(_) => int(op, input.slice(name, layout)?, rows),
        CpuStorage::Bool(_) => logic(op, input.slice(name, layout)?, rows),
    })
}

fn float(op: ReduceOp, x: &[f32], rows: &Rows) -> CpuStorage {
    use CpuStorage as S;
    use ReduceOp::*;
    let (n, k) = (rows.rows, rows.len);
    match op {
        Sum => S::F32(per_row(x, n, k, |r| sum_f32(r) as f32)),
        Mean => S::F32(per_row(x, n, k, |r| (sum_f32(r) / k as f64) as f32)),
        Max => S::F32(per_row(x, n, k, |r| extreme(r, f32_beats(true)).0)),
        Min => S::F32(per_row(x, n, k, |r| extreme(r, f32_beats(false)).0)),
        ArgMax => S::I64(per_row(x, n, k, |r| extreme(r, f32_beats(true)).1 as i64)),
        ArgMin => S::I64(per_row(x, n, k, |r| extreme(r, f32_beats(false)).1 as i64)),
    }
}

fn int(op: ReduceOp, x: &[i64], rows: &Rows) -> CpuStorage {
    use CpuStorage as S;
    use ReduceOp::*;
    let (n, k) = (rows.rows, rows.len);
    match op {
        // `mean` refuses integers before the kernel; a sum stands in for it here.
        Sum | Mean => S::I64(per_row(x, n, k, |r| {
            r.iter().fold(0i64, |a, &b| a.wrapping_add(b))
        })),
        Max => S::I64(per_row(x, n, k, |r| extreme(r, |a, b| a > b).0)),
        Min => S::I64(per_row(x, n, k, |r| extreme(r, |a, b| a < b).0)),
        ArgMax => S::I64(per_row(x, n, k, |r| extreme(r, |a, b| a > b).1 as i64)),
        ArgMin => S::I64(per_row(x, n, k, |r| extreme(r, |a, b| a < b).1 as i64)),
    }
}

fn logic(op: ReduceOp, x: &[bool], rows: &Rows) -> CpuStorage {
    use CpuStorage as S;
    use ReduceOp::*;
    let (n, k) = (rows.rows, rows.len);
    match op {
        Sum | Mean => S::I64(per_row(x, n, k, |r| {
            r.iter().filter(|&&b| b).count() as i64
        })),
        Max => S::Bool(per_row(x, n, k, |r| r.iter().any(|&b| b))),
        Min => S::Bool(per_row(x, n, k, |r| r.iter().all(|&b| b))),
        ArgMax => S::I64(per_row(x, n, k, |r| extreme(r, |a, b| a & !b).1 as i64)),
        ArgMin => S::I64(per_row(x, n, k, |r| extreme(r, |a, b| !a & b).1 as i64)),
    }
}

/// `fold` applied to each run of `k` elements; rows go to rayon when the input is large.
fn per_row<T: Sync, U: Send>(
    data: &[T],
    rows: usize,
    k: usize,
    fold: impl Fn(&[T]) -> U + Sync + Send,
) -> Vec<U> {
    if k == 0 {
        // Only sums and means get here (the caller rejects the rest): zero and NaN per row.
        return (0..rows).map(|_| fold(&[])).collect();
    }
    if data.len() >= PARALLEL_MIN_ELEMS && rows > 1 {
        data.par_chunks(k).map(fold).collect()
    } else {
        data.chunks(k).map(fold).collect()
    }
}

/// Sum in f64 over four lanes: `sum()` is what users check totals with, so it pays for f64
/// accumulation (`cpu::lane_sum`'s f32 lanes drift visibly over a million elements). Long rows
/// split across threads.
fn sum_f32(row: &[f32]) -> f64 {
    fn block(b: &[f32]) -> f64 {
        let mut lanes = [0f64; 4];
        let mut chunks = b.chunks_exact(4);
        for c in &mut chunks {
            for i in 0..4 {
                lanes[i] += c[i] as f64;
            }
        }
        lanes.iter().sum::<f64>() + chunks.remainder().iter().map(|&v| v as f64).sum::<f64>()
    }
    if row.len() >= PARALLEL_MIN_ELEMS {
        row.par_chunks(PARALLEL_MIN_ELEMS / 4).map(block).sum()
    } else {
        block(row)
    }
}

/// "a beats b" for max (or min) on floats: NaN beats everything, as PyTorch propagates it.
fn f32_beats(max: bool) -> impl Fn(f32, f32) -> bool + Copy {
    move |a: f32, b: f32| !b.is_nan() && (a.is_nan() || if max { a > b } else { a < b })
}

/// The first element that no later one beats, and its index.
fn extreme<T: Copy>(row: &[T], beats: impl Fn(T, T) -> bool) -> (T, usize) {
    let mut best = (row[0], 0);
    for (i, &v) in row.iter().enumerate().skip(1) {
        if beats(v, best.0) {
            best = (v, i);
        }
    }
    best
}
