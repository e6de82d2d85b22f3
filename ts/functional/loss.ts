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

/** Options of {@link mseLoss}. */
export interface MseLossOptions {
  /** `'mean'` over every element (default), `'sum'`, or `'none'` for one loss per element. */
  reduction?: Reduction
}

/**
 * Mean squared error `(input - target)²` per element, like `torch.nn.functional.mse_loss`.
 * `target` must have the input's shape (PyTorch broadcasts with a warning; here it is an error,
 * since it is almost always a `[N]` against `[N, 1]` mistake). Gradients reach both.
 */
export function mseLoss(input: Tensor, target: Tensor, { reduction = 'mean' }: MseLossOptions = {}): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle, reduction))
}

/** Options of {@link binaryCrossEntropyWithLogits}. */
export interface BinaryCrossEntropyWithLogitsOptions extends MseLossOptions {
  /** A rescaling weight per element, broadcast to the input's shape (e.g. `[C]` per class). */
  weight?: Tensor | null
  /**
   * The weight of positive examples, broadcast to the input's shape; one per class along the
   * last dim (`[C]`) is usual: `negatives / positives` balances a rare class.
   */
  posWeight?: Tensor | null
}

/**
 * Binary cross entropy between logits and target probabilities of the same shape, like
 * `torch.nn.functional.binary_cross_entropy_with_logits`: per element
 * `-weight * (posWeight * y * log σ(x) + (1 - y) * log(1 - σ(x)))`, computed with a stable
 * log-sigmoid, so that large logits neither overflow nor lose the loss.
 *
 * ```ts
 * const loss = F.binaryCrossEntropyWithLogits(model.forward(x), labels, { posWeight: ft.tensor([3]) })
 * ```
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BinaryCrossEntropyWithLogitsOptions = {}): Tensor {
  const { weight, posWeight, reduction = 'mean' } = options
  return new Tensor(native.binaryCrossEntropyWithLogits(input.handle, target.handle, weight?.handle, posWeight?.handle, reduction))
}
