use super::*;
use crate::device::Device;
use crate::testing::{assert_close, tensor, test_device, values};

fn t(v: &[f32], device: Device) -> Tensor {
    Tensor::from_f32(v.to_vec(), &[v.len()])
        .unwrap()
        .to_device(device)
        .unwrap()
}

pub(super) fn sgd(momentum: f64, dampening: f64, weight_decay: f64, nesterov: bool) -> SgdOptions {
    SgdOptions {
        lr: 0.1,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize: false,
    }
}

pub(super) fn adam(weight_decay: f64, amsgrad: bool, decoupled_weight_decay: bool) -> AdamOptions {
    AdamOptions {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
        amsgrad,
        maximize: false,
        decoupled_weight_decay,
    }
}

/// Reference in f64 of torch.optim.SGD's update for one scalar, several steps.
fn sgd_reference(mut p: f64, grads: &[f64], o: &SgdOptions) -> f64 {
    let mut buf = 0.0;
    for (i, &g0) in grads.iter().enumerate() {
        let d = if o.maximize { -g0 } else { g0 } + o.weight_decay * p;
        buf = if i == 0 {
            d
        } else {
            o.momentum * buf + (1.0 - o.dampening) * d
        };
        p -= o.lr
            * match (o.momentum != 0.0, o.nesterov) {
                (false, _) => d,
                (true, false) => buf,
                (true, true) => d + o.momentum * buf,
            };
    }
    p
}

/// Reference in f64 of torch.optim.Adam's update for one scalar, several steps.
fn adam_reference(mut p: f64, grads: &[f64], o: &AdamOptions) -> f64 {
    let (mut m, mut v, mut vmax) = (0.0, 0.0, 0.0f64);
    for (i, &g0) in grads.iter().enumerate() {
        let step = (i + 1) as f64;
        let mut g = if o.maximize { -g0 } else { g0 };
        if o.decoupled_weight_decay {
            p *= 1.0 - o.lr * o.weight_decay;
        } else {
            g += o.weight_decay * p;
        }
        m = o.beta1 * m + (1.0 - o.beta1) * g;
        v = o.beta2 * v + (1.0 - o.beta2) * g * g;
        let bc1 = 1.0 - o.beta1.powf(step);
        let bc2 = 1.0 - o.beta2.powf(step);
        vmax = vmax.max(v);
        let second = if o.amsgrad { vmax } else { v };
        p -= o.lr / bc1 * m / (second.sqrt() / bc2.sqrt() + o.eps);
    }
    p
}

test_device!(fn adam_matches_the_reference_over_several_steps(device) {
    let cases = [
        adam(0.0, false, false),
        adam(0.1, true, false),
        adam(0.01, false, true),
        AdamOptions {
            maximize: true,
            ..adam(0.05, true, true)
        },
    ];
    for o in cases {
        let grads = [0.5, -1.0, 0.25, 2.0];
        let p = t(&[1.5], device);
        let (m, v, vmax) = (t(&[0.0], device), t(&[0.0], device), t(&[0.0], device));
        for (i, &g) in grads.iter().enumerate() {
            let g = t(&[g as f32], device);
            adam_step(&p, &g, &m, &v, o.amsgrad.then_some(&vmax), i as u64 + 1, &o).unwrap();
        }
        let want = adam_reference(1.5, &grads, &o);
        let got = p.item().unwrap();
        assert!((got - want).abs() < 1e-6, "{o:?}: {got} vs {want}");
    }
});

test_device!(fn sgd_matches_the_reference_over_several_steps(device) {
    let cases = [
        sgd(0.0, 0.0, 0.0, false),
        sgd(0.0, 0.0, 0.5, false),
        sgd(0.9, 0.0, 0.0, false),
        sgd(0.9, 0.1, 0.01, false),
        sgd(0.9, 0.0, 0.01, true),
        SgdOptions {
            maximize: true,
            ..sgd(0.8, 0.0, 0.0, true)
        },
    ];
    for o in cases {
        let grads = [1.0, -0.5, 0.25, 2.0];
        let (p, buf) = (t(&[1.5], device), t(&[0.0], device));
        for (i, &g) in grads.iter().enumerate() {
            let g = t(&[g as f32], device);
            let buffer = (o.momentum != 0.0).then_some(&buf);
            sgd_step(&p, &g, buffer, i == 0, &o).unwrap();
        }
        let want = sgd_reference(1.5, &grads, &o);
        let got = p.item().unwrap();
        assert!((got - want).abs() < 1e-6, "{o:?}: {got} vs {want}");
    }
});

test_device!(fn sgd_momentum_and_nesterov_follow_pytorch(device) {
    // Hand-checkable: p=1, lr=0.1, momentum 0.9, grads 1 then 1.
    let o = sgd(0.9, 0.0, 0.0, false);
    let one = t(&[1.0], device);
    let (p, buf) = (t(&[1.0], device), t(&[0.0], device));
    sgd_step(&p, &one, Some(&buf), true, &o).unwrap();
    assert!((p.item().unwrap() - 0.9).abs() < 1e-7); // buf = 1
    sgd_step(&p, &one, Some(&buf), false, &o).unwrap();
    assert!((p.item().unwrap() - 0.71).abs() < 1e-6); // buf = 1.9
    let nesterov = SgdOptions {
        nesterov: true,
        ..o
    };
    let (q, qbuf) = (t(&[1.0], device), t(&[0.0], device));
    sgd_step(&q, &one, Some(&qbuf), true, &nesterov).unwrap();
    assert!((q.item().unwrap() - (1.0 - 0.1 * 1.9)).abs() < 1e-6); // d = g + 0.9 * buf
    let decay = sgd(0.0, 0.0, 0.5, false);
    let r = t(&[2.0], device);
    sgd_step(&r, &one, None, true, &decay).unwrap();
    assert!((r.item().unwrap() - (2.0 - 0.1 * 2.0)).abs() < 1e-6);
});

test_device!(fn strided_gradients_update_every_element(device) {
    // Large enough for the kernels' parallel split, with a transposed gradient.
    let (rows, cols) = (256, 160);
    let g = tensor(&[cols, rows], 1, device).transpose(0, 1).unwrap();
    let dense = g.contiguous().unwrap().to_vec_f32().unwrap();
    let start = values(rows * cols, 2);
    let p = tensor(&[rows, cols], 2, device);
    sgd_step(&p, &g, None, true, &sgd(0.0, 0.0, 0.0, false)).unwrap();
    let want: Vec<f64> = start
        .iter()
        .zip(&dense)
        .map(|(&p, &g)| (p - 0.1 * g) as f64)
        .collect();
    assert_close(&p.to_vec_f32().unwrap(), &want, 0.0);
});

test_device!(fn bad_states_are_refused_before_any_write(device) {
    let err = |r: Result<()>| r.unwrap_err().code();
    let (plain, momentum) = (sgd(0.0, 0.0, 0.0, false), sgd(0.9, 0.0, 0.0, false));
    let (p, g) = (t(&[1.0, 2.0], device), t(&[1.0, 1.0], device));
    let short = t(&[1.0], device);
    let ints = Tensor::from_i64(vec![1, 1], &[2])
        .unwrap()
        .to_device(device)
        .unwrap();
    let strided = t(&[0.0; 4], device)
        .view(&[2, 2])
        .unwrap()
        .select(1, 0)
        .unwrap();
    let nesterov = SgdOptions {
        nesterov: true,
        ..plain
    };
    let cases = [
        (sgd_step(&p, &short, None, true, &plain), "ShapeMismatch"),
        (sgd_step(&p, &g, None, true, &momentum), "InvalidArgument"),
        (sgd_step(&p, &g, None, true, &nesterov), "InvalidArgument"),
        (sgd_step(&p, &ints, None, true, &plain), "DTypeMismatch"),
        (
            sgd_step(&p, &g, Some(&strided), true, &momentum),
            "InvalidArgument",
        ),
    ];
    for (i, (result, code)) in cases.into_iter().enumerate() {
        assert_eq!(err(result), code, "sgd case {i}");
    }
    let (m, v) = (t(&[0.0; 2], device), t(&[0.0; 2], device));
    let amsgrad = adam(0.0, true, false);
    let cases = [
        (
            adam_step(&p, &g, &short, &v, None, 1, &amsgrad),
            "ShapeMismatch",
        ),
        (
            adam_step(&p, &g, &m, &v, None, 1, &amsgrad),
            "InvalidArgument",
        ),
        (
            adam_step(&p, &g, &m, &v, Some(&m), 0, &amsgrad),
            "InvalidArgument",
        ),
        (
            adam_step(&p, &ints, &m, &v, Some(&m), 1, &amsgrad),
            "DTypeMismatch",
        ),
        (
            adam_step(&p, &g, &m, &v, Some(&strided), 1, &amsgrad),
            "InvalidArgument",
        ),
    ];
    for (i, (result, code)) in cases.into_iter().enumerate() {
        assert_eq!(err(result), code, "adam case {i}");
    }
    for state in [&p, &m, &v] {
        assert_eq!(state.version(), 0);
    }
    assert_eq!(p.to_vec_f32().unwrap(), vec![1.0, 2.0]);
});

test_device!(fn bfloat16_parameters_are_refused_by_name(device) {
    let p = t(&[1.0, 2.0], device).to_dtype(DType::BF16).unwrap();
    let g = p.clone();
    let (m, v) = (t(&[0.0; 2], device), t(&[0.0; 2], device));
    let errors = [
        sgd_step(&p, &g, None, true, &sgd(0.0, 0.0, 0.0, false)).unwrap_err(),
        adam_step(&p, &g, &m, &v, None, 1, &adam(0.0, false, false)).unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.code(), "DTypeMismatch");
        let message = e.to_string();
        assert!(message.contains("float32 parameter") && message.ends_with("got bfloat16"), "{message}");
    }
    assert_eq!(p.version(), 0);
});
