//! The CUDA kernels of the reductions (`reduce.cu`): each row of a dense [rows, len] input folded
//! by a group of threads, several rows per block when rows are short.

use super::{ReduceOp, Rows};
use crate::cuda::{self, CudaStorage, LaunchConfig, Module};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::copy::cuda::{base, dense, tag};

pub(crate) static MODULE: Module = Module::new("reduce", include_str!("reduce.cu"));

/// Threads per block: `REDUCE_THREADS` in reduce.cu, the size of its shared arrays.
const THREADS: usize = 256;
/// Blocks per launch; the kernels loop over further rows.
const MAX_BLOCKS: usize = 65_535;

/// Folds the `rows.rows` runs of `rows.len` elements of the contiguous `input` viewed through
/// `layout`, with the CPU's result dtypes: sums of integers and bools are int64, max and min keep
/// the dtype, indices are int64.
pub(super) fn reduce(
    op: ReduceOp,
    input: &CudaStorage,
    layout: &Layout,
    rows: &Rows,
) -> Result<CudaStorage> {
    let name = op.name();
    let dtype = input.dtype();
    let out_dtype = match (op, dtype) {
        (_, DType::BF16) => return Err(bf16_input(name)),
        (ReduceOp::Sum | ReduceOp::Mean, DType::F32) => DType::F32,
        (ReduceOp::Sum | ReduceOp::Mean, DType::I64 | DType::Bool) => DType::I64,
        (ReduceOp::Max | ReduceOp::Min, _) => dtype,
        (ReduceOp::ArgMax | ReduceOp::ArgMin, _) => DType::I64,
    };
    let out = CudaStorage::alloc_dtype(input.device(), out_dtype, rows.rows)?;
    if rows.rows == 0 {
        return Ok(out);
    }
    let x = dense(name, input, layout)?;
    let (y, count, len) = (base(name, &out)?, rows.rows as i64, rows.len as i64);
    let device = input.device();
    let config = config(rows);
    match op {
        ReduceOp::Sum | ReduceOp::Mean => {
            let kernel = format!("reduce_sum_{}", tag(dtype));
            let mean = (op == ReduceOp::Mean) as i32;
            // SAFETY: `reduce_sum_f32(const float*, float*, long long rows, long long len, int
            // mean)` and `reduce_sum_{i64,bool}(const T*, long long*, long long, long long)`
            // match the arguments (the int64 and bool kernels take no `mean`, which `mean`
            // refuses for them before the kernel); `x` is the first of `rows * len` dense
            // elements of the input, `y` a fresh storage of `rows` elements of the output dtype.
            unsafe {
                match dtype {
                    DType::F32 => device.launch(
                        name,
                        &MODULE,
                        &kernel,
                        config,
                        &mut cuda::args![x, y, count, len, mean],
                    ),
                    DType::I64 | DType::Bool => device.launch(
                        name,
                        &MODULE,
                        &kernel,
                        config,
                        &mut cuda::args![x, y, count, len],
                    ),
                    DType::BF16 => Err(bf16_input(name)),
                }?;
            }
        }
        ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let kernel = format!("reduce_extreme_{}", tag(dtype));
            let values_only = matches!(op, ReduceOp::Max | ReduceOp::Min);
            let (values, indices) = if values_only { (y, 0u64) } else { (0u64, y) };
            let max = matches!(op, ReduceOp::Max | ReduceOp::ArgMax) as i32;
            // SAFETY: `reduce_extreme_<dtype>(const T*, T* values, long long* indices, long long
            // rows, long long len, int max)` matches the arguments and skips a null output; `x`
            // is the first of `rows * len` dense elements, and the one non-null output is a
            // fresh storage of `rows` elements of T (values) or int64 (indices).
            unsafe {
                device.launch(
                    name,
                    &MODULE,
                    &kernel,
                    config,
                    &mut cuda::args![x, values, indices, count, len, max],
                )?;
            }
        }
    }
    Ok(out)
}

/// `blockDim.x` threads per row (a power of two up to THREADS, no wider than the row needs) and
/// THREADS / blockDim.x rows per block.
fn config(rows: &Rows) -> LaunchConfig {
    let per_row = rows.len.clamp(1, THREADS).next_power_of_two();
    let rows_per_block = THREADS / per_row;
    let blocks = rows.rows.div_ceil(rows_per_block).clamp(1, MAX_BLOCKS);
    LaunchConfig {
        grid: (blocks as u32, 1, 1),
        block: (per_row as u32, rows_per_block as u32, 1),
        shared_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::ops::copy::cases::{assert_same_gradients, cases_of, SHAPES};
    use crate::testing::{assert_same_values, cuda_test, floats, values};
    use crate::Tensor;

    const OPS: [ReduceOp; 6] = [
        ReduceOp::Sum,
        ReduceOp::Mean,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::ArgMax,
        ReduceOp::ArgMin,
    ];

    /// `op` over `dims` on the device and on the CPU: the same values (1e-4 relative), or the
    /// same error.
    #[track_caller]
    fn check(op: ReduceOp, dev: &Tensor, cpu: &Tensor, dims: &[i64], keep_dim: bool, what: &str) {
        match (
            dev.reduce(op, dims, keep_dim),
            cpu.reduce(op, dims, keep_dim),
        ) {
            (Ok(got), Ok(want)) => assert_same_values(&got, &want, 1e-4),
            (Err(got), Err(want)) => assert_eq!(got.to_string(), want.to_string(), "{what}"),
            (got, want) => panic!("{what}: {got:?} on the device, {want:?} on the CPU"),
        }
    }

    /// Every subset of the dims of a tensor of rank `rank` (the empty one meaning all).
    fn dim_sets(rank: usize) -> Vec<Vec<i64>> {
        (0..1u32 << rank)
            .map(|mask| (0..rank as i64).filter(|&d| mask & (1 << d) != 0).collect())
            .collect()
    }

    cuda_test!(fn cuda_reductions_match_the_cpu_over_every_dim_set(device) {
        for shape in SHAPES {
            for dtype in [DType::F32, DType::I64, DType::Bool] {
                for case in cases_of(dtype, shape, 6, device) {
                    for dims in dim_sets(shape.len()) {
                        for op in OPS {
                            for keep_dim in [false, true] {
                                let what = format!("{} of {dtype}{shape:?} ({}) over {dims:?}", op.name(), case.layout);
                                check(op, &case.dev, &case.cpu, &dims, keep_dim, &what);
                            }
                        }
                    }
                    for keep_dim in [false, true] {
                        let got = case.dev.argmax(None, keep_dim).unwrap();
                        assert_same_values(&got, &case.cpu.argmax(None, keep_dim).unwrap(), 0.0);
                        let got = case.dev.argmin(None, keep_dim).unwrap();
                        assert_same_values(&got, &case.cpu.argmin(None, keep_dim).unwrap(), 0.0);
                    }
                }
            }
        }
    });

    cuda_test!(fn cuda_ties_nan_and_long_rows_match_the_cpu(device) {
        // Ties everywhere (a few distinct values), NaN in some rows, rows of every length class.
        for (rows, len) in [(3, 1), (5, 2), (7, 33), (2, 257), (3, 1031), (2, 100_003)] {
            let n = rows * len;
            let mut data: Vec<f32> = values(n, 8).iter().map(|v| (v * 3.0).round()).collect();
            data[len / 2] = f32::NAN;
            if rows > 2 {
                data[2 * len] = f32::NAN;
                data[3 * len - 1] = f32::NAN;
            }
            let cpu = floats(data, &[rows, len], Device::Cpu);
            let dev = cpu.to_device(device).unwrap();
            for op in OPS {
                for dims in [vec![1], vec![0], vec![]] {
                    check(op, &dev, &cpu, &dims, false, &format!("{} over {dims:?} of [{rows}, {len}]", op.name()));
                }
            }
        }
        // Sums of long rows stay within tolerance (the CPU sums in f64).
        let cpu = floats(values(1 << 20, 3).iter().map(|v| v + 0.1).collect(), &[1 << 20], Device::Cpu);
        let dev = cpu.to_device(device).unwrap();
        check(ReduceOp::Sum, &dev, &cpu, &[], false, "sum of 2^20");
        check(ReduceOp::Mean, &dev, &cpu, &[], false, "mean of 2^20");
        // Empty rows: sums are 0 and means NaN; max refuses, as on the CPU.
        let empty = Tensor::zeros(&[3, 0], DType::F32, Device::Cpu).unwrap();
        let on_device = empty.to_device(device).unwrap();
        for op in OPS {
            check(op, &on_device, &empty, &[1], false, "empty rows");
        }
        // int64 sums wrap as on the CPU.
        let big = Tensor::from_i64(vec![i64::MAX, 1, i64::MIN, -1, 5], &[5]).unwrap();
        check(ReduceOp::Sum, &big.to_device(device).unwrap(), &big, &[], false, "wrapping sum");
    });

    cuda_test!(fn cuda_reduction_gradients_match_the_cpu(device) {
        for dims in [vec![], vec![0], vec![1, 2]] {
            for op in [ReduceOp::Sum, ReduceOp::Mean] {
                assert_same_gradients(&[&[3, 4, 5]], device, |x| x[0].reduce(op, &dims, true));
            }
        }
        // max over all and along a dim, with ties: every value appears twice along dim 0.
        let tied = |x: &Tensor| x.expand(&[2, 4, 6]);
        assert_same_gradients(&[&[4, 6]], device, |x| tied(&x[0])?.max());
        assert_same_gradients(&[&[4, 6]], device, |x| Ok(tied(&x[0])?.max_dim(0, false)?.0));
        assert_same_gradients(&[&[4, 6]], device, |x| Ok(x[0].min_dim(1, true)?.0));
        assert_same_gradients(&[&[4, 6]], device, |x| tied(&x[0])?.min());
    });
}

/// bfloat16 reductions run in float32 (see `Tensor::reduce`): no kernel takes them.
fn bf16_input(op: &'static str) -> Error {
    Error::Internal {
        op,
        detail: "bfloat16 reductions run in float32 (see Tensor::reduce)".into(),
    }
}
