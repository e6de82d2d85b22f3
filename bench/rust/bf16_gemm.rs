//! The bf16 matrix product (`cpu::bf16::gemm`) on each microkernel this CPU runs (AVX512-BF16
//! `vdpbf16ps`, AMX-BF16 `tdpbf16ps`) against the float32 `gemm` crate that float32 `matmul` uses,
//! in GFLOP/s, on 1 and 2 threads.
//!
//! Run with `cargo bench -p ferrite-core --bench bf16_gemm` (square sizes after `--` replace the
//! default shapes, e.g. `-- 1024`). The bf16 product reads float32
//! operands (rounded while packing) and writes bf16, as autocast's matmul does; the float32 one
//! reads and writes float32. Both row-major.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ferrite_core::bench_internals::{bf16_gemm, bf16_kernels, Bf16Kernel};
use gemm::Parallelism;
use half::bf16;

const TARGET: Duration = Duration::from_millis(700);
const MIN_RUNS: usize = 5;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Square sizes, then the im2col products of convolutions (m = out channels, n = output pixels,
/// k = in channels x kernel taps).
const SHAPES: [[usize; 3]; 8] = [
    [256, 256, 256],
    [512, 512, 512],
    [1024, 1024, 1024],
    [2048, 2048, 2048],
    [64, 1024, 576],
    [128, 256, 1152],
    [256, 64, 2304],
    [512, 16, 4608],
];

fn main() -> Result<(), BoxError> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    println!("bf16 gemm vs float32 gemm; {cpu}");
    let kernels = bf16_kernels();
    if kernels.is_empty() {
        println!("this CPU has no AVX512-BF16: nothing to time");
        return Ok(());
    }
    println!();
    let names: Vec<String> = kernels
        .iter()
        .map(|k| format!("bf16 {k:?} GFLOP/s"))
        .collect();
    println!(
        "| m | n | k | threads | f32 gemm GFLOP/s | {} | fastest bf16 / f32 |",
        names.join(" | ")
    );
    println!("|--:|--:|--:|--:|--:|{}--:|", "--:|".repeat(kernels.len()));
    // cargo passes `--bench`; anything numeric is a square size to run instead of SHAPES.
    let squares: Vec<[usize; 3]> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .map(|n| [n, n, n])
        .collect();
    let shapes = if squares.is_empty() {
        SHAPES.to_vec()
    } else {
        squares
    };
    for [m, n, k] in shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 300.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729 % 997) as f32 - 498.0) / 300.0)
            .collect();
        for &kernel in &kernels {
            check(kernel, &a, &b, [m, n, k])?;
        }
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let (f32_time, bf16_times) = pool.install(|| {
                let mut c = vec![0f32; m * n];
                let mut h = vec![bf16::ZERO; m * n];
                // Interleaved, so a neighbour's build slows all alike.
                let mut f = Vec::new();
                let mut g = vec![Vec::new(); kernels.len()];
                for _ in 0..3 {
                    f.push(best(|| f32_gemm([m, n, k], &a, &b, &mut c, threads)));
                    for (times, &kernel) in g.iter_mut().zip(&kernels) {
                        times.push(best(|| {
                            bf16_gemm(kernel, [m, n, k], &a, &b, &mut h, threads > 1)
                        }));
                    }
                }
                (min(&f), g.iter().map(|t| min(t)).collect::<Vec<_>>())
            });
            let gflops = |t: Duration| 2.0 * (m * n * k) as f64 / t.as_secs_f64() / 1e9;
            let f = gflops(f32_time);
            let g: Vec<f64> = bf16_times.into_iter().map(gflops).collect();
            let cells: Vec<String> = g.iter().map(|g| format!("{g:.1}")).collect();
            let fastest = g.iter().copied().fold(0.0, f64::max);
            println!(
                "| {m} | {n} | {k} | {threads} | {f:.1} | {} | {:.2} |",
                cells.join(" | "),
                fastest / f
            );
        }
    }
    println!();
    println!("GFLOP/s = 2mnk / best single call (three interleaved rounds of ~{TARGET:?} each).");
    Ok(())
}

fn min(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

/// The best of single calls over about `TARGET`, after one warm-up call.
fn best(mut call: impl FnMut()) -> Duration {
    call();
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < MIN_RUNS || start.elapsed() < TARGET {
        let t = Instant::now();
        call();
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}

fn f32_gemm([m, n, k]: [usize; 3], a: &[f32], b: &[f32], c: &mut [f32], threads: usize) {
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: a is m x k, b k x n and c m x n, all row-major and dense.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
    black_box(c);
}

/// A few entries of the bf16 product against float64 sums, so a broken kernel cannot post a time.
fn check(kernel: Bf16Kernel, a: &[f32], b: &[f32], [m, n, k]: [usize; 3]) -> Result<(), BoxError> {
    let mut h = vec![bf16::ZERO; m * n];
    bf16_gemm(kernel, [m, n, k], a, b, &mut h, true);
    for (i, j) in [(0, 0), (m / 2, n / 3), (m - 1, n - 1)] {
        let (mut want, mut magnitude) = (0f64, 0f64);
        for p in 0..k {
            let x = a[i * k + p] as f64 * b[p * n + j] as f64;
            want += x;
            magnitude += x.abs();
        }
        let got = h[i * n + j].to_f64();
        if (got - want).abs() > magnitude * 2f64.powi(-6) + want.abs() * 2f64.powi(-8) {
            return Err(format!(
                "bf16 {kernel:?} {m}x{n}x{k}: c[{i}][{j}] = {got}, expected {want}"
            )
            .into());
        }
    }
    Ok(())
}
