import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Tensor } from '../tensor'
import { describe } from '../validate'

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
  /**
   * An activation applied to the output in the same op: `'relu'` gives `F.relu(F.batchNorm(...))`
   * exactly (values and gradients), with one pass over memory fewer each way (default none).
   */
  activation?: 'relu' | null
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
 * const z = F.batchNorm(x, runningMean, runningVar, { weight, bias, training: true, activation: 'relu' }) // relu(y)
 * ```
 */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const { weight, bias, training = false, momentum = 0.1, eps = 1e-5, activation = null } = options
  if (activation !== null && activation !== 'relu') {
    throw new InvalidArgumentError(`batch_norm: activation must be 'relu' or null, got ${describe(activation)}`)
  }
  const operands = [input.handle, runningMean?.handle, runningVar?.handle, weight?.handle, bias?.handle] as const
  const out = activation === 'relu' ? native.batchNormRelu(...operands, training, momentum, eps) : native.batchNorm(...operands, training, momentum, eps)
  return new Tensor(out)
}
