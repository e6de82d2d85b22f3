import { noGrad } from '../autograd'
import { zerosLike } from '../creation'
import { InvalidArgumentError, ShapeMismatchError } from '../errors'
import { native } from '../native'
import { forwardScope } from '../scope'
import { Tensor } from '../tensor'
import { type ForwardOutput, FusedForwards, noteModuleChange, OptimizedModel } from '../inference'
import type { TracedGraph } from '../trace'
import { describe } from '../validate'
import type { DeviceName, DType, ToOptions } from '../types'
import { DTYPES } from '../types'
import { Buffer, Parameter } from './parameter'
import { addIndent } from './repr'

/** Options of {@link Module.registerBuffer}. */
export interface RegisterBufferOptions {
  /** Whether `stateDict()` includes the buffer (default true). */
  persistent?: boolean
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Throw when the keys differ from the model's (default true). Size mismatches always throw. */
  strict?: boolean
}

/** What {@link Module.loadStateDict} did not match, like PyTorch's `_IncompatibleKeys`. */
export interface IncompatibleKeys {
  /** Keys the model has but the state dict lacks (left unchanged). */
  missingKeys: string[]
  /** Keys the state dict has but the model lacks (ignored). */
  unexpectedKeys: string[]
}

/** Options of {@link Module.zeroGrad}. */
export interface ZeroGradOptions {
  /** Set gradients to null (default, as in PyTorch) rather than filling them with zeros. */
  setToNone?: boolean
}

type Kind = 'parameter' | 'buffer' | 'module'
type Value<K extends Kind> = K extends 'parameter' ? Parameter : K extends 'buffer' ? Tensor : Module

/**
 * Where a registered entry lives: a field of the module (read live, so reassigning the field
 * replaces it), or a value registered under a name of its own.
 */
interface Slot<K extends Kind> {
  field?: string
  value?: Value<K> | null
  persistent?: boolean
}

function kindOf(value: unknown): Kind | undefined {
  if (value instanceof Module) return 'module'
  if (value instanceof Parameter) return 'parameter'
  if (value instanceof Buffer) return 'buffer'
  return undefined
}

const inspect = Symbol.for('nodejs.util.inspect.custom')

/** Marks a `forward` that already runs in a scope of its own. */
const scoped = Symbol('scopedForward')

/**
 * Makes every `forward` defined along a module class's prototype chain run in a scope that frees
 * its intermediates (see {@link Module}), or replay its fused graph (which makes no intermediates
 * on the JS side); each class's method is wrapped once, on its first instance. The wrapper is
 * read through an accessor whose setter notes a `forward` assigned to an instance (or a
 * prototype), which makes that module's forward the caller's own (see `Module.forward`).
 */
function scopeForwards(prototype: object): void {
  for (let p = prototype; p !== Module.prototype && p !== null; p = Object.getPrototypeOf(p)) {
    const own = Object.getOwnPropertyDescriptor(p, 'forward')
    const forward = own?.value as ((this: Module, ...args: unknown[]) => unknown) & { [scoped]?: true }
    if (typeof forward !== 'function' || forward[scoped]) continue
    const wrapped = {
      forward(this: Module, ...args: unknown[]): unknown {
        if (args.length === 1 && args[0] instanceof Tensor) {
          const fused = this._fusedForward(args[0])
          if (fused !== undefined) return fused
        }
        let own: Set<Tensor> | undefined
        return forwardScope(
          () => forward.apply(this, args),
          (t) => (own ??= this.ownTensors()).has(t),
        )
      },
    }.forward as typeof forward
    wrapped[scoped] = true
    Object.defineProperty(p, 'forward', {
      configurable: true,
      enumerable: own?.enumerable,
      get: () => wrapped,
      set(this: object, value: unknown) {
        Object.defineProperty(this, 'forward', { value, writable: true, configurable: true, enumerable: true })
        noteModuleChange()
      },
    })
  }
}

/**
 * Base class of every layer and model, like `torch.nn.Module`. Subclasses assign their layers
 * ({@link Module}s), weights ({@link Parameter}s) and buffers ({@link Buffer}s) to fields and
 * implement `forward`; the fields are registered in the order they are defined, so
 * `parameters()`, `stateDict()` and printing follow the code:
 *
 * ```ts
 * class Net extends nn.Module {
 *   conv = new nn.Conv2d(3, 16, 3, { padding: 1 })
 *   fc = new nn.Linear(16, 10)
 *   forward(x: ft.Tensor): ft.Tensor {
 *     return this.fc.forward(this.conv.forward(x).mean([2, 3]))
 *   }
 * }
 * ```
 *
 * Names that differ from the field (PyTorch's snake_case keys) are registered explicitly with
 * `registerParameter`, `registerBuffer` and `registerModule`.
 *
 * Each `forward` call frees the tensors it makes and does not return when it returns, as `tidy`
 * does (autograd keeps what backward needs), so that a plain training loop holds no more memory
 * than one step's. A tensor made in `forward` that should outlive it is returned, registered as
 * the module's buffer or parameter, or passed to `ft.keep`.
 */
export abstract class Module {
  #training = true

  readonly #parameters = new Map<string, Slot<'parameter'>>()
  readonly #buffers = new Map<string, Slot<'buffer'>>()
  readonly #modules = new Map<string, Slot<'module'>>()
  /** The fields turned into accessors by `#watchField`. */
  readonly #watched = new Set<string>()
  /** The fused forwards of `predict` and of the automatic rule (see `forward`). */
  readonly #fusedForwards = new FusedForwards(this)

  constructor() {
    scopeForwards(new.target.prototype)
    // A subclass's class fields are defined after this returns, as plain data that replaces a
    // watched field of the same name: the fused graphs' next check, which the change makes walk,
    // watches them again (see `_watchFields`).
    noteModuleChange()
  }

  /** Whether the module is in training mode (`train()`) or evaluation mode (`eval()`). */
  get training(): boolean {
    return this.#training
  }

  set training(mode: boolean) {
    if (mode === this.#training) return
    this.#training = mode
    noteModuleChange()
  }

  /**
   * The computation of the module; called by the parent's `forward`.
   *
   * In evaluation mode without grad (`model.eval()` inside `ft.noGrad`, as `ft.evaluate` runs),
   * a module whose forward and whose descendants' forwards are Ferrite's own (its layers,
   * `nn.Sequential`, the models of `ft.models`) runs its fused graph instead (see
   * `ft.inference`): traced once per input shape past dim 0, dtype and device, batch norm folded
   * into the convolutions, activations in the convolutions' output tiles; the result is the
   * same within float32 rounding. A subclass with its own `forward` is not fused automatically,
   * since a replay runs only the tensor ops a trace recorded and would skip the rest of its JS
   * (logging, counters, branches on values); `ft.inference.optimize(model)` (or `model.fuse()`)
   * fuses it on request, and `ft.inference.markPureForward(MyModule)` declares a forward safe to
   * replay. A forward that cannot be traced runs as written.
   */
  abstract forward(...args: any[]): any

  /**
   * @internal The result of the module's fused graph for `x` where the automatic rule (see
   * `forward`) applies and the forward traces; undefined where `forward` must run as written.
   */
  _fusedForward(x: Tensor): Tensor | Tensor[] | undefined {
    if (!this.#fusedForwards.fusesAutomatically()) return undefined
    const graph = this.#fusedForwards.graphIfTraceable(x)
    if (graph === undefined) return undefined
    const outputs = graph.run(x)
    return graph.returnsArray ? outputs : outputs[0]
  }

  /**
   * The model's forward fused for inference, as `ft.inference.optimize(model)`: an object whose
   * `forward` (sync) and `predict` (worker thread) replay the model's evaluation-mode forward
   * with batch norm folded into the convolutions and activations in their output tiles, sharing
   * and following the model's weights. Unlike PyTorch's `fuse_modules`, the model itself is not
   * changed (it still trains as before); dispose the result to free its graphs.
   */
  fuse(): OptimizedModel<ForwardOutput<this>> {
    return new OptimizedModel(this)
  }

  /** @internal This module's own parameters and buffers (not its children's). */
  ownTensors(): Set<Tensor> {
    const own = new Set<Tensor>()
    for (const [, p] of this.#own('parameter')) if (p !== null) own.add(p)
    for (const [, b] of this.#own('buffer')) if (b !== null) own.add(b)
    return own
  }

  /**
   * Registers `param` (or null, a placeholder that is skipped) under `name`, and returns it.
   * Use it when the PyTorch name differs from a field name, or for names chosen at run time.
   */
  registerParameter<P extends Parameter | null>(name: string, param: P): P {
    if (param !== null && !(param instanceof Parameter)) {
      throw new InvalidArgumentError(`registerParameter: cannot assign ${describe(param)} to parameter '${name}' (nn.Parameter or null required)`)
    }
    this.#register('parameter', 'registerParameter', name, { value: param })
    return param
  }

  /**
   * Registers `tensor` (or null, skipped) as the buffer `name` and returns it. Buffers are state
   * that is not learned, such as BatchNorm's running statistics; non-persistent ones are left
   * out of `stateDict()`.
   */
  registerBuffer<T extends Tensor | null>(name: string, tensor: T, { persistent = true }: RegisterBufferOptions = {}): T {
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new InvalidArgumentError(`registerBuffer: cannot assign ${describe(tensor)} to buffer '${name}' (Tensor or null required)`)
    }
    this.#register('buffer', 'registerBuffer', name, { value: tensor, persistent })
    return tensor
  }

  /** Registers `module` (or null, printed as `None`) as the child `name` and returns it. */
  registerModule<M extends Module | null>(name: string, module: M): M {
    if (module !== null && !(module instanceof Module)) {
      throw new InvalidArgumentError(`registerModule: ${describe(module)} is not a Module`)
    }
    this.#register('module', 'registerModule', name, { value: module })
    return module
  }

  /** The parameters of this module and its descendants, each once. */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p)
  }

  /** `[name, parameter]` pairs with dotted names (`conv1.0.weight`), each parameter once. */
  namedParameters(): [string, Parameter][] {
    return this.#namedMembers('parameter')
  }

  /** The buffers of this module and its descendants, each once. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b)
  }

  /** `[name, buffer]` pairs with dotted names (`bn.running_mean`), each buffer once. */
  namedBuffers(): [string, Tensor][] {
    return this.#namedMembers('buffer')
  }

  /** The direct submodules, each once. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m)
  }

  /** `[name, submodule]` pairs of the direct submodules, each once. */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>()
    return this.#own('module').filter((entry): entry is [string, Module] => {
      const m = entry[1]
      if (m === null || seen.has(m)) return false
      seen.add(m)
      return true
    })
  }

  /** This module and all its descendants, each once, parents before children. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m)
  }

  /** `[name, module]` pairs for this module (named `''`) and its descendants, each once. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = []
    const seen = new Set<Module>()
    const visit = (prefix: string, module: Module) => {
      if (seen.has(module)) return
      seen.add(module)
      out.push([prefix, module])
      for (const [name, child] of module.#own('module')) {
        if (child !== null) visit(prefix === '' ? name : `${prefix}.${name}`, child)
      }
    }
    visit('', this)
    return out
  }

  /** The submodule at a dotted path such as `'layer1.0.conv1'` (`''` is this module). */
  getSubmodule(target: string): Module {
    if (target === '') return this
    let module: Module = this
    for (const name of target.split('.')) {
      const child = module.#own('module').find(([n]) => n === name)?.[1]
      if (!child) throw new InvalidArgumentError(`getSubmodule: ${module.constructor.name} has no submodule '${name}' (looking up '${target}')`)
      module = child
    }
    return module
  }

  /** The parameter at a dotted path such as `'fc.weight'`. */
  getParameter(target: string): Parameter {
    return this.#getMember('parameter', 'getParameter', target)
  }

  /** The buffer at a dotted path such as `'bn.running_mean'`. */
  getBuffer(target: string): Tensor {
    return this.#getMember('buffer', 'getBuffer', target)
  }

  /** Calls `fn` on every submodule (children first) and then on this module, e.g. for custom init. */
  apply(fn: (module: Module) => void): this {
    for (const child of this.children()) child.apply(fn)
    fn(this)
    return this
  }

  /** Sets training mode (`true`) or evaluation mode on this module and all its descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode
    return this
  }

  /** Sets evaluation mode: BatchNorm uses its running statistics. Same as `train(false)`. */
  eval(): this {
    return this.train(false)
  }

  /** Clears the gradients of every parameter: null by default, as in PyTorch, or zeros. */
  zeroGrad({ setToNone = true }: ZeroGradOptions = {}): void {
    for (const p of this.parameters()) {
      const grad = p.grad
      if (grad === null) continue
      if (setToNone) p.grad = null
      else {
        using zeros = zerosLike(grad)
        grad.copy_(zeros)
      }
    }
  }

  /**
   * The model's state as `{ key: tensor }` in PyTorch's order and names: each module's
   * parameters, then its persistent buffers, then its children's entries under `name.`
   * (`conv1.0.weight`, `conv1.1.running_mean`). The tensors share storage with the model and are
   * outside autograd. Save it with `ft.save`.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {}
    for (const [key, tensor] of this.#stateEntries('')) out[key] = tensor.detach()
    return out
  }

  /** @internal The live tensors behind `stateDict()` (not detached), with their keys. */
  _stateTensors(): [string, Tensor][] {
    return this.#stateEntries('')
  }

  /**
   * Copies `stateDict`'s tensors into the model's parameters and buffers in place (the tensor
   * objects stay the same, so optimizers keep working). Nothing is changed when it throws: a
   * shape that differs throws a `ShapeMismatchError` naming the key and both shapes, and in
   * strict mode (the default) missing or unexpected keys throw an `InvalidArgumentError` that
   * lists them. Returns the keys that did not match.
   */
  loadStateDict(stateDict: Record<string, Tensor>, { strict = true }: LoadStateDictOptions = {}): IncompatibleKeys {
    if (typeof stateDict !== 'object' || stateDict === null || Array.isArray(stateDict) || stateDict instanceof Tensor) {
      throw new InvalidArgumentError(`loadStateDict: expected a state dict (an object of name to Tensor, as stateDict() and ft.load return), got ${describe(stateDict)}`)
    }
    const entries = this.#stateEntries('')
    const own = new Set(entries.map(([key]) => key))
    const missingKeys = entries.map(([key]) => key).filter((key) => !Object.hasOwn(stateDict, key))
    const unexpectedKeys = Object.keys(stateDict).filter((key) => !own.has(key))
    const errors: string[] = []
    if (strict && missingKeys.length > 0) errors.push(`Missing key(s) in state_dict: ${quoted(missingKeys)}.`)
    if (strict && unexpectedKeys.length > 0) errors.push(`Unexpected key(s) in state_dict: ${quoted(unexpectedKeys)}.`)
    let sizeMismatch = false
    for (const [key, target] of entries) {
      if (!Object.hasOwn(stateDict, key)) continue
      const source: unknown = stateDict[key]
      if (!(source instanceof Tensor)) {
        throw new InvalidArgumentError(`loadStateDict: the value of '${key}' is ${describe(source)}, not a Tensor`)
      }
      if (!sameShape(source.shape, target.shape)) {
        sizeMismatch = true
        errors.push(
          `size mismatch for ${key}: copying a param with shape [${source.shape.join(', ')}] from checkpoint, ` +
            `the shape in current model is [${target.shape.join(', ')}].`,
        )
      }
    }
    if (errors.length > 0) {
      const message = `loadStateDict: Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join('\n\t')}`
      throw sizeMismatch ? new ShapeMismatchError(message) : new InvalidArgumentError(message)
    }
    noGrad(() => {
      for (const [key, target] of entries) if (Object.hasOwn(stateDict, key)) target.copy_(stateDict[key])
    })
    return { missingKeys, unexpectedKeys }
  }

  /**
   * Moves the parameters and buffers to a device, or casts the floating point ones to a float
   * dtype (`'float32'` or `'bfloat16'`; int64 and bool buffers keep theirs), or both
   * (`{ device, dtype }`), like PyTorch's `module.to(...)`; returns this module. Entries that
   * do not change stay the same objects; the others are replaced, so create optimizers afterwards.
   */
  to(target: DeviceName | DType | ToOptions): this {
    const options: ToOptions =
      typeof target === 'object' && target !== null
        ? target
        : (DTYPES as readonly unknown[]).includes(target)
          ? { dtype: target as DType }
          : { device: target as DeviceName }
    const { dtype } = options
    if (dtype !== undefined && dtype !== 'float32' && dtype !== 'bfloat16') {
      throw new InvalidArgumentError(`Module.to only accepts floating point dtypes ('float32', 'bfloat16'), but got dtype=${String(dtype)}`)
    }
    for (const module of this.modules()) module.#moveOwn(options)
    return this
  }

  /** Casts the floating point parameters and buffers to float32, like PyTorch's `module.float()`. */
  float(): this {
    return this.to({ dtype: 'float32' })
  }

  /** Casts the floating point parameters and buffers to bfloat16, like PyTorch's `module.bfloat16()`. */
  bfloat16(): this {
    return this.to({ dtype: 'bfloat16' })
  }

  /**
   * The model's evaluation-mode output for the batch `x`, computed on a worker thread so that the
   * event loop keeps turning (a server keeps answering while a batch runs): like
   * `ft.noGrad(() => model.eval().forward(x))` without changing the model's mode.
   *
   * The forward is traced (`ft.jit.traceModule`) on the first sample of `x`, fused (see
   * `ft.inference`), cached per input shape past dim 0, dtype and device, and replayed on the
   * whole batch. So the forward must be traceable (tensor ops only; no `item()`, losses or
   * in-place copies; a `TraceError` says which op is not) and may depend on the batch size only through
   * `reshape`/`view`/`expand` targets whose dim 0 is their input's dim 0, as in
   * `x.view([x.size(0), -1])`. Weights updated in place are seen by later calls; parameters
   * replaced (`to()`, reassigned) cause a new trace. Until the promise settles, disposing `x` or a
   * weight throws a `TensorInUseError`.
   */
  predict(x: Tensor): Promise<Tensor> {
    let graph: TracedGraph
    try {
      graph = this.#fusedForwards.graph('predict', x)
    } catch (error) {
      return Promise.reject(error)
    }
    if (graph.returnsArray) {
      return Promise.reject(new InvalidArgumentError(`predict: ${this.constructor.name}.forward returns several tensors; predict supports one output (use ft.noGradAsync)`))
    }
    return graph.runAsync(x).then(([output]) => output)
  }

  /** Frees the native memory of every parameter and buffer now; the module is unusable afterwards. */
  dispose(): void {
    this.#fusedForwards.dispose()
    for (const p of this.parameters()) p.dispose()
    for (const b of this.buffers()) b.dispose()
  }

  /** Same as `dispose()`; lets `using model = ...` free the weights at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose()
  }

  /**
   * The layer's settings as they appear inside its printed parentheses, like PyTorch's
   * `extra_repr` (`in_features=2048, out_features=10, bias=True`). Empty by default.
   */
  extraRepr(): string {
    return ''
  }

  /** The module tree as PyTorch prints it (`print(model)`), character for character. */
  toString(): string {
    const extraRepr = this.extraRepr()
    const extraLines = extraRepr === '' ? [] : extraRepr.split('\n')
    const childLines = this.#own('module').map(([name, m]) => `(${name}): ${addIndent(m === null ? 'None' : m.toString(), 2)}`)
    const lines = [...extraLines, ...childLines]
    let body = ''
    if (extraLines.length === 1 && childLines.length === 0) body = extraLines[0]
    else if (lines.length > 0) body = `\n  ${lines.join('\n  ')}\n`
    return `${this.constructor.name}(${body})`
  }

  /** What `console.log` and Node's `util.inspect` print: the `toString()` tree. */
  [inspect](): string {
    return this.toString()
  }

  #slots<K extends Kind>(kind: K): Map<string, Slot<K>> {
    const slots = kind === 'parameter' ? this.#parameters : kind === 'buffer' ? this.#buffers : this.#modules
    return slots as unknown as Map<string, Slot<K>>
  }

  #register<K extends Kind>(kind: K, op: string, name: string, slot: Slot<K>): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new InvalidArgumentError(`${op}: the name must be a non-empty string without '.', got ${JSON.stringify(name)}`)
    }
    // Fields defined so far come first, keeping registration in the order the code runs.
    this.#discoverFields()
    for (const other of ['parameter', 'buffer', 'module'] as const) {
      if (other !== kind && this.#slots(other).has(name)) {
        throw new InvalidArgumentError(`${op}: '${name}' is already registered as a ${other}`)
      }
    }
    this.#slots(kind).set(name, slot)
    noteModuleChange()
  }

  /**
   * Registers the fields that hold a Module, Parameter or Buffer and are not registered yet,
   * in definition order. Runs lazily (before every registry read) because class fields are
   * assigned after the base constructor has returned.
   */
  #discoverFields(): void {
    const explicit = new Set<unknown>()
    for (const kind of ['parameter', 'buffer', 'module'] as const) {
      for (const slot of this.#slots(kind).values()) if (slot.field === undefined && slot.value) explicit.add(slot.value)
    }
    for (const key of Object.keys(this)) {
      if (this.#parameters.has(key) || this.#buffers.has(key) || this.#modules.has(key)) continue
      const value = (this as Record<string, unknown>)[key]
      // An empty field (`downsample = null`) may receive a module later.
      if (value == null && !this.#watched.has(key)) this.#watchField(key)
      const kind = kindOf(value)
      // A field that aliases an explicitly registered value (`this.fc = this.registerModule('f_c', ...)`) is not a second entry.
      if (kind !== undefined && !explicit.has(value)) {
        this.#slots(kind).set(key, { field: key })
        this.#watchField(key)
      }
    }
  }

  /**
   * Turns the field `key`, which holds a Module, Parameter, Buffer or nothing yet (null or
   * undefined), into an accessor whose setter notes each new value, so that the fused graphs'
   * checks see a replaced weight or child (see `noteModuleChange`) without walking the tree.
   */
  #watchField(key: string): void {
    const descriptor = Object.getOwnPropertyDescriptor(this, key)
    if (descriptor === undefined || !('value' in descriptor) || !descriptor.writable || !descriptor.configurable) return
    this.#watched.add(key)
    let value: unknown = descriptor.value
    Object.defineProperty(this, key, {
      configurable: true,
      enumerable: descriptor.enumerable,
      get: () => value,
      set: (next: unknown) => {
        if (next === value) return
        value = next
        noteModuleChange()
      },
    })
  }

  /**
   * @internal Watches again, in this module and its descendants, each watched field that was
   * redefined as plain data (a subclass's class field of the same name); the fused graphs' checks
   * call it whenever a change was noted.
   */
  _watchFields(): void {
    for (const module of this.modules()) {
      for (const key of module.#watched) {
        if (Object.getOwnPropertyDescriptor(module, key)?.get === undefined) module.#watchField(key)
      }
    }
  }

  /** This module's own entries of one kind, null for placeholders and for fields now holding something else. */
  #own<K extends Kind>(kind: K): [string, Value<K> | null][] {
    this.#discoverFields()
    return [...this.#slots(kind)].map(([name, slot]) => [name, this.#resolve(kind, slot)])
  }

  #resolve<K extends Kind>(kind: K, slot: Slot<K>): Value<K> | null {
    if (slot.field === undefined) return slot.value ?? null
    const value = (this as Record<string, unknown>)[slot.field]
    return kindOf(value) === kind ? (value as Value<K>) : null
  }

  #namedMembers<K extends 'parameter' | 'buffer'>(kind: K): [string, Value<K>][] {
    const out: [string, Value<K>][] = []
    const seen = new Set<Tensor>()
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, value] of module.#own(kind)) {
        if (value === null || seen.has(value)) continue
        seen.add(value)
        out.push([prefix === '' ? name : `${prefix}.${name}`, value])
      }
    }
    return out
  }

  #getMember<K extends 'parameter' | 'buffer'>(kind: K, op: string, target: string): Value<K> {
    const dot = target.lastIndexOf('.')
    const module = this.getSubmodule(dot < 0 ? '' : target.slice(0, dot))
    const name = target.slice(dot + 1)
    const value = module.#own(kind).find(([n]) => n === name)?.[1]
    if (!value) throw new InvalidArgumentError(`${op}: ${module.constructor.name} has no ${kind} '${name}' (looking up '${target}')`)
    return value
  }

  /** The live (not detached) tensors behind `stateDict()`, with their keys. */
  #stateEntries(prefix: string): [string, Tensor][] {
    const out: [string, Tensor][] = []
    for (const [name, p] of this.#own('parameter')) if (p !== null) out.push([prefix + name, p])
    for (const [name, slot] of this.#buffers) {
      const b = this.#resolve('buffer', slot)
      const persistent = slot.field === undefined ? slot.persistent !== false : (b as Buffer | null)?.persistent !== false
      if (b !== null && persistent) out.push([prefix + name, b])
    }
    for (const [name, child] of this.#own('module')) if (child !== null) out.push(...child.#stateEntries(`${prefix}${name}.`))
    return out
  }

  #moveOwn({ device, dtype }: ToOptions): void {
    for (const kind of ['parameter', 'buffer'] as const) {
      for (const [name, slot] of this.#slots(kind)) {
        const current = this.#resolve(kind, slot)
        if (current === null) continue
        const isFloat = current.dtype === 'float32' || current.dtype === 'bfloat16'
        const cast = isFloat ? dtype : undefined
        if (device === undefined && cast === undefined) continue
        const moved = current.to({ device, dtype: cast })
        if (native.sharesStorage(moved.handle, current.handle)) {
          moved.dispose()
          continue
        }
        const replacement =
          current instanceof Parameter
            ? new Parameter(moved, { requiresGrad: current.requiresGrad })
            : current instanceof Buffer
              ? new Buffer(moved, { persistent: current.persistent })
              : moved
        if (slot.field === undefined) {
          this.#slots(kind).set(name, { ...slot, value: replacement as Value<typeof kind> })
          noteModuleChange()
        } else (this as Record<string, unknown>)[slot.field] = replacement
      }
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i])
}

function quoted(keys: string[]): string {
  return keys.map((k) => `"${k}"`).join(', ')
}
