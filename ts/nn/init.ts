/**
 * Weight initialisation, like `torch.nn.init`. Every function fills its tensor in place (outside
 * autograd, so parameters keep their identity and optimizers their references) and returns it.
 *
 * ```ts
 * model.apply((m) => {
 *   if (m instanceof nn.Linear) nn.init.zeros_(m.bias!)
 * })
 * ```
 */
import { noGrad } from '../autograd'
import { full, rand } from '../creation'
import { InvalidArgumentError } from '../errors'
import type { Tensor } from '../tensor'

/** Which fan {@link kaimingUniform_} scales by: `'fan_in'` keeps the forward pass's variance, `'fan_out'` the backward pass's. */
export type FanMode = 'fan_in' | 'fan_out'

/** Nonlinearities {@link calculateGain} knows, with PyTorch's names. */
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu'

/** Options of {@link kaimingUniform_}, with PyTorch's defaults. */
export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (default 0). */
  a?: number
  /** `'fan_in'` (default) or `'fan_out'`. */
  mode?: FanMode
  /** The nonlinearity whose gain scales the bound (default `'leaky_relu'`, with slope `a`). */
  nonlinearity?: Nonlinearity
}

/** The recommended gain for a nonlinearity, like `torch.nn.init.calculate_gain` (`param` is leaky ReLU's slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'sigmoid':
      return 1
    case 'tanh':
      return 5 / 3
    case 'relu':
      return Math.SQRT2
    case 'leaky_relu': {
      const slope = param ?? 0.01
      return Math.sqrt(2 / (1 + slope * slope))
    }
    case 'selu':
      return 3 / 4
    default:
      throw new InvalidArgumentError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`)
  }
}

/** Fills `tensor` from U(a, b), like `torch.nn.init.uniform_`. */
export function uniform_<T extends Tensor>(tensor: T, a = 0, b = 1): T {
  return fill(tensor, () => {
    using unit = rand(tensor.shape, { device: tensor.device })
    using scaled = unit.mul(b - a)
    return scaled.add(a)
  })
}

/** Fills `tensor` with `value`. */
export function constant_<T extends Tensor>(tensor: T, value: number): T {
  return fill(tensor, () => full([], value, { dtype: tensor.dtype, device: tensor.device }))
}

/** Fills `tensor` with zeros. */
export function zeros_<T extends Tensor>(tensor: T): T {
  return constant_(tensor, 0)
}

/** Fills `tensor` with ones. */
export function ones_<T extends Tensor>(tensor: T): T {
  return constant_(tensor, 1)
}

/**
 * Fills `tensor` from U(-bound, bound) with bound = gain * sqrt(3 / fan), He et al. (2015), like
 * `torch.nn.init.kaiming_uniform_`. Conv and Linear layers use `a = sqrt(5)`, which gives
 * bound = 1 / sqrt(fan_in).
 */
export function kaimingUniform_<T extends Tensor>(tensor: T, { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' }: KaimingOptions = {}): T {
  if (mode !== 'fan_in' && mode !== 'fan_out') {
    throw new InvalidArgumentError(`kaimingUniform_: mode must be 'fan_in' or 'fan_out', got '${String(mode)}'`)
  }
  const fan = fans('kaimingUniform_', tensor)[mode === 'fan_in' ? 0 : 1]
  if (fan === 0) return tensor // PyTorch warns and leaves a zero-element tensor as it is.
  const bound = Math.sqrt(3) * (calculateGain(nonlinearity, a) / Math.sqrt(fan))
  return uniform_(tensor, -bound, bound)
}

/** `[fanIn, fanOut]` of a weight shaped `[out, in, ...kernel]`, as PyTorch's `_calculate_fan_in_and_fan_out` computes them. */
function fans(op: string, tensor: Tensor): [number, number] {
  const shape = tensor.shape
  if (shape.length < 2) {
    throw new InvalidArgumentError(`${op}: fan in and fan out cannot be computed for a tensor with fewer than 2 dims (shape [${shape.join(', ')}])`)
  }
  const receptiveField = shape.slice(2).reduce((a, b) => a * b, 1)
  return [shape[1] * receptiveField, shape[0] * receptiveField]
}

function fill<T extends Tensor>(tensor: T, make: () => Tensor): T {
  noGrad(() => {
    using values = make()
    tensor.copy_(values)
  })
  return tensor
}
