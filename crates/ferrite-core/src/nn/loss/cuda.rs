//! Loss kernels on a CUDA device (`loss.cu`). The reduced loss stays on the device: the mean's
//! divisor is counted there too, so a training step reads nothing back until the user reads the
//! loss. Out-of-range targets cannot be checked without a read, so their rows give NaN and the
//! kernel reports them in the device's error word: reading the loss (or any value from that
//! device) then fails with a typed `IndexOutOfRange` error, as the CPU path fails at once.

use super::Reduction;
use crate::cuda::{self, CudaStorage, LaunchConfig, Module};
use crate::error::Result;
use crate::layout::Layout;
use crate::nn::activation::cuda::row_threads;

pub(crate) static MODULE: Module = Module::new("loss", include_str!("loss.cu"));

/// Threads of the single-block reductions (`LOSS_REDUCE_THREADS` in loss.cu).
const REDUCE_THREADS: u32 = 256;

/// The class-index targets of `rows` rows: their device address and `ignore_index`.
pub(super) struct Targets<'a> {
    pub storage: &'a CudaStorage,
    pub layout: &'a Layout,
    pub ignore_index: i64,
}

impl Targets<'_> {
    fn ptr(&self, op: &'static str) -> Result<u64> {
        self.storage.ptr::<i64>(op, self.layout)
    }

    fn rows(&self) -> usize {
        self.layout.numel()
    }
}

fn dense(n: usize) -> Layout {
    Layout::contiguous(&[n])
}

/// Cross entropy of `[rows, c]` logits with label smoothing `smoothing`, reduced as
/// `reduction` says, and the softmax probabilities the backward needs.
pub(super) fn cross_entropy_forward(
    (x, xl): (&CudaStorage, &Layout),
    targets: &Targets,
    c: usize,
    smoothing: f64,
    reduction: Reduction,
) -> Result<(CudaStorage, CudaStorage)> {
    const OP: &str = "cross_entropy";
    let (xp, tp, rows) = (x.ptr::<f32>(OP, xl)?, targets.ptr(OP)?, targets.rows());
    let device = x.device();
    let mut losses = CudaStorage::alloc::<f32>(device, rows)?;
    let mut probs = CudaStorage::alloc::<f32>(device, rows * c)?;
    if rows > 0 {
        let lp = losses.ptr_mut::<f32>(OP, &dense(rows))?;
        let pp = probs.ptr_mut::<f32>(OP, &dense(rows * c))?;
        let (rows_, c_, smoothing) = (rows as i64, c as i64, smoothing as f32);
        let ignore = targets.ignore_index;
        let error = device.error_word(OP)?;
        let config = LaunchConfig::rows(rows, row_threads(c), 0);
        // SAFETY: `xp` and `pp` hold rows * c f32, `tp` rows i64, `lp` rows f32; stream-ordered.
        unsafe {
            device.launch(
                OP,
                &MODULE,
                "loss_cross_entropy_forward_f32",
                config,
                &mut cuda::args![xp, tp, lp, pp, rows_, c_, ignore, smoothing, error],
            )
        }?;
    }
    Ok((reduce(OP, losses, targets, reduction)?, probs))
}

/// Negative log-likelihood of `[rows, c]` log-probabilities, reduced as `reduction` says.
pub(super) fn nll_forward(
    (x, xl): (&CudaStorage, &Layout),
    targets: &Targets,
    c: usize,
    reduction: Reduction,
) -> Result<CudaStorage> {
    const OP: &str = "nll_loss";
    let (xp, tp, rows) = (x.ptr::<f32>(OP, xl)?, targets.ptr(OP)?, targets.rows());
    let mut losses = CudaStorage::alloc::<f32>(x.device(), rows)?;
    if rows > 0 {
        let lp = losses.ptr_mut::<f32>(OP, &dense(rows))?;
        let (rows_, c_, ignore) = (rows as i64, c as i64, targets.ignore_index);
        let error = x.device().error_word(OP)?;
        // SAFETY: `xp` holds rows * c f32, `tp` rows i64, `lp` rows f32; stream-ordered.
        unsafe {
            x.device().launch(
                OP,
                &MODULE,
                "loss_nll_forward_f32",
                LaunchConfig::elementwise(rows),
                &mut cuda::args![xp, tp, lp, rows_, c_, ignore, error],
            )
        }?;
    }
    reduce(OP, losses, targets, reduction)
}

/// The per-row `losses` combined by `reduction`: themselves, or their sum or mean on the device.
fn reduce(
    op: &'static str,
    losses: CudaStorage,
    targets: &Targets,
    reduction: Reduction,
) -> Result<CudaStorage> {
    let mean = match reduction {
        Reduction::None => return Ok(losses),
        Reduction::Mean => 1i32,
        Reduction::Sum => 0,
    };
    let rows = targets.rows();
    let device = losses.device();
    let mut out = CudaStorage::alloc::<f32>(device, 1)?;
    let (lp, tp) = (losses.ptr::<f32>(op, &dense(rows))?, targets.ptr(op)?);
    let op_ = out.ptr_mut::<f32>(op, &dense(1))?;
    let (rows, ignore) = (rows as i64, targets.ignore_index);
    // SAFETY: `lp` holds rows f32 and `tp` rows i64 (both may be empty), `op_` one f32; one block
    // of REDUCE_THREADS, as the kernel's shared arrays are sized.
    unsafe {
        device.launch(
            op,
            &MODULE,
            "loss_reduce_f32",
            LaunchConfig::rows(1, REDUCE_THREADS, 0),
            &mut cuda::args![lp, tp, op_, rows, ignore, mean],
        )
    }?;
    Ok(out)
}

/// The gradient of each per-row loss as the backward kernels read it: `(address, stride)` where
/// row r's weight is at `address + r * stride` (stride 0: one weight for all rows). A mean's
/// weight is computed into `scratch`, which must live until the kernels that read it are queued
/// (the caching allocator hands a freed block out again in stream order).
fn sample_weights(
    op: &'static str,
    (g, gl): (&CudaStorage, &Layout),
    targets: &Targets,
    reduction: Reduction,
    scratch: &mut Option<CudaStorage>,
) -> Result<(u64, i64)> {
    let gp = g.ptr::<f32>(op, gl)?;
    match reduction {
        Reduction::None => Ok((gp, 1)),
        Reduction::Sum => Ok((gp, 0)),
        Reduction::Mean => {
            let device = g.device();
            let scale = scratch.insert(CudaStorage::alloc::<f32>(device, 1)?);
            let sp = scale.ptr_mut::<f32>(op, &dense(1))?;
            let (tp, rows, ignore) = (
                targets.ptr(op)?,
                targets.rows() as i64,
                targets.ignore_index,
            );
            // SAFETY: `gp` holds one f32, `tp` rows i64, `sp` one f32; one block of
            // REDUCE_THREADS, as the kernel's shared array is sized.
            unsafe {
                device.launch(
                    op,
                    &MODULE,
                    "loss_mean_scale_f32",
                    LaunchConfig::rows(1, REDUCE_THREADS, 0),
                    &mut cuda::args![gp, tp, sp, rows, ignore],
                )
            }?;
            Ok((sp, 0))
        }
    }
}

/// `weight[row] * (p - (1 - s) * onehot(target) - s / c)` from the saved probabilities.
pub(super) fn cross_entropy_backward_input(
    g: (&CudaStorage, &Layout),
    (probs, pl): (&CudaStorage, &Layout),
    targets: &Targets,
    c: usize,
    smoothing: f64,
    reduction: Reduction,
) -> Result<CudaStorage> {
    const OP: &str = "cross_entropy";
    let mut scratch = None;
    let (wp, stride) = sample_weights(OP, g, targets, reduction, &mut scratch)?;
    let (pp, tp) = (probs.ptr::<f32>(OP, pl)?, targets.ptr(OP)?);
    let (rows, ignore, smoothing) = (targets.rows(), targets.ignore_index, smoothing as f32);
    let (device, n) = (probs.device(), rows * c);
    let mut dx = CudaStorage::alloc::<f32>(device, n)?;
    if n > 0 {
        let dp = dx.ptr_mut::<f32>(OP, &dense(n))?;
        let (rows, c) = (rows as i64, c as i64);
        // SAFETY: `pp` and `dp` hold rows * c f32, `tp` rows i64, `wp` one f32 per row (stride 1)
        // or one in all (stride 0), kept alive by `g` or `scratch`; stream-ordered.
        unsafe {
            device.launch(
                OP,
                &MODULE,
                "loss_cross_entropy_backward_f32",
                LaunchConfig::elementwise(n),
                &mut cuda::args![pp, tp, wp, stride, dp, rows, c, ignore, smoothing],
            )
        }?;
    }
    Ok(dx)
}

/// `-weight[row]` at each row's target, 0 elsewhere.
pub(super) fn nll_backward_input(
    g: (&CudaStorage, &Layout),
    targets: &Targets,
    c: usize,
    reduction: Reduction,
) -> Result<CudaStorage> {
    const OP: &str = "nll_loss";
    let mut scratch = None;
    let (wp, stride) = sample_weights(OP, g, targets, reduction, &mut scratch)?;
    let (tp, rows, ignore) = (targets.ptr(OP)?, targets.rows(), targets.ignore_index);
    let (device, n) = (g.0.device(), rows * c);
    let mut dx = CudaStorage::alloc::<f32>(device, n)?;
    if n > 0 {
        let dp = dx.ptr_mut::<f32>(OP, &dense(n))?;
        let (rows, c) = (rows as i64, c as i64);
        // SAFETY: `tp` holds rows i64, `dp` rows * c f32, `wp` as in the cross entropy backward;
        // stream-ordered.
        unsafe {
            device.launch(
                OP,
                &MODULE,
                "loss_nll_backward_f32",
                LaunchConfig::elementwise(n),
                &mut cuda::args![tp, wp, stride, dp, rows, c, ignore],
            )
        }?;
    }
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::super::Tensor;
    use super::Reduction;
    use crate::device::Device;
    use crate::testing::{assert_same_values, cuda_test, values};

    const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

    /// Scores of `shape` (class dim 1, or 0 when unbatched) and targets, every fifth `ignore`.
    fn problem(shape: &[usize], seed: u64, ignore: i64) -> (Tensor, Tensor) {
        let x: Vec<f32> = values(shape.iter().product(), seed)
            .iter()
            .map(|v| v * 6.0)
            .collect();
        let (c, target_shape) = match shape {
            [c] => (*c, vec![]),
            _ => (shape[1], [&shape[..1], &shape[2..]].concat()),
        };
        let n: usize = target_shape.iter().product();
        let t: Vec<i64> = (0..n as i64)
            .map(|i| {
                if i % 5 == 3 {
                    ignore
                } else {
                    (i * 7 + seed as i64) % c as i64
                }
            })
            .collect();
        (
            Tensor::from_f32(x, shape).unwrap(),
            Tensor::from_i64(t, &target_shape).unwrap(),
        )
    }

    type Loss<'a> = &'a dyn Fn(&Tensor, &Tensor) -> crate::Result<Tensor>;

    /// `loss` on the CPU and on `device`: values, then input gradients for the same upstream
    /// gradient.
    fn compare(loss: Loss, (x, t): (&Tensor, &Tensor), device: Device) {
        let x = x.detach();
        x.set_requires_grad(true).unwrap();
        let dx = x.to_device(device).unwrap().detach();
        dx.set_requires_grad(true).unwrap();
        let want = loss(&x, t).unwrap();
        let got = loss(&dx, &t.to_device(device).unwrap()).unwrap();
        assert_same_values(&got, &want, 1e-4);
        let g = Tensor::from_f32(
            values(want.numel(), 3).iter().map(|v| v + 1.5).collect(),
            want.shape(),
        )
        .unwrap();
        want.backward(Some(&g), false).unwrap();
        got.backward(Some(&g.to_device(device).unwrap()), false)
            .unwrap();
        assert_same_values(&dx.grad().unwrap(), &x.grad().unwrap(), 1e-4);
    }

    const SHAPES: [&[usize]; 6] = [
        &[1, 1],
        &[7, 33],
        &[257, 5],
        &[9],
        &[2, 3, 4, 5],
        &[3, 1031],
    ];

    cuda_test!(fn cross_entropy_matches_the_cpu_with_every_option(device) {
        for (i, shape) in SHAPES.iter().enumerate() {
            for ignore in [-100, 0] {
                let (x, t) = problem(shape, i as u64, ignore);
                for reduction in REDUCTIONS {
                    for smoothing in [0.0, 0.1, 1.0] {
                        let loss = |x: &Tensor, t: &Tensor| {
                            x.cross_entropy(t, reduction, ignore, smoothing)
                        };
                        compare(&loss, (&x, &t), device);
                    }
                }
            }
        }
    });

    cuda_test!(fn nll_loss_matches_the_cpu_with_every_option(device) {
        for (i, shape) in SHAPES.iter().enumerate() {
            for ignore in [-100, 1] {
                let (x, t) = problem(shape, 10 + i as u64, ignore);
                for reduction in REDUCTIONS {
                    let loss = |x: &Tensor, t: &Tensor| x.nll_loss(t, reduction, ignore);
                    compare(&loss, (&x, &t), device);
                }
            }
        }
    });

    cuda_test!(fn losses_of_strided_scores_and_large_logits(device) {
        let (x, t) = problem(&[5, 7], 1, -100);
        let loss = |x: &Tensor, t: &Tensor| {
            let scores = x.transpose(0, 1)?.contiguous()?.transpose(0, 1)?;
            scores.cross_entropy(t, Reduction::Mean, -100, 0.2)
        };
        compare(&loss, (&x, &t), device);
        let big = Tensor::from_f32(vec![1000.0, 1001.0, 999.0, -5.0, 0.0, 5.0], &[2, 3]).unwrap();
        let t = Tensor::from_i64(vec![1, 0], &[2]).unwrap();
        let loss = |x: &Tensor, t: &Tensor| x.cross_entropy(t, Reduction::Sum, -100, 0.0);
        compare(&loss, (&big, &t), device);
    });

    cuda_test!(fn ignored_and_out_of_range_targets(device) {
        let x = Tensor::from_f32(values(6, 4), &[2, 3]).unwrap().to_device(device).unwrap();
        let ignored = Tensor::from_i64(vec![-100, -100], &[2]).unwrap().to_device(device).unwrap();
        for loss in [
            x.cross_entropy(&ignored, Reduction::Mean, -100, 0.0).unwrap(),
            x.nll_loss(&ignored, Reduction::Mean, -100).unwrap(),
        ] {
            assert!(loss.item().unwrap().is_nan(), "0 / 0 counted targets");
        }
        // The kernels report a bad target; the next read from the device is the typed error,
        // and the device works again after it.
        let bad = Tensor::from_i64(vec![1, 3], &[2]).unwrap().to_device(device).unwrap();
        let losses: [&dyn Fn() -> Tensor; 2] = [
            &|| x.cross_entropy(&bad, Reduction::None, -100, 0.0).unwrap(),
            &|| x.nll_loss(&bad, Reduction::Sum, -100).unwrap(),
        ];
        for loss in losses {
            let err = loss().to_device(Device::Cpu).unwrap_err();
            assert_eq!(err.code(), "IndexOutOfRange", "{err}");
            assert!(err.to_string().contains("outside [0, classes)"), "{err}");
            let good = x.cross_entropy(&ignored, Reduction::Sum, -100, 0.0).unwrap();
            assert_eq!(good.item().unwrap(), 0.0);
        }
    });
}
