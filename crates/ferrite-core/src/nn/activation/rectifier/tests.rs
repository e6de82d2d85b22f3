use super::*;
use crate::testing::{
    assert_close, assert_same_values, floats, gradcheck, leaf_on, tensor, test_device, values,
};

const SQRT_PI: f64 = 1.772_453_850_905_516;

/// erfc in float64: the Maclaurin series of erf below 2, the continued fraction above.
fn erfc(z: f64) -> f64 {
    if z < 0.0 {
        return 2.0 - erfc(-z);
    }
    if z < 2.0 {
        let (mut term, mut sum) = (z, z);
        for n in 1..200 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        return 1.0 - 2.0 / SQRT_PI * sum;
    }
    let mut f = z;
    for k in (1..80).rev() {
        f = z + (k as f64 / 2.0) / f;
    }
    (-z * z).exp() / (SQRT_PI * f)
}

/// Each activation's float64 value and derivative at `x`.
fn reference(kind: Rectifier, x: f64) -> (f64, f64) {
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    match kind {
        Rectifier::LeakyRelu { negative_slope } => {
            let slope = negative_slope as f64;
            if x > 0.0 {
                (x, 1.0)
            } else {
                (x * slope, slope)
            }
        }
        Rectifier::Gelu(GeluApproximation::None) => {
            let cdf = 0.5 * erfc(-x / 2f64.sqrt());
            let pdf = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            (x * cdf, cdf + x * pdf)
        }
        // (1 + tanh u) / 2 is sigmoid(2u): in that form float64 does not cancel in the tail either.
        Rectifier::Gelu(GeluApproximation::Tanh) => {
            let beta = (2.0 / std::f64::consts::PI).sqrt();
            let kappa = 0.044715;
            let s = sigmoid(2.0 * beta * (x + kappa * x * x * x));
            let d = s + 2.0 * x * s * (1.0 - s) * beta * (1.0 + 3.0 * kappa * x * x);
            (x * s, d)
        }
        Rectifier::Silu => {
            let s = sigmoid(x);
            (x * s, s * (1.0 + x * (1.0 - s)))
        }
        Rectifier::Hardswish => {
            // PyTorch 2.15's pieces: 0 at -3, 1 at 3.
            let d = if x <= -3.0 {
                0.0
            } else if x < 3.0 {
                x / 3.0 + 0.5
            } else {
                1.0
            };
            (x * (x + 3.0).clamp(0.0, 6.0) / 6.0, d)
        }
    }
}

pub(super) const KINDS: [Rectifier; 6] = [
    Rectifier::LeakyRelu {
        negative_slope: 0.01,
    },
    Rectifier::LeakyRelu {
        negative_slope: -1.5,
    },
    Rectifier::Gelu(GeluApproximation::None),
    Rectifier::Gelu(GeluApproximation::Tanh),
    Rectifier::Silu,
    Rectifier::Hardswish,
];

pub(super) fn apply(kind: Rectifier, x: &Tensor) -> Result<Tensor> {
    match kind {
        Rectifier::LeakyRelu { negative_slope } => x.leaky_relu(negative_slope as f64),
        Rectifier::Gelu(approximate) => x.gelu(approximate),
        Rectifier::Silu => x.silu(),
        Rectifier::Hardswish => x.hardswish(),
    }
}

#[test]
fn the_float64_erfc_reference_is_right() {
    // Values from Python's math.erfc.
    for (z, want) in [
        (0.0, 1.0),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_13),
        (2.9, 4.109_787_809_945_886e-5),
        (3.1, 1.164_865_736_719_958_9e-5),
        (5.0, 1.537_459_794_428_035_1e-12),
        (-1.0, 1.842_700_792_949_715),
    ] {
        assert!(
            ((erfc(z) - want) / want).abs() < 1e-11,
            "erfc({z}) = {}",
            erfc(z)
        );
    }
}

test_device!(fn rectifiers_match_a_float64_reference(device) {
    // Edge points (0, the hardswish corners, saturated tails) and a spread of values.
    let mut x = vec![0.0, -0.0, -3.0, 3.0, -2.999, 3.001, 1e-6, -1e-6, 20.0, -20.0, 90.0, -90.0];
    x.extend(values(244, 3).iter().map(|v| v * 12.0));
    let input = floats(x.clone(), &[16, 16], device);
    for kind in KINDS {
        let want: Vec<f64> = x.iter().map(|&v| reference(kind, v as f64).0).collect();
        let got = apply(kind, &input).unwrap().to_vec_f32().unwrap();
        assert_close(&got, &want, 2e-6);
        // The gradient with an upstream gradient of ones is the derivative itself.
        let leaf = input.detach();
        leaf.set_requires_grad(true).unwrap();
        let y = apply(kind, &leaf).unwrap();
        y.backward(Some(&Tensor::ones(&[16, 16], DType::F32, device).unwrap()), false)
            .unwrap();
        let want: Vec<f64> = x.iter().map(|&v| reference(kind, v as f64).1).collect();
        assert_close(&leaf.grad().unwrap().to_vec_f32().unwrap(), &want, 4e-6);
    }
});

test_device!(fn gelu_is_accurate_relative_to_itself_in_the_negative_tail(device) {
    // Where 1 + erf(x) would cancel: |x Φ(x)| falls to 1e-30 here (and the tanh form's to
    // float32's smallest normal numbers, below which results flush to 0).
    let x: Vec<f32> = (0..=110).map(|i| -0.1 * i as f32).collect();
    let input = floats(x.clone(), &[x.len()], device);
    for approximate in [GeluApproximation::None, GeluApproximation::Tanh] {
        let kind = Rectifier::Gelu(approximate);
        let got = input.gelu(approximate).unwrap().to_vec_f32().unwrap();
        for (&v, &g) in x.iter().zip(&got) {
            let want = reference(kind, v as f64).0;
            assert!(
                (g as f64 - want).abs() <= 2e-5 * want.abs() || want.abs() < 1e-37 && g.abs() < 1e-37,
                "{approximate:?} gelu({v}) = {g}, want {want}"
            );
        }
    }
});

test_device!(fn rectifiers_read_strided_views_and_keep_special_values(device) {
    let x = tensor(&[4, 6], 5, device);
    for kind in KINDS {
        let viewed = apply(kind, &x.transpose(0, 1).unwrap()).unwrap();
        let copied = apply(kind, &x.transpose(0, 1).unwrap().contiguous().unwrap()).unwrap();
        assert_eq!(viewed.to_vec_f32().unwrap(), copied.to_vec_f32().unwrap());
        let special = floats(vec![f32::NAN, f32::INFINITY], &[2], device);
        let out = apply(kind, &special).unwrap().to_vec_f32().unwrap();
        assert!(out[0].is_nan(), "{kind:?} of NaN");
        assert_eq!(out[1], f32::INFINITY, "{kind:?} of +inf");
    }
    assert_eq!(
        floats(vec![], &[0, 3], device).silu().unwrap().shape(),
        &[0, 3]
    );
});

test_device!(fn rectifier_gradients_match_finite_differences(device) {
    // Away from the kinks (0 for leaky relu, ±3 for hardswish).
    let away_from_kinks = |seed| {
        let v: Vec<f32> = values(24, seed)
            .iter()
            .map(|&v| {
                let v = v * 5.0;
                if (v.abs() - 3.0).abs() < 0.1 || v.abs() < 0.1 {
                    v + 0.25
                } else {
                    v
                }
            })
            .collect();
        let x = floats(v, &[4, 6], device);
        x.set_requires_grad(true).unwrap();
        x
    };
    for (i, kind) in KINDS.into_iter().enumerate() {
        gradcheck(&[away_from_kinks(i as u64)], |x| apply(kind, &x[0]));
    }
    let x = leaf_on(&[2, 3], 9, device);
    let names = ["LeakyReluBackward0", "LeakyReluBackward0", "GeluBackward0", "GeluBackward0",
        "SiluBackward0", "HardswishBackward0"];
    for (kind, name) in KINDS.into_iter().zip(names) {
        assert_eq!(apply(kind, &x).unwrap().grad_fn_name(), Some(name));
    }
});

test_device!(fn rectifiers_take_bfloat16_and_refuse_integers(device) {
    let x = tensor(&[3, 5], 4, device);
    let half = x.to_dtype(DType::BF16).unwrap();
    for kind in KINDS {
        let got = apply(kind, &half).unwrap();
        assert_eq!(got.dtype(), DType::BF16);
        let want = apply(kind, &half.to_dtype(DType::F32).unwrap()).unwrap();
        assert_same_values(&got.to_dtype(DType::F32).unwrap(), &want, 1e-2);
        let ints = Tensor::ones(&[2], DType::I64, device).unwrap();
        assert_eq!(apply(kind, &ints).unwrap_err().code(), "DTypeMismatch");
    }
    assert_eq!(GeluApproximation::parse("erf").unwrap_err().code(), "InvalidArgument");
});
