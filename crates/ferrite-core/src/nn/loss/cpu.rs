//! Loss kernels over `[n, c]` rows of scores with one class index per row: the targets' check,
//! per-row losses and their reduction, and the input gradients. Rows whose target is
//! `ignore_index` contribute a zero loss and a zero gradient.

use rayon::prelude::*;

use super::Reduction;
use crate::cpu::PARALLEL_MIN_ELEMS;
use crate::nn::activation::softmax_row;

/// What validating the targets found.
pub(super) struct TargetCheck {
    /// The first target that is neither `ignore_index` nor a class.
    pub out_of_bounds: Option<i64>,
    /// Targets that are not `ignore_index`.
    pub counted: usize,
}

/// Finds the first out-of-range target and counts those not ignored.
pub(super) fn check_targets(targets: &[i64], c: usize, ignore_index: i64) -> TargetCheck {
    TargetCheck {
        out_of_bounds: targets
            .iter()
            .find(|&&t| t != ignore_index && !(0..c as i64).contains(&t))
            .copied(),
        counted: targets.iter().filter(|&&t| t != ignore_index).count(),
    }
}

/// Per-sample losses combined by `reduction`: one value, or the losses themselves.
pub(super) fn reduce(losses: Vec<f32>, reduction: Reduction, counted: usize) -> Vec<f32> {
    let sum = || losses.iter().map(|&l| l as f64).sum::<f64>();
    match reduction {
        Reduction::None => losses,
        // 0 / 0 is NaN when every target is ignored, as in PyTorch.
        Reduction::Mean => vec![(sum() / counted as f64) as f32],
        Reduction::Sum => vec![sum() as f32],
    }
}

/// The gradient of each of `rows` per-sample losses, from the gradient `g` of the reduced loss.
pub(super) fn sample_weights(
    g: &[f32],
    reduction: Reduction,
    rows: usize,
    counted: usize,
) -> Vec<f32> {
    match reduction {
        Reduction::None => g.to_vec(),
        Reduction::Sum => vec![g[0]; rows],
        Reduction::Mean => vec![g[0] / counted as f32; rows],
    }
}

/// Fills `out` one `c`-element row at a time with `f(row index, row)`, which returns a value per
/// row; rows go to rayon threads when `out` is large.
fn per_row(
    out: &mut [f32],
    rows: usize,
    c: usize,
    f: impl Fn(usize, &mut [f32]) -> f32 + Sync + Send,
) -> Vec<f32> {
    if c == 0 {
        // No classes: every target was ignored (others fail validation).
        return vec![0.0; rows];
    }
    if out.len() >= PARALLEL_MIN_ELEMS {
        let min_rows = (PARALLEL_MIN_ELEMS / 4 / c).max(1);
        out.par_chunks_mut(c)
            .with_min_len(min_rows)
            .enumerate()
            .map(|(i, o)| f(i, o))
            .collect()
    } else {
        out.chunks_mut(c)
            .enumerate()
            .map(|(i, o)| f(i, o))
            .collect()
    }
}

/// Per-row cross entropy `(1 - s) * nll + s * mean over classes of -log p`, and the softmax
/// probabilities that the backward needs.
pub(super) fn cross_entropy_forward(
    logits: &[f32],
    targets: &[i64],
    c: usize,
    ignore_index: i64,
    smoothing: f64,
) -> (Vec<f32>, Vec<f32>) {
    let mut probs = vec![0f32; logits.len()];
    let losses = per_row(&mut probs, targets.len(), c, |i, p| {
        let z = &logits[i * c..][..c];
        let (max, ln_sum) = softmax_row(z, p);
        let t = targets[i];
        if t == ignore_index {
            return 0.0;
        }
        // -log p = (max - z) + ln_sum, each term >= 0, so nothing cancels even for large logits.
        let neg_log_p = |v: f32| (max - v) as f64 + ln_sum as f64;
        let nll = neg_log_p(z[t as usize]);
        let smooth = if smoothing > 0.0 {
            z.iter().map(|&v| neg_log_p(v)).sum::<f64>() / c as f64
        } else {
            0.0
        };
        ((1.0 - smoothing) * nll + smoothing * smooth) as f32
    });
    (losses, probs)
}

/// `weight[row] * (p - (1 - s) * onehot(target) - s / c)`.
pub(super) fn cross_entropy_backward_input(
    probs: &[f32],
    targets: &[i64],
    weights: &[f32],
    c: usize,
    ignore_index: i64,
    smoothing: f64,
) -> Vec<f32> {
    let mut dx = vec![0f32; probs.len()];
    per_row(&mut dx, targets.len(), c, |i, d| {
        let (t, w) = (targets[i], weights[i]);
        if t != ignore_index {
            let spread = (w as f64 * smoothing / c as f64) as f32;
            d.iter_mut()
                .zip(&probs[i * c..])
                .for_each(|(d, &p)| *d = w * p - spread);
            d[t as usize] -= (w as f64 * (1.0 - smoothing)) as f32;
        }
        0.0
    });
    dx
}

/// Per-row `-log_probs[target]`.
pub(super) fn nll_forward(
    log_probs: &[f32],
    targets: &[i64],
    c: usize,
    ignore_index: i64,
) -> Vec<f32> {
    targets
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            if t == ignore_index {
                0.0
            } else {
                -log_probs[i * c + t as usize]
            }
        })
        .collect()
}

/// `-weight[row]` at each row's target, 0 elsewhere.
pub(super) fn nll_backward_input(
    targets: &[i64],
    weights: &[f32],
    c: usize,
    ignore_index: i64,
) -> Vec<f32> {
    let mut dx = vec![0f32; targets.len() * c];
    for (i, (&t, &w)) in targets.iter().zip(weights).enumerate() {
        if t != ignore_index {
            dx[i * c + t as usize] = -w;
        }
    }
    dx
}
