import { native } from '../native'
import { zerosLike } from '../creation'
import { keep } from '../scope'
import type { Tensor } from '../tensor'
import { Optimizer, type ParamGroup, type Params, type ParamState } from './optimizer'

export interface SGDOptions {
  lr: number
  momentum: number
  dampening: number
  weightDecay: number
  nesterov: boolean
  maximize: boolean
}

/** Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay rules. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options })
  }

  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<SGDOptions>): void {
    let buffer = (state.momentumBuffer as Tensor | null | undefined) ?? null
    const firstStep = buffer === null
    if (group.momentum !== 0 && buffer === null) buffer = state.momentumBuffer = keep(zerosLike(param))
    native.sgdStep(param.native, grad.native, group.momentum !== 0 ? buffer!.native : null, firstStep, group)
  }
}
