import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { zerosLike } from '../creation'
import { keep } from '../scope'
import type { Tensor } from '../tensor'
import { describe } from '../validate'
import { checkFlag, checkHyperParameter, Optimizer, type ParamGroup, type Params, type ParamState, type ParamUpdate } from './optimizer'

/** Hyper-parameters of {@link Adam} and {@link AdamW}, with PyTorch's defaults. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number
  /** Decay rates of the running averages of the gradient and its square (default `[0.9, 0.999]`). */
  betas: [number, number]
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number
  /** Weight decay: an L2 penalty added to the gradient for Adam (default 0), decoupled for AdamW (default 1e-2). */
  weightDecay: number
  /** Use the maximum of past squared-gradient averages (AMSGrad; default false). */
  amsgrad: boolean
  /** Ascend the objective instead of descending it (default false). */
  maximize: boolean
}

/** PyTorch's checks of Adam's hyper-parameters (NaN and infinities are refused too). */
function checkAdamOptions(o: AdamOptions, where: string): void {
  checkHyperParameter(where, 'learning rate', o.lr, 'a number >= 0', (x) => x >= 0)
  checkHyperParameter(where, 'epsilon value', o.eps, 'a number >= 0', (x) => x >= 0)
  if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new InvalidArgumentError(`${where}: betas must be a pair of numbers, got ${describe(o.betas)}`)
  o.betas.forEach((beta, i) => checkHyperParameter(where, `beta parameter at index ${i}`, beta, 'a number in [0, 1)', (x) => x >= 0 && x < 1))
  checkHyperParameter(where, 'weightDecay value', o.weightDecay, 'a number >= 0', (x) => x >= 0)
  checkFlag(where, 'amsgrad', o.amsgrad)
  checkFlag(where, 'maximize', o.maximize)
}

/** One Adam/AdamW step of a group's parameters in one native call (one kernel launch per device). */
function adamSteps(updates: ParamUpdate[], group: ParamGroup<AdamOptions>, decoupledWeightDecay: boolean): void {
  for (const { param, state } of updates) {
    if (state.step === undefined) {
      state.step = 0
      state.exp_avg = keep(zerosLike(param))
      state.exp_avg_sq = keep(zerosLike(param))
      if (group.amsgrad) state.max_exp_avg_sq = keep(zerosLike(param))
    }
    state.step = (state.step as number) + 1
  }
  const [beta1, beta2] = group.betas
  const handles = (name: string) => updates.map((u) => (u.state[name] as Tensor).handle)
  native.adamStepMany(
    updates.map((u) => u.param.handle),
    updates.map((u) => u.grad.handle),
    handles('exp_avg'),
    handles('exp_avg_sq'),
    group.amsgrad ? handles('max_exp_avg_sq') : null,
    updates.map((u) => u.state.step as number),
    { lr: group.lr, beta1, beta2, eps: group.eps, weightDecay: group.weightDecay, amsgrad: group.amsgrad, maximize: group.maximize, decoupledWeightDecay },
  )
}

/** Adam (Kingma & Ba) with PyTorch's update, including amsgrad and L2 weight decay. */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options })
  }

  /** PyTorch's range checks of the hyper-parameters. */
  protected override checkOptions(options: AdamOptions, where: string): void {
    checkAdamOptions(options, where)
  }

  /** PyTorch's Adam with `decoupled_weight_decay: true` is AdamW. */
  protected override pytorchFlags(): Record<string, unknown> {
    return { ...super.pytorchFlags(), decoupled_weight_decay: false }
  }

  /** One Adam step of `param`; `state` holds `step`, `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with amsgrad). */
  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamOptions>): void {
    adamSteps([{ param, grad, state }], group, false)
  }

  /** One Adam step of a group's parameters in one native call. */
  protected override updateGroup(updates: ParamUpdate[], group: ParamGroup<AdamOptions>): void {
    adamSteps(updates, group, false)
  }
}

/** AdamW (Loshchilov & Hutter): Adam with weight decay applied to the parameters directly. */
export class AdamW extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...options })
  }

  /** PyTorch's range checks of the hyper-parameters. */
  protected override checkOptions(options: AdamOptions, where: string): void {
    checkAdamOptions(options, where)
  }

  /** PyTorch's AdamW state dicts say `decoupled_weight_decay: true`. */
  protected override pytorchFlags(): Record<string, unknown> {
    return { ...super.pytorchFlags(), decoupled_weight_decay: true }
  }

  /** One AdamW step of `param`: multiplies it by `1 - lr * weightDecay`, then takes an Adam step without the L2 term. */
  protected updateParameter(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamOptions>): void {
    adamSteps([{ param, grad, state }], group, true)
  }

  /** One AdamW step of a group's parameters in one native call. */
  protected override updateGroup(updates: ParamUpdate[], group: ParamGroup<AdamOptions>): void {
    adamSteps(updates, group, true)
  }
}
