//! What the fused epilogue saves: `conv2d` then a separate `relu` / `silu` against
//! `conv2d_activated`, and `linear` then the activation against `linear_activated`, in eval mode
//! (no gradients), for the tutorial's 3x3 padding-1 layers (VGG11's deep ones included) at batch
//! 100 and batch 1.
//!
//! Run with `RAYON_NUM_THREADS=1 cargo bench -p ferrite-core --bench conv_epilogue` (`-- --quick`
//! for fewer repeats). Times are the process's CPU time per call (all threads), not wall-clock,
//! so that other processes on a shared machine skew them less; A and B alternate call by call and
//! the median of each is printed.

use std::hint::black_box;

use ferrite_core::nn::conv::Conv2dParams;
use ferrite_core::nn::Activation;
use ferrite_core::{Device, NoGradGuard, Tensor};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// 3x3 padding-1 layers as (channels in, channels out, input height = width).
const CONVS: [(usize, usize, usize); 7] = [
    (3, 16, 32),
    (16, 32, 16),
    (64, 64, 8),
    (128, 128, 8),
    (256, 512, 4),
    (512, 512, 4),
    (512, 512, 2),
];
/// Linear layers as (rows, features in, features out).
const LINEARS: [(usize, usize, usize); 2] = [(100, 512, 256), (100, 4096, 10)];

/// The process's CPU time in seconds, every thread's.
#[cfg(unix)]
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write, and every unix this builds for has the clock.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Elsewhere, wall-clock seconds since the first call.
#[cfg(not(unix))]
fn cpu_seconds() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Median CPU milliseconds per call of `a` and of `b`, alternating, `repeats` of each.
fn compare(
    repeats: usize,
    a: &dyn Fn() -> Result<Tensor, BoxError>,
    b: &dyn Fn() -> Result<Tensor, BoxError>,
) -> Result<(f64, f64), BoxError> {
    // One warm-up call each: allocations and packed buffers settle.
    black_box(a()?);
    black_box(b()?);
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        for (f, times) in [(a, &mut ta), (b, &mut tb)] {
            let start = cpu_seconds();
            black_box(f()?);
            times.push((cpu_seconds() - start) * 1e3);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((median(&mut ta), median(&mut tb)))
}

fn main() -> Result<(), BoxError> {
    let quick = std::env::args().any(|a| a == "--quick");
    let _no_grad = NoGradGuard::new();
    let params = Conv2dParams {
        padding: [1, 1],
        ..Conv2dParams::default()
    };
    println!(
        "CPU ms per call (median), {} rayon thread(s)",
        rayon::current_num_threads()
    );
    println!(
        "{:<26} {:>6} {:>10} {:>10} {:>8}",
        "layer", "act", "separate", "fused", "saved"
    );
    ferrite_core::random::manual_seed(0);
    for batch in [100, 1] {
        for (c, o, hw) in CONVS {
            let x = Tensor::randn(&[batch, c, hw, hw], Device::Cpu)?;
            let w = Tensor::randn(&[o, c, 3, 3], Device::Cpu)?;
            let b = Tensor::randn(&[o], Device::Cpu)?;
            let repeats = match (quick, batch) {
                (true, _) => 5,
                (false, 100) => 21,
                (false, _) => 201,
            };
            for activation in [Activation::Relu, Activation::Silu] {
                let separate = || -> Result<Tensor, BoxError> {
                    let y = x.conv2d(&w, Some(&b), params)?;
                    Ok(match activation {
                        Activation::Silu => y.silu()?,
                        _ => y.relu()?,
                    })
                };
                let fused = || -> Result<Tensor, BoxError> {
                    Ok(x.conv2d_activated(&w, Some(&b), params, activation)?)
                };
                let (a, f) = compare(repeats, &separate, &fused)?;
                let label = format!("conv {c}->{o} @{hw} batch {batch}");
                print_row(&label, activation, a, f);
            }
        }
    }
    for (rows, inp, out) in LINEARS {
        let x = Tensor::randn(&[rows, inp], Device::Cpu)?;
        let w = Tensor::randn(&[out, inp], Device::Cpu)?;
        let b = Tensor::randn(&[out], Device::Cpu)?;
        let repeats = if quick { 5 } else { 201 };
        let separate = || -> Result<Tensor, BoxError> { Ok(x.linear(&w, Some(&b))?.relu()?) };
        let fused = || -> Result<Tensor, BoxError> {
            Ok(x.linear_activated(&w, Some(&b), Activation::Relu)?)
        };
        let (a, f) = compare(repeats, &separate, &fused)?;
        print_row(
            &format!("linear {inp}->{out} x{rows}"),
            Activation::Relu,
            a,
            f,
        );
    }
    Ok(())
}

fn print_row(label: &str, activation: Activation, separate: f64, fused: f64) {
    println!(
        "{label:<26} {:>6} {separate:>10.3} {fused:>10.3} {:>7.1}%",
        activation.name(),
        (1.0 - fused / separate) * 100.0
    );
}
