import { native } from '../native'
import { Tensor } from '../tensor'

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Per-channel scale (gamma), shape `[C]`. */
  weight?: Tensor | null
  /** Per-channel shift (beta), shape `[C]`. */
  bias?: Tensor | null
  /** Normalise with the batch's statistics and update the running ones (default false). */
  training?: boolean
  /** Weight of the batch in the running statistics: `running = (1 - momentum) * running + momentum * batch` (default 0.1). */
  momentum?: number
  /** Added to the variance before its square root (default 1e-5). */
  eps?: number
}

/**
 * Batch normalisation over dim 1 of an `[N, C]`, `[N, C, L]` or `[N, C, H, W]` input, like
 * `torch.nn.functional.batch_norm`: `(x - mean) / sqrt(var + eps) * weight + bias` per channel.
 *
 * In training the batch's mean and (biased) variance are used, and `runningMean` and
 * `runningVar`, when given, are updated in place (the variance unbiased). Otherwise the running
 * statistics are used and must be given.
 *
 * ```ts
 * const y = F.batchNorm(x, runningMean, runningVar, { weight, bias, training: true })
 * ```
 */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const { weight, bias, training = false, momentum = 0.1, eps = 1e-5 } = options
  return new Tensor(native.batchNorm(input.handle, runningMean?.handle, runningVar?.handle, weight?.handle, bias?.handle, training, momentum, eps))
}
