//! Tracing: recording the ops one call of a function runs, as PyTorch's `torch.jit.trace` does,
//! into a [`Graph`] that can be described (for the ONNX export) and replayed at another batch
//! size (for predictions off the JS thread).
//!
//! Each traceable op call goes through [`run`], which applies the [`Op`] and, while this thread
//! records, adds a node. Values are told apart by tensor identity (the `Arc` behind a `Tensor`);
//! the recording keeps a clone of every tensor it has seen so that no pointer is reused while it
//! lasts. A tensor that is neither a graph input nor an op's output becomes a constant (a weight,
//! a buffer), named when `begin` was given its name. Anything else that reads a recorded tensor
//! (`item`, a loss, an optimizer step) calls [`check_access`], which fails the trace: the graph
//! could not reproduce it.

mod fuse;
mod graph;
mod op;

use std::cell::RefCell;
use std::collections::HashMap;

pub use fuse::FoldedWeights;
pub use graph::{Graph, GraphNode, GraphValue, ValueKind};
pub use op::{Op, TRACEABLE_OPS};

use crate::autocast::{self, DeviceType};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

struct Recording {
    values: Vec<GraphValue>,
    /// Every recorded tensor by value id, held so that no identity is reused while recording.
    tensors: Vec<Tensor>,
    ids: HashMap<usize, usize>,
    /// Names of tensors that may become constants, with the tensors (held for the same reason).
    names: HashMap<usize, (String, Tensor)>,
    nodes: Vec<GraphNode>,
    inputs: Vec<usize>,
    autocast: [Option<DType>; 2],
    /// The first untraceable access, which fails the trace.
    failure: Option<Error>,
}

impl Recording {
    fn add_value(&mut self, t: &Tensor, kind: ValueKind, name: Option<String>) -> usize {
        let id = self.values.len();
        self.values.push(GraphValue {
            kind,
            shape: t.shape().to_vec(),
            dtype: t.dtype(),
            device: t.device(),
            name,
        });
        self.tensors.push(t.clone());
        self.ids.insert(t.identity(), id);
        id
    }

    /// The value id of `t`, made a constant if it was never seen.
    fn value_of(&mut self, t: &Tensor) -> usize {
        if let Some(&id) = self.ids.get(&t.identity()) {
            return id;
        }
        let name = self.names.get(&t.identity()).map(|(n, _)| n.clone());
        self.add_value(t, ValueKind::Constant, name)
    }

    fn knows(&self, t: &Tensor) -> bool {
        self.ids.contains_key(&t.identity()) || self.names.contains_key(&t.identity())
    }
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

/// Whether this thread is recording a trace.
pub fn is_recording() -> bool {
    RECORDING.with_borrow(Option::is_some)
}

/// Starts recording on this thread with the graph's `inputs`; `names` name the tensors that may
/// become constants (a model's `stateDict()` keys).
pub fn begin(inputs: &[Tensor], names: Vec<(String, Tensor)>) -> Result<()> {
    const OP: &str = "trace";
    if is_recording() {
        return Err(Error::invalid(
            OP,
            "a trace is already being recorded on this thread (traces do not nest)",
        ));
    }
    let mut recording = Recording {
        values: Vec::new(),
        tensors: Vec::new(),
        ids: HashMap::new(),
        names: names
            .into_iter()
            .map(|(name, t)| (t.identity(), (name, t)))
            .collect(),
        nodes: Vec::new(),
        inputs: Vec::new(),
        autocast: [
            autocast::dtype(DeviceType::Cpu),
            autocast::dtype(DeviceType::Cuda),
        ],
        failure: None,
    };
    for (i, t) in inputs.iter().enumerate() {
        if recording.ids.contains_key(&t.identity()) {
            return Err(Error::invalid(
                OP,
                format!("input {i} is the same tensor as an earlier input; pass distinct tensors"),
            ));
        }
        let id = recording.add_value(t, ValueKind::Input, None);
        recording.inputs.push(id);
    }
    RECORDING.set(Some(recording));
    Ok(())
}

/// Runs `op` on `inputs` and, while this thread records, adds it to the trace. Every traceable
/// op of the binding goes through here.
pub fn run(op: Op, inputs: &[Option<&Tensor>]) -> Result<Tensor> {
    let output = op.apply(inputs)?;
    RECORDING.with_borrow_mut(|recording| {
        let Some(recording) = recording else {
            return Ok(());
        };
        if let Some(failure) = &recording.failure {
            return Err(failure.clone());
        }
        let ids = inputs
            .iter()
            .map(|t| t.map(|t| recording.value_of(t)))
            .collect();
        let id = recording.add_value(&output, ValueKind::Node, None);
        recording.nodes.push(GraphNode {
            op,
            inputs: ids,
            output: id,
        });
        Ok(())
    })?;
    Ok(output)
}

/// Called by everything that reads a tensor without going through [`run`]: while this thread
/// records a trace that knows `t` (an input, a constant, an op's output), the trace fails, and so
/// does this call, with an error naming `op`.
pub fn check_access(t: &Tensor, op: &str) -> Result<()> {
    RECORDING.with_borrow_mut(|recording| match recording {
        Some(recording) if recording.knows(t) => {
            let error = untraceable(op);
            recording.failure.get_or_insert_with(|| error.clone());
            Err(error)
        }
        _ => Ok(()),
    })
}

fn untraceable(op: &str) -> Error {
    Error::Untraceable {
        op: op.to_string(),
        detail: format!(
            "cannot be traced: it reads a tensor of the function being traced, and a traced graph \
             can only replay these ops: {}. Tensor metadata (shape, dtype, device) may be read; \
             values (item(), toArray()), losses and optimizer steps belong outside the traced \
             function",
            TRACEABLE_OPS.join(", ")
        ),
    }
}

/// Stops recording and returns the graph from the inputs to `outputs`, or the error of the first
/// untraceable access. The recording is gone either way.
pub fn end(outputs: &[Tensor]) -> Result<Graph> {
    let recording = RECORDING
        .take()
        .ok_or_else(|| Error::invalid("trace", "no trace is being recorded on this thread"))?;
    let mut recording = recording;
    if let Some(failure) = recording.failure.take() {
        return Err(failure);
    }
    let outputs = outputs.iter().map(|t| recording.value_of(t)).collect();
    Ok(Graph::new(
        recording.values,
        recording.tensors,
        recording.nodes,
        recording.inputs,
        outputs,
        recording.autocast,
    ))
}

/// Drops this thread's recording, if any (after the traced function threw).
pub fn abort() {
    RECORDING.set(None);
}

#[cfg(test)]
mod tests;
