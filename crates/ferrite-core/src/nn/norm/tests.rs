//! Batch norm against float64 references and finite differences, on every device.

use super::*;
use crate::autograd::NoGradGuard;
use crate::testing::{assert_close, floats, gradcheck, leaf_on, test_device, values};

/// Per-channel (mean, biased var) of `[n, c, s]` data in f64.
fn naive_stats(x: &[f32], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
    (0..c)
        .map(|ch| {
            let vals: Vec<f64> = (0..n)
                .flat_map(|i| (0..s).map(move |j| x[(i * c + ch) * s + j] as f64))
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            (
                mean,
                vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64,
            )
        })
        .collect()
}

fn naive_normalize(
    x: &[f32],
    c: usize,
    s: usize,
    stats: &[(f64, f64)],
    w: &[f32],
    b: &[f32],
    eps: f64,
) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / s) % c;
            (v as f64 - stats[ch].0) / (stats[ch].1 + eps).sqrt() * w[ch] as f64 + b[ch] as f64
        })
        .collect()
}

test_device!(fn training_matches_a_float64_reference_for_every_rank(device) {
    // Short rows (walked by sample) and long ones, each small and large enough for threads.
    for shape in [
        vec![6, 3],
        vec![4, 3, 5],
        vec![2, 3, 4, 4],
        vec![1000, 40],
        vec![2, 3, 8, 8],
        vec![16, 4, 32, 32],
    ] {
        let (n, c, s) = (shape[0], shape[1], shape[2..].iter().product::<usize>());
        // Offset values, so that a one-pass variance would lose precision.
        let x: Vec<f32> = values(n * c * s, 1)
            .iter()
            .map(|v| v * 3.0 + 100.0)
            .collect();
        let (w, b) = (values(c, 2), values(c, 3));
        let y = floats(x.clone(), &shape, device)
            .batch_norm(
                None,
                None,
                Some(&floats(w.clone(), &[c], device)),
                Some(&floats(b.clone(), &[c], device)),
                true,
                0.1,
                1e-5,
            )
            .unwrap();
        assert_eq!(y.shape(), &shape[..]);
        assert_close(
            &y.to_vec_f32().unwrap(),
            &naive_normalize(&x, c, s, &naive_stats(&x, n, c, s), &w, &b, 1e-5),
            1e-5,
        );
    }
});

test_device!(fn training_updates_running_stats_that_evaluation_then_uses(device) {
    let (n, c, s) = (4, 3, 6);
    let x = values(n * c * s, 4);
    let (rm, rv) = (floats(vec![0.5; c], &[c], device), floats(vec![2.0; c], &[c], device));
    floats(x.clone(), &[n, c, s], device)
        .batch_norm(Some(&rm), Some(&rv), None, None, true, 0.1, 1e-5)
        .unwrap();
    let stats = naive_stats(&x, n, c, s);
    let count = (n * s) as f64;
    let want_mean: Vec<f64> = stats.iter().map(|&(m, _)| 0.9 * 0.5 + 0.1 * m).collect();
    let want_var: Vec<f64> = stats
        .iter()
        .map(|&(_, v)| 0.9 * 2.0 + 0.1 * v * count / (count - 1.0))
        .collect();
    assert_close(&rm.to_vec_f32().unwrap(), &want_mean, 1e-6);
    assert_close(&rv.to_vec_f32().unwrap(), &want_var, 1e-6);

    let x2 = values(2 * c * s, 5);
    let y = floats(x2.clone(), &[2, c, s], device)
        .batch_norm(Some(&rm), Some(&rv), None, None, false, 0.1, 1e-3)
        .unwrap();
    let running: Vec<(f64, f64)> = want_mean
        .iter()
        .zip(&want_var)
        .map(|(&m, &v)| (m, v))
        .collect();
    assert_close(
        &y.to_vec_f32().unwrap(),
        &naive_normalize(&x2, c, s, &running, &[1.0; 3], &[0.0; 3], 1e-3),
        1e-5,
    );
    assert_close(&rm.to_vec_f32().unwrap(), &want_mean, 1e-6);
});

test_device!(fn gradients_match_finite_differences(device) {
    let channel = |seed| {
        floats(
            values(3, seed).iter().map(|v| v + 2.0).collect(),
            &[3],
            device,
        )
    };
    gradcheck(
        &[
            leaf_on(&[4, 3, 5], 6, device),
            leaf_on(&[3], 7, device),
            leaf_on(&[3], 8, device),
        ],
        |x| x[0].batch_norm(None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5),
    );
    gradcheck(&[leaf_on(&[5, 3], 9, device)], |x| {
        x[0].batch_norm(None, None, None, None, true, 0.1, 1e-5)
    });
    let (rm, rv) = (floats(values(3, 10), &[3], device), channel(11));
    gradcheck(
        &[
            leaf_on(&[2, 3, 2, 2], 12, device),
            leaf_on(&[3], 13, device),
            leaf_on(&[3], 14, device),
        ],
        |x| {
            x[0].batch_norm(
                Some(&rm),
                Some(&rv),
                Some(&x[1]),
                Some(&x[2]),
                false,
                0.1,
                1e-5,
            )
        },
    );
});

test_device!(fn only_the_needed_gradients_are_computed(device) {
    let x = floats(values(24, 15), &[4, 3, 2], device);
    let (w, b) = (leaf_on(&[3], 16, device), floats(vec![0.0; 3], &[3], device));
    let y = x
        .batch_norm(None, None, Some(&w), Some(&b), true, 0.1, 1e-5)
        .unwrap();
    assert_eq!(y.grad_fn_name(), Some("NativeBatchNormBackward0"));
    y.sum(&[], false).unwrap().backward(None, false).unwrap();
    // sum(xhat) over each channel is 0, so dweight is 0 for a uniform upstream gradient.
    assert!(w
        .grad()
        .unwrap()
        .to_vec_f32()
        .unwrap()
        .iter()
        .all(|g| g.abs() < 1e-4));
    assert!(x.grad().is_none() && b.grad().is_none());
    let _g = NoGradGuard::new();
    assert!(!x
        .batch_norm(None, None, Some(&w), None, true, 0.1, 1e-5)
        .unwrap()
        .requires_grad());
});

test_device!(fn errors_have_codes(device) {
    const INVALID: &str = "InvalidArgument";
    const SHAPE: &str = "ShapeMismatch";
    let x = floats(values(16, 17), &[1, 16, 1, 1], device);
    let (rm, rv) = (
        floats(vec![0.0; 16], &[16], device),
        floats(vec![1.0; 16], &[16], device),
    );
    assert!(x
        .batch_norm(Some(&rm), Some(&rv), None, None, false, 0.1, 1e-5)
        .is_ok());
    let wrong = floats(vec![1.0; 8], &[8], device);
    let vector = floats(vec![1.0; 4], &[4], device);
    let ints = Tensor::ones(&[2, 2], DType::I64, device).unwrap();
    // (input, running_mean, bias, training, error code)
    let cases = [
        (&x, None, None, true, INVALID),
        (&x, None, None, false, INVALID),
        (&x, Some(&wrong), None, false, SHAPE),
        (&x, None, Some(&wrong), true, SHAPE),
        (&vector, None, None, true, SHAPE),
        (&ints, None, None, true, "DTypeMismatch"),
    ];
    for (i, (input, running_mean, bias, training, code)) in cases.into_iter().enumerate() {
        let err = input
            .batch_norm(running_mean, None, None, bias, training, 0.1, 1e-5)
            .unwrap_err();
        assert_eq!(err.code(), code, "case {i}: {err}");
    }
    let message = |running_mean: Option<&Tensor>, training: bool| {
        let err = x.batch_norm(running_mean, None, None, None, training, 0.1, 1e-5);
        err.unwrap_err().to_string()
    };
    assert_eq!(
        message(None, true),
        "batch_norm: Expected more than 1 value per channel when training, got input size \
         [1, 16, 1, 1]"
    );
    assert_eq!(
        message(Some(&wrong), false),
        "batch_norm: running_mean should contain 16 elements, one per channel of the input \
         [1, 16, 1, 1], not 8"
    );
});

test_device!(fn running_statistics_are_updated_only_where_in_place_updates_are_allowed(device) {
    let x = floats(values(24, 18), &[4, 3, 2], device);
    let leaf = leaf_on(&[3], 19, device);
    let err = x
        .batch_norm(Some(&leaf), None, None, None, true, 0.1, 1e-5)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidArgument", "{err}");
    let before = leaf.to_vec_f32().unwrap();
    {
        let _g = NoGradGuard::new();
        x.batch_norm(Some(&leaf), None, None, None, true, 0.1, 1e-5)
            .unwrap();
    }
    assert_ne!(leaf.to_vec_f32().unwrap(), before);
    // Every other element of a [6] buffer: a strided view cannot be updated in place.
    let strided = floats(vec![1.0; 6], &[3, 2], device).select(1, 0).unwrap();
    let err = x
        .batch_norm(None, Some(&strided), None, None, true, 0.1, 1e-5)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "batch_norm: in-place updates need a contiguous tensor"
    );
});

/// The output, the gradients of input, weight and bias, and the running statistics after, of
/// `f` (a batch norm then a ReLU, fused or not) given the same inputs and upstream gradient.
fn outcome(
    f: impl Fn(&Tensor, [&Tensor; 4]) -> Result<Tensor>,
    shape: &[usize],
    device: Device,
) -> Vec<Vec<f32>> {
    let c = shape[1];
    let x = leaf_on(shape, 30, device);
    let (w, b) = (leaf_on(&[c], 31, device), leaf_on(&[c], 32, device));
    let (rm, rv) = (
        floats(values(c, 33), &[c], device),
        floats(
            values(c, 34).iter().map(|v| v + 1.5).collect(),
            &[c],
            device,
        ),
    );
    let y = f(&x, [&rm, &rv, &w, &b]).unwrap();
    let g = floats(values(y.numel(), 35), shape, device);
    y.backward(Some(&g), false).unwrap();
    [
        &y,
        &x.grad().unwrap(),
        &w.grad().unwrap(),
        &b.grad().unwrap(),
        &rm,
        &rv,
    ]
    .map(|t| t.to_vec_f32().unwrap())
    .to_vec()
}

test_device!(fn batch_norm_relu_is_batch_norm_then_relu_bit_for_bit(device) {
    // Short rows and long ones, small and large enough for threads, training and evaluation.
    for shape in [vec![6, 3], vec![4, 3, 5], vec![2, 3, 8, 8], vec![16, 4, 32, 32], vec![300, 64, 2, 2]] {
        for training in [true, false] {
            let fused = outcome(
                |x, [rm, rv, w, b]| {
                    x.batch_norm_relu(Some(rm), Some(rv), Some(w), Some(b), training, 0.1, 1e-5)
                },
                &shape,
                device,
            );
            let composed = outcome(
                |x, [rm, rv, w, b]| {
                    x.batch_norm(Some(rm), Some(rv), Some(w), Some(b), training, 0.1, 1e-5)?
                        .relu()
                },
                &shape,
                device,
            );
            // Some outputs were clipped and some passed, so the mask was exercised both ways.
            assert!(fused[0].contains(&0.0) && fused[0].iter().any(|&v| v > 0.0));
            for (f, c) in fused.iter().zip(&composed) {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(f), bits(c), "{shape:?} training={training}");
            }
        }
    }
});

test_device!(fn batch_norm_relu_gradients_match_finite_differences(device) {
    // Inputs whose outputs stay clear of ReLU's kink by more than the finite-difference step
    // moves them, with some on each side of it.
    let (x, w, b) = (leaf_on(&[4, 3, 5], 101, device), leaf_on(&[3], 41, device), leaf_on(&[3], 42, device));
    let y = x
        .batch_norm(None, None, Some(&w), Some(&b), true, 0.1, 1e-5)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    assert!(y.iter().all(|v| v.abs() > 0.05), "an output is too close to the kink: {y:?}");
    assert!(y.iter().any(|&v| v < 0.0) && y.iter().any(|&v| v > 0.0));
    gradcheck(&[x, w, b], |x| {
        x[0].batch_norm_relu(None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5)
    });
});

test_device!(fn batch_norm_relu_of_bfloat16_is_batch_norm_then_relu(device) {
    let x = floats(values(2 * 3 * 4 * 4, 50), &[2, 3, 4, 4], device)
        .to_dtype(DType::BF16)
        .unwrap();
    let fused = x.batch_norm_relu(None, None, None, None, true, 0.1, 1e-5).unwrap();
    let composed = x
        .batch_norm(None, None, None, None, true, 0.1, 1e-5)
        .unwrap()
        .relu()
        .unwrap();
    assert_eq!(fused.dtype(), DType::BF16);
    assert_eq!(
        fused.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap(),
        composed.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap()
    );
});
