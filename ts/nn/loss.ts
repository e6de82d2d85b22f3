import { binaryCrossEntropyWithLogits, crossEntropy, mseLoss, type Reduction } from '../functional'
import type { Tensor } from '../tensor'
import { Module } from './module'

/** Options of {@link CrossEntropyLoss}, with PyTorch's defaults. */
export interface CrossEntropyLossOptions {
  /** `'mean'` over the non-ignored targets (default), `'sum'`, or `'none'` for one loss per sample. */
  reduction?: Reduction
  /** A target class that contributes nothing (default -100). */
  ignoreIndex?: number
  /** Mixes the one-hot target with a uniform distribution by this amount, in [0, 1] (default 0). */
  labelSmoothing?: number
}

/**
 * Cross entropy between logits `[N, C]` and int64 class targets `[N]`, like
 * `torch.nn.CrossEntropyLoss`: log-softmax and negative log-likelihood in one stable step.
 *
 * ```ts
 * const lossFn = new nn.CrossEntropyLoss()
 * const loss = lossFn.forward(model.forward(images), labels)
 * ```
 */
export class CrossEntropyLoss extends Module {
  /** `'mean'`, `'sum'` or `'none'` (one loss per sample). */
  readonly reduction: Reduction
  /** Target class that contributes nothing to the loss or the mean. */
  readonly ignoreIndex: number
  /** Amount of uniform distribution mixed into the one-hot target, in [0, 1]. */
  readonly labelSmoothing: number

  constructor({ reduction = 'mean', ignoreIndex = -100, labelSmoothing = 0 }: CrossEntropyLossOptions = {}) {
    super()
    this.reduction = reduction
    this.ignoreIndex = ignoreIndex
    this.labelSmoothing = labelSmoothing
  }

  forward(input: Tensor, target: Tensor): Tensor {
    const { reduction, ignoreIndex, labelSmoothing } = this
    return crossEntropy(input, target, { reduction, ignoreIndex, labelSmoothing })
  }
}

/** Options of {@link MSELoss}. */
export interface MSELossOptions {
  /** `'mean'` over every element (default), `'sum'`, or `'none'` for one loss per element. */
  reduction?: Reduction
}

/**
 * Mean squared error between an input and a target of the same shape, like `torch.nn.MSELoss`.
 *
 * ```ts
 * const lossFn = new nn.MSELoss()
 * const loss = lossFn.forward(model.forward(x), y)
 * ```
 */
export class MSELoss extends Module {
  /** `'mean'`, `'sum'` or `'none'` (one loss per element). */
  readonly reduction: Reduction

  constructor({ reduction = 'mean' }: MSELossOptions = {}) {
    super()
    this.reduction = reduction
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction })
  }
}

/** Options of {@link BCEWithLogitsLoss}, with PyTorch's defaults. */
export interface BCEWithLogitsLossOptions extends MSELossOptions {
  /** A rescaling weight per element, broadcast to the input's shape. */
  weight?: Tensor | null
  /** The weight of positive examples, broadcast to the input's shape (usually one per class, `[C]`). */
  posWeight?: Tensor | null
}

/**
 * Sigmoid and binary cross entropy in one stable step, like `torch.nn.BCEWithLogitsLoss`, for
 * binary and multi-label targets (probabilities, the input's shape). `weight` and `posWeight` are
 * buffers, as in PyTorch: they show in `stateDict()` as `weight` and `pos_weight` and move with
 * `to()`.
 *
 * ```ts
 * const lossFn = new nn.BCEWithLogitsLoss({ posWeight: ft.tensor([1, 4, 2]) })
 * const loss = lossFn.forward(model.forward(x), labels)
 * ```
 */
export class BCEWithLogitsLoss extends Module {
  /** `'mean'`, `'sum'` or `'none'` (one loss per element). */
  readonly reduction: Reduction

  /** Which of the buffers were given: `getBuffer` finds no null buffer. */
  readonly #given: { weight: boolean; posWeight: boolean }

  constructor({ weight = null, posWeight = null, reduction = 'mean' }: BCEWithLogitsLossOptions = {}) {
    super()
    this.reduction = reduction
    this.registerBuffer('weight', weight)
    this.registerBuffer('pos_weight', posWeight)
    this.#given = { weight: weight !== null, posWeight: posWeight !== null }
  }

  /** The per-element weight (`weight`), or null. */
  get weight(): Tensor | null {
    return this.#given.weight ? this.getBuffer('weight') : null
  }

  /** The weight of positives (`pos_weight`), or null. */
  get posWeight(): Tensor | null {
    return this.#given.posWeight ? this.getBuffer('pos_weight') : null
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction })
  }
}
