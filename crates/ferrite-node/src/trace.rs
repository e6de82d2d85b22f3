//! Tracing from JS: `traceBegin`, the traced function's ops (each export records itself through
//! `trace::run`), then `traceEnd`, which gives a `NativeTracedGraph` (see ts/trace.ts).

use std::sync::Arc;

use ferrite_core::trace::{self, Graph};
use ferrite_core::{Error, Tensor};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{guard, js_error};
use crate::handle::{wrap, TensorHandle};

fn tensors(op: &str, handles: &[TensorHandle]) -> Result<Vec<Tensor>, String> {
    handles.iter().map(|h| h.peek(op)).collect()
}

/// Starts recording this thread's op calls, from the graph inputs `inputs`; `names[i]` names
/// `named[i]` should it become a constant.
#[napi]
pub fn trace_begin(
    inputs: Vec<TensorHandle>,
    names: Vec<String>,
    named: Vec<TensorHandle>,
) -> Result<(), String> {
    const OP: &str = "trace";
    let inputs = tensors(OP, &inputs)?;
    let named = tensors(OP, &named)?;
    guard(OP, || {
        trace::begin(&inputs, names.into_iter().zip(named).collect())
    })
}

/// Stops recording and returns the graph computing `outputs`; fails with `Untraceable` when an op
/// that a graph cannot replay read one of its tensors. Nothing is left recording either way.
#[napi]
pub fn trace_end(outputs: Vec<TensorHandle>) -> Result<NativeTracedGraph, String> {
    const OP: &str = "trace";
    let outputs = tensors(OP, &outputs);
    let graph = guard(OP, || trace::end(outputs.as_deref().unwrap_or(&[])));
    let graph = graph?;
    outputs?;
    Ok(NativeTracedGraph {
        graph: Some(Arc::new(graph)),
    })
}

/// Drops this thread's recording, after the traced function threw.
#[napi]
pub fn trace_abort() {
    trace::abort();
}

#[napi]
pub struct NativeTracedGraph {
    /// None once disposed.
    graph: Option<Arc<Graph>>,
}

impl NativeTracedGraph {
    fn graph(&self, op: &'static str) -> Result<&Arc<Graph>, String> {
        self.graph.as_ref().ok_or_else(|| {
            js_error(Error::invalid(
                op,
                "the traced graph was disposed and cannot be used",
            ))
        })
    }
}

#[napi]
impl NativeTracedGraph {
    /// The graph description of ts/trace.ts (`GraphDescription`), as JSON.
    #[napi]
    pub fn describe(&self) -> Result<String, String> {
        Ok(self.graph("describe")?.describe().to_string())
    }

    /// The tensor of constant value `id`, sharing storage with the one the trace saw.
    #[napi]
    pub fn constant(&self, env: Env, id: u32) -> Result<TensorHandle, String> {
        let graph = self.graph("constant")?;
        guard("constant", || graph.constant(id as usize)).map(|t| wrap(&env, t))
    }

    /// Replays the graph on `inputs` on this thread.
    #[napi]
    pub fn run(&self, env: Env, inputs: Vec<TensorHandle>) -> Result<Vec<TensorHandle>, String> {
        const OP: &str = "TracedGraph.run";
        let graph = self.graph(OP)?;
        // Checked reads: a replay inside a trace is not recorded, so it must fail that trace.
        let inputs = inputs
            .iter()
            .map(|h| h.get(OP))
            .collect::<Result<Vec<Tensor>, String>>()?;
        let outputs = guard(OP, || graph.run(inputs))?;
        Ok(outputs.into_iter().map(|t| wrap(&env, t)).collect())
    }

    /// Drops the graph and its hold on the constants.
    #[napi]
    pub fn release(&mut self) {
        self.graph = None;
    }
}
