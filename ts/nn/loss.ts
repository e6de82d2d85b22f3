import { crossEntropy, type Reduction } from '../functional'
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
