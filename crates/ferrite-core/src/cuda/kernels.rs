//! Every kernel module, so that tests can compile (NVRTC) and run (CPU shim) all of them.

use super::Module;

pub static MODULES: &[&Module] = &[
    &crate::nn::activation::cuda::MODULE,
    &crate::nn::loss::cuda::MODULE,
    &crate::ops::matmul::cuda::MODULE,
    &crate::optim::cuda::MODULE,
    &crate::ops::copy::cuda::MODULE,
    &crate::ops::unary::cuda::MODULE,
    &crate::ops::binary::cuda::MODULE,
    &crate::ops::reduce::cuda::MODULE,
    &crate::nn::norm::cuda::MODULE,
    &crate::nn::pool::cuda::MODULE,
    &crate::nn::activation::rectifier::cuda::MODULE,
    &crate::nn::loss::pointwise::cuda::MODULE,
];
