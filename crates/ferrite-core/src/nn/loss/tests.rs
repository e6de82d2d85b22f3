use super::*;
use crate::device::Device;
use crate::testing::{assert_close, floats, gradcheck, leaf_on, test_device, values};

fn targets_on(data: &[i64], shape: &[usize], device: Device) -> Tensor {
    Tensor::from_i64(data.to_vec(), shape)
        .unwrap()
        .to_device(device)
        .unwrap()
}

fn labels(data: &[i64], device: Device) -> Tensor {
    targets_on(data, &[data.len()], device)
}

/// Per-sample cross entropy with label smoothing, in f64 from the definition.
fn naive_cross_entropy(x: &[f32], targets: &[i64], c: usize, ignore: i64, s: f64) -> Vec<f64> {
    targets
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let row: Vec<f64> = x[i * c..(i + 1) * c].iter().map(|&v| v as f64).collect();
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            let logp: Vec<f64> = row.iter().map(|v| v - lse).collect();
            if t == ignore {
                0.0
            } else {
                -(1.0 - s) * logp[t as usize] - s / c as f64 * logp.iter().sum::<f64>()
            }
        })
        .collect()
}

test_device!(fn cross_entropy_matches_a_float64_reference(device) {
    let (n, c) = (5, 4);
    let x: Vec<f32> = values(n * c, 1).iter().map(|v| v * 5.0).collect();
    let targets = [3, -100, 0, 1, 3];
    let logits = floats(x.clone(), &[n, c], device);
    for s in [0.0, 0.2] {
        let per_sample = naive_cross_entropy(&x, &targets, c, -100, s);
        let none = logits
            .cross_entropy(&labels(&targets, device), Reduction::None, -100, s)
            .unwrap();
        assert_eq!(none.shape(), &[n]);
        assert_close(&none.to_vec_f32().unwrap(), &per_sample, 1e-6);
        let sum: f64 = per_sample.iter().sum();
        let got_sum = logits
            .cross_entropy(&labels(&targets, device), Reduction::Sum, -100, s)
            .unwrap();
        assert_eq!(got_sum.shape(), &[] as &[usize]);
        assert_close(&got_sum.to_vec_f32().unwrap(), &[sum], 1e-6);
        let mean = logits
            .cross_entropy(&labels(&targets, device), Reduction::Mean, -100, s)
            .unwrap();
        assert_close(&mean.to_vec_f32().unwrap(), &[sum / 4.0], 1e-6);
    }
    // Large enough for the parallel kernel.
    let (n, c) = (400, 100);
    let x = values(n * c, 2);
    let targets: Vec<i64> = (0..n as i64).map(|i| (i * 7) % c as i64).collect();
    let got = floats(x.clone(), &[n, c], device)
        .cross_entropy(&labels(&targets, device), Reduction::None, -100, 0.1)
        .unwrap();
    assert_close(
        &got.to_vec_f32().unwrap(),
        &naive_cross_entropy(&x, &targets, c, -100, 0.1),
        1e-5,
    );
});

test_device!(fn cross_entropy_is_log_softmax_then_nll_and_stable(device) {
    let x = floats(vec![1000.0, 1001.0, 999.0, -5.0, 0.0, 5.0], &[2, 3], device);
    let y = labels(&[1, 0], device);
    let fused = x
        .cross_entropy(&y, Reduction::None, -100, 0.0)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    let composed = x
        .log_softmax(1)
        .unwrap()
        .nll_loss(&y, Reduction::None, -100)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    assert!(fused.iter().all(|v| v.is_finite()));
    assert_close(
        &fused,
        &composed.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        1e-6,
    );
    assert_close(
        &fused,
        &naive_cross_entropy(&x.to_vec_f32().unwrap(), &[1, 0], 3, -100, 0.0),
        1e-5,
    );
});

test_device!(fn unbatched_and_fully_ignored_inputs(device) {
    let x = floats(vec![0.5, -1.0, 2.0], &[3], device);
    let target = targets_on(&[2], &[], device);
    let none = x
        .cross_entropy(&target, Reduction::None, -100, 0.0)
        .unwrap();
    assert_eq!(none.shape(), &[] as &[usize]);
    assert_close(
        &none.to_vec_f32().unwrap(),
        &naive_cross_entropy(&x.to_vec_f32().unwrap(), &[2], 3, -100, 0.0),
        1e-6,
    );
    assert_eq!(
        x.nll_loss(&target, Reduction::Mean, -100)
            .unwrap()
            .item()
            .unwrap(),
        -2.0
    );
    let ignored = floats(values(6, 3), &[2, 3], device)
        .cross_entropy(&labels(&[-100, -100], device), Reduction::Mean, -100, 0.0)
        .unwrap();
    assert!(ignored.item().unwrap().is_nan());
});

test_device!(fn spatial_scores_have_a_loss_per_position(device) {
    let (n, c, hw) = (2, 3, 4);
    let x = values(n * c * hw, 10);
    let targets = targets_on(&[0, 2, 1, -100, 2, 2, 0, 1], &[n, 2, 2], device);
    // The same problem as [N * H * W, C] rows, gathered by hand.
    let rows: Vec<f32> = (0..n)
        .flat_map(|i| (0..hw).flat_map(move |p| (0..c).map(move |k| (i, k, p))))
        .map(|(i, k, p)| x[(i * c + k) * hw + p])
        .collect();
    let scores = floats(x.clone(), &[n, c, 2, 2], device);
    let got = scores
        .cross_entropy(&targets, Reduction::None, -100, 0.1)
        .unwrap();
    assert_eq!(got.shape(), &[n, 2, 2]);
    assert_close(
        &got.to_vec_f32().unwrap(),
        &naive_cross_entropy(&rows, &targets.to_vec_i64().unwrap(), c, -100, 0.1),
        1e-6,
    );
    for reduction in [Reduction::Mean, Reduction::None] {
        gradcheck(&[leaf_on(&[n, c, 2, 2], 11, device)], |x| {
            x[0].cross_entropy(&targets, reduction, -100, 0.1)
        });
        gradcheck(&[leaf_on(&[n, c, 2, 2], 12, device)], |x| {
            x[0].nll_loss(&targets, reduction, -100)
        });
    }
    let err = scores
        .nll_loss(&labels(&[0, 1], device), Reduction::Mean, -100)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "nll_loss: expected targets of shape [2, 2, 2] for scores of shape [2, 3, 2, 2], got [2]"
    );
});

test_device!(fn nll_loss_picks_the_targets(device) {
    let x = floats(vec![-0.5, -1.0, -2.0, -3.0, -0.1, -0.2], &[2, 3], device);
    let y = labels(&[2, 1], device);
    assert_eq!(
        x.nll_loss(&y, Reduction::None, -100)
            .unwrap()
            .to_vec_f32()
            .unwrap(),
        vec![2.0, 0.1]
    );
    assert_eq!(
        x.nll_loss(&y, Reduction::Sum, -100)
            .unwrap()
            .item()
            .unwrap() as f32,
        2.1
    );
    assert_eq!(
        x.nll_loss(&y, Reduction::Mean, 1).unwrap().item().unwrap(),
        2.0
    );
});

test_device!(fn gradients_match_finite_differences(device) {
    let y = labels(&[2, -100, 0, 3], device);
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        for s in [0.0, 0.3] {
            gradcheck(&[leaf_on(&[4, 5], 4, device)], |x| {
                x[0].cross_entropy(&y, reduction, -100, s)
            });
        }
        gradcheck(&[leaf_on(&[4, 5], 5, device)], |x| {
            x[0].nll_loss(&y, reduction, -100)
        });
    }
    let target = targets_on(&[1], &[], device);
    gradcheck(&[leaf_on(&[5], 6, device)], |x| {
        x[0].cross_entropy(&target, Reduction::Mean, -100, 0.1)
    });
    let x = leaf_on(&[4, 5], 7, device);
    let loss = x.cross_entropy(&y, Reduction::Mean, -100, 0.0).unwrap();
    assert_eq!(loss.grad_fn_name(), Some("NllLossBackward0"));
    loss.backward(None, false).unwrap();
    // (softmax - onehot) / 3 counted samples; the ignored row gets nothing.
    let g = x.grad().unwrap().to_vec_f32().unwrap();
    let p = x.softmax(1).unwrap().to_vec_f32().unwrap();
    assert!((g[2] - (p[2] - 1.0) / 3.0).abs() < 1e-6 && (g[0] - p[0] / 3.0).abs() < 1e-6);
    assert!(g[5..10].iter().all(|&v| v == 0.0));
});

test_device!(fn errors_have_codes(device) {
    const INDEX: &str = "IndexOutOfRange";
    const DTYPE: &str = "DTypeMismatch";
    const SHAPE: &str = "ShapeMismatch";
    let x = floats(values(20, 8), &[2, 10], device);
    let ints = Tensor::zeros(&[2, 10], DType::I64, device).unwrap();
    let spatial = floats(values(8, 9), &[2, 2, 2], device);
    let floats = floats(vec![1.0, 2.0], &[2], device);
    let scalar = targets_on(&[1], &[], device);
    // (scores, targets, label smoothing or None for nll_loss, error code)
    let cases = [
        (&x, labels(&[1, 10], device), Some(0.0), INDEX),
        (&x, labels(&[-1, 0], device), None, INDEX),
        (&x, floats, Some(0.0), DTYPE),
        (&ints, labels(&[0, 0], device), None, DTYPE),
        (&x, labels(&[1, 2, 3], device), Some(0.0), SHAPE),
        (&x, scalar, Some(0.0), SHAPE),
        (&spatial, labels(&[0, 1], device), Some(0.0), SHAPE),
        (&x, labels(&[0, 1], device), Some(1.5), "InvalidArgument"),
    ];
    // A device checks targets in its kernels without waiting: out-of-range ones give NaN
    // there (nn::loss::cuda's tests), not an error.
    let host = device == Device::Cpu;
    for (scores, targets, smoothing, code) in &cases {
        if *code == INDEX && !host {
            continue;
        }
        let err = match smoothing {
            Some(s) => scores.cross_entropy(targets, Reduction::Mean, -100, *s),
            None => scores.nll_loss(targets, Reduction::Mean, -100),
        }
        .unwrap_err();
        assert_eq!(err.code(), *code, "{err}");
    }
    let message = |(scores, targets, _, _): &(&Tensor, Tensor, _, _)| {
        let err = scores.cross_entropy(targets, Reduction::Mean, -100, 0.0);
        err.unwrap_err().to_string()
    };
    if host {
        assert_eq!(
            message(&cases[0]),
            "cross_entropy: target 10 is out of bounds for 10 classes"
        );
    }
    assert_eq!(
        message(&cases[4]),
        "cross_entropy: expected input batch_size (2) to match target batch_size (3)"
    );
    assert_eq!(
        Reduction::parse("cross_entropy", "avg").unwrap_err().code(),
        "InvalidArgument"
    );
});
