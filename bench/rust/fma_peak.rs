//! The machine's float32 FMA peak in GFLOP/s, measured with a register-only loop: independent
//! accumulators, no loads or stores, so only the FMA units' width, count and clock limit it.
//! Convolution and matmul figures are quoted as a percentage of this.
//!
//! Run with `cargo bench -p ferrite-core --bench fma_peak` (`-- --json` for one line of JSON).
//! The instruction set is chosen at run time (AVX-512F, AVX2+FMA, or NEON on aarch64), never at
//! build time, so the binary is the one a prebuilt package would ship. Each width available is
//! measured: on some CPUs AVX-512 lowers the clock enough that AVX2 wins, and the peak is the best.

use std::hint::black_box;
use std::time::Instant;

/// FMAs per accumulator per call; ~0.1 s on one core of a 3 GHz machine at 16 lanes.
const ITERATIONS: u64 = 50_000_000;
const ROUNDS: usize = 5;
/// Independent accumulators: FMA latency (4-5 cycles) times FMA ports (2) needs 8-10 in flight.
const ACCUMULATORS: u64 = 12;

/// One instruction-set variant: its name, float32 lanes per FMA, and the loop itself.
struct Kernel {
    name: &'static str,
    lanes: u64,
    run: fn(u64) -> f32,
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let kernels = available_kernels();
    let threads = rayon::current_num_threads();
    let mut rows = Vec::new();
    for kernel in &kernels {
        let one = best_of(kernel, 1);
        let all = best_of(kernel, threads);
        rows.push((kernel, one, all));
    }
    let peak = rows.iter().map(|(_, _, all)| *all).fold(0.0, f64::max);
    let peak_one = rows.iter().map(|(_, one, _)| *one).fold(0.0, f64::max);
    let best = rows
        .iter()
        .find(|(_, _, all)| *all == peak)
        .map_or("none", |(k, _, _)| k.name);
    if json {
        let per_isa: Vec<String> = rows
            .iter()
            .map(|(k, one, all)| format!("{{\"isa\":\"{}\",\"lanes\":{},\"oneThread\":{one:.1},\"allThreads\":{all:.1}}}", k.name, k.lanes))
            .collect();
        println!(
            "{{\"threads\":{threads},\"peakGflops\":{peak:.1},\"peakGflopsOneThread\":{peak_one:.1},\"isa\":\"{best}\",\"kernels\":[{}]}}",
            per_isa.join(",")
        );
        return;
    }
    println!(
        "float32 FMA peak (register-only loop, {ACCUMULATORS} accumulators, best of {ROUNDS})"
    );
    println!("rayon threads: {threads}");
    println!();
    println!("| ISA | lanes | 1 thread GFLOP/s | {threads} threads GFLOP/s |");
    println!("|:----|------:|-----------------:|------------------:|");
    for (k, one, all) in &rows {
        println!("| {} | {} | {one:.1} | {all:.1} |", k.name, k.lanes);
    }
    println!();
    if rows.is_empty() {
        println!("No FMA instruction set detected on this CPU; nothing measured.");
    } else {
        println!("peak: {peak:.1} GFLOP/s on {threads} threads ({best}); GFLOP/s = 2 * FMAs * lanes / time.");
    }
}

/// Best GFLOP/s over `ROUNDS` runs of the kernel on `threads` threads at once.
fn best_of(kernel: &Kernel, threads: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool");
    // One untimed call brings the threads up and the core clocks to their vector frequency.
    pool.broadcast(|_| black_box((kernel.run)(ITERATIONS / 10)));
    let flops = 2.0 * (ITERATIONS * ACCUMULATORS * kernel.lanes * threads as u64) as f64;
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            pool.broadcast(|_| black_box((kernel.run)(ITERATIONS)));
            flops / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn available_kernels() -> Vec<Kernel> {
    let mut kernels = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            kernels.push(Kernel {
                name: "avx512f",
                lanes: 16,
                run: x86::avx512,
            });
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            kernels.push(Kernel {
                name: "avx2+fma",
                lanes: 8,
                run: x86::avx2,
            });
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            kernels.push(Kernel {
                name: "neon",
                lanes: 4,
                run: arm::neon,
            });
        }
    }
    kernels
}

/// A loop over `ACCUMULATORS` (12) independent accumulators, each `acc = fma(acc, m, a)` with the given
/// vector type's intrinsics; returns the lanes' sum so that the work cannot be optimised away.
/// Intrinsic paths, not closures: a closure would not inherit the caller's `target_feature`.
macro_rules! fma_loop {
    ($iters:expr, $vector:ty, $lanes:expr, $splat:path, $fma:path, $add:path) => {{
        let m = $splat(black_box(0.999_999_9_f32));
        let a = $splat(black_box(1e-7_f32));
        let mut acc = [$splat(black_box(1.0_f32)); ACCUMULATORS as usize];
        for _ in 0..$iters {
            acc[0] = $fma(acc[0], m, a);
            acc[1] = $fma(acc[1], m, a);
            acc[2] = $fma(acc[2], m, a);
            acc[3] = $fma(acc[3], m, a);
            acc[4] = $fma(acc[4], m, a);
            acc[5] = $fma(acc[5], m, a);
            acc[6] = $fma(acc[6], m, a);
            acc[7] = $fma(acc[7], m, a);
            acc[8] = $fma(acc[8], m, a);
            acc[9] = $fma(acc[9], m, a);
            acc[10] = $fma(acc[10], m, a);
            acc[11] = $fma(acc[11], m, a);
        }
        let mut total = acc[0];
        for &v in &acc[1..] {
            total = $add(total, v);
        }
        // SAFETY: every SIMD vector type here is plain lanes of f32.
        let lanes: [f32; $lanes] = std::mem::transmute::<$vector, [f32; $lanes]>(total);
        lanes.iter().sum::<f32>()
    }};
}

// The AVX-512 intrinsics are stable since Rust 1.89: this benchmark needs that, the crate does not.
#[cfg(target_arch = "x86_64")]
#[clippy::msrv = "1.89"]
mod x86 {
    use super::{black_box, ACCUMULATORS};
    use std::arch::x86_64::*;

    pub fn avx512(iters: u64) -> f32 {
        // SAFETY: only listed by `available_kernels` after `is_x86_feature_detected!("avx512f")`.
        unsafe { avx512_loop(iters) }
    }

    pub fn avx2(iters: u64) -> f32 {
        // SAFETY: only listed by `available_kernels` after detecting avx2 and fma.
        unsafe { avx2_loop(iters) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn avx512_loop(iters: u64) -> f32 {
        fma_loop!(
            iters,
            __m512,
            16,
            _mm512_set1_ps,
            _mm512_fmadd_ps,
            _mm512_add_ps
        )
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2_loop(iters: u64) -> f32 {
        fma_loop!(
            iters,
            __m256,
            8,
            _mm256_set1_ps,
            _mm256_fmadd_ps,
            _mm256_add_ps
        )
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{black_box, ACCUMULATORS};
    use std::arch::aarch64::*;

    pub fn neon(iters: u64) -> f32 {
        // SAFETY: only listed by `available_kernels` after detecting neon.
        unsafe { neon_loop(iters) }
    }

    #[target_feature(enable = "neon")]
    unsafe fn neon_loop(iters: u64) -> f32 {
        fma_loop!(iters, float32x4_t, 4, vdupq_n_f32, neon_fma, vaddq_f32)
    }

    /// `acc * m + a` in the argument order of the x86 intrinsics (vfmaq_f32(a, b, c) is a + b * c).
    #[target_feature(enable = "neon")]
    unsafe fn neon_fma(acc: float32x4_t, m: float32x4_t, a: float32x4_t) -> float32x4_t {
        vfmaq_f32(a, acc, m)
    }
}
