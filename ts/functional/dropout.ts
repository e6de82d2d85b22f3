import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Tensor } from '../tensor'
import { describe } from '../validate'

/** Options of {@link dropout}, with PyTorch's defaults. */
export interface DropoutOptions {
  /** Probability of zeroing each element (default 0.5), in [0, 1]. */
  p?: number
  /** Drop only when true (default true, as `F.dropout`); pass the module's `training` flag. */
  training?: boolean
}

/**
 * In training, zeroes each element with probability `p` (drawn from the generator `manualSeed`
 * seeds) and scales the others by `1 / (1 - p)`, so that the expected value is unchanged; the
 * gradient flows through the same mask. Otherwise returns `input` itself. Like
 * `torch.nn.functional.dropout`.
 *
 * Dropout in training mode cannot be traced (a traced graph would replay one mask); in
 * evaluation mode nothing is recorded, so an exported or `predict`ed model is unaffected.
 *
 * ```ts
 * const h = F.dropout(x, { p: 0.2, training: this.training })
 * ```
 */
export function dropout(input: Tensor, { p = 0.5, training = true }: DropoutOptions = {}): Tensor {
  checkProbability('dropout', p)
  if (!training) return input
  return new Tensor(native.dropout(input.handle, p, training))
}

/** @internal Throws unless `p` is a probability, with PyTorch's message. */
export function checkProbability(op: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new InvalidArgumentError(`${op}: dropout probability has to be between 0 and 1, but got ${typeof p === 'number' ? p : describe(p)}`)
  }
  return p
}
