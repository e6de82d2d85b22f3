/**
 * Inference with eval-mode fusion: a model's forward traced in evaluation mode, each batch norm
 * folded into the convolution before it and each ReLU/ReLU6/SiLU applied in the output tiles of
 * the convolution or linear before it, then replayed, as onnxruntime's graph optimisations or
 * `torch.fx`'s conv-bn fusion do.
 *
 * ```ts
 * using fast = ft.inference.optimize(model) // or model.fuse()
 * const logits = fast.forward(images)        // sync
 * const batch = await fast.predict(images)   // on a worker thread
 * ```
 *
 * The folded weights are never stale: they are refolded whenever a weight or running statistic
 * changed in place (an optimizer step, `copy_`, `loadStateDict`). Results are within float32
 * rounding (1e-5 relative) of the unfused eval forward.
 *
 * Built-in modules also fuse by themselves: see {@link Module.forward}'s automatic rule
 * ({@link markPureForward}).
 */
import { isGradEnabled } from './autograd'
import { InvalidArgumentError, TraceError } from './errors'
import { native } from './native'
import type { Module } from './nn/module'
import { Tensor } from './tensor'
import { type TracedGraph, traceModuleSample } from './trace'
import { describe } from './validate'

type ModuleClass = abstract new (...args: any[]) => Module

/** What `M.forward` returns where that is a tensor or tensors (a plain `Module`'s is either). */
export type ForwardOutput<M extends Module> = ReturnType<M['forward']> extends Tensor | Tensor[] ? ReturnType<M['forward']> : Tensor | Tensor[]

/** Marks the classes whose own `forward` only calls traceable tensor ops and child modules. */
const pureForward = Symbol('pureForward')

/**
 * Declares that each class's own `forward` does nothing but tensor ops (the ones a trace records)
 * and its children's `forward`s, with no other effect (no logging, counters, reading values), so
 * that replaying a trace of it is the same as calling it. Modules made only of such classes fuse
 * automatically in evaluation mode without grad. Ferrite marks its layers, `nn.Sequential` and
 * the models of `ft.models`; a subclass that defines its own `forward` is not marked by its
 * parent's mark.
 */
export function markPureForward(...classes: ModuleClass[]): void {
  for (const c of classes) Object.defineProperty(c, pureForward, { value: true })
  noteModuleChange()
}

/**
 * Counts the changes to any module's structure or mode: a parameter, buffer, submodule or
 * `forward` assigned or registered, `to()`, `train()`/`eval()`. The fused graphs' checks of their
 * model (its state tensors, modes and pure forwards) walk the module tree only when it moved, so a
 * call costs O(1) otherwise; changes of values in place are the storage versions' concern.
 * Fields are watched from the first registry read of their module on (every check after a change
 * reads them all); a property added to a module afterwards, or a field that held something else
 * (a number, a plain tensor) given a module, is seen once it is registered (`registerModule`,
 * `Sequential.append`) or once any other change is noted.
 */
let moduleEpoch = 0

/** @internal Called by `Module` on every change {@link moduleEpoch} counts. */
export function noteModuleChange(): void {
  moduleEpoch++
}

/** The class whose `forward` `module` runs: the nearest one along its chain that defines it. */
function forwardOwner(module: Module): unknown {
  for (let p: unknown = Object.getPrototypeOf(module); p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p as object, 'forward')) return (p as { constructor: unknown }).constructor
  }
  return undefined
}

function isPure(module: Module): boolean {
  // A forward assigned to the instance is the caller's own code.
  if (Object.hasOwn(module, 'forward')) return false
  const owner = forwardOwner(module) as Record<symbol, unknown> | undefined
  return owner !== undefined && Object.hasOwn(owner, pureForward)
}

let automatic = true

/**
 * Turns the automatic fusion of built-in modules in evaluation mode without grad on or off (on by
 * default) and returns the previous setting; `optimize`, `fuse()` and `predict` fuse either way.
 */
export function setAutomaticFusion(enabled: boolean): boolean {
  if (typeof enabled !== 'boolean') throw new InvalidArgumentError(`setAutomaticFusion: enabled must be a boolean, got ${describe(enabled)}`)
  const previous = automatic
  automatic = enabled
  return previous
}

/** Whether built-in modules fuse automatically (see {@link setAutomaticFusion}). */
export function isAutomaticFusionEnabled(): boolean {
  return automatic
}

/**
 * @internal Whether `module.forward(x)` may replay its fused graph instead of running: automatic
 * fusion is on, no grad is recorded, no trace is recording (a trace must see the ops), and the
 * module has children and it and all its descendants are in evaluation mode with pure forwards.
 */
function fusesAutomatically(module: Module): boolean {
  // A layer without children is one op or a few: there is nothing to fuse, and its replay would
  // cost as much as its call.
  const modules = module.modules()
  return modules.length > 1 && modules.every((m) => !m.training && isPure(m))
}

type Cached = { state: Tensor[]; graph: TracedGraph; error?: undefined } | { state: Tensor[]; graph?: undefined; error: unknown }

/** A value computed from the module tree, with the {@link moduleEpoch} it was computed at. */
interface EpochValue<T> {
  epoch: number
  value: T
}

/**
 * @internal A model's fused forwards, traced on the first sample of an input in evaluation mode
 * and cached per input shape past dim 0, dtype, device and autocast setting, for the model's
 * parameters and buffers as they were (a tensor replaced by `to()` or reassigned causes a new
 * trace; one changed in place does not). A failed trace is remembered too.
 */
export class FusedForwards {
  readonly #model: Module
  readonly #graphs = new Map<string, Cached>()
  /** The model's state tensors as of an epoch; a graph traced for the same tensors is current. */
  #state: EpochValue<Tensor[]> = { epoch: -1, value: [] }
  /** Whether the model and all its descendants are in evaluation mode with pure forwards, as of an epoch. */
  #fusable: EpochValue<boolean> = { epoch: -1, value: false }

  constructor(model: Module) {
    this.#model = model
  }

  /**
   * @internal Whether `model.forward(x)` may replay its fused graph instead of running:
   * automatic fusion is on, no grad is recorded, no trace is recording (a trace must see the
   * ops), and the model has children and it and all its descendants are in evaluation mode with
   * pure forwards.
   */
  fusesAutomatically(): boolean {
    if (!automatic || this.#model.training || isGradEnabled() || native.traceIsRecording()) return false
    if (this.#fusable.epoch !== moduleEpoch) {
      this.#model._watchFields()
      this.#fusable = { epoch: moduleEpoch, value: fusesAutomatically(this.#model) }
    }
    return this.#fusable.value
  }

  /** The fused graph for inputs like `x`; throws what tracing threw (now or when first tried). */
  graph(op: string, x: Tensor): TracedGraph {
    const cached = this.#lookup(op, x)
    if (cached.graph === undefined) throw cached.error
    return cached.graph
  }

  /**
   * Like {@link graph}, undefined where the forward cannot be traced, or where its trace on the
   * first sample threw (an unbatched input, say): the forward then runs as written, and throws
   * what it throws.
   */
  graphIfTraceable(x: Tensor): TracedGraph | undefined {
    try {
      return this.#lookup('forward', x).graph
    } catch {
      return undefined
    }
  }

  #lookup(op: string, x: Tensor): Cached {
    if (!(x instanceof Tensor)) throw new InvalidArgumentError(`${op}: expected a Tensor, got ${describe(x)}`)
    const state = this.#currentState()
    const key = `${x.shape.slice(1).join(',')}|${x.ndim}|${x.dtype}|${x.device}|${native.autocastDtype('cpu')}|${native.autocastDtype('cuda')}`
    const cached = this.#graphs.get(key)
    if (cached && (cached.state === state || sameTensors(cached.state, state))) {
      // The same list from now on, so that the next calls compare one reference.
      cached.state = state
      return cached
    }
    cached?.graph?.dispose()
    const entry = this.#trace(x, state)
    this.#graphs.set(key, entry)
    return entry
  }

  /** The model's state tensors, walked again only when some module changed since the last walk. */
  #currentState(): Tensor[] {
    if (this.#state.epoch !== moduleEpoch) {
      this.#model._watchFields()
      const value = this.#model._stateTensors().map(([, t]) => t)
      this.#state = { epoch: moduleEpoch, value: sameTensors(this.#state.value, value) ? this.#state.value : value }
    }
    return this.#state.value
  }

  #trace(x: Tensor, state: Tensor[]): Cached {
    let traced: TracedGraph
    try {
      traced = traceModuleSample(this.#model, [x])
    } catch (error) {
      if (error instanceof TraceError) return { state, error }
      throw error
    }
    try {
      return { state, graph: traced.fused() }
    } finally {
      traced.dispose()
    }
  }

  /** Drops every cached graph and its folded weights. */
  dispose(): void {
    for (const { graph } of this.#graphs.values()) graph?.dispose()
    this.#graphs.clear()
  }
}

function sameTensors(a: readonly Tensor[], b: readonly Tensor[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}

/**
 * A model's fused evaluation-mode forward (see {@link optimize}). It shares the model's weights
 * and follows their in-place changes; dispose it to free its graphs and folded weights.
 */
export class OptimizedModel<Output extends Tensor | Tensor[] = Tensor | Tensor[]> implements Disposable {
  readonly #forwards: FusedForwards
  #disposed = false

  /** @internal Made by {@link optimize} and `Module.fuse()`. */
  constructor(model: Module) {
    this.#forwards = new FusedForwards(model)
  }

  /**
   * The model's evaluation-mode output for `x` without grad, like
   * `ft.noGrad(() => model.eval().forward(x))` without changing the model's mode, from the fused
   * graph (traced on the first call for each input shape past dim 0, dtype and device). Throws a
   * `TraceError` when the forward cannot be traced.
   */
  forward(x: Tensor): Output {
    const graph = this.#graph('OptimizedModel.forward', x)
    const outputs = graph.run(x)
    return (graph.returnsArray ? outputs : outputs[0]) as Output
  }

  /**
   * Like {@link forward}, on a worker thread, so that the event loop keeps turning. Until the
   * promise settles, disposing `x` or a weight throws a `TensorInUseError`.
   */
  predict(x: Tensor): Promise<Output> {
    let graph: TracedGraph
    try {
      graph = this.#graph('OptimizedModel.predict', x)
    } catch (error) {
      return Promise.reject(error)
    }
    return graph.runAsync(x).then((outputs) => (graph.returnsArray ? outputs : outputs[0]) as Output)
  }

  #graph(op: string, x: Tensor): TracedGraph {
    if (this.#disposed) throw new InvalidArgumentError(`${op}: the optimized model was disposed`)
    return this.#forwards.graph(op, x)
  }

  /** Frees the graphs and folded weights (not the model's weights); later calls throw. */
  dispose(): void {
    this.#disposed = true
    this.#forwards.dispose()
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose()
  }
}

/**
 * `model`'s forward fused for inference: batch norm folded into the convolutions, activations
 * applied in the convolutions' and linears' output tiles. Works for any model whose forward is
 * traceable (see `ft.jit.trace`), user subclasses included; the returned object's `forward` and
 * `predict` replay the fused graph, which skips any JS of the forward other than its tensor ops.
 */
export function optimize<M extends Module>(model: M): OptimizedModel<ForwardOutput<M>> {
  if (typeof (model as { modules?: unknown } | null)?.modules !== 'function') {
    throw new InvalidArgumentError(`inference.optimize: expected an nn.Module, got ${describe(model)}`)
  }
  return new OptimizedModel(model)
}
