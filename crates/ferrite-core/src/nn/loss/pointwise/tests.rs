use super::*;
use crate::testing::{assert_close, floats, gradcheck, leaf_on, tensor, test_device, values};

pub(super) const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

/// Per-element losses reduced in float64.
fn reduce(losses: Vec<f64>, reduction: Reduction) -> Vec<f64> {
    let sum: f64 = losses.iter().sum();
    match reduction {
        Reduction::None => losses,
        Reduction::Sum => vec![sum],
        Reduction::Mean => vec![sum / losses.len() as f64],
    }
}

/// `-w [p y log σ(x) + (1 - y) log(1 - σ(x))]` in float64, straight from the definition.
fn bce_reference(x: f64, y: f64, w: f64, p: f64) -> f64 {
    let sigmoid = 1.0 / (1.0 + (-x).exp());
    -w * (p * y * sigmoid.ln() + (1.0 - y) * (1.0 - sigmoid).ln())
}

test_device!(fn mse_loss_matches_a_float64_reference(device) {
    let (x, y) = (values(24, 1), values(24, 2));
    let (input, target) = (floats(x.clone(), &[4, 6], device), floats(y.clone(), &[4, 6], device));
    for reduction in REDUCTIONS {
        let losses = x.iter().zip(&y).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).collect();
        let got = input.mse_loss(&target, reduction).unwrap();
        assert_eq!(got.shape(), if reduction == Reduction::None { &[4, 6][..] } else { &[] });
        assert_close(&got.to_vec_f32().unwrap(), &reduce(losses, reduction), 1e-6);
    }
});

test_device!(fn bce_with_logits_matches_a_float64_reference_with_every_factor(device) {
    // Logits from -15 to 15, where log(1 - σ(x)) of the definition is still exact in float64.
    let x: Vec<f32> = values(24, 3).iter().map(|v| v * 15.0).collect();
    let y: Vec<f32> = values(24, 4).iter().map(|v| (v + 1.0) / 2.0).collect();
    let (w, p) = (vec![0.5f32, 2.0, 1.0, 0.0, 3.0, 1.5], vec![1.0f32, 2.0, 0.5, 4.0, 1.0, 0.25]);
    let (input, target) = (floats(x.clone(), &[4, 6], device), floats(y.clone(), &[4, 6], device));
    let (weight, pos_weight) = (floats(w.clone(), &[6], device), floats(p.clone(), &[1, 6], device));
    for reduction in REDUCTIONS {
        for (use_w, use_p) in [(false, false), (true, false), (false, true), (true, true)] {
            let losses = (0..24)
                .map(|i| {
                    let w = if use_w { w[i % 6] as f64 } else { 1.0 };
                    let p = if use_p { p[i % 6] as f64 } else { 1.0 };
                    bce_reference(x[i] as f64, y[i] as f64, w, p)
                })
                .collect();
            let got = input
                .binary_cross_entropy_with_logits(
                    &target,
                    use_w.then_some(&weight),
                    use_p.then_some(&pos_weight),
                    reduction,
                )
                .unwrap();
            assert_close(&got.to_vec_f32().unwrap(), &reduce(losses, reduction), 2e-6);
        }
    }
});

test_device!(fn bce_with_logits_is_stable_for_large_logits(device) {
    let input = floats(vec![80.0, -80.0, 100.0, -100.0, 30.0], &[5], device);
    let target = floats(vec![1.0, 0.0, 0.0, 1.0, 1.0], &[5], device);
    let got = input
        .binary_cross_entropy_with_logits(&target, None, None, Reduction::None)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    // Confidently right costs exp(-80), confidently wrong 100, and exp(-30) keeps its digits. For
    // a negative logit, (1 - y) x and log σ(x) cancel below their rounding, as in PyTorch: the
    // loss is exact to 1e-30 absolutely there, not relatively.
    let want = [(-80f64).exp(), (-80f64).exp(), 100.0, 100.0, (-30f64).exp()];
    for (g, w) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() <= 1e-6 * w + 1e-30, "{g} vs {w}");
    }
    assert!(got[0] > 0.0, "exp(-80) is not lost for a positive logit");
});

test_device!(fn pointwise_loss_gradients_match_finite_differences(device) {
    let probabilities = |seed| {
        let v = values(12, seed).iter().map(|v| (v + 1.0) / 2.0).collect();
        let t = floats(v, &[3, 4], device);
        t.set_requires_grad(true).unwrap();
        t
    };
    let (weight, pos_weight) = (tensor(&[4], 7, device), floats(vec![0.5, 2.0, 1.0, 3.0], &[4], device));
    for reduction in REDUCTIONS {
        gradcheck(&[leaf_on(&[3, 4], 1, device), leaf_on(&[3, 4], 2, device)], |t| {
            t[0].mse_loss(&t[1], reduction)
        });
        gradcheck(&[leaf_on(&[3, 4], 3, device), probabilities(4)], |t| {
            t[0].binary_cross_entropy_with_logits(&t[1], Some(&weight), Some(&pos_weight), reduction)
        });
        gradcheck(&[leaf_on(&[3, 4], 5, device), probabilities(6)], |t| {
            t[0].binary_cross_entropy_with_logits(&t[1], None, None, reduction)
        });
    }
    let x = leaf_on(&[2, 3], 9, device);
    let y = tensor(&[2, 3], 10, device);
    assert_eq!(x.mse_loss(&y, Reduction::Mean).unwrap().grad_fn_name(), Some("MseLossBackward0"));
    let bce = x.binary_cross_entropy_with_logits(&y, None, None, Reduction::Sum).unwrap();
    assert_eq!(bce.grad_fn_name(), Some("BinaryCrossEntropyWithLogitsBackward0"));
    // Only the input asks for a gradient here: the target gets none.
    bce.backward(None, false).unwrap();
    assert!(y.grad().is_none());
});

test_device!(fn pointwise_losses_of_views_bfloat16_and_empty_inputs(device) {
    let (x, y) = (tensor(&[4, 3], 1, device), tensor(&[3, 4], 2, device));
    let xt = x.transpose(0, 1).unwrap();
    let viewed = xt.mse_loss(&y, Reduction::Sum).unwrap().item().unwrap();
    let copied = xt.contiguous().unwrap().mse_loss(&y, Reduction::Sum).unwrap().item().unwrap();
    assert_eq!(viewed, copied);
    let half = xt.to_dtype(DType::BF16).unwrap();
    let got = half.binary_cross_entropy_with_logits(&y, None, None, Reduction::None).unwrap();
    assert_eq!(got.dtype(), DType::BF16);
    let empty = floats(vec![], &[0, 3], device);
    assert!(empty.mse_loss(&empty, Reduction::Mean).unwrap().item().unwrap().is_nan());
    assert_eq!(empty.mse_loss(&empty, Reduction::Sum).unwrap().item().unwrap(), 0.0);
});

test_device!(fn pointwise_loss_errors_have_codes(device) {
    let x = tensor(&[2, 3], 1, device);
    let code = |r: Result<Tensor>| r.unwrap_err().code();
    assert_eq!(code(x.mse_loss(&tensor(&[3], 2, device), Reduction::Mean)), "ShapeMismatch");
    let classes = Tensor::ones(&[2, 3], DType::I64, device).unwrap();
    assert_eq!(code(x.mse_loss(&classes, Reduction::Mean)), "DTypeMismatch");
    let bad_weight = tensor(&[2], 3, device);
    let bce = x.binary_cross_entropy_with_logits(&x, Some(&bad_weight), None, Reduction::Mean);
    assert_eq!(code(bce), "ShapeMismatch");
    assert_eq!(code(classes.mse_loss(&classes, Reduction::Mean)), "DTypeMismatch");
});
