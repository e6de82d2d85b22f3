//! Building blocks shared by the CPU kernels: strided traversal split across rayon threads.

pub(crate) mod bf16;
mod strided;
mod sum;
mod wide;

pub(crate) use strided::{collect_runs, map_strided};
pub(crate) use sum::{lane_sum, lane_sum_rows, lane_sums_rows};
pub(crate) use wide::with_wide_vectors;

/// Below this many elements an op runs on the calling thread: rayon's fork/join would cost more.
pub(crate) const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// Below this many multiply-adds, a matrix product runs on one thread and callers parallelise
/// over batches instead.
pub(crate) const PARALLEL_GEMM_MIN_FLOPS: usize = 1 << 18;
