//! A recorded graph: its values and nodes, its description for the ONNX export and its replay.

use serde_json::{json, Value};

use super::op::Op;
use crate::autocast::{self, DeviceType};
use crate::autograd::NoGradGuard;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Input,
    Constant,
    Node,
}

impl ValueKind {
    fn name(self) -> &'static str {
        match self {
            ValueKind::Input => "input",
            ValueKind::Constant => "constant",
            ValueKind::Node => "node",
        }
    }
}

/// A value of the graph as traced.
#[derive(Debug, Clone)]
pub struct GraphValue {
    pub kind: ValueKind,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub device: Device,
    /// The `stateDict()` key of a constant, when the trace was given it.
    pub name: Option<String>,
}

/// One op call: its operands' value ids (`None` for an absent optional operand) and its output's.
#[derive(Debug, Clone)]
pub struct GraphNode {
    pub op: Op,
    pub inputs: Vec<Option<usize>>,
    pub output: usize,
}

/// A traced function. It holds its constants (sharing storage with the model's tensors, so that
/// later weight updates are seen) and nothing else; it is `Send + Sync` and can be replayed from
/// any thread.
#[derive(Debug)]
pub struct Graph {
    values: Vec<GraphValue>,
    /// The constants' tensors, by value id (`None` for other values).
    constants: Vec<Option<Tensor>>,
    nodes: Vec<GraphNode>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    /// Autocast's dtype on the CPU and on CUDA when the graph was traced.
    autocast: [Option<DType>; 2],
    /// After which node each node value is no longer needed (usize::MAX for outputs).
    last_use: Vec<usize>,
}

impl Graph {
    pub(super) fn new(
        values: Vec<GraphValue>,
        tensors: Vec<Tensor>,
        nodes: Vec<GraphNode>,
        inputs: Vec<usize>,
        outputs: Vec<usize>,
        autocast: [Option<DType>; 2],
    ) -> Graph {
        let constants = values
            .iter()
            .zip(tensors)
            .map(|(v, t)| (v.kind == ValueKind::Constant).then_some(t))
            .collect();
        let last_use = last_uses(values.len(), &nodes, &outputs);
        Graph {
            values,
            constants,
            nodes,
            inputs,
            outputs,
            autocast,
            last_use,
        }
    }

    /// This graph with other nodes over the same values (see `fuse`).
    pub(super) fn with_nodes(&self, nodes: Vec<GraphNode>) -> Graph {
        Graph {
            values: self.values.clone(),
            constants: self.constants.clone(),
            last_use: last_uses(self.values.len(), &nodes, &self.outputs),
            nodes,
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            autocast: self.autocast,
        }
    }

    pub fn values(&self) -> &[GraphValue] {
        &self.values
    }

    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    pub fn inputs(&self) -> &[usize] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[usize] {
        &self.outputs
    }

    /// The constants' tensors.
    pub fn constants(&self) -> impl Iterator<Item = &Tensor> {
        self.constants.iter().flatten()
    }

    /// The tensor of constant `id` (sharing storage with the tensor the trace saw).
    pub fn constant(&self, id: usize) -> Result<Tensor> {
        self.constants.get(id).cloned().flatten().ok_or_else(|| {
            Error::index(
                "TracedGraph.constant",
                format!("value {id} is not a constant of this graph"),
            )
        })
    }

    /// The description `TracedGraph.describe()` gives JS (see ts/trace.ts), as JSON.
    pub fn describe(&self) -> Value {
        let values: Vec<Value> = self
            .values
            .iter()
            .enumerate()
            .map(|(id, v)| {
                let mut value = json!({
                    "id": id, "kind": v.kind.name(), "shape": v.shape, "dtype": v.dtype.name(),
                });
                if let Some(name) = &v.name {
                    value["name"] = json!(name);
                }
                value
            })
            .collect();
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                json!({ "op": n.op.name(), "inputs": n.inputs, "output": n.output, "attrs": n.op.attrs() })
            })
            .collect();
        json!({ "inputs": self.inputs, "outputs": self.outputs, "values": values, "nodes": nodes })
    }

    /// Replays the graph on `inputs` without recording gradients, under the autocast setting it
    /// was traced with. Dim 0 of each input (the batch) may differ from the traced one; `reshape`,
    /// `view` and `expand` whose target dim 0 was their input's dim 0 follow it.
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        self.check_inputs(&inputs)?;
        let _no_grad = NoGradGuard::new();
        let _autocast = AutocastAs::new(self.autocast)?;
        let mut live: Vec<Option<Tensor>> = self.constants.clone();
        for (&id, t) in self.inputs.iter().zip(inputs) {
            live[id] = Some(t);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let operands = node
                .inputs
                .iter()
                .map(|id| id.map(|id| computed(&live, id)).transpose())
                .collect::<Result<Vec<Option<&Tensor>>>>()?;
            let resized = match (node.inputs.first(), operands.first()) {
                (Some(Some(id)), Some(Some(x))) => {
                    match (self.values[*id].shape.first(), x.shape().first()) {
                        (Some(&traced), Some(&actual)) if traced != actual => {
                            node.op.with_batch(traced, actual, x.rank())
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            let output = resized.as_ref().unwrap_or(&node.op).apply(&operands)?;
            live[node.output] = Some(output);
            for id in node.inputs.iter().flatten() {
                if self.last_use[*id] == i && self.values[*id].kind == ValueKind::Node {
                    live[*id] = None;
                }
            }
        }
        self.outputs
            .iter()
            .map(|&id| computed(&live, id).cloned())
            .collect()
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        const OP: &str = "TracedGraph.run";
        if inputs.len() != self.inputs.len() {
            return Err(Error::invalid(
                OP,
                format!(
                    "expected {} inputs, as traced, got {}",
                    self.inputs.len(),
                    inputs.len()
                ),
            ));
        }
        for (i, (&id, t)) in self.inputs.iter().zip(inputs).enumerate() {
            let traced = &self.values[id];
            let (want, got) = (&traced.shape, t.shape());
            if want.len() != got.len() || want.iter().skip(1).ne(got.iter().skip(1)) {
                return Err(Error::shape(
                    OP,
                    format!(
                        "input {i} has shape {}, but the graph was traced with {} (only dim 0, \
                         the batch, may differ)",
                        ShapeDisplay(got),
                        ShapeDisplay(want)
                    ),
                ));
            }
            if t.dtype() != traced.dtype {
                return Err(Error::dtype(
                    OP,
                    format!("input {i} of dtype {}, as traced", traced.dtype),
                    t.dtype(),
                ));
            }
            if t.device() != traced.device {
                return Err(Error::DeviceMismatch {
                    op: OP,
                    expected: traced.device.to_string(),
                    got: t.device().to_string(),
                });
            }
        }
        Ok(())
    }
}

/// After which node each value is no longer needed (usize::MAX for outputs).
fn last_uses(values: usize, nodes: &[GraphNode], outputs: &[usize]) -> Vec<usize> {
    let mut last_use = vec![0; values];
    for (i, node) in nodes.iter().enumerate() {
        for id in node.inputs.iter().flatten() {
            last_use[*id] = i;
        }
    }
    for &id in outputs {
        last_use[id] = usize::MAX;
    }
    last_use
}

/// A value the replay has computed (or was given) and still holds.
fn computed(live: &[Option<Tensor>], id: usize) -> Result<&Tensor> {
    live[id].as_ref().ok_or_else(|| Error::Internal {
        op: "TracedGraph.run",
        detail: format!("value {id} is used before it is computed or after it was freed"),
    })
}

/// Autocast as a graph was traced with, on this thread, until dropped.
struct AutocastAs([Option<DType>; 2]);

impl AutocastAs {
    fn new(state: [Option<DType>; 2]) -> Result<AutocastAs> {
        let cpu = autocast::set(DeviceType::Cpu, state[0])?;
        let cuda = autocast::set(DeviceType::Cuda, state[1]);
        match cuda {
            Ok(cuda) => Ok(AutocastAs([cpu, cuda])),
            Err(e) => {
                let _ = autocast::set(DeviceType::Cpu, cpu);
                Err(e)
            }
        }
    }
}

impl Drop for AutocastAs {
    fn drop(&mut self) {
        // Restoring a setting that was accepted before cannot fail.
        let _ = autocast::set(DeviceType::Cpu, self.0[0]);
        let _ = autocast::set(DeviceType::Cuda, self.0[1]);
    }
}
