use super::UnaryOp;
use crate::cpu::map_strided;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::CpuStorage;

/// `op` over every element of `input` viewed through `layout`, which was converted to the op's
/// kernel dtype (see `compute_dtype`); each dtype's kernels are listed below it.
pub(super) fn unary(op: UnaryOp, input: &CpuStorage, layout: &Layout) -> Result<CpuStorage> {
    match input {
        CpuStorage::F32(x) => float(op, x, layout),
        CpuStorage::I64(x) => int(op, x, layout),
        CpuStorage::BF16(_) | CpuStorage::Bool(_) => Err(internal(op)),
    }
}

fn float(op: UnaryOp, x: &[f32], layout: &Layout) -> Result<CpuStorage> {
    let name = op.name();
    Ok(CpuStorage::F32(match op {
        UnaryOp::Neg => map_strided(name, x, layout, |v: f32| -v)?,
        UnaryOp::Abs => map_strided(name, x, layout, f32::abs)?,
        UnaryOp::Exp => map_strided(name, x, layout, f32::exp)?,
        UnaryOp::Log => map_strided(name, x, layout, f32::ln)?,
        UnaryOp::Sqrt => map_strided(name, x, layout, f32::sqrt)?,
    }))
}

fn int(op: UnaryOp, x: &[i64], layout: &Layout) -> Result<CpuStorage> {
    let name = op.name();
    Ok(CpuStorage::I64(match op {
        UnaryOp::Neg => map_strided(name, x, layout, i64::wrapping_neg)?,
        UnaryOp::Abs => map_strided(name, x, layout, i64::wrapping_abs)?,
        // Computed in float (see `compute_dtype`).
        UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sqrt => return Err(internal(op)),
    }))
}

fn internal(op: UnaryOp) -> Error {
    Error::Internal {
        op: op.name(),
        detail: "input was not converted to a kernel dtype".into(),
    }
}
