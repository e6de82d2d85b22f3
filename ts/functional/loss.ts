import { native } from '../native'
import { Tensor } from '../tensor'
import { checkInt } from '../validate'

/** How per-sample losses are combined: averaged (over non-ignored targets), summed, or kept. */
export type Reduction = 'mean' | 'sum' | 'none'

/** Options of {@link nllLoss}. */
export interface NllLossOptions {
  /** Default 'mean'. */
  reduction?: Reduction
  /** Targets with this value contribute no loss and no gradient (default -100). */
  ignoreIndex?: number
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the one-hot target with the uniform distribution: `(1 - s) * onehot + s / C` (default 0). */
  labelSmoothing?: number
}

/**
 * Cross entropy between logits and int64 class indices, like `torch.nn.functional.cross_entropy`:
 * `logits` is `[N, C]` with `targets` `[N]`, `[N, C, d1, ...]` with `targets` `[N, d1, ...]`, or
 * one unbatched `[C]` with a 0-d target. Log-softmax and the negative log-likelihood are fused.
 *
 * ```ts
 * const loss = F.crossEntropy(model.forward(x), labels)
 * loss.backward()
 * ```
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { reduction = 'mean', ignoreIndex = -100, labelSmoothing = 0 } = options
  const op = 'cross_entropy'
  return new Tensor(native.crossEntropy(logits.handle, targets.handle, reduction, checkInt(op, 'ignoreIndex', ignoreIndex), labelSmoothing))
}

/**
 * Negative log-likelihood of log-probabilities (e.g. from {@link logSoftmax}) at int64 class
 * indices, like `torch.nn.functional.nll_loss`; shapes as for {@link crossEntropy}.
 */
export function nllLoss(logProbs: Tensor, targets: Tensor, options: NllLossOptions = {}): Tensor {
  const { reduction = 'mean', ignoreIndex = -100 } = options
  return new Tensor(native.nllLoss(logProbs.handle, targets.handle, reduction, checkInt('nll_loss', 'ignoreIndex', ignoreIndex)))
}
