import { native } from '../native'
import { Tensor } from '../tensor'
import { checkInt } from '../validate'

/** `max(x, 0)` elementwise, like `torch.relu`; int64 tensors stay int64. */
export function relu(input: Tensor): Tensor {
  return new Tensor(native.relu(input.handle))
}

/** `1 / (1 + exp(-x))` elementwise, like `torch.sigmoid`. */
export function sigmoid(input: Tensor): Tensor {
  return new Tensor(native.sigmoid(input.handle))
}

/** Hyperbolic tangent elementwise, like `torch.tanh`. */
export function tanh(input: Tensor): Tensor {
  return new Tensor(native.tanh(input.handle))
}

/**
 * `exp(x) / sum(exp(x))` along `dim` (negative counts from the end), like
 * `torch.softmax`; stable for large logits.
 *
 * ```ts
 * const probs = F.softmax(logits, -1)
 * ```
 */
export function softmax(input: Tensor, dim: number): Tensor {
  return new Tensor(native.softmax(input.handle, checkInt('softmax', 'dim', dim)))
}

/** `x - log(sum(exp(x)))` along `dim`, like `torch.log_softmax`; more accurate than `softmax(x).log()`. */
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return new Tensor(native.logSoftmax(input.handle, checkInt('log_softmax', 'dim', dim)))
}

/**
 * `min(max(x, 0), 6)` elementwise, like `torch.nn.functional.relu6`; the gradient is 0 at and
 * beyond 0 and 6, as PyTorch's `hardtanh` gives it. int64 tensors stay int64.
 */
export function relu6(input: Tensor): Tensor {
  return new Tensor(native.relu6(input.handle))
}
