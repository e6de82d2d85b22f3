//! conv2d throughput of the core crate, without the Node binding: forward, backward-input and
//! backward-weight GFLOP/s of 3x3, padding-1 convolutions on a batch of 100, for the layer shapes of
//! the tutorial's models. `bench/compare` runs the stride-1 shapes from TypeScript; the difference
//! between the two is what the FFI and the JS side cost.
//!
//! Run with `cargo bench -p ferrite-core --bench conv` (`-- --quick` for shorter timing,
//! `-- --json` for one line of JSON, `-- --shapes 16x16x32,16x32x32s2` for other layers, as
//! in x out x input size, optionally `s` stride; `-- --passes forward,backward-weight` for some
//! passes only; `-- --dtype bf16` for the passes under autocast (float32 tensors, bf16 products
//! with float32 sums, as PyTorch's `torch.autocast('cpu', dtype=torch.bfloat16)`), `-- --dtype
//! both` for float32 and autocast interleaved, with the speedup). Threads: rayon's global pool
//! (`RAYON_NUM_THREADS`).
//!
//! Each backward is timed alone: the forward output is built once with `retain_graph`, only the
//! input (backward-input) or only the weight (backward-weight) requires grad, and the gradient is
//! cleared before each call so that nothing accumulates.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ferrite_core::autocast::{self, DeviceType};
use ferrite_core::nn::conv::Conv2dParams;
use ferrite_core::{DType, Device, NoGradGuard, Tensor};

const BATCH: usize = 100;
/// A 3x3, padding-1 layer: channels in and out, input height = width, stride.
#[derive(Clone, Copy)]
struct Shape {
    c: usize,
    o: usize,
    hw: usize,
    stride: usize,
}

impl Shape {
    const fn new(c: usize, o: usize, hw: usize, stride: usize) -> Self {
        Shape { c, o, hw, stride }
    }

    /// Output height = width.
    fn out(self) -> usize {
        (self.hw - 1) / self.stride + 1
    }

    fn label(self) -> String {
        let Shape { c, o, hw, stride } = self;
        match stride {
            1 => format!("{c}->{o} @ {hw}x{hw}"),
            _ => format!("{c}->{o} @ {hw}x{hw} stride {stride}"),
        }
    }
}

/// The conv layers of MyCNN, ResNet (with its two downsampling ones) and VGG11.
const SHAPES: [Shape; 8] = [
    Shape::new(3, 16, 32, 1),
    Shape::new(16, 32, 16, 1),
    Shape::new(16, 32, 32, 2),
    Shape::new(32, 64, 16, 2),
    Shape::new(64, 64, 8, 1),
    Shape::new(128, 256, 8, 1),
    Shape::new(256, 256, 8, 1),
    Shape::new(512, 512, 4, 1),
];
const MIN_RUNS: usize = 3;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy)]
enum Pass {
    Forward,
    BackwardInput,
    BackwardWeight,
}

impl Pass {
    const ALL: [Pass; 3] = [Pass::Forward, Pass::BackwardInput, Pass::BackwardWeight];

    fn name(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::BackwardInput => "backward-input",
            Pass::BackwardWeight => "backward-weight",
        }
    }
}

/// How the passes compute: float32, or under autocast (bf16 products, float32 sums).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Precision {
    F32,
    Autocast,
}

impl Precision {
    fn name(self) -> &'static str {
        match self {
            Precision::F32 => "float32",
            Precision::Autocast => "autocast bf16",
        }
    }

    /// Runs `f` with autocast on for the CPU if this is `Autocast`.
    fn run<T>(self, f: impl FnOnce() -> T) -> Result<T, BoxError> {
        let dtype = (self == Precision::Autocast).then_some(DType::BF16);
        let previous = autocast::set(DeviceType::Cpu, dtype)?;
        let out = f();
        autocast::set(DeviceType::Cpu, previous)?;
        Ok(out)
    }
}

struct Row {
    shape: Shape,
    pass: Pass,
    precision: Precision,
    runs: usize,
    median: Duration,
    best: Duration,
}

impl Row {
    fn gflops(&self, d: Duration) -> f64 {
        let Shape { c, o, .. } = self.shape;
        let out = self.shape.out();
        // Every pass is the same multiply-adds rearranged: N * O * OH * OW * C * KH * KW of them.
        2.0 * (BATCH * o * out * out * c * 9) as f64 / d.as_secs_f64() / 1e9
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let target = Duration::from_millis(if args.iter().any(|a| a == "--quick") {
        300
    } else {
        1000
    });
    let shapes = match args.iter().position(|a| a == "--shapes") {
        Some(i) => parse_shapes(args.get(i + 1).map_or("", String::as_str))?,
        None => SHAPES.to_vec(),
    };
    let passes: Vec<Pass> = match args.iter().position(|a| a == "--passes") {
        Some(i) => parse_passes(args.get(i + 1).map_or("", String::as_str))?,
        None => Pass::ALL.to_vec(),
    };
    let precisions = match args.iter().position(|a| a == "--dtype") {
        Some(i) => match args.get(i + 1).map_or("", String::as_str) {
            "f32" | "float32" => vec![Precision::F32],
            "bf16" | "bfloat16" => vec![Precision::Autocast],
            "both" => vec![Precision::F32, Precision::Autocast],
            other => {
                return Err(format!("--dtype: expected f32, bf16 or both, got '{other}'").into())
            }
        },
        None => vec![Precision::F32],
    };
    if precisions.contains(&Precision::Autocast) && !autocast::native_bf16(Device::Cpu) {
        eprintln!("note: this CPU has no bf16 kernels (AVX512-BF16); autocast runs float32");
    }
    let mut rows = Vec::new();
    for shape @ Shape { c, o, hw, stride } in shapes {
        let params = Conv2dParams {
            padding: [1, 1],
            stride: [stride, stride],
            ..Conv2dParams::default()
        };
        ferrite_core::random::manual_seed(0);
        let x = Tensor::randn(&[BATCH, c, hw, hw], Device::Cpu)?;
        let w = Tensor::randn(&[o, c, 3, 3], Device::Cpu)?;
        for &precision in &precisions {
            check(&x, &w, params, precision)?;
        }
        for &pass in &passes {
            for &precision in &precisions {
                let times = time_pass(&x, &w, params, pass, precision, target)?;
                rows.push(Row {
                    shape,
                    pass,
                    precision,
                    runs: times.len(),
                    median: times[times.len() / 2],
                    best: times[0],
                });
            }
        }
    }

    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                let Shape { c, o, hw, stride } = r.shape;
                format!(
                    "{{\"c\":{c},\"o\":{o},\"hw\":{hw},\"stride\":{stride},\"pass\":\"{}\",\"precision\":\"{}\",\"runs\":{},\"medianMs\":{:.4},\"gflops\":{:.2},\"bestGflops\":{:.2}}}",
                    r.pass.name(),
                    r.precision.name(),
                    r.runs,
                    r.median.as_secs_f64() * 1e3,
                    r.gflops(r.median),
                    r.gflops(r.best)
                )
            })
            .collect();
        println!(
            "{{\"threads\":{},\"batch\":{BATCH},\"rows\":[{}]}}",
            ferrite_core::num_threads(),
            items.join(",")
        );
        return Ok(());
    }
    let names: Vec<&str> = precisions.iter().map(|p| p.name()).collect();
    println!(
        "Ferrite conv2d, core crate (no binding): batch {BATCH}, 3x3, padding 1, {}",
        names.join(" and ")
    );
    println!("rayon threads: {}", ferrite_core::num_threads());
    println!();
    if precisions.len() == 2 {
        // float32 and autocast rows alternate: one line per layer and pass, with the speedup.
        println!(
            "| layer | pass | float32 ms | bf16 ms | speedup | float32 GFLOP/s | bf16 GFLOP/s |"
        );
        println!(
            "|:------|:-----|-----------:|--------:|--------:|----------------:|-------------:|"
        );
        for pair in rows.chunks_exact(2) {
            let (f, b) = (&pair[0], &pair[1]);
            println!(
                "| {} | {} | {:.3} | {:.3} | {:.2}x | {:.1} | {:.1} |",
                f.shape.label(),
                f.pass.name(),
                f.median.as_secs_f64() * 1e3,
                b.median.as_secs_f64() * 1e3,
                f.median.as_secs_f64() / b.median.as_secs_f64(),
                f.gflops(f.median),
                b.gflops(b.median)
            );
        }
    } else {
        println!("| layer | pass | runs | median ms | median GFLOP/s | best GFLOP/s |");
        println!("|:------|:-----|-----:|----------:|---------------:|-------------:|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.3} | {:.1} | {:.1} |",
                r.shape.label(),
                r.pass.name(),
                r.runs,
                r.median.as_secs_f64() * 1e3,
                r.gflops(r.median),
                r.gflops(r.best)
            );
        }
    }
    println!();
    println!("GFLOP/s = 2 * N * O * OH * OW * C * 9 / time, the same count for all three passes.");
    Ok(())
}

/// `CxOxS[sT],...`: in channels, out channels, input height = width, and a stride (default 1).
fn parse_shapes(list: &str) -> Result<Vec<Shape>, BoxError> {
    list.split(',')
        .map(|item| {
            let (dims, stride) = item.split_once('s').unwrap_or((item, "1"));
            let numbers = dims
                .split('x')
                .chain([stride])
                .map(str::parse)
                .collect::<Result<Vec<usize>, _>>();
            match numbers {
                Ok(v) if v.len() == 4 && v.iter().all(|&n| n > 0) => {
                    Ok(Shape::new(v[0], v[1], v[2], v[3]))
                }
                _ => Err(format!(
                    "--shapes: expected in x out x size, optionally s stride, like 16x16x32 or 16x32x32s2, got '{item}'"
                )
                .into()),
            }
        })
        .collect()
}

/// `forward,backward-input,...`: the passes to time.
fn parse_passes(list: &str) -> Result<Vec<Pass>, BoxError> {
    list.split(',')
        .map(|name| {
            Pass::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
                format!("--passes: expected forward, backward-input or backward-weight, got '{name}'").into()
            })
        })
        .collect()
}

/// Sorted single-call times: one warm-up call, then calls until `target` has passed (at least `MIN_RUNS`).
fn time_pass(
    x: &Tensor,
    w: &Tensor,
    params: Conv2dParams,
    pass: Pass,
    precision: Precision,
    target: Duration,
) -> Result<Vec<Duration>, BoxError> {
    let mut call: Box<dyn FnMut() -> Result<(), BoxError>> = match pass {
        Pass::Forward => Box::new(move || {
            let _no_grad = NoGradGuard::new();
            black_box(precision.run(|| x.conv2d(w, None, params))??);
            Ok(())
        }),
        Pass::BackwardInput | Pass::BackwardWeight => {
            let wrt = if matches!(pass, Pass::BackwardInput) {
                x.detach()
            } else {
                w.detach()
            };
            wrt.set_requires_grad(true)?;
            let y = precision.run(|| match pass {
                Pass::BackwardInput => wrt.conv2d(w, None, params),
                _ => x.conv2d(&wrt, None, params),
            })??;
            // The gradient of a bf16 output is bf16, as the layer above an autocast conv gives it.
            let dy = Tensor::randn(y.shape(), Device::Cpu)?.to_dtype(y.dtype())?;
            Box::new(move || {
                wrt.set_grad(None)?;
                y.backward(Some(&dy), true)?;
                Ok(())
            })
        }
    };
    call()?;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_RUNS || start.elapsed() < target {
        let t = Instant::now();
        call()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times)
}

/// A few forward outputs against a plain sum, so that a broken kernel cannot post a fast time.
fn check(
    x: &Tensor,
    w: &Tensor,
    params: Conv2dParams,
    precision: Precision,
) -> Result<(), BoxError> {
    let (&[n, c, h, wd], &[o, ..]) = (x.shape(), w.shape()) else {
        return Err("expected 4-D operands".into());
    };
    let stride = params.stride[0];
    let y = {
        let _no_grad = NoGradGuard::new();
        precision.run(|| x.conv2d(w, None, params))??
    };
    let (&[.., oh, ow], y) = (y.shape(), y.to_dtype(DType::F32)?.to_vec_f32()?) else {
        return Err("expected a 4-D output".into());
    };
    let (xv, wv) = (x.to_vec_f32()?, w.to_vec_f32()?);
    for (b, k, i, j) in [
        (0, 0, 0, 0),
        (n - 1, o - 1, oh - 1, ow - 1),
        (n / 2, o / 2, oh / 2, ow / 3),
    ] {
        let (mut want, mut scale) = (0.0_f64, 0.0_f64);
        for ci in 0..c {
            for (di, dj) in (0..3).flat_map(|di| (0..3).map(move |dj| (di, dj))) {
                let (yi, xj) = (
                    (i * stride + di).checked_sub(1),
                    (j * stride + dj).checked_sub(1),
                );
                let (Some(yi), Some(xj)) = (yi, xj) else {
                    continue;
                };
                if yi < h && xj < wd {
                    let product = xv[((b * c + ci) * h + yi) * wd + xj] as f64
                        * wv[((k * c + ci) * 3 + di) * 3 + dj] as f64;
                    want += product;
                    scale += product.abs();
                }
            }
        }
        let got = y[((b * o + k) * oh + i) * ow + j] as f64;
        // bf16 operands and result: 2^-7 of the products' magnitudes, and 2^-8 of the result.
        let tol = match precision {
            Precision::F32 => 1e-3 * (c as f64 * 9.0).sqrt(),
            Precision::Autocast => scale / 64.0 + want.abs() / 128.0,
        };
        if (got - want).abs() > tol {
            return Err(format!(
                "conv2d {c}->{o} @ {h}x{wd} stride {stride}: y[{b}][{k}][{i}][{j}] = {got}, expected {want}"
            )
            .into());
        }
    }
    Ok(())
}
