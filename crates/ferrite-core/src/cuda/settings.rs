//! Switches like `torch.backends.cudnn.allow_tf32` and `torch.backends.cuda.matmul.allow_tf32`,
//! with PyTorch's defaults: TF32 allowed for cuDNN convolutions, off for matmul.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static CUDNN_TF32: AtomicBool = AtomicBool::new(true);
static MATMUL_TF32: AtomicBool = AtomicBool::new(false);

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
