//! The traceable ops: one `Op` value per op call, with the attributes it was called with.
//! `Op::apply` is the one place that turns an op into a core call, for eager calls from JS and
//! for graph replay alike.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::fuse::FoldedWeights;
use crate::nn::Activation;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::nn::activation::GeluApproximation;
use crate::nn::conv::Conv2dParams;
use crate::ops::binary::BinaryOp;
use crate::ops::reduce::ReduceOp;
use crate::ops::unary::UnaryOp;
use crate::tensor::Tensor;

/// An op call without its operands. Dims are kept as the caller passed them (possibly negative).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// [x, weight, bias?]
    Conv2d(Conv2dParams),
    /// [x, runningMean?, runningVar?, weight?, bias?]
    BatchNorm {
        training: bool,
        momentum: f64,
        eps: f64,
    },
    /// `BatchNorm` then `Relu` in one op: [x, runningMean?, runningVar?, weight?, bias?]
    BatchNormRelu {
        training: bool,
        momentum: f64,
        eps: f64,
    },
    /// `relu(x + other)` in one op: [x, other]
    AddRelu,
    /// [x, weight, bias?]
    Linear,
    Matmul,
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    },
    AvgPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    },
    AdaptiveAvgPool2d {
        output_size: [usize; 2],
    },
    Relu,
    Sigmoid,
    Tanh,
    Softmax {
        dim: i64,
    },
    LogSoftmax {
        dim: i64,
    },
    Binary(BinaryOp),
    BinaryScalar {
        op: BinaryOp,
        scalar: f64,
    },
    Unary(UnaryOp),
    /// sum, mean, max or min over `dims` (all dims when empty).
    Reduce {
        op: ReduceOp,
        dims: Vec<i64>,
        keep_dim: bool,
    },
    /// argmax or argmin over `dim`, or over the flattened tensor.
    ArgReduce {
        op: ReduceOp,
        dim: Option<i64>,
        keep_dim: bool,
    },
    Reshape {
        shape: Vec<i64>,
    },
    View {
        shape: Vec<i64>,
    },
    Expand {
        shape: Vec<i64>,
    },
    Flatten {
        start_dim: i64,
        end_dim: i64,
    },
    Permute {
        dims: Vec<i64>,
    },
    Transpose {
        dim0: i64,
        dim1: i64,
    },
    Unsqueeze {
        dim: i64,
    },
    Squeeze {
        dim: Option<i64>,
    },
    Narrow {
        dim: i64,
        start: usize,
        length: usize,
    },
    Select {
        dim: i64,
        index: i64,
    },
    Contiguous,
    Clone,
    ToDtype(DType),
    /// [...xs]
    Cat {
        dim: i64,
    },
    /// [...xs]
    Stack {
        dim: i64,
    },
    Relu6,
    LeakyRelu {
        negative_slope: f64,
    },
    Gelu {
        approximate: GeluApproximation,
    },
    Silu,
    Hardswish,
    /// [x, weight, bias?, runningMean?, runningVar?, bnWeight?, bnBias?]: conv2d, the eval-mode
    /// batch norm folded into it when `batch_norm_eps` is set, then `activation`. Made by the
    /// fusion pass (`Graph::fused`) only.
    FusedConv2d {
        params: Conv2dParams,
        batch_norm_eps: Option<f64>,
        activation: Activation,
        folded: Arc<FoldedWeights>,
    },
    /// [x, weight, bias?]: linear, then `activation`. Made by the fusion pass only.
    FusedLinear {
        activation: Activation,
    },
}

/// The names `Op::name` gives, for messages that say what can be traced.
pub const TRACEABLE_OPS: &[&str] = &[
    "conv2d",
    "batch_norm",
    "batch_norm_relu",
    "add_relu",
    "linear",
    "matmul",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "binary (add sub mul div pow maximum minimum eq ne lt le gt ge, with a tensor or a number)",
    "unary (neg abs exp log sqrt)",
    "reduce (sum mean max min)",
    "argmax",
    "argmin",
    "reshape",
    "view",
    "expand",
    "flatten",
    "permute",
    "transpose",
    "unsqueeze",
    "squeeze",
    "narrow",
    "select",
    "contiguous",
    "clone",
    "to (a dtype)",
    "cat",
    "stack",
    "relu6",
    "leaky_relu",
    "gelu",
    "silu",
    "hardswish",
];

impl Op {
    /// The op's name in a graph description (`conv2d`, `binary_scalar`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "conv2d",
            Op::BatchNorm { .. } => "batch_norm",
            Op::BatchNormRelu { .. } => "batch_norm_relu",
            Op::AddRelu => "add_relu",
            Op::Linear => "linear",
            Op::Matmul => "matmul",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::AdaptiveAvgPool2d { .. } => "adaptive_avg_pool2d",
            Op::Relu => "relu",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Binary(_) => "binary",
            Op::BinaryScalar { .. } => "binary_scalar",
            Op::Unary(_) => "unary",
            Op::Reduce { .. } => "reduce",
            Op::ArgReduce { .. } => "arg_reduce",
            Op::Reshape { .. } => "reshape",
            Op::View { .. } => "view",
            Op::Expand { .. } => "expand",
            Op::Flatten { .. } => "flatten",
            Op::Permute { .. } => "permute",
            Op::Transpose { .. } => "transpose",
            Op::Unsqueeze { .. } => "unsqueeze",
            Op::Squeeze { .. } => "squeeze",
            Op::Narrow { .. } => "narrow",
            Op::Select { .. } => "select",
            Op::Contiguous => "contiguous",
            Op::Clone => "clone",
            Op::ToDtype(_) => "to_dtype",
            Op::Cat { .. } => "cat",
            Op::Stack { .. } => "stack",
            Op::Relu6 => "relu6",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::Gelu { .. } => "gelu",
            Op::Silu => "silu",
            Op::Hardswish => "hardswish",
            Op::FusedConv2d { .. } => "fused_conv2d",
            Op::FusedLinear { .. } => "fused_linear",
        }
    }

    /// Runs the op on `inputs` (in the order the graph description documents; `None` for an
    /// absent optional operand).
    pub fn apply(&self, inputs: &[Option<&Tensor>]) -> Result<Tensor> {
        let op = self.name();
        let x = || operand(op, inputs, 0);
        match self {
            Op::Conv2d(params) => {
                x()?.conv2d(operand(op, inputs, 1)?, optional(inputs, 2), *params)
            }
            Op::BatchNorm {
                training,
                momentum,
                eps,
            } => x()?.batch_norm(
                optional(inputs, 1),
                optional(inputs, 2),
                optional(inputs, 3),
                optional(inputs, 4),
                *training,
                *momentum,
                *eps,
            ),
            Op::BatchNormRelu {
                training,
                momentum,
                eps,
            } => x()?.batch_norm_relu(
                optional(inputs, 1),
                optional(inputs, 2),
                optional(inputs, 3),
                optional(inputs, 4),
                *training,
                *momentum,
                *eps,
            ),
            Op::AddRelu => x()?.add_relu(operand(op, inputs, 1)?),
            Op::Linear => x()?.linear(operand(op, inputs, 1)?, optional(inputs, 2)),
            Op::Matmul => x()?.matmul(operand(op, inputs, 1)?),
            Op::MaxPool2d {
                kernel,
                stride,
                padding,
                dilation,
                ceil_mode,
            } => x()?.max_pool2d(*kernel, *stride, *padding, *dilation, *ceil_mode),
            Op::AvgPool2d {
                kernel,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
            } => x()?.avg_pool2d(*kernel, *stride, *padding, *ceil_mode, *count_include_pad),
            Op::AdaptiveAvgPool2d { output_size } => x()?.adaptive_avg_pool2d(*output_size),
            Op::Relu => x()?.relu(),
            Op::Sigmoid => x()?.sigmoid(),
            Op::Tanh => x()?.tanh(),
            Op::Softmax { dim } => x()?.softmax(*dim),
            Op::LogSoftmax { dim } => x()?.log_softmax(*dim),
            Op::Binary(binary) => x()?.binary(*binary, operand(op, inputs, 1)?),
            Op::BinaryScalar { op, scalar } => x()?.binary_scalar(*op, *scalar),
            Op::Unary(unary) => x()?.unary(*unary),
            Op::Reduce { op, dims, keep_dim } => x()?.reduce(*op, dims, *keep_dim),
            Op::ArgReduce {
                op: reduce,
                dim,
                keep_dim,
            } => match reduce {
                ReduceOp::ArgMax => x()?.argmax(*dim, *keep_dim),
                ReduceOp::ArgMin => x()?.argmin(*dim, *keep_dim),
                other => Err(Error::invalid(
                    op,
                    format!("expected argmax or argmin, got {}", other.name()),
                )),
            },
            Op::Reshape { shape } => x()?.reshape(shape),
            Op::View { shape } => x()?.view(shape),
            Op::Expand { shape } => x()?.expand(shape),
            Op::Flatten { start_dim, end_dim } => x()?.flatten(*start_dim, *end_dim),
            Op::Permute { dims } => x()?.permute(dims),
            Op::Transpose { dim0, dim1 } => x()?.transpose(*dim0, *dim1),
            Op::Unsqueeze { dim } => x()?.unsqueeze(*dim),
            Op::Squeeze { dim } => x()?.squeeze(*dim),
            Op::Narrow { dim, start, length } => x()?.narrow(*dim, *start, *length),
            Op::Select { dim, index } => x()?.select(*dim, *index),
            Op::Contiguous => x()?.contiguous(),
            Op::Clone => x()?.copy(),
            Op::ToDtype(dtype) => x()?.to_dtype(*dtype),
            Op::Cat { dim } => Tensor::cat(&all(op, inputs)?, *dim),
            Op::Stack { dim } => Tensor::stack(&all(op, inputs)?, *dim),
            Op::Relu6 => x()?.relu6(),
            Op::LeakyRelu { negative_slope } => x()?.leaky_relu(*negative_slope),
            Op::Gelu { approximate } => x()?.gelu(*approximate),
            Op::Silu => x()?.silu(),
            Op::Hardswish => x()?.hardswish(),
            Op::FusedConv2d {
                params,
                batch_norm_eps: Some(eps),
                activation,
                folded,
            } => {
                let sources = [1, 2, 3, 4, 5, 6].map(|i| optional(inputs, i));
                let (weight, bias) = folded.get(sources, *eps)?;
                x()?.conv2d_activated(&weight, Some(&bias), *params, *activation)
            }
            Op::FusedConv2d {
                params,
                batch_norm_eps: None,
                activation,
                ..
            } => x()?.conv2d_activated(
                operand(op, inputs, 1)?,
                optional(inputs, 2),
                *params,
                *activation,
            ),
            Op::FusedLinear { activation } => {
                x()?.linear_activated(operand(op, inputs, 1)?, optional(inputs, 2), *activation)
            }
        }
    }

    /// The attributes as the graph description names them (`stride: [h, w]`, `keepDim`...).
    pub fn attrs(&self) -> Map<String, Value> {
        let attrs = match self {
            Op::Conv2d(p) => json!({
                "stride": p.stride, "padding": p.padding, "dilation": p.dilation, "groups": p.groups,
            }),
            Op::BatchNorm {
                training,
                momentum,
                eps,
            }
            | Op::BatchNormRelu {
                training,
                momentum,
                eps,
            } => json!({ "training": training, "momentum": momentum, "eps": eps }),
            Op::MaxPool2d {
                kernel,
                stride,
                padding,
                dilation,
                ceil_mode,
            } => json!({
                "kernelSize": kernel, "stride": stride, "padding": padding, "dilation": dilation,
                "ceilMode": ceil_mode,
            }),
            Op::AvgPool2d {
                kernel,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
            } => json!({
                "kernelSize": kernel, "stride": stride, "padding": padding, "ceilMode": ceil_mode,
                "countIncludePad": count_include_pad,
            }),
            Op::AdaptiveAvgPool2d { output_size } => json!({ "outputSize": output_size }),
            Op::Softmax { dim } | Op::LogSoftmax { dim } => json!({ "dim": dim }),
            Op::Binary(op) => json!({ "op": op.name() }),
            Op::BinaryScalar { op, scalar } => {
                json!({ "op": op.name(), "scalar": number(*scalar) })
            }
            Op::Unary(op) => json!({ "op": op.name() }),
            Op::Reduce { op, dims, keep_dim } => {
                json!({ "op": op.name(), "dims": dims, "keepDim": keep_dim })
            }
            Op::ArgReduce { op, dim, keep_dim } => {
                json!({ "op": op.name(), "dim": dim, "keepDim": keep_dim })
            }
            Op::Reshape { shape } | Op::View { shape } | Op::Expand { shape } => {
                json!({ "shape": shape })
            }
            Op::Flatten { start_dim, end_dim } => {
                json!({ "startDim": start_dim, "endDim": end_dim })
            }
            Op::Permute { dims } => json!({ "dims": dims }),
            Op::Transpose { dim0, dim1 } => json!({ "dim0": dim0, "dim1": dim1 }),
            Op::Unsqueeze { dim } => json!({ "dim": dim }),
            Op::Squeeze { dim } => json!({ "dim": dim }),
            Op::Narrow { dim, start, length } => {
                json!({ "dim": dim, "start": start, "length": length })
            }
            Op::Select { dim, index } => json!({ "dim": dim, "index": index }),
            Op::ToDtype(dtype) => json!({ "dtype": dtype.name() }),
            Op::Cat { dim } | Op::Stack { dim } => json!({ "dim": dim }),
            Op::LeakyRelu { negative_slope } => {
                json!({ "negativeSlope": number(*negative_slope) })
            }
            Op::Gelu { approximate } => json!({ "approximate": approximate.name() }),
            Op::FusedConv2d {
                params: p,
                batch_norm_eps,
                activation,
                ..
            } => json!({
                "stride": p.stride, "padding": p.padding, "dilation": p.dilation, "groups": p.groups,
                "batchNormEps": batch_norm_eps, "activation": activation.name(),
            }),
            Op::FusedLinear { activation } => json!({ "activation": activation.name() }),
            Op::Linear
            | Op::AddRelu
            | Op::Matmul
            | Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::Contiguous
            | Op::Clone
            | Op::Relu6
            | Op::Silu
            | Op::Hardswish => json!({}),
        };
        match attrs {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// This op with its target shape's dim 0 following the batch, for `reshape`, `view` and
    /// `expand` whose `shape[0]` is the batch size they were traced with (`traced_batch`); None
    /// when the op needs no change. Graph replay and the ONNX export both apply this rule. An
    /// `expand` to more dims than its input (`input_rank`) adds its dim 0, which is then no batch.
    pub fn with_batch(&self, traced_batch: usize, batch: usize, input_rank: usize) -> Option<Op> {
        let follows = |shape: &[i64]| shape.first() == Some(&(traced_batch as i64));
        let resized = |shape: &[i64]| {
            let mut shape = shape.to_vec();
            shape[0] = batch as i64;
            shape
        };
        match self {
            Op::Reshape { shape } if follows(shape) => Some(Op::Reshape {
                shape: resized(shape),
            }),
            Op::View { shape } if follows(shape) => Some(Op::View {
                shape: resized(shape),
            }),
            Op::Expand { shape } if follows(shape) && shape.len() == input_rank => {
                Some(Op::Expand {
                    shape: resized(shape),
                })
            }
            _ => None,
        }
    }
}

/// `x` as JSON: JSON has no NaN or infinities, so those are the strings JS's `Number()` reads back.
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        json!(x.to_string().replace("inf", "Infinity"))
    }
}

fn optional<'a>(inputs: &[Option<&'a Tensor>], index: usize) -> Option<&'a Tensor> {
    inputs.get(index).copied().flatten()
}

fn operand<'a>(
    op: &'static str,
    inputs: &[Option<&'a Tensor>],
    index: usize,
) -> Result<&'a Tensor> {
    optional(inputs, index).ok_or_else(|| Error::invalid(op, format!("operand {index} is missing")))
}

fn all(op: &'static str, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.cloned()
                .ok_or_else(|| Error::invalid(op, format!("operand {i} is missing")))
        })
        .collect()
}
