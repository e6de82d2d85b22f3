//! The CUDA kernels of the reductions (`reduce.cu`): each row of a dense [rows, len] input folded
//! by a group of threads, several rows per block when rows are short.

use super::{ReduceOp, Rows};
use crate::cuda::{self, CudaStorage, LaunchConfig, Module};
use crate::dtype::DType;
use crate::error::Result;
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
