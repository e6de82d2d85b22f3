//! Every kernel module, so that tests can compile (NVRTC) and run (CPU shim) all of them.

use super::Module;

pub static MODULES: &[&Module] = &[
    &crate::nn::activation::cuda::MODULE,
    &crate::nn::loss::cuda::MODULE,
    &crate::ops::matmul::cuda::MODULE,
    &crate::optim::cuda::MODULE,
];
