import { InvalidArgumentError } from '../errors'
import { noGrad } from '../autograd'
import { keep } from '../scope'
import { Tensor } from '../tensor'
import { describe } from '../validate'

/** A group of parameters sharing hyper-parameters, as in `torch.optim`. */
export type ParamGroup<Options> = Options & {
  /** The group's parameters. */
  params: Tensor[]
}

/** What an optimizer accepts: parameters, or groups of them with their own option overrides. */
export type Params<Options> =
  | Iterable<Tensor>
  | (Partial<Options> & {
      /** The group's parameters; the group's other fields override the optimizer's options. */
      params: Iterable<Tensor>
    })[]

/** Per-parameter state: step counts and state tensors (moments, momentum buffers). */
export type ParamState = Record<string, Tensor | number | null>

/** One parameter of a step: the parameter, its gradient and its state. */
export interface ParamUpdate {
  param: Tensor
  grad: Tensor
  state: ParamState
}

/** Serializable optimizer state, PyTorch's layout: parameters are referred to by index. */
export interface OptimizerStateDict<Options> {
  /** Per-parameter state, keyed by parameter index (parameters without state are absent). */
  state: Record<number, ParamState>
  /** Each group's hyper-parameters, with its parameters as indices. */
  paramGroups: (Options & {
    /** Indices of the group's parameters, numbered across groups in order. */
    params: number[]
  })[]
}

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
  /** The parameter groups, each with its own hyper-parameters; schedulers change `lr` here, as in PyTorch. */
  readonly paramGroups: ParamGroup<Options>[]
  /** Per-parameter state (step counts, momentum buffers, moments), created on a parameter's first update. */
  readonly state = new Map<Tensor, ParamState>()
  /** The hyper-parameters groups start from, defaults merged with the constructor's options. */
  readonly defaults: Options

  constructor(params: Params<Options>, defaults: Options) {
    this.defaults = defaults
    const list = [...(params as Iterable<unknown>)]
    if (list.length === 0) throw new InvalidArgumentError(`${new.target.name}: got an empty parameter list`)
    const groups = list[0] instanceof Tensor ? [{ params: list as Tensor[] }] : (list as (Partial<Options> & { params: Iterable<Tensor> })[])
    this.paramGroups = groups.map((g) => {
      const params = [...g.params]
      for (const p of params) {
        if (!(p instanceof Tensor)) throw new InvalidArgumentError(`${new.target.name}: parameters must be Tensors`)
        if (!p.requiresGrad) throw new InvalidArgumentError(`${new.target.name}: optimizing a tensor that doesn't require grad`)
      }
      return { ...defaults, ...g, params } as ParamGroup<Options>
    })
    this.paramGroups.forEach((g, i) => this.checkOptions?.(g, this.paramGroups.length === 1 ? new.target.name : `${new.target.name}: parameter group ${i}`))
  }

  /** Clears the gradients of every parameter (sets them to null, PyTorch's default). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.grad = null
  }

  /** Applies one update to every parameter that has a gradient, a group at a time. */
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

  /** Updates `param` in place from `grad`, reading and updating its `state`, with the hyper-parameters of its `group`. */
  protected abstract updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<Options>): void

  /** The optimizer's state with parameters numbered in group order, like PyTorch's `state_dict()`. */
  stateDict(): OptimizerStateDict<Options> {
    const index = new Map<Tensor, number>()
    const paramGroups = this.paramGroups.map(({ params, ...options }) => ({
      ...(options as unknown as Options),
      params: params.map((p) => {
        if (!index.has(p)) index.set(p, index.size)
        return index.get(p)!
      }),
    }))
    const state: Record<number, ParamState> = {}
    for (const [p, s] of this.state) state[index.get(p)!] = { ...s }
    return { state, paramGroups }
  }

  /** Restores hyper-parameters and state saved by `stateDict()` (state tensors are copied). */
  loadStateDict(stateDict: OptimizerStateDict<Options>): void {
    if (stateDict.paramGroups.length !== this.paramGroups.length) {
      throw new InvalidArgumentError(`loadStateDict: the saved state has ${stateDict.paramGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}`)
    }
    // Everything is checked before anything changes, so a bad state leaves the optimizer as it was.
    const byIndex: Tensor[] = []
    const options = stateDict.paramGroups.map((saved, i) => {
      const group = this.paramGroups[i]
      if (saved.params.length !== group.params.length) {
        throw new InvalidArgumentError(`loadStateDict: parameter group ${i} has ${saved.params.length} parameters in the saved state but ${group.params.length} here`)
      }
      saved.params.forEach((k, j) => (byIndex[k] = group.params[j]))
      const { params: _ignored, ...rest } = saved
      this.checkOptions?.({ ...group, ...rest }, `loadStateDict: ${this.constructor.name} parameter group ${i}`)
      return rest
    })
    for (const k of Object.keys(stateDict.state)) {
      if (byIndex[Number(k)] === undefined) throw new InvalidArgumentError(`loadStateDict: state for parameter ${k}, which no group refers to`)
    }
    options.forEach((rest, i) => Object.assign(this.paramGroups[i], rest))
    this.state.clear()
    for (const [k, s] of Object.entries(stateDict.state)) {
      const param = byIndex[Number(k)]
      const copy: ParamState = {}
      for (const [name, value] of Object.entries(s)) copy[name] = value instanceof Tensor ? keep(value.clone()) : value
      this.state.set(param, copy)
    }
  }
}
