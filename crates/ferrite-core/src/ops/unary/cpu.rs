use super::UnaryOp;
use crate::cpu::map_strided;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::CpuStorage;

pub(super) fn unary(op: UnaryOp, input: &CpuStorage, layout: &Layout) -> Result<CpuStorage> {
    Ok(match input {
        CpuStorage::F32(x) => CpuStorage::F32(match op {
            UnaryOp::Neg => map_strided(op.name(), x, layout, |v: f32| -v)?,
            UnaryOp::Abs => map_strided(op.name(), x, layout, f32::abs)?,
            UnaryOp::Exp => map_strided(op.name(), x, layout, f32::exp)?,
            UnaryOp::Log => map_strided(op.name(), x, layout, f32::ln)?,
            UnaryOp::Sqrt => map_strided(op.name(), x, layout, f32::sqrt)?,
        }),
        CpuStorage::I64(x) => CpuStorage::I64(match op {
            UnaryOp::Neg => map_strided(op.name(), x, layout, i64::wrapping_neg)?,
            UnaryOp::Abs => map_strided(op.name(), x, layout, i64::wrapping_abs)?,
            _ => return Err(internal(op)),
        }),
        CpuStorage::Bool(_) => return Err(internal(op)),
    })
}

fn internal(op: UnaryOp) -> Error {
    Error::Internal {
        op: op.name(),
        detail: "input was not converted to a kernel dtype".into(),
    }
}
