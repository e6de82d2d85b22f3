//! Runs a kernel compiled for the widest x86-64 vectors the running CPU has. The crate is built
//! for baseline x86-64 (SSE2), so loops that the compiler vectorises get 4 floats to a register;
//! inlined into a function with AVX-512F (or AVX2) enabled, the same loops get 16 (or 8). The
//! arithmetic is the same operations in the same order, so results are bit-identical whichever
//! path runs (Rust never contracts a multiply and an add into an FMA on its own).

/// `kernel()`, compiled with AVX-512F or AVX2 when the CPU has them. The closure is inlined into
/// the wide copy, and so is everything it calls that is small or marked `#[inline(always)]`;
/// call this inside each rayon task, since the wide code ends at a function boundary it can't
/// inline through.
#[inline(always)]
pub(crate) fn with_wide_vectors<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { avx512(kernel) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { avx2(kernel) };
        }
    }
    kernel()
}

/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}

/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}
