import { native } from '../native'
import { zerosLike } from '../creation'
import { keep } from '../scope'
import type { Tensor } from '../tensor'
import { Optimizer, type ParamGroup, type Params, type ParamState } from './optimizer'

export interface AdamOptions {
  lr: number
  betas: [number, number]
  eps: number
  weightDecay: number
  amsgrad: boolean
  maximize: boolean
}

function adamStep(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamOptions>, decoupledWeightDecay: boolean): void {
  if (state.step === undefined) {
    state.step = 0
    state.expAvg = keep(zerosLike(param))
    state.expAvgSq = keep(zerosLike(param))
    if (group.amsgrad) state.maxExpAvgSq = keep(zerosLike(param))
  }
  state.step = (state.step as number) + 1
  const [beta1, beta2] = group.betas
  native.adamStep(
    param.native,
    grad.native,
    (state.expAvg as Tensor).native,
    (state.expAvgSq as Tensor).native,
    group.amsgrad ? (state.maxExpAvgSq as Tensor).native : null,
    state.step,
    { lr: group.lr, beta1, beta2, eps: group.eps, weightDecay: group.weightDecay, amsgrad: group.amsgrad, maximize: group.maximize, decoupledWeightDecay },
  )
}

/** Adam (Kingma & Ba) with PyTorch's update, including amsgrad and L2 weight decay. */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options })
  }

  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamOptions>): void {
    adamStep(param, grad, state, group, false)
  }
}

/** AdamW (Loshchilov & Hutter): Adam with weight decay applied to the parameters directly. */
export class AdamW extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...options })
  }

  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamOptions>): void {
    adamStep(param, grad, state, group, true)
  }
}
