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
pub mod trace;
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

/// Kernels the benchmarks under bench/rust time directly; not part of the API.
#[doc(hidden)]
pub mod bench_internals {
    use half::bf16;

    pub use crate::cpu::bf16::Kernel as Bf16Kernel;
    use crate::cpu::bf16::{self as kernels, Output, Strided};

    /// The bf16 microkernels this CPU runs, slowest first (none without AVX512-BF16).
    pub fn bf16_kernels() -> Vec<Bf16Kernel> {
        Bf16Kernel::here()
    }

    /// `out (m x n, bf16) = a (m x k) @ b (k x n)`, all row-major, as autocast's matmul computes
    /// it: float32 operands rounded to bf16 while packing, float32 sums. Panics without
    /// AVX512-BF16, for a kernel this CPU lacks or on short slices.
    pub fn bf16_gemm(
        kernel: Bf16Kernel,
        [m, n, k]: [usize; 3],
        a: &[f32],
        b: &[f32],
        out: &mut [bf16],
        parallel: bool,
    ) {
        let a = Strided {
            data: a,
            lines: m,
            k,
            line_stride: k,
            k_stride: 1,
        };
        let b = Strided {
            data: b,
            lines: n,
            k,
            line_stride: 1,
            k_stride: n,
        };
        kernels::gemm_with(
            kernel,
            [m, n],
            &a,
            &b,
            Output::Bf16 { data: out },
            n,
            None,
            parallel,
        );
    }
}
