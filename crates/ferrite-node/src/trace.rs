//! Tracing from JS: `traceBegin`, the traced function's ops (each export records itself through
//! `trace::run`), then `traceEnd`, which gives a `NativeTracedGraph` (see ts/trace.ts).

use std::sync::Arc;

use ferrite_core::trace::{self, Graph};
use ferrite_core::{Error, Tensor};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{guard, js_error};
use crate::handle::{mark_in_use, unmark_in_use, wrap, TensorHandle};

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

/// Whether this thread is recording a trace (a module's automatic fused forward then runs its
/// ops eagerly, so that the trace records them).
#[napi]
pub fn trace_is_recording() -> bool {
    trace::is_recording()
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

    /// This graph with eval-mode fusion applied (`Graph::fused`): a new graph sharing the
    /// constants; this one is unchanged.
    #[napi]
    pub fn fused(&self) -> Result<NativeTracedGraph, String> {
        let graph = self.graph("fused")?;
        Ok(NativeTracedGraph {
            graph: Some(Arc::new(graph.fused())),
        })
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

    /// Like `run`, on a worker thread of libuv's pool (the ops use Ferrite's own pool inside), so
    /// that the JS thread stays free. Until the call settles the inputs and the constants are in
    /// use: `release` refuses them (`TensorInUse`) and the collector waits. Errors resolve as
    /// `{ errorCode, errorMessage }` so that their code survives the trip.
    ///
    /// Writes to those tensors meanwhile (a `copy_`, an optimizer step) are memory-safe: the task
    /// holds its own references, and storage is read and written behind a lock
    /// (`SharedStorage`'s `RwLock`), so a write lands before or after an op's read of it, as in
    /// PyTorch when another thread writes a tensor a forward is using.
    #[napi(ts_return_type = "Promise<GraphOutputs>")]
    pub fn run_async(&self, inputs: Vec<TensorHandle>) -> Result<AsyncTask<RunGraph>, String> {
        const OP: &str = "TracedGraph.runAsync";
        let graph = self.graph(OP)?.clone();
        let inputs = inputs
            .iter()
            .map(|h| h.get(OP))
            .collect::<Result<Vec<Tensor>, String>>()?;
        let used: Vec<Tensor> = inputs.iter().chain(graph.constants()).cloned().collect();
        mark_in_use(&used);
        Ok(AsyncTask::new(RunGraph {
            graph,
            inputs: Some(inputs),
            used,
        }))
    }

    /// Drops the graph and its hold on the constants.
    #[napi]
    pub fn release(&mut self) {
        self.graph = None;
    }
}

pub struct RunGraph {
    graph: Arc<Graph>,
    /// Taken by `compute`.
    inputs: Option<Vec<Tensor>>,
    /// The inputs and constants, marked in use until the call settles.
    used: Vec<Tensor>,
}

#[napi(object, object_from_js = false)]
pub struct GraphOutputs {
    pub outputs: Option<Vec<TensorHandle>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl Task for RunGraph {
    type Output = std::result::Result<Vec<Tensor>, napi::Error<String>>;
    type JsValue = GraphOutputs;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        crate::allocator::reclaim_remote_frees();
        let inputs = self.inputs.take().unwrap_or_default();
        Ok(guard("TracedGraph.runAsync", || self.graph.run(inputs)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(match output {
            Ok(outputs) => GraphOutputs {
                outputs: Some(outputs.into_iter().map(|t| wrap(&env, t)).collect()),
                error_code: None,
                error_message: None,
            },
            Err(e) => GraphOutputs {
                outputs: None,
                error_code: Some(e.status.clone()),
                error_message: Some(e.reason.clone()),
            },
        })
    }

    fn finally(self, env: Env) -> napi::Result<()> {
        unmark_in_use(&env, &self.used);
        Ok(())
    }
}
