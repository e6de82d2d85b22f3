//! Neural-network layers as tensor ops: each has its forward, its backward node and its tests in
//! `mod.rs` and its CPU kernels in `cpu.rs`.

pub mod activation;
pub mod conv;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod pool;
