//! Ferrite's core: tensors with their storage, dtype and device, the ops on them and their CPU
//! kernels. No Node.js here; the binding crate wraps this API.

pub mod alloc;
pub mod autocast;
pub mod autograd;
mod cpu;
pub mod cuda;
pub mod data;
pub mod device;
pub mod dtype;
pub mod error;
mod format;
pub mod io;
pub mod layout;
pub mod memory;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod random;
pub mod storage;
pub mod tensor;
#[cfg(test)]
mod testing;
pub mod vision;

pub use autograd::{is_grad_enabled, set_grad_enabled, NoGradGuard};
pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use ops::binary::BinaryOp;
pub use ops::reduce::ReduceOp;
pub use ops::unary::UnaryOp;
pub use storage::CpuStorage;
pub use tensor::Tensor;

/// Threads the CPU kernels use (rayon's pool; `RAYON_NUM_THREADS` sets it at start-up).
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}
