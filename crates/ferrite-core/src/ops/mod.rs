//! Tensor operations. Each op family keeps its validation and dispatch in `mod.rs` and its CPU
//! kernel in `cpu.rs` beside it; a CUDA kernel joins as `cuda.rs` with one more `match` arm. The
//! single-file ops (`cast`, `view`, `creation`, `inplace`) need no kernel of their own: they copy
//! through `crate::cpu`'s strided traversal or fill host buffers, and on CUDA through `copy`'s
//! strided copy.

pub mod binary;
pub mod cast;
pub(crate) mod copy;
pub mod creation;
pub mod inplace;
pub mod join;
pub mod matmul;
pub mod reduce;
pub mod unary;
pub mod view;
