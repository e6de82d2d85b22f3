//! Neural-network layers as tensor ops. Each op's `mod.rs` validates its arguments, works out the
//! shapes, dispatches once on the storage and records its backward node; its CPU kernels live in
//! `cpu.rs` (or `cpu/`) beside it, and its tests in `mod.rs` or a `tests.rs` sibling. `linear` and
//! `dropout` are composed from other ops.

pub mod activation;
pub mod conv;
pub(crate) mod cudnn;
pub mod dropout;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod pool;

pub use conv::Activation;
