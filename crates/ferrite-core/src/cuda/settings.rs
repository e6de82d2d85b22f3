//! Switches like `torch.backends.cudnn.allow_tf32`, `torch.backends.cuda.matmul.allow_tf32` and
//! `torch.backends.cudnn.benchmark`. TF32 follows PyTorch's defaults (allowed for cuDNN
//! convolutions, off for matmul); benchmarking is on by default, unlike PyTorch: timing each
//! convolution's algorithms once per shape is what a training loop of fixed shapes wants.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static CUDNN_TF32: AtomicBool = AtomicBool::new(true);
static MATMUL_TF32: AtomicBool = AtomicBool::new(false);
static CUDNN_BENCHMARK: AtomicBool = AtomicBool::new(true);

/// Whether a convolution's candidate algorithms are timed on first use of a shape (else the
/// heuristics' first choice runs).
pub fn cudnn_benchmark() -> bool {
    CUDNN_BENCHMARK.load(Relaxed)
}

pub fn set_cudnn_benchmark(on: bool) {
    CUDNN_BENCHMARK.store(on, Relaxed)
}

pub fn allow_tf32_cudnn() -> bool {
    CUDNN_TF32.load(Relaxed)
}

pub fn set_allow_tf32_cudnn(allow: bool) {
    CUDNN_TF32.store(allow, Relaxed)
}

pub fn allow_tf32_matmul() -> bool {
    MATMUL_TF32.load(Relaxed)
}

pub fn set_allow_tf32_matmul(allow: bool) {
    MATMUL_TF32.store(allow, Relaxed)
}
