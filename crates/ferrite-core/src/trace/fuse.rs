//! Eval-mode fusion: a traced graph rewritten so that each convolution runs with the batch norm
//! after it folded into its weight and bias and the activation after that applied in its output
//! tiles (`conv2d_activated`), and each linear with its activation (`linear_activated`). A
//! `batch_norm_relu` (training's batch norm and ReLU in one op) counts as the batch norm and its
//! ReLU.
//!
//! A chain is fused when each intermediate value is used once, by the next op of the chain, and
//! is no graph output, so that nothing else needed it. The batch norm must be in eval mode with
//! running statistics (training-mode batch norm normalises by the batch, which no weight can
//! fold). The folded weight and bias are cached in the fused node, keyed by the identities and
//! storage versions of the tensors they were folded from: any in-place change (an optimizer step,
//! `copy_`, `loadStateDict`) bumps a version, and the next replay folds again.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::graph::{Graph, GraphNode};
use super::op::Op;
use crate::dtype::DType;
use crate::error::Result;
use crate::nn::Activation;
use crate::ops::binary::BinaryOp;
use crate::tensor::Tensor;

impl Graph {
    /// This graph with its conv2d → eval batch_norm (or batch_norm_relu) → activation, conv2d →
    /// activation and linear → activation chains each replaced by one fused node. The values keep
    /// their ids; those inside a chain are no longer computed. The description of the fused graph names the
    /// fused ops, so the ONNX export reads the unfused one.
    pub fn fused(&self) -> Graph {
        let nodes = self.nodes();
        let mut uses = vec![0usize; self.values().len()];
        for node in nodes {
            for &id in node.inputs.iter().flatten() {
                uses[id] += 1;
            }
        }
        for &id in self.outputs() {
            uses[id] += 1;
        }
        // The node reading each value (the only one, where a value is used once).
        let mut consumer = vec![usize::MAX; self.values().len()];
        for (i, node) in nodes.iter().enumerate() {
            for &id in node.inputs.iter().flatten() {
                consumer[id] = i;
            }
        }
        // The single consumer of `node`'s output, when it reads it as operand 0 (the chain's
        // next op).
        let next = |node: usize| -> Option<usize> {
            let output = nodes[node].output;
            let reader = *consumer.get(output)?;
            (uses[output] == 1 && nodes.get(reader)?.inputs.first() == Some(&Some(output)))
                .then_some(reader)
        };
        let mut absorbed = vec![false; nodes.len()];
        // The fused node that replaces the last node of each chain.
        let mut replacement: Vec<Option<GraphNode>> = vec![None; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            if absorbed[i] {
                continue;
            }
            let chain = match &node.op {
                Op::Conv2d(params) => Some(conv_chain(nodes, i, *params, &next)),
                Op::Linear => Some(linear_chain(nodes, i, &next)),
                _ => None,
            };
            if let Some(Some((fused, members))) = chain {
                let last = *members.last().unwrap_or(&i);
                for &m in &members {
                    absorbed[m] = true;
                }
                replacement[last] = Some(fused);
            }
        }
        let fused = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, node)| match (&replacement[i], absorbed[i]) {
                (Some(fused), _) => Some(fused.clone()),
                (None, true) => None,
                (None, false) => Some(node.clone()),
            })
            .collect();
        self.with_nodes(fused)
    }
}

/// The activation `op` is, when the fused kernels apply it.
fn activation_of(op: &Op) -> Option<Activation> {
    match op {
        Op::Relu => Some(Activation::Relu),
        Op::Relu6 => Some(Activation::Relu6),
        Op::Silu => Some(Activation::Silu),
        _ => None,
    }
}

/// The fused node for the conv2d at `conv` and what follows it, with the nodes it replaces (in
/// order); None when nothing follows that fuses.
fn conv_chain(
    nodes: &[GraphNode],
    conv: usize,
    params: crate::nn::conv::Conv2dParams,
    next: &dyn Fn(usize) -> Option<usize>,
) -> Option<(GraphNode, Vec<usize>)> {
    let conv_node = &nodes[conv];
    let mut members = vec![conv];
    let mut inputs = conv_node.inputs.clone();
    inputs.resize(3, None);
    let mut batch_norm_eps = None;
    let mut activation = None;
    let mut after = next(conv);
    if let Some(bn) = after {
        // An eval-mode batch norm, or batch_norm_relu (the batch norm and its ReLU in one op).
        let (eps, relu) = match nodes[bn].op {
            Op::BatchNorm {
                training: false,
                eps,
                ..
            } => (Some(eps), false),
            Op::BatchNormRelu {
                training: false,
                eps,
                ..
            } => (Some(eps), true),
            _ => (None, false),
        };
        let stats = &nodes[bn].inputs;
        let stat = |k: usize| stats.get(k).copied().flatten();
        if let (Some(eps), Some(mean), Some(var)) = (eps, stat(1), stat(2)) {
            batch_norm_eps = Some(eps);
            inputs.extend([Some(mean), Some(var), stat(3), stat(4)]);
            members.push(bn);
            after = next(bn);
            if relu {
                activation = Some(Activation::Relu);
                after = None;
            }
        }
    }
    if let Some(a) = after {
        activation = activation_of(&nodes[a].op);
        if activation.is_some() {
            members.push(a);
        }
    }
    if members.len() == 1 {
        return None;
    }
    let output = nodes[*members.last()?].output;
    let op = Op::FusedConv2d {
        params,
        batch_norm_eps,
        activation: activation.unwrap_or(Activation::Identity),
        folded: Arc::default(),
    };
    Some((GraphNode { op, inputs, output }, members))
}

/// The fused node for the linear at `linear` and the activation after it, if there is one.
fn linear_chain(
    nodes: &[GraphNode],
    linear: usize,
    next: &dyn Fn(usize) -> Option<usize>,
) -> Option<(GraphNode, Vec<usize>)> {
    let a = next(linear)?;
    let activation = activation_of(&nodes[a].op)?;
    let node = GraphNode {
        op: Op::FusedLinear { activation },
        inputs: nodes[linear].inputs.clone(),
        output: nodes[a].output,
    };
    Some((node, vec![linear, a]))
}

/// A fused convolution's weight and bias with its batch norm folded in, as last folded, and the
/// tensors (with their storage versions) they were folded from.
#[derive(Default)]
pub struct FoldedWeights(Mutex<Option<Folded>>);

struct Folded {
    /// [conv weight, conv bias, running mean, running var, bn weight, bn bias], held so that no
    /// identity is reused while cached, with their versions when folded.
    sources: Vec<Option<(Tensor, u64)>>,
    weight: Tensor,
    bias: Tensor,
}

impl fmt::Debug for FoldedWeights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FoldedWeights")
    }
}

/// Fused nodes compare by their attributes; what they cached is no part of the op.
impl PartialEq for FoldedWeights {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl FoldedWeights {
    /// The conv weight and bias with the batch norm of `sources` ([conv weight, conv bias?,
    /// running mean, running var, bn weight?, bn bias?]) folded in: folded now unless the cache
    /// was folded from these very tensors at their current versions.
    pub(super) fn get(&self, sources: [Option<&Tensor>; 6], eps: f64) -> Result<(Tensor, Tensor)> {
        // Versions are read before the values, so a write racing the fold leaves a stale key,
        // which the next call refolds.
        let current: Vec<Option<(Tensor, u64)>> = sources
            .iter()
            .map(|t| t.map(|t| (t.clone(), t.storage().version())))
            .collect();
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(folded) = &*cache {
            let same = |a: &Option<(Tensor, u64)>, b: &Option<(Tensor, u64)>| match (a, b) {
                (Some((a, va)), Some((b, vb))) => a.identity() == b.identity() && va == vb,
                (None, None) => true,
                _ => false,
            };
            if folded.sources.iter().zip(&current).all(|(a, b)| same(a, b)) {
                return Ok((folded.weight.clone(), folded.bias.clone()));
            }
        }
        let (weight, bias) = fold(sources, eps)?;
        *cache = Some(Folded {
            sources: current,
            weight: weight.clone(),
            bias: bias.clone(),
        });
        Ok((weight, bias))
    }
}

/// W' = W * s and b' = (b - mean) * s + beta per output channel, s = gamma / sqrt(var + eps), as
/// PyTorch's `fuse_conv_bn_weights` computes them: in float32 tensor ops (bfloat16 sources are
/// widened first), on the weights' device, cast back to the conv weight's dtype.
fn fold(sources: [Option<&Tensor>; 6], eps: f64) -> Result<(Tensor, Tensor)> {
    let op = "fused_conv2d";
    let [weight, bias, mean, var, gamma, beta] = sources;
    let missing = |what: &str| crate::error::Error::invalid(op, format!("{what} is missing"));
    let weight = weight.ok_or_else(|| missing("the conv weight"))?;
    let mean = mean.ok_or_else(|| missing("the running mean"))?;
    let var = var.ok_or_else(|| missing("the running var"))?;
    let f32 = |t: &Tensor| t.to_dtype(DType::F32);
    let std = f32(var)?.binary_scalar(BinaryOp::Add, eps)?.sqrt()?;
    let scale = match gamma {
        Some(gamma) => f32(gamma)?.div(&std)?,
        None => std.binary_scalar(BinaryOp::Pow, -1.0)?,
    };
    let folded_weight = f32(weight)?
        .mul(&scale.reshape(&[-1, 1, 1, 1])?)?
        .to_dtype(weight.dtype())?;
    let shifted = match bias {
        Some(bias) => f32(bias)?.sub(&f32(mean)?)?,
        None => f32(mean)?.neg()?,
    };
    let mut folded_bias = shifted.mul(&scale)?;
    if let Some(beta) = beta {
        folded_bias = folded_bias.add(&f32(beta)?)?;
    }
    Ok((folded_weight, folded_bias.to_dtype(weight.dtype())?))
}
