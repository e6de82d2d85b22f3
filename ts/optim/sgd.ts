import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { zerosLike } from '../creation'
import { keep } from '../scope'
import type { Tensor } from '../tensor'
import { checkFlag, checkHyperParameter, Optimizer, type ParamGroup, type Params, type ParamState } from './optimizer'

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

  /** One SGD step of `param`, keeping its momentum buffer in `state.momentumBuffer`. */
  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<SGDOptions>): void {
    let buffer = (state.momentumBuffer as Tensor | null | undefined) ?? null
    const firstStep = buffer === null
    if (group.momentum !== 0 && buffer === null) buffer = state.momentumBuffer = keep(zerosLike(param))
    native.sgdStep(param.handle, grad.handle, group.momentum !== 0 ? buffer!.handle : null, firstStep, group)
  }
}
