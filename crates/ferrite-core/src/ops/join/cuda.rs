//! `cat` on CUDA: each part copied into its slice of the output by the strided copy
//! (`ops/copy`), one launch per part.

use std::sync::Arc;

use super::Join;
use crate::cuda::{CudaDevice, CudaStorage};
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::copy::cuda::copy_into;
use crate::storage::{mismatch, Storage};
use crate::tensor::Tensor;

/// The contiguous `parts` (all of `dtype`, read through their `storages`) joined as `join` says.
pub(super) fn cat(
    device: &Arc<CudaDevice>,
    storages: &[&Storage],
    parts: &[Tensor],
    join: &Join,
    dtype: DType,
) -> Result<CudaStorage> {
    let mut out = CudaStorage::alloc_dtype(device, dtype, join.numel)?;
    let width: usize = join.runs.iter().sum();
    let mut start = 0;
    for ((&storage, part), &run) in storages.iter().zip(parts).zip(&join.runs) {
        let src = match storage {
            Storage::Cuda(s) => s,
            Storage::Cpu(_) => return Err(mismatch("cat", storages[0], storage)),
        };
        // The part as `outer` rows of `run`, and its columns of the output's rows of `width`.
        let shape = vec![join.outer, run];
        let from = Layout::new(shape.clone(), vec![run, 1], part.layout().offset());
        let to = Layout::new(shape, vec![width, 1], start);
        copy_into("cat", src, &from, &mut out, &to)?;
        start += run;
    }
    Ok(out)
}
