use super::*;
use crate::device::Device;
use crate::nn::conv::Conv2dParams;
use crate::testing::{assert_close_f32, tensor};
use crate::{BinaryOp, ReduceOp};

struct Weights {
    conv: Tensor,
    conv_bias: Tensor,
    mean: Tensor,
    var: Tensor,
    gamma: Tensor,
    beta: Tensor,
    fc: Tensor,
    fc_bias: Tensor,
}

fn weights() -> Weights {
    let cpu = Device::Cpu;
    Weights {
        conv: tensor(&[4, 3, 3, 3], 1, cpu),
        conv_bias: tensor(&[4], 2, cpu),
        mean: tensor(&[4], 3, cpu),
        var: tensor(&[4], 4, cpu).unary(crate::UnaryOp::Abs).unwrap(),
        gamma: tensor(&[4], 5, cpu),
        beta: tensor(&[4], 6, cpu),
        fc: tensor(&[5, 4 * 4 * 4], 7, cpu),
        fc_bias: tensor(&[5], 8, cpu),
    }
}

/// conv, eval batch norm, relu, max pool, a residual add, view to [batch, -1] and linear, every
/// op through `run`, as the binding calls them.
fn forward(x: &Tensor, w: &Weights) -> Result<Tensor> {
    let conv = run(
        Op::Conv2d(Conv2dParams {
            padding: [1, 1],
            ..Default::default()
        }),
        &[Some(x), Some(&w.conv), Some(&w.conv_bias)],
    )?;
    let bn = run(
        Op::BatchNorm {
            training: false,
            momentum: 0.1,
            eps: 1e-5,
        },
        &[
            Some(&conv),
            Some(&w.mean),
            Some(&w.var),
            Some(&w.gamma),
            Some(&w.beta),
        ],
    )?;
    let relu = run(Op::Relu, &[Some(&bn)])?;
    let sum = run(Op::Binary(BinaryOp::Add), &[Some(&relu), Some(&conv)])?;
    let pooled = run(
        Op::MaxPool2d {
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
        },
        &[Some(&sum)],
    )?;
    let batch = pooled.shape()[0] as i64;
    let flat = run(
        Op::View {
            shape: vec![batch, -1],
        },
        &[Some(&pooled)],
    )?;
    run(Op::Linear, &[Some(&flat), Some(&w.fc), Some(&w.fc_bias)])
}

fn traced(w: &Weights) -> Graph {
    let x = tensor(&[1, 3, 8, 8], 9, Device::Cpu);
    begin(
        std::slice::from_ref(&x),
        vec![
            ("conv.weight".into(), w.conv.clone()),
            ("fc.bias".into(), w.fc_bias.clone()),
        ],
    )
    .unwrap();
    let out = forward(&x, w);
    let out = out.unwrap_or_else(|e| {
        abort();
        panic!("{e}")
    });
    end(&[out]).unwrap()
}

#[test]
fn a_traced_graph_replays_at_another_batch_size_like_eager() {
    let w = weights();
    let graph = traced(&w);
    let x = tensor(&[6, 3, 8, 8], 10, Device::Cpu);
    let eager = forward(&x, &w).unwrap();
    let replayed = graph.run(vec![x]).unwrap();
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].shape(), &[6, 5]);
    assert_close_f32(
        &replayed[0].to_vec_f32().unwrap(),
        &eager.to_vec_f32().unwrap(),
        0.0,
    );
}

#[test]
fn the_description_lists_inputs_constants_and_nodes() {
    let w = weights();
    let graph = traced(&w);
    let ops: Vec<&str> = graph.nodes().iter().map(|n| n.op.name()).collect();
    assert_eq!(
        ops,
        [
            "conv2d",
            "batch_norm",
            "relu",
            "binary",
            "max_pool2d",
            "view",
            "linear"
        ]
    );
    let d = graph.describe();
    assert_eq!(d["inputs"], serde_json::json!([0]));
    assert_eq!(d["values"][0]["kind"], "input");
    assert_eq!(d["values"][0]["shape"], serde_json::json!([1, 3, 8, 8]));
    assert_eq!(d["values"][1]["name"], "conv.weight");
    assert_eq!(d["values"][2]["kind"], "constant");
    assert!(d["values"][2].get("name").is_none());
    assert_eq!(d["nodes"][0]["attrs"]["padding"], serde_json::json!([1, 1]));
    assert_eq!(d["nodes"][3]["attrs"]["op"], "add");
    assert_eq!(d["nodes"][5]["attrs"]["shape"], serde_json::json!([1, -1]));
    let linear = &graph.nodes()[6];
    assert_eq!(
        graph.values()[linear.inputs[2].unwrap()].name.as_deref(),
        Some("fc.bias")
    );
    assert_eq!(d["outputs"], serde_json::json!([linear.output]));
    assert_eq!(
        graph.constant(1).unwrap().to_vec_f32().unwrap(),
        w.conv.to_vec_f32().unwrap()
    );
    assert!(graph.constant(0).is_err());
}

#[test]
fn a_graph_replays_on_another_thread() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let w = weights();
    let graph = std::sync::Arc::new(traced(&w));
    send_sync(&*graph);
    let x = tensor(&[3, 3, 8, 8], 11, Device::Cpu);
    let eager = forward(&x, &w).unwrap();
    let replayed = {
        let graph = graph.clone();
        std::thread::spawn(move || graph.run(vec![x]).unwrap())
            .join()
            .unwrap()
    };
    assert_close_f32(
        &replayed[0].to_vec_f32().unwrap(),
        &eager.to_vec_f32().unwrap(),
        0.0,
    );
}

#[test]
fn replay_checks_the_inputs() {
    let graph = traced(&weights());
    let wrong = tensor(&[2, 3, 8, 9], 12, Device::Cpu);
    assert_eq!(graph.run(vec![wrong]).unwrap_err().code(), "ShapeMismatch");
    assert_eq!(graph.run(vec![]).unwrap_err().code(), "InvalidArgument");
    let ints = Tensor::from_i64(vec![0; 3 * 64], &[1, 3, 8, 8]).unwrap();
    assert_eq!(graph.run(vec![ints]).unwrap_err().code(), "DTypeMismatch");
}

#[test]
fn reading_a_traced_value_fails_the_trace_and_naming_it() {
    let x = tensor(&[2, 3], 13, Device::Cpu);
    begin(std::slice::from_ref(&x), vec![]).unwrap();
    let y = run(
        Op::Reduce {
            op: ReduceOp::Sum,
            dims: vec![],
            keep_dim: false,
        },
        &[Some(&x)],
    )
    .unwrap();
    let unrelated = tensor(&[1], 14, Device::Cpu);
    assert!(check_access(&unrelated, "item").is_ok());
    let err = check_access(&y, "item").unwrap_err();
    assert_eq!(err.code(), "Untraceable");
    assert!(err.to_string().starts_with("item: cannot be traced"));
    // Even when the caller swallows the error, the trace fails, and later ops say why.
    assert_eq!(run(Op::Relu, &[Some(&x)]).unwrap_err(), err);
    assert_eq!(end(&[y]).unwrap_err(), err);
    assert!(!is_recording());
    assert!(run(Op::Relu, &[Some(&x)]).is_ok());
}

#[test]
fn traces_do_not_nest_and_abort_clears_the_recording() {
    let x = tensor(&[2], 15, Device::Cpu);
    begin(std::slice::from_ref(&x), vec![]).unwrap();
    assert_eq!(begin(&[], vec![]).unwrap_err().code(), "InvalidArgument");
    abort();
    assert!(!is_recording());
    assert_eq!(end(&[]).unwrap_err().code(), "InvalidArgument");
}

#[test]
fn replay_uses_the_autocast_setting_of_the_trace() {
    let a = tensor(&[1, 4], 16, Device::Cpu);
    let b = crate::testing::leaf(&[4, 3], 17);
    autocast::set(DeviceType::Cpu, Some(DType::BF16)).unwrap();
    begin(std::slice::from_ref(&a), vec![]).unwrap();
    let out = run(Op::Matmul, &[Some(&a), Some(&b)]);
    let graph = end(&[out.unwrap()]);
    autocast::set(DeviceType::Cpu, None).unwrap();
    let graph = graph.unwrap();
    let x = tensor(&[5, 4], 18, Device::Cpu);
    let replayed = graph.run(vec![x.clone()]).unwrap();
    assert_eq!(autocast::dtype(DeviceType::Cpu), None);
    let want_dtype = if autocast::native_bf16(Device::Cpu) {
        DType::BF16
    } else {
        DType::F32
    };
    assert_eq!(replayed[0].dtype(), want_dtype);
    assert!(!replayed[0].requires_grad());
}

/// conv without bias → eval batch norm → relu6, conv → silu, max pool, view, linear → relu and a
/// last linear: every chain the fusion pass fuses.
fn fusable(x: &Tensor, w: &Weights, conv2: &Tensor) -> Result<Tensor> {
    let padded = Conv2dParams {
        padding: [1, 1],
        ..Default::default()
    };
    let conv = run(Op::Conv2d(padded), &[Some(x), Some(&w.conv), None])?;
    let bn = run(
        Op::BatchNorm {
            training: false,
            momentum: 0.1,
            eps: 1e-5,
        },
        &[
            Some(&conv),
            Some(&w.mean),
            Some(&w.var),
            Some(&w.gamma),
            Some(&w.beta),
        ],
    )?;
    let relu6 = run(Op::Relu6, &[Some(&bn)])?;
    let conv2 = run(
        Op::Conv2d(padded),
        &[Some(&relu6), Some(conv2), Some(&w.conv_bias)],
    )?;
    let silu = run(Op::Silu, &[Some(&conv2)])?;
    let pooled = run(
        Op::MaxPool2d {
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
        },
        &[Some(&silu)],
    )?;
    let batch = pooled.shape()[0] as i64;
    let flat = run(
        Op::View {
            shape: vec![batch, -1],
        },
        &[Some(&pooled)],
    )?;
    let hidden = run(Op::Linear, &[Some(&flat), Some(&w.fc), Some(&w.fc_bias)])?;
    let relu = run(Op::Relu, &[Some(&hidden)])?;
    let head = w.fc.narrow(1, 0, 5)?.contiguous()?;
    run(Op::Linear, &[Some(&relu), Some(&head), None])
}

fn traced_fusable(w: &Weights, conv2: &Tensor) -> Graph {
    let x = tensor(&[1, 3, 8, 8], 20, Device::Cpu);
    begin(std::slice::from_ref(&x), vec![]).unwrap();
    let out = fusable(&x, w, conv2).unwrap_or_else(|e| {
        abort();
        panic!("{e}")
    });
    end(&[out]).unwrap()
}

/// `got` within `rtol` of `want`, relative to `want`'s largest magnitude.
#[track_caller]
fn assert_close_relative(got: &Tensor, want: &Tensor, rtol: f64) {
    let (got, want) = (got.to_vec_f32().unwrap(), want.to_vec_f32().unwrap());
    let scale = want.iter().fold(0f64, |m, &w| m.max(w.abs() as f64));
    assert!(scale > 0.0);
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g as f64 - w as f64).abs() <= rtol * scale,
            "element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn the_fused_graph_replays_like_the_traced_one() {
    let w = weights();
    let conv2 = tensor(&[4, 4, 3, 3], 21, Device::Cpu);
    let graph = traced_fusable(&w, &conv2);
    let fused = graph.fused();
    let ops: Vec<&str> = fused.nodes().iter().map(|n| n.op.name()).collect();
    assert_eq!(
        ops,
        [
            "fused_conv2d",
            "fused_conv2d",
            "max_pool2d",
            "view",
            "fused_linear",
            "linear"
        ]
    );
    assert_eq!(fused.nodes()[0].op.attrs()["batchNormEps"], 1e-5);
    assert_eq!(fused.nodes()[0].op.attrs()["activation"], "relu6");
    assert!(fused.nodes()[1].op.attrs()["batchNormEps"].is_null());
    assert_eq!(fused.nodes()[1].op.attrs()["activation"], "silu");
    let x = tensor(&[6, 3, 8, 8], 22, Device::Cpu);
    let unfused = graph.run(vec![x.clone()]).unwrap();
    let replayed = fused.run(vec![x]).unwrap();
    assert_close_relative(&replayed[0], &unfused[0], 1e-5);
}

#[test]
fn the_fused_graph_follows_in_place_changes_of_weights_and_running_stats() {
    let w = weights();
    let conv2 = tensor(&[4, 4, 3, 3], 23, Device::Cpu);
    let fused = traced_fusable(&w, &conv2).fused();
    let x = tensor(&[2, 3, 8, 8], 24, Device::Cpu);
    let before = fused.run(vec![x.clone()]).unwrap();
    // Cached: the same folded weights serve a second run.
    assert_close_relative(&fused.run(vec![x.clone()]).unwrap()[0], &before[0], 0.0);
    w.conv
        .copy_(&tensor(&[4, 3, 3, 3], 25, Device::Cpu))
        .unwrap();
    let var = tensor(&[4], 26, Device::Cpu)
        .unary(crate::UnaryOp::Abs)
        .unwrap();
    w.var.copy_(&var).unwrap();
    let after = fused.run(vec![x.clone()]).unwrap();
    let eager = {
        let _no_grad = crate::autograd::NoGradGuard::new();
        fusable(&x, &w, &conv2).unwrap()
    };
    assert_close_relative(&after[0], &eager, 1e-5);
    let moved = after[0]
        .sub(&before[0])
        .unwrap()
        .unary(crate::UnaryOp::Abs)
        .unwrap()
        .reduce(ReduceOp::Max, &[], false)
        .unwrap();
    assert!(moved.to_vec_f32().unwrap()[0] > 1e-3);
}

#[test]
fn values_used_twice_and_training_batch_norm_are_not_fused() {
    // The conv output feeds both the batch norm and the residual add.
    let graph = traced(&weights()).fused();
    let ops: Vec<&str> = graph.nodes().iter().map(|n| n.op.name()).collect();
    assert_eq!(
        ops,
        [
            "conv2d",
            "batch_norm",
            "relu",
            "binary",
            "max_pool2d",
            "view",
            "linear"
        ]
    );
    let w = weights();
    let x = tensor(&[2, 3, 8, 8], 27, Device::Cpu);
    begin(std::slice::from_ref(&x), vec![]).unwrap();
    let conv = run(
        Op::Conv2d(Conv2dParams::default()),
        &[Some(&x), Some(&w.conv), None],
    )
    .unwrap();
    let bn = run(
        Op::BatchNorm {
            training: true,
            momentum: 0.1,
            eps: 1e-5,
        },
        &[Some(&conv), None, None, None, None],
    )
    .unwrap();
    let relu = run(Op::Relu, &[Some(&bn)]).unwrap();
    let graph = end(&[relu, conv]).unwrap().fused();
    let ops: Vec<&str> = graph.nodes().iter().map(|n| n.op.name()).collect();
    assert_eq!(ops, ["conv2d", "batch_norm", "relu"]);
}

#[test]
fn batch_norm_relu_in_eval_mode_folds_into_the_convolution() {
    let w = weights();
    let batch_norm_relu = |x: &Tensor| -> Result<Tensor> {
        let conv = run(
            Op::Conv2d(Conv2dParams::default()),
            &[Some(x), Some(&w.conv), Some(&w.conv_bias)],
        )?;
        run(
            Op::BatchNormRelu {
                training: false,
                momentum: 0.1,
                eps: 1e-5,
            },
            &[
                Some(&conv),
                Some(&w.mean),
                Some(&w.var),
                Some(&w.gamma),
                Some(&w.beta),
            ],
        )
    };
    let sample = tensor(&[1, 3, 8, 8], 28, Device::Cpu);
    begin(std::slice::from_ref(&sample), vec![]).unwrap();
    let out = batch_norm_relu(&sample).unwrap_or_else(|e| {
        abort();
        panic!("{e}")
    });
    let graph = end(&[out]).unwrap();
    let fused = graph.fused();
    assert_eq!(fused.nodes().len(), 1);
    assert_eq!(fused.nodes()[0].op.attrs()["activation"], "relu");
    let x = tensor(&[3, 3, 8, 8], 29, Device::Cpu);
    let want = graph.run(vec![x.clone()]).unwrap();
    assert_close_relative(&fused.run(vec![x]).unwrap()[0], &want[0], 1e-5);
}
