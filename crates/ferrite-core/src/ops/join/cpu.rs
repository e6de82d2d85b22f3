use super::Join;
use crate::alloc;
use crate::error::Result;

/// The parts interleaved as `join` says: for each outer index, each part's run in turn.
pub(super) fn cat<T: Copy>(parts: &[&[T]], join: &Join) -> Result<Vec<T>> {
    let mut out = alloc::with_capacity("cat", join.numel)?;
    for o in 0..join.outer {
        for (part, &run) in parts.iter().zip(&join.runs) {
            out.extend_from_slice(&part[o * run..(o + 1) * run]);
        }
    }
    Ok(out)
}
