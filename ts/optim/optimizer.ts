import { InvalidArgumentError, ShapeMismatchError } from '../errors'
import { noGrad } from '../autograd'
import { keep } from '../scope'
import { Tensor } from '../tensor'
import { describe } from '../validate'

/** A group of parameters sharing hyper-parameters, as in `torch.optim`. */
export type ParamGroup<Options> = Options & {
  /** The group's parameters. */
  params: Tensor[]
}

/** A group given to an optimizer or to `addParamGroup`: its parameters, and options overriding the optimizer's defaults. */
export type ParamGroupInput<Options> = Partial<Options> & {
  /** The group's parameters (any iterable, e.g. `module.parameters()`). */
  params: Iterable<Tensor>
}

/** What an optimizer accepts: parameters, or groups of them with their own option overrides. */
export type Params<Options> = Iterable<Tensor> | ParamGroupInput<Options>[]

/**
 * Per-parameter state under PyTorch's names: `step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`
 * (Adam), `momentum_buffer` (SGD).
 */
export type ParamState = Record<string, Tensor | number | null>

/** One parameter of a step: the parameter, its gradient and its state. */
export interface ParamUpdate {
  param: Tensor
  grad: Tensor
  state: ParamState
}

/** `weightDecay` -> `weight_decay`: PyTorch's spelling of an option name. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}` ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}` : S

/** An optimizer's options under PyTorch's names (`weight_decay`), as its state dict stores them. */
export type PyTorchOptions<Options> = { [K in keyof Options as K extends string ? SnakeCase<K> : never]: Options[K] }

/**
 * Serializable optimizer state in PyTorch's layout and names, so that a state dict from PyTorch's
 * `optimizer.state_dict()` loads: parameters are referred to by index, numbered across the groups
 * in order.
 */
export interface OptimizerStateDict<Options> {
  /** Per-parameter state, keyed by parameter index (parameters without state are absent). */
  state: Record<number, ParamState>
  /** Each group's hyper-parameters under PyTorch's names, with its parameters as indices. */
  param_groups: (PyTorchOptions<Options> & {
    /** Indices of the group's parameters. */
    params: number[]
  })[]
}

const camelToSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * Keys of PyTorch's param groups that select an implementation (foreach, fused kernels, CUDA
 * graphs) or name things, not a different update: loading ignores them. `initial_lr` is set by
 * PyTorch's schedulers; Ferrite's keep their base rates themselves.
 */
const IGNORED_PYTORCH_KEYS = new Set(['foreach', 'fused', 'capturable', 'initial_lr', 'param_names'])

/** PyTorch's `Invalid <what>: <value>`, unless `value` is a finite number that `inRange` accepts. */
export function checkHyperParameter(where: string, what: string, value: unknown, expected: string, inRange: (x: number) => boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !inRange(value)) {
    throw new InvalidArgumentError(`${where}: Invalid ${what}: ${typeof value === 'number' ? value : describe(value)} (expected ${expected})`)
  }
}

/** A flag such as `maximize`: anything but a boolean would be read as truthy or falsy. */
export function checkFlag(where: string, name: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${where}: ${name} must be true or false, got ${describe(value)}`)
}

/**
 * Base class of the optimizers. Subclasses implement `updateParameter` with one native call per
 * parameter, and may override `updateGroup` to update a whole group in one call (SGD and Adam
 * do: one kernel launch per device); the update itself never runs element by element in JS.
 */
export abstract class Optimizer<Options extends object> {
  /**
   * The parameter groups, each with its own hyper-parameters, like PyTorch's `param_groups`:
   * `optimizer.paramGroups[1].lr = 1e-4` changes one group's rate; schedulers set `lr` here.
   */
  readonly paramGroups: ParamGroup<Options>[] = []
  /** Per-parameter state (step counts, momentum buffers, moments), created on a parameter's first update. */
  readonly state = new Map<Tensor, ParamState>()
  /** The hyper-parameters groups start from, defaults merged with the constructor's options. */
  readonly defaults: Options

  /**
   * `params` is a list of parameters, or of groups `{ params, ...options }` whose options
   * override `defaults`. Parameters that do not require grad (frozen) are accepted, as in
   * PyTorch: a step skips every parameter without a gradient.
   */
  constructor(params: Params<Options>, defaults: Options) {
    this.defaults = defaults
    const name = new.target.name
    if (params instanceof Tensor || !isIterable(params)) {
      throw new InvalidArgumentError(`${name}: params must be an iterable of Tensors or of parameter groups { params, ...options }, got ${describe(params)}`)
    }
    const list = [...params]
    if (list.length === 0) throw new InvalidArgumentError(`${name}: got an empty parameter list`)
    const groups = list.every((p) => p instanceof Tensor) ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<Options>] : (list as ParamGroupInput<Options>[])
    groups.forEach((g, i) => this.#add(g, groups.length === 1 ? name : `${name}: parameter group ${i}`))
  }

  /**
   * Adds a group of parameters with its own options (the rest from `defaults`), like PyTorch's
   * `add_param_group`: e.g. unfreezing a backbone part-way through fine-tuning. A parameter that
   * is already in a group is an `InvalidArgumentError`.
   */
  addParamGroup(group: ParamGroupInput<Options>): void {
    this.#add(group, `${this.constructor.name}.addParamGroup: parameter group ${this.paramGroups.length}`)
  }

  #add(group: ParamGroupInput<Options>, where: string): void {
    if (typeof group !== 'object' || group === null || group instanceof Tensor) {
      throw new InvalidArgumentError(`${where}: expected a parameter group { params, ...options }, got ${describe(group)}`)
    }
    const given: unknown = group.params
    if (!(given instanceof Tensor) && !isIterable(given)) {
      throw new InvalidArgumentError(`${where}: params must be a Tensor or an iterable of Tensors, got ${describe(given)}`)
    }
    const params: unknown[] = given instanceof Tensor ? [given] : [...given]
    const seen = new Set<Tensor>()
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new InvalidArgumentError(`${where}: parameters must be Tensors, got ${describe(p)}`)
      if (!p.isLeaf) throw new InvalidArgumentError(`${where}: can't optimize a non-leaf Tensor (the result of an op); optimize the leaves it was computed from`)
      if (seen.has(p)) throw new InvalidArgumentError(`${where}: the group lists a parameter twice`)
      seen.add(p)
    }
    if (this.paramGroups.some((g) => g.params.some((p) => seen.has(p)))) {
      throw new InvalidArgumentError(`${where}: some parameters appear in more than one parameter group`)
    }
    const merged = { ...this.defaults, ...group, params } as ParamGroup<Options>
    this.checkOptions?.(merged, where)
    this.paramGroups.push(merged)
  }

  /** Clears the gradients of every parameter (sets them to null, PyTorch's default). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.grad = null
  }

  /**
   * Applies one update to every parameter that has a gradient, one native call per group.
   * Parameters without one (frozen ones, or ones the loss does not reach) are left as they are
   * and get no state, as in PyTorch.
   */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        const updates: ParamUpdate[] = []
        for (const param of group.params) {
          const grad = param.grad
          if (grad === null) continue
          let state = this.state.get(param)
          if (state === undefined) {
            state = {}
            this.state.set(param, state)
          }
          updates.push({ param, grad, state })
        }
        try {
          if (updates.length > 0) this.updateGroup(updates, group)
        } finally {
          for (const u of updates) u.grad.dispose()
        }
      }
    })
  }

  /** Updates the parameters of one group that have gradients; by default one `updateParameter` call each. */
  protected updateGroup(updates: ParamUpdate[], group: ParamGroup<Options>): void {
    for (const { param, grad, state } of updates) this.updateParameter(param, grad, state, group)
  }

  /** Throws an `InvalidArgumentError` for a hyper-parameter outside its range; `where` starts the message. Run on every group, here and by `loadStateDict`. */
  protected checkOptions?(options: Options, where: string): void

  /**
   * Param-group keys of PyTorch's state dicts that this optimizer has no option for, with the
   * only value it can honour (AdamW: `decoupled_weight_decay: true`); loading another value throws.
   */
  protected pytorchFlags(): Record<string, unknown> {
    return { differentiable: false }
  }

  /** Updates `param` in place from `grad`, reading and updating its `state`, with the hyper-parameters of its `group`. */
  protected abstract updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<Options>): void

  /**
   * The optimizer's state in PyTorch's layout and names, like `optimizer.state_dict()`: `state`
   * keyed by parameter index (numbered across the groups in order), `param_groups` with the
   * options as PyTorch spells them (`weight_decay`) and `params` index lists. The state tensors
   * are the optimizer's own, not copies.
   */
  stateDict(): OptimizerStateDict<Options> {
    const index = new Map<Tensor, number>()
    const paramGroups = this.paramGroups.map(({ params, ...options }) => ({
      ...Object.fromEntries(Object.entries(options).map(([k, v]) => [camelToSnake(k), Array.isArray(v) ? [...(v as unknown[])] : v])),
      params: params.map((p) => {
        index.set(p, index.size)
        return index.size - 1
      }),
    }))
    const state: Record<number, ParamState> = {}
    for (const [p, s] of this.state) if (index.has(p) && Object.keys(s).length > 0) state[index.get(p)!] = { ...s }
    return { state, param_groups: paramGroups as OptimizerStateDict<Options>['param_groups'] }
  }

  /**
   * Restores hyper-parameters and state from `stateDict()`, or from PyTorch's
   * `optimizer.state_dict()` (its keys that only pick an implementation, such as `foreach` and
   * `fused`, are ignored). State tensors are copied to their parameter's device and dtype, as
   * PyTorch does; a `step` may be a number or a one-element tensor. Everything is checked before
   * anything changes: a state dict that does not fit leaves the optimizer as it was.
   */
  loadStateDict(stateDict: OptimizerStateDict<Options>): void {
    const name = this.constructor.name
    const saved: unknown = stateDict
    if (!isRecord(saved) || !Array.isArray(saved.param_groups) || !isRecord(saved.state)) {
      throw new InvalidArgumentError(`loadStateDict: expected { state, param_groups } as stateDict() and PyTorch's optimizer.state_dict() give, got ${describe(saved)}`)
    }
    const savedGroups = saved.param_groups as unknown[]
    if (savedGroups.length !== this.paramGroups.length) {
      throw new InvalidArgumentError(`loadStateDict: the saved state has ${savedGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}`)
    }
    const optionNames = new Map(Object.keys(this.defaults).map((k) => [camelToSnake(k), k]))
    const flags = this.pytorchFlags()
    const byIndex: Tensor[] = []
    const options = savedGroups.map((group, i) => {
      const where = `loadStateDict: ${name} parameter group ${i}`
      const own = this.paramGroups[i]
      if (!isRecord(group) || !Array.isArray(group.params) || !group.params.every((k) => Number.isSafeInteger(k) && (k as number) >= 0)) {
        throw new InvalidArgumentError(`${where}: expected { params: [indices], ...options }, got ${describe(group)}`)
      }
      if (group.params.length !== own.params.length) {
        throw new InvalidArgumentError(`${where} has ${group.params.length} parameters in the saved state but ${own.params.length} here`)
      }
      group.params.forEach((k, j) => {
        if (byIndex[k as number] !== undefined) throw new InvalidArgumentError(`${where}: parameter index ${k} appears twice`)
        byIndex[k as number] = own.params[j]
      })
      const restored: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(group)) {
        if (key === 'params' || IGNORED_PYTORCH_KEYS.has(key)) continue
        const option = optionNames.get(key)
        if (option !== undefined) restored[option] = Array.isArray(value) ? [...(value as unknown[])] : value
        // Keys of the user's own that the group was given (PyTorch allows any), restored as saved.
        else if (Object.hasOwn(own, key)) restored[key] = value
        else if (!Object.hasOwn(flags, key)) throw new InvalidArgumentError(`${where}: unknown option '${key}' (${name} has ${[...optionNames.keys()].join(', ')})`)
        else if (value !== flags[key]) throw new InvalidArgumentError(`${where}: ${key} is ${JSON.stringify(value)}, but ${name} supports only ${JSON.stringify(flags[key])}`)
      }
      this.checkOptions?.({ ...own, ...restored } as Options, where)
      return restored
    })
    const states = Object.entries(saved.state).map(([k, s]) => {
      const param = /^\d+$/.test(k) ? byIndex[Number(k)] : undefined
      if (param === undefined) throw new InvalidArgumentError(`loadStateDict: state for parameter ${k}, which no group refers to`)
      if (!isRecord(s)) throw new InvalidArgumentError(`loadStateDict: the state of parameter ${k} must be an object, got ${describe(s)}`)
      for (const [key, value] of Object.entries(s)) {
        if (key === 'step' && !(value instanceof Tensor ? value.numel() === 1 : Number.isSafeInteger(value) && (value as number) >= 0)) {
          throw new InvalidArgumentError(`loadStateDict: parameter ${k}: step must be a non-negative integer or a one-element tensor, got ${describe(value)}`)
        }
        if (key !== 'step' && value instanceof Tensor && value.shape.join() !== param.shape.join()) {
          throw new ShapeMismatchError(`loadStateDict: parameter ${k}: ${key} has shape [${value.shape.join(', ')}] but the parameter has shape [${param.shape.join(', ')}]`)
        }
        if (!(value instanceof Tensor) && typeof value !== 'number' && value !== null) {
          throw new InvalidArgumentError(`loadStateDict: parameter ${k}: ${key} must be a Tensor, a number or null, got ${describe(value)}`)
        }
      }
      return [param, s as ParamState] as const
    })
    options.forEach((restored, i) => Object.assign(this.paramGroups[i], restored))
    this.state.clear()
    for (const [param, s] of states) {
      const copy: ParamState = {}
      for (const [key, value] of Object.entries(s)) {
        if (key === 'step' && value instanceof Tensor) copy[key] = value.item()
        else if (value instanceof Tensor) {
          using moved = value.to({ device: param.device, dtype: param.dtype })
          copy[key] = keep(moved.clone())
        } else copy[key] = value
      }
      this.state.set(param, copy)
    }
  }
}

const isIterable = (x: unknown): x is Iterable<unknown> => typeof (x as Partial<Iterable<unknown>> | null)?.[Symbol.iterator] === 'function'
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Tensor)
