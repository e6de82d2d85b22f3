/**
 * Tracing, like PyTorch's `torch.jit.trace`: one call of a function is recorded, op by op, into a
 * graph that can be described (the ONNX export reads the description) and replayed.
 *
 * ```ts
 * using graph = ft.jit.traceModule(model, ft.randn([1, 3, 32, 32]))
 * graph.describe().nodes.map((n) => n.op) // ['conv2d', 'batch_norm', 'relu', ...]
 * ```
 *
 * The trace records the functional ops and Tensor methods (conv2d, batch_norm, linear, matmul,
 * pools, activations, elementwise ops, reductions, view ops, cat/stack, dtype casts); tensors it
 * did not see made are constants (weights, buffers). Python-style control flow is frozen at the
 * traced values, as in PyTorch. Reading a traced tensor's values (`item()`, `toArray()`), a loss
 * or an optimizer step cannot be replayed and throws a {@link TraceError} naming the op.
 */
import { noGrad } from './autograd'
import { fromNativeError, InternalError, InvalidArgumentError, TraceError } from './errors'
import { native, type NativeTracedGraph, type TensorHandle } from './native'
import type { Module } from './nn/module'
import { tidy } from './scope'
import { Tensor } from './tensor'
import type { DType } from './types'
import { describe as describeValue } from './validate'

export { TraceError }

/** A traced graph, as the ONNX export reads it. Value ids index `values`. */
export interface GraphDescription {
  /** Value ids of the graph inputs, in order. */
  inputs: number[]
  /** Value ids of the outputs, in order. */
  outputs: number[]
  /** Every value, indexed by id (`values[i].id === i`). */
  values: GraphValue[]
  /** The op calls, in execution order. */
  nodes: GraphNode[]
}

/** A value of a traced graph: an input, a constant (weight, buffer) or an op's output. */
export interface GraphValue {
  id: number
  kind: 'input' | 'constant' | 'node'
  /** The shape as traced (dim 0 of an input is the batch). */
  shape: number[]
  dtype: DType
  /** A constant's `stateDict()` key, when the trace was given it. */
  name?: string
}

/** An attribute value of a {@link GraphNode}. */
export type GraphAttr = number | number[] | boolean | string | null

/**
 * One op call: `op` (`conv2d`, `batch_norm`, `binary`, `reshape`...), its operands' value ids in
 * the op's documented order (`null` for an absent optional operand, such as a conv2d without
 * bias) and its output's id. Dims in `attrs` are as the caller passed them (possibly negative).
 */
export interface GraphNode {
  op: string
  inputs: (number | null)[]
  output: number
  attrs: Record<string, GraphAttr>
}

/** Options of {@link trace}. */
export interface TraceOptions {
  /** Names for tensors that become constants, by name (a model's `stateDict()`). */
  names?: Record<string, Tensor>
}

/**
 * A function traced by {@link trace} or {@link traceModule}. It holds its constants (sharing
 * storage with the model's tensors, so later weight updates show) until disposed.
 */
export class TracedGraph implements Disposable {
  #native: NativeTracedGraph
  #description: GraphDescription | undefined
  /** @internal Whether the traced function returned an array of tensors (not one tensor). */
  readonly returnsArray: boolean

  /** @internal Made by `trace` and `traceModule`. */
  constructor(graph: NativeTracedGraph, returnsArray: boolean) {
    this.#native = graph
    this.returnsArray = returnsArray
  }

  /** The graph's inputs, constants and op calls; see {@link GraphDescription}. */
  describe(): GraphDescription {
    this.#description ??= JSON.parse(this.#native.describe()) as GraphDescription
    return structuredClone(this.#description)
  }

  /**
   * This graph with eval-mode fusion (see `ft.inference`): each conv2d → eval batch_norm →
   * relu/relu6/silu chain, conv2d → activation and linear → activation whose intermediate values
   * nothing else reads becomes one `fused_conv2d` or `fused_linear` node, the batch norm folded
   * into the convolution's weight and bias (refolded when those or the running statistics change
   * in place). A new graph sharing the constants; dispose both.
   */
  fused(): TracedGraph {
    return new TracedGraph(this.#native.fused(), this.returnsArray)
  }

  /** The tensor of constant value `id` (sharing storage with the one the trace saw). */
  constant(id: number): Tensor {
    return new Tensor(this.#native.constant(id))
  }

  /**
   * Replays the graph on `inputs` (as many as traced; dim 0, the batch, may differ) without
   * autograd, under the autocast setting of the trace, and returns its outputs in order. A
   * `reshape`, `view` or `expand` whose target dim 0 was its input's dim 0 when traced follows
   * the new batch size.
   */
  run(...inputs: Tensor[]): Tensor[] {
    return this.#native.run(handles('TracedGraph.run', inputs)).map((h) => new Tensor(h))
  }

  /**
   * Like {@link run}, on a worker thread, so that the event loop keeps turning while the graph
   * runs. Until the promise settles the inputs and the constants are in use: disposing one throws
   * a `TensorInUseError` and leaves it alive (the garbage collector waits for the call too).
   */
  runAsync(...inputs: Tensor[]): Promise<Tensor[]> {
    // Not an async function, whose frame would keep the inputs' JS objects alive until the call
    // settles: a caller may drop them, and the collector's release of one waits for the call.
    let pending: ReturnType<NativeTracedGraph['runAsync']>
    try {
      pending = this.#native.runAsync(handles('TracedGraph.runAsync', inputs))
    } catch (error) {
      return Promise.reject(error)
    }
    return pending.then((result) => {
      if (result.outputs) return result.outputs.map((h) => new Tensor(h))
      const error = Object.assign(new Error(result.errorMessage ?? 'TracedGraph.runAsync failed'), { code: result.errorCode })
      const typed = fromNativeError(error)
      throw typed instanceof Error && typed !== error ? typed : new InternalError(error.message)
    })
  }

  /** Drops the graph and its hold on the constants. */
  dispose(): void {
    this.#native.release()
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose()
  }
}

function handles(op: string, tensors: readonly unknown[]): TensorHandle[] {
  return tensors.map((t, i) => {
    if (!(t instanceof Tensor)) throw new InvalidArgumentError(`${op}: input ${i} must be a Tensor, got ${describeValue(t)}`)
    return t.handle
  })
}

/** The tensors of a traced function's result: one tensor, or an array of tensors. */
function outputsOf(result: unknown): Tensor[] {
  const outputs = Array.isArray(result) ? (result as unknown[]) : [result]
  if (outputs.length === 0 || !outputs.every((t) => t instanceof Tensor)) {
    throw new InvalidArgumentError(`trace: the traced function must return a Tensor or an array of Tensors, got ${describeValue(result)}`)
  }
  return outputs as Tensor[]
}

/**
 * Records the ops that `fn(...inputs)` runs into a {@link TracedGraph}, as `torch.jit.trace`
 * does. The tensors `fn` makes are disposed when it returns. Throws a {@link TraceError} when
 * `fn` does something a graph cannot replay with a traced tensor (the recording ends either way).
 */
export function trace(fn: (...inputs: Tensor[]) => Tensor | Tensor[], inputs: Tensor | readonly Tensor[], options: TraceOptions = {}): TracedGraph {
  const list: Tensor[] = inputs instanceof Tensor ? [inputs] : [...inputs]
  const named = Object.entries(options.names ?? {})
  native.traceBegin(
    handles('trace', list),
    named.map(([name]) => name),
    handles('trace', named.map(([, t]) => t)),
  )
  try {
    return tidy(() => {
      const result = fn(...list)
      return new TracedGraph(native.traceEnd(outputsOf(result).map((t) => t.handle)), Array.isArray(result))
    })
  } finally {
    // A no-op after traceEnd; ends the recording when fn threw.
    native.traceAbort()
  }
}

/**
 * Runs `fn` with `model` in evaluation mode and without autograd, then restores each module's
 * training mode.
 */
function inEvalMode<T>(model: Module, fn: () => T): T {
  const modes = model.modules().map((m) => [m, m.training] as const)
  model.eval()
  try {
    return noGrad(fn)
  } finally {
    for (const [m, training] of modes) m.training = training
  }
}

function forwardOf(model: Module): (...inputs: Tensor[]) => Tensor | Tensor[] {
  return (...inputs) => model.forward(...inputs) as Tensor | Tensor[]
}

/**
 * Traces `model.forward(...inputs)` in evaluation mode without autograd, naming the constants by
 * their `stateDict()` keys; the modules' training modes are restored afterwards.
 */
export function traceModule(model: Module, inputs: Tensor | readonly Tensor[]): TracedGraph {
  return inEvalMode(model, () => trace(forwardOf(model), inputs, { names: Object.fromEntries(model._stateTensors()) }))
}

/** @internal `traceModule` on the first sample of each input (for `Module.predict`). */
export function traceModuleSample(model: Module, inputs: readonly Tensor[]): TracedGraph {
  return inEvalMode(model, () => traceSample(forwardOf(model), inputs, { names: Object.fromEntries(model._stateTensors()) }))
}

/** The first sample of a batched input (dim 0), or the input itself when it has no dims. */
function firstSample(t: Tensor): Tensor {
  return t.ndim === 0 ? t : t.narrow(0, 0, 1)
}

/**
 * @internal Traces `fn` on the first sample of each input, so that the event loop is not held by
 * a whole batch; the caller disposes the graph.
 */
export function traceSample(fn: (...inputs: Tensor[]) => Tensor | Tensor[], inputs: readonly Tensor[], options: TraceOptions = {}): TracedGraph {
  const samples = inputs.map((t) => (t instanceof Tensor ? firstSample(t) : t))
  try {
    return trace(fn, samples, options)
  } finally {
    samples.forEach((s, i) => s !== inputs[i] && s.dispose())
  }
}

/**
 * Runs `fn(...inputs)` without autograd on a worker thread, so that the event loop stays free,
 * and resolves with its result, like `ft.noGrad` off the thread. `fn` is traced on the first
 * sample of each input (dim 0 is the batch) and the graph replays on the whole inputs, so it must
 * be traceable (see {@link trace}: tensor ops only, no reading of values) and must not depend on
 * the batch size except through `reshape`/`view`/`expand` targets whose dim 0 is the input's
 * dim 0. Until the promise settles, disposing an input throws a `TensorInUseError`.
 */
export async function noGradAsync<R extends Tensor | Tensor[]>(fn: (...inputs: Tensor[]) => R, ...inputs: Tensor[]): Promise<R> {
  const graph = noGrad(() => traceSample(fn, inputs))
  try {
    const outputs = await graph.runAsync(...inputs)
    return (graph.returnsArray ? outputs : outputs[0]) as R
  } finally {
    graph.dispose()
  }
}
