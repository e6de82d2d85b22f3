//! The strided copy of the CUDA backend: a view of any strides and dtype read into a dense buffer
//! (or into a view of one), converting the dtype on the way. It is to the CUDA arms of
//! `to_dtype`, `contiguous`/`copy`, `copy_` and `cat` what `crate::cpu::map_strided` is to their
//! CPU arms; each op calls it from its one match on the storage. The helpers every elementwise
//! CUDA kernel shares (views as kernel `Strides`, pointers, bounds) are here too.

#[cfg(test)]
pub(crate) mod cases;
pub(crate) mod cuda;
