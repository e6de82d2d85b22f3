//! Matmul throughput of `Tensor::matmul` (gemm + rayon) in GFLOP/s, on all of rayon's threads and on one.
//!
//! Run with `cargo bench -p ferrite-core --bench matmul` (or `npm run bench:rust`); extra square sizes
//! can follow `--`, e.g. `cargo bench -p ferrite-core --bench matmul -- 2048`.
//! A custom harness (no criterion) keeps the dependency tree as it is.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ferrite_core::{Device, Tensor};

/// Each size runs for about this long once warm, so small sizes get many samples and big ones a few.
const TARGET: Duration = Duration::from_secs(1);
const WARM_UP: Duration = Duration::from_millis(200);
const MIN_RUNS: usize = 5;
const DEFAULT_SIZES: [usize; 3] = [256, 512, 1024];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Sample {
    runs: usize,
    best: Duration,
    median: Duration,
    /// Process CPU time over wall time while timing: how many cores the kernel really kept busy.
    cpu_per_wall: Option<f64>,
}

fn main() -> Result<(), BoxError> {
    // cargo passes `--bench`; anything numeric is a size to add.
    let extra: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if extra.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        extra
    };

    print_machine();
    let pool_threads = ferrite_core::num_threads();
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;

    println!();
    println!("| size | threads | runs | best ms | median ms | best GFLOP/s | median GFLOP/s | CPU/wall |");
    println!("|-----:|--------:|-----:|--------:|----------:|-------------:|---------------:|---------:|");
    for &n in &sizes {
        ferrite_core::random::manual_seed(0);
        let a = Tensor::randn(&[n, n], Device::Cpu)?;
        let b = Tensor::randn(&[n, n], Device::Cpu)?;
        check(&a, &b, n)?;
        let all = measure(&a, &b)?;
        print_row(n, pool_threads, &all);
        // Ferrite's matmul asks gemm for `rayon::current_num_threads()` threads and gemm splits its
        // work with rayon's `par_iter`, so inside `install` both see the 1-thread pool.
        let one = single.install(|| measure(&a, &b))?;
        print_row(n, 1, &one);
    }
    println!();
    println!("GFLOP/s = 2*n^3 / time; best and median of single timed calls after warm-up.");
    println!("CPU/wall = process CPU time / wall time, i.e. cores kept busy (~1.0 on 1 thread: the local pool is respected).");
    Ok(())
}

/// Warm up, then time single calls for about `TARGET`.
fn measure(a: &Tensor, b: &Tensor) -> Result<Sample, BoxError> {
    let start = Instant::now();
    let mut warm_runs = 0u32;
    while warm_runs < 2 || start.elapsed() < WARM_UP {
        black_box(a.matmul(b)?);
        warm_runs += 1;
    }
    let per_call = start.elapsed() / warm_runs;
    let runs = ((TARGET.as_secs_f64() / per_call.as_secs_f64()) as usize).max(MIN_RUNS);

    let mut times = Vec::with_capacity(runs);
    let cpu_before = process_cpu_time();
    let wall = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        black_box(a.matmul(b)?);
        times.push(t.elapsed());
    }
    let wall = wall.elapsed();
    let cpu_per_wall = match (cpu_before, process_cpu_time()) {
        (Some(before), Some(after)) => Some((after - before).as_secs_f64() / wall.as_secs_f64()),
        _ => None,
    };
    times.sort();
    Ok(Sample {
        runs,
        best: times[0],
        median: times[runs / 2],
        cpu_per_wall,
    })
}

fn print_row(n: usize, threads: usize, s: &Sample) {
    let flops = 2.0 * (n as f64).powi(3);
    let gflops = |d: Duration| flops / d.as_secs_f64() / 1e9;
    let cpu = s
        .cpu_per_wall
        .map_or("-".to_string(), |r| format!("{r:.2}"));
    println!(
        "| {n:>4} | {threads:>7} | {:>4} | {:>7.3} | {:>9.3} | {:>12.1} | {:>14.1} | {cpu:>8} |",
        s.runs,
        s.best.as_secs_f64() * 1e3,
        s.median.as_secs_f64() * 1e3,
        gflops(s.best),
        gflops(s.median),
    );
}

/// A few entries against a plain dot product, so a broken kernel cannot post a fast time.
fn check(a: &Tensor, b: &Tensor, n: usize) -> Result<(), BoxError> {
    let (av, bv, cv) = (a.to_vec_f32()?, b.to_vec_f32()?, a.matmul(b)?.to_vec_f32()?);
    for (i, j) in [(0, 0), (n / 2, n / 3), (n - 1, n - 1)] {
        let want: f64 = (0..n)
            .map(|p| av[i * n + p] as f64 * bv[p * n + j] as f64)
            .sum();
        let got = cv[i * n + j] as f64;
        if (got - want).abs() > 1e-3 * (n as f64).sqrt() {
            return Err(format!("matmul {n}x{n}: c[{i}][{j}] = {got}, expected {want}").into());
        }
    }
    Ok(())
}

fn print_machine() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("Ferrite matmul benchmark (float32, square n x n @ n x n)");
    println!("CPU:            {}", cpu_model());
    println!("logical cores:  {cores}");
    println!("SIMD (runtime): {}", simd_features());
    println!("rayon threads:  {}", ferrite_core::num_threads());
    println!(
        "arch/os:        {}/{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    // x86 says "model name"; many aarch64 kernels only give "Hardware" or nothing useful.
    ["model name", "Hardware", "Processor"]
        .iter()
        .find_map(|key| {
            info.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn simd_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let found = [
            ("avx2", is_x86_feature_detected!("avx2")),
            ("fma", is_x86_feature_detected!("fma")),
            ("avx512f", is_x86_feature_detected!("avx512f")),
        ];
        let on: Vec<&str> = found
            .iter()
            .filter(|(_, yes)| *yes)
            .map(|(name, _)| *name)
            .collect();
        if on.is_empty() {
            "none of avx2/fma/avx512f".to_string()
        } else {
            on.join(" ")
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            "neon"
        } else {
            "no neon"
        }
        .to_string()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "not probed on this arch".to_string()
    }
}

/// User + system CPU time of the whole process (all threads), from /proc/self/stat; Linux only.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name start at field 3 (state); utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every mainstream Linux; reading it would need libc's sysconf.
    Some(Duration::from_millis(ticks * 10))
}
