//! Every kernel module, so that tests can compile (NVRTC) and run (CPU shim) all of them.

use super::Module;

pub static MODULES: &[&Module] = &[
    &crate::nn::norm::cuda::MODULE,
    &crate::nn::pool::cuda::MODULE,
];
