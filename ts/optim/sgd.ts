import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { zerosLike } from '../creation'
import { keep } from '../scope'
import type { Tensor } from '../tensor'
import { checkFlag, checkHyperParameter, Optimizer, type ParamGroup, type Params, type ParamState, type ParamUpdate } from './optimizer'

/** Hyper-parameters of {@link SGD}, with PyTorch's defaults. */
export interface SGDOptions {
  /** Learning rate (default 1e-3). */
  lr: number
  /** Momentum factor (default 0, plain SGD). */
  momentum: number
  /** Dampening of the gradient's contribution to the momentum (default 0). */
  dampening: number
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number
  /** Nesterov momentum; needs `momentum > 0` and `dampening` 0 (default false). */
  nesterov: boolean
  /** Ascend the objective instead of descending it (default false). */
  maximize: boolean
}

/** PyTorch's checks of SGD's hyper-parameters (NaN and infinities are refused too). */
function checkSGDOptions(o: SGDOptions, where: string): void {
  checkHyperParameter(where, 'learning rate', o.lr, 'a number >= 0', (x) => x >= 0)
  checkHyperParameter(where, 'momentum value', o.momentum, 'a number >= 0', (x) => x >= 0)
  checkHyperParameter(where, 'dampening value', o.dampening, 'a finite number', () => true)
  checkHyperParameter(where, 'weightDecay value', o.weightDecay, 'a number >= 0', (x) => x >= 0)
  checkFlag(where, 'nesterov', o.nesterov)
  checkFlag(where, 'maximize', o.maximize)
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
    throw new InvalidArgumentError(`${where}: Nesterov momentum requires a momentum and zero dampening, got momentum ${o.momentum} and dampening ${o.dampening}`)
  }
}

/** Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay rules. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options })
  }

  /** PyTorch's range checks of the hyper-parameters. */
  protected override checkOptions(options: SGDOptions, where: string): void {
    checkSGDOptions(options, where)
  }

  /** One SGD step of `param`, keeping its momentum buffer in `state.momentum_buffer`. */
  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<SGDOptions>): void {
    this.updateGroup([{ param, grad, state }], group)
  }

  /** One SGD step of a group's parameters in one native call (one kernel launch per device). */
  protected override updateGroup(updates: ParamUpdate[], group: ParamGroup<SGDOptions>): void {
    const momentum = group.momentum !== 0
    const firstSteps = updates.map(({ param, state }) => {
      const firstStep = ((state.momentum_buffer as Tensor | null | undefined) ?? null) === null
      if (momentum && firstStep) state.momentum_buffer = keep(zerosLike(param))
      return firstStep
    })
    native.sgdStepMany(
      updates.map((u) => u.param.handle),
      updates.map((u) => u.grad.handle),
      momentum ? updates.map((u) => (u.state.momentum_buffer as Tensor).handle) : null,
      firstSteps,
      group,
    )
  }
}
