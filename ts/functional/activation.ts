import { native } from '../native'
import { Tensor } from '../tensor'
import { InvalidArgumentError } from '../errors'
import { checkInt, describe } from '../validate'

/** `max(x, 0)` elementwise, like `torch.relu`; int64 tensors stay int64. */
export function relu(input: Tensor): Tensor {
  return new Tensor(native.relu(input.handle))
}

/**
 * `relu(input + other)` in one op, as a residual block ends (`out += identity; out = relu(out)` in
 * torchvision's ResNet): the values and gradients of `F.relu(input.add(other))` exactly, with one
 * pass over memory each way where the two ops make three. Broadcasts and promotes as `add` does.
 *
 * ```ts
 * const out = F.addRelu(branch, shortcut)
 * ```
 */
export function addRelu(input: Tensor, other: Tensor): Tensor {
  return new Tensor(native.addRelu(input.handle, other.handle))
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

/** Options of {@link leakyRelu}. */
export interface LeakyReluOptions {
  /** The slope for negative inputs (default 0.01). */
  negativeSlope?: number
}

/** `x` where `x > 0`, else `negativeSlope * x`, like `torch.nn.functional.leaky_relu`. */
export function leakyRelu(input: Tensor, { negativeSlope = 0.01 }: LeakyReluOptions = {}): Tensor {
  if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope)) {
    throw new InvalidArgumentError(`leaky_relu: negativeSlope must be a finite number, got ${describe(negativeSlope)}`)
  }
  return new Tensor(native.leakyRelu(input.handle, negativeSlope))
}

/** How {@link gelu} computes the normal CDF: exactly with erf (`'none'`) or with PyTorch's tanh approximation. */
export type GeluApproximate = 'none' | 'tanh'

/** Options of {@link gelu}. */
export interface GeluOptions {
  /** `'none'` (default) for `x * Φ(x)` with the exact erf, `'tanh'` for `x/2 * (1 + tanh(√(2/π) (x + 0.044715 x³)))`. */
  approximate?: GeluApproximate
}

/**
 * `x * Φ(x)`, Φ the standard normal CDF, like `torch.nn.functional.gelu`. Computed through erfc
 * (and the tanh form as `x * sigmoid(2u)`), so that it stays accurate relative to itself for
 * negative inputs, where PyTorch's `1 + erf` loses digits.
 */
export function gelu(input: Tensor, { approximate = 'none' }: GeluOptions = {}): Tensor {
  return new Tensor(native.gelu(input.handle, approximate))
}

/** `x * sigmoid(x)` (swish), like `torch.nn.functional.silu`. */
export function silu(input: Tensor): Tensor {
  return new Tensor(native.silu(input.handle))
}

/** `x * min(max(x + 3, 0), 6) / 6`, like `torch.nn.functional.hardswish` (MobileNetV3's activation). */
export function hardswish(input: Tensor): Tensor {
  return new Tensor(native.hardswish(input.handle))
}
