/**
 * Gradient clipping, like `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`: call it
 * between `loss.backward()` and `optimizer.step()`. The gradients are changed in place, natively
 * (one pass computes the norm of all of them, one pass scales them); parameters without a
 * gradient are skipped.
 *
 * ```ts
 * loss.backward()
 * using totalNorm = nn.utils.clipGradNorm(model.parameters(), 1.0)
 * optimizer.step()
 * ```
 */
import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Tensor } from '../tensor'
import { describe } from '../validate'

/** Options of {@link clipGradNorm}, with PyTorch's defaults. */
export interface ClipGradNormOptions {
  /** The order of the norm: 2 (default), 1, any p > 0, or `Infinity` for the largest magnitude. */
  normType?: number
  /** Throw an `InvalidArgumentError`, and scale nothing, when the total norm is NaN or infinite (default false: the gradients are scaled by it anyway, as PyTorch does). */
  errorIfNonfinite?: boolean
}

/**
 * Scales the gradients of `parameters` so that their norm, computed over all of them together as
 * if concatenated, is at most `maxNorm`: each is multiplied by `min(1, maxNorm / (total + 1e-6))`.
 * Returns the total norm before clipping as a float32 scalar tensor on the gradients' device,
 * like PyTorch (dispose it, or read it with `.item()` inside a scope).
 */
export function clipGradNorm(parameters: Tensor | Iterable<Tensor>, maxNorm: number, { normType = 2, errorIfNonfinite = false }: ClipGradNormOptions = {}): Tensor {
  if (typeof maxNorm !== 'number') throw new InvalidArgumentError(`clipGradNorm: maxNorm must be a number, got ${describe(maxNorm)}`)
  if (typeof normType !== 'number') throw new InvalidArgumentError(`clipGradNorm: normType must be a number (Infinity for the largest magnitude), got ${describe(normType)}`)
  if (typeof errorIfNonfinite !== 'boolean') throw new InvalidArgumentError(`clipGradNorm: errorIfNonfinite must be true or false, got ${describe(errorIfNonfinite)}`)
  return withGrads('clipGradNorm', parameters, (grads) => new Tensor(native.clipGradNorm(grads, maxNorm, normType, errorIfNonfinite)))
}

/** Clamps every gradient element of `parameters` into `[-clipValue, clipValue]`, like PyTorch's `clip_grad_value_`. */
export function clipGradValue(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (typeof clipValue !== 'number') throw new InvalidArgumentError(`clipGradValue: clipValue must be a number, got ${describe(clipValue)}`)
  withGrads('clipGradValue', parameters, (grads) => native.clipGradValue(grads, clipValue))
}

/** Runs `fn` on the handles of the parameters' gradients, releasing the gradient tensors after. */
function withGrads<T>(op: string, parameters: Tensor | Iterable<Tensor>, fn: (grads: Tensor['handle'][]) => T): T {
  const iterable = typeof (parameters as Partial<Iterable<unknown>> | null)?.[Symbol.iterator] === 'function'
  if (!(parameters instanceof Tensor) && !iterable) throw new InvalidArgumentError(`${op}: parameters must be a Tensor or an iterable of Tensors, got ${describe(parameters)}`)
  const params: unknown[] = parameters instanceof Tensor ? [parameters] : [...parameters]
  const grads: Tensor[] = []
  try {
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new InvalidArgumentError(`${op}: parameters must be Tensors, got ${describe(p)}`)
      const grad = p.grad
      if (grad !== null) grads.push(grad)
    }
    return fn(grads.map((g) => g.handle))
  } finally {
    for (const g of grads) g.dispose()
  }
}
