//! Building blocks shared by the CPU kernels: strided traversal split across rayon threads.

mod strided;

pub(crate) use strided::{collect_runs, map_strided};

/// Below this many elements an op runs on the calling thread: rayon's fork/join would cost more.
pub(crate) const PARALLEL_MIN_ELEMS: usize = 1 << 15;
