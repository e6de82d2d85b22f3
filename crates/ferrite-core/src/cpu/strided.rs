use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::PARALLEL_MIN_ELEMS;
use crate::alloc;
use crate::error::Result;
use crate::layout::{checked_numel, Layout};

/// Elements handed to one rayon task: big enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 1 << 14;

/// Builds a dense row-major buffer of `shape` from operands viewed with `layouts` (each already
/// broadcast to `shape`). `fill` is called for each run of consecutive output elements along the
/// innermost dim with the output slice, every operand's storage index of the run's first element,
/// and every operand's stride along the run; kernels specialise on strides 0 and 1 so the common
/// cases compile to vector loops. The buffer comes from `alloc`, so a result too large to hold is
/// an `OutOfMemory` error reported under `op`.
pub(crate) fn collect_runs<const N: usize, U: Send>(
    op: &'static str,
    shape: &[usize],
    layouts: [&Layout; N],
    fill: impl Fn(&mut [MaybeUninit<U>], [usize; N], [usize; N]) + Sync,
) -> Result<Vec<U>> {
    let numel = checked_numel(op, shape)?;
    let mut out = alloc::with_capacity(op, numel)?;
    if numel > 0 {
        let (dims, strides) = coalesce(shape, layouts.map(|l| l.strides()));
        let offsets = layouts.map(|l| l.offset());
        let spare = &mut out.spare_capacity_mut()[..numel];
        let fill_chunk = |start: usize, chunk: &mut [MaybeUninit<U>]| {
            fill_from(&dims, &strides, offsets, start, chunk, &fill)
        };
        if numel >= PARALLEL_MIN_ELEMS {
            spare
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, c)| fill_chunk(i * CHUNK, c));
        } else {
            fill_chunk(0, spare);
        }
    }
    // SAFETY: `fill_from` hands every element of `spare` to `fill`, whose contract is to write it.
    unsafe { out.set_len(numel) };
    Ok(out)
}

fn fill_from<const N: usize, U>(
    dims: &[usize],
    strides: &[[usize; N]],
    offsets: [usize; N],
    start: usize,
    chunk: &mut [MaybeUninit<U>],
    fill: &impl Fn(&mut [MaybeUninit<U>], [usize; N], [usize; N]),
) {
    let last = dims.len() - 1;
    let mut index = vec![0; dims.len()];
    let mut rest = start;
    for d in (0..dims.len()).rev() {
        index[d] = rest % dims[d];
        rest /= dims[d];
    }
    let mut pos = 0;
    while pos < chunk.len() {
        let take = (dims[last] - index[last]).min(chunk.len() - pos);
        let mut at = offsets;
        for (d, &i) in index.iter().enumerate() {
            for k in 0..N {
                at[k] += i * strides[d][k];
            }
        }
        fill(&mut chunk[pos..pos + take], at, strides[last]);
        pos += take;
        index[last] += take;
        let mut d = last;
        while d > 0 && index[d] == dims[d] {
            index[d] = 0;
            d -= 1;
            index[d] += 1;
        }
    }
}

/// Drops size-1 dims and merges neighbours that are contiguous in every operand, so that runs are
/// as long as possible. Always returns at least one dim.
fn coalesce<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
) -> (Vec<usize>, Vec<[usize; N]>) {
    let mut dims: Vec<usize> = Vec::with_capacity(shape.len());
    let mut merged: Vec<[usize; N]> = Vec::with_capacity(shape.len());
    for (d, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let s: [usize; N] = std::array::from_fn(|k| strides[k][d]);
        if let (Some(prev_size), Some(prev)) = (dims.last_mut(), merged.last_mut()) {
            if (0..N).all(|k| prev[k] == s[k] * size) {
                *prev_size *= size;
                *prev = s;
                continue;
            }
        }
        dims.push(size);
        merged.push(s);
    }
    if dims.is_empty() {
        dims.push(1);
        merged.push([0; N]);
    }
    (dims, merged)
}

/// `f` over every element of a strided view, into a new dense buffer.
pub(crate) fn map_strided<T: Copy + Sync, U: Send>(
    op: &'static str,
    x: &[T],
    layout: &Layout,
    f: impl Fn(T) -> U + Sync,
) -> Result<Vec<U>> {
    collect_runs(
        op,
        layout.shape(),
        [layout],
        |out: &mut [MaybeUninit<U>], [at], [step]| {
            let n = out.len();
            if step == 1 {
                for (o, &v) in out.iter_mut().zip(&x[at..at + n]) {
                    o.write(f(v));
                }
            } else {
                for (i, o) in out.iter_mut().enumerate() {
                    o.write(f(x[at + i * step]));
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(shape: &[usize], layout: &Layout, data: &[i64]) -> Vec<i64> {
        collect_runs("test", shape, [layout], |out, [at], [step]| {
            for (i, o) in out.iter_mut().enumerate() {
                o.write(data[at + i * step]);
            }
        })
        .unwrap()
    }

    #[test]
    fn transposed_view_is_read_in_logical_order() {
        let data: Vec<i64> = (0..6).collect();
        let t = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        assert_eq!(gather(&[3, 2], &t, &data), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn parallel_chunks_cover_large_outputs_exactly() {
        let n = PARALLEL_MIN_ELEMS * 3 + 7;
        let data: Vec<i64> = (0..n as i64).collect();
        let t = Layout::contiguous(&[n, 1]).permute(&[1, 0]);
        assert_eq!(gather(&[1, n], &t, &data), data);
        let rows = Layout::new(vec![3, n / 3], vec![n / 3, 1], 1);
        let got = gather(&[3, n / 3], &rows, &data);
        assert_eq!(got, data[1..1 + 3 * (n / 3)]);
    }

    #[test]
    fn broadcast_dims_repeat_values() {
        let data = vec![10, 20];
        let b = Layout::contiguous(&[2, 1]).broadcast_to(&[2, 3]);
        assert_eq!(gather(&[2, 3], &b, &data), vec![10, 10, 10, 20, 20, 20]);
    }
}
