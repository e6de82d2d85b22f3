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
import { full, rand, randn } from '../creation'
import { InvalidArgumentError } from '../errors'
import type { Tensor } from '../tensor'
import { describe } from '../validate'

/** Which fan {@link kaimingUniform_} and {@link kaimingNormal_} scale by: `'fan_in'` keeps the forward pass's variance, `'fan_out'` the backward pass's. */
export type FanMode = 'fan_in' | 'fan_out'

/** Nonlinearities {@link calculateGain} knows, with PyTorch's names. */
export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'selu'

/** Options of {@link kaimingUniform_} and {@link kaimingNormal_}, with PyTorch's defaults. */
export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (default 0). */
  a?: number
  /** `'fan_in'` (default) or `'fan_out'`. */
  mode?: FanMode
  /** The nonlinearity whose gain scales the standard deviation (default `'leaky_relu'`, with slope `a`). */
  nonlinearity?: Nonlinearity
}

/** The recommended gain for a nonlinearity, like `torch.nn.init.calculate_gain` (`param` is leaky ReLU's slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'conv_transpose1d':
    case 'conv_transpose2d':
    case 'conv_transpose3d':
    case 'sigmoid':
      return 1
    case 'tanh':
      return 5 / 3
    case 'relu':
      return Math.SQRT2
    case 'leaky_relu': {
      if (param !== undefined && (typeof param !== 'number' || !Number.isFinite(param))) {
        throw new InvalidArgumentError(`calculateGain: negative_slope ${describe(param)} is not a valid number`)
      }
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
export function kaimingUniform_<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  const std = kaimingStd('kaimingUniform_', tensor, options)
  // PyTorch warns and leaves a zero-element tensor as it is.
  if (std === undefined) return tensor
  const bound = Math.sqrt(3) * std
  return uniform_(tensor, -bound, bound)
}

/** Fills `tensor` from N(0, std²) with std = gain / sqrt(fan), He et al. (2015), like `torch.nn.init.kaiming_normal_`. */
export function kaimingNormal_<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  const std = kaimingStd('kaimingNormal_', tensor, options)
  if (std === undefined) return tensor
  return normal_(tensor, 0, std)
}

/** gain / sqrt(fan) for the Kaiming initialisers; undefined for a tensor with no elements. */
function kaimingStd(op: string, tensor: Tensor, { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' }: KaimingOptions): number | undefined {
  if (mode !== 'fan_in' && mode !== 'fan_out') {
    throw new InvalidArgumentError(`${op}: mode must be 'fan_in' or 'fan_out', got '${String(mode)}'`)
  }
  if (tensor.numel() === 0) return undefined
  const fan = fans(op, tensor)[mode === 'fan_in' ? 0 : 1]
  return calculateGain(nonlinearity, a) / Math.sqrt(fan)
}

/** Options of {@link xavierUniform_} and {@link xavierNormal_}. */
export interface XavierOptions {
  /** Scales the standard deviation (default 1; e.g. `calculateGain('tanh')`). */
  gain?: number
}

/**
 * Fills `tensor` from U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)), Glorot &
 * Bengio (2010), like `torch.nn.init.xavier_uniform_`.
 */
export function xavierUniform_<T extends Tensor>(tensor: T, { gain = 1 }: XavierOptions = {}): T {
  const bound = Math.sqrt(3) * xavierStd('xavierUniform_', tensor, gain)
  return uniform_(tensor, -bound, bound)
}

/** Fills `tensor` from N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)), like `torch.nn.init.xavier_normal_`. */
export function xavierNormal_<T extends Tensor>(tensor: T, { gain = 1 }: XavierOptions = {}): T {
  return normal_(tensor, 0, xavierStd('xavierNormal_', tensor, gain))
}

function xavierStd(op: string, tensor: Tensor, gain: number): number {
  checkNumber(op, 'gain', gain)
  const [fanIn, fanOut] = fans(op, tensor)
  return gain * Math.sqrt(2 / (fanIn + fanOut))
}

/** Fills `tensor` from N(mean, std²), like `torch.nn.init.normal_`. */
export function normal_<T extends Tensor>(tensor: T, mean = 0, std = 1): T {
  checkNumber('normal_', 'mean', mean)
  checkNumber('normal_', 'std', std)
  return fill(tensor, () => {
    using unit = randn(tensor.shape, { device: tensor.device })
    using scaled = unit.mul(std)
    return scaled.add(mean)
  })
}

/** Options of {@link truncNormal_}, with PyTorch's defaults. */
export interface TruncNormalOptions {
  /** Mean of the normal distribution (default 0). */
  mean?: number
  /** Standard deviation of the normal distribution (default 1). */
  std?: number
  /** Lower bound of the values (default -2). */
  a?: number
  /** Upper bound of the values (default 2). */
  b?: number
}

/**
 * Fills `tensor` from N(mean, std²) restricted to [a, b], like `torch.nn.init.trunc_normal_`
 * (same distribution; PyTorch inverts the CDF, Ferrite draws by rejection on the device). An
 * interval that holds almost none of the distribution (no proposal scheme accepts 1% of draws)
 * is an `InvalidArgumentError`.
 */
export function truncNormal_<T extends Tensor>(tensor: T, { mean = 0, std = 1, a = -2, b = 2 }: TruncNormalOptions = {}): T {
  for (const [name, value] of Object.entries({ mean, std, a, b })) {
    if (typeof value !== 'number' || Number.isNaN(value) || ((name === 'mean' || name === 'std') && !Number.isFinite(value))) {
      throw new InvalidArgumentError(`truncNormal_: ${name} must be a number, got ${describe(value)}`)
    }
  }
  if (!(std > 0)) throw new InvalidArgumentError(`truncNormal_: std must be positive, got ${std}`)
  if (!(a < b)) throw new InvalidArgumentError(`truncNormal_: a must be below b, got a=${a}, b=${b}`)
  // Standardised bounds; proposals are drawn as N(0, 1) restricted to [lo, hi].
  const [lo, hi] = [(a - mean) / std, (b - mean) / std]
  const mass = normalCdf(hi) - normalCdf(lo)
  // Uniform proposals on [lo, hi], accepted with probability exp((m² - x²) / 2), where m is the
  // point of [lo, hi] nearest 0: better than normal ones for narrow intervals in a tail.
  const nearest = lo > 0 ? lo : hi < 0 ? hi : 0
  const uniformRate = Number.isFinite(hi - lo) ? (mass * Math.sqrt(2 * Math.PI)) / ((hi - lo) * Math.exp((-nearest * nearest) / 2)) : 0
  if (Math.max(mass, uniformRate) < 0.01) {
    throw new InvalidArgumentError(`truncNormal_: [${a}, ${b}] holds only ${mass.toExponential(2)} of N(${mean}, ${std}²), too little to sample from`)
  }
  const device = tensor.device
  const propose: () => [Tensor, Tensor] =
    mass >= uniformRate
      ? () => {
          const x = randn(tensor.shape, { device })
          using above = x.ge(lo)
          using below = x.le(hi)
          using inside = above.float()
          using under = below.float()
          return [x, inside.mul(under)]
        }
      : () => {
          using unit = rand(tensor.shape, { device })
          using widened = unit.mul(hi - lo)
          const x = widened.add(lo)
          using squared = x.mul(x)
          using shifted = squared.sub(nearest * nearest)
          using halved = shifted.mul(-0.5)
          using chance = halved.exp()
          using draw = rand(tensor.shape, { device })
          using accepted = draw.lt(chance)
          return [x, accepted.float()]
        }
  return fill(tensor, () => {
    let [values, done] = propose()
    const accepted = () => {
      using count = done.sum()
      return count.item() as number
    }
    // Redraw the rejected elements until every one is accepted.
    while (accepted() < tensor.numel()) {
      const [fresh, freshAccepted] = propose()
      using notDone = done.neg()
      using todo = notDone.add(1)
      using take = todo.mul(freshAccepted)
      using notTaken = take.neg()
      using keep = notTaken.add(1)
      using kept = values.mul(keep)
      using taken = fresh.mul(take)
      const next = kept.add(taken)
      const nextDone = done.add(take)
      for (const t of [values, done, fresh, freshAccepted]) t.dispose()
      ;[values, done] = [next, nextDone]
    }
    done.dispose()
    using scaled = values.mul(std)
    values.dispose()
    return scaled.add(mean)
  })
}

/** The standard normal CDF, from erf (Abramowitz & Stegun 7.1.26, error below 1.5e-7): enough to pick a sampler. */
function normalCdf(x: number): number {
  if (x === Infinity) return 1
  if (x === -Infinity) return 0
  const z = Math.abs(x) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * z)
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z)
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2
}

function checkNumber(op: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${op}: ${name} must be a finite number, got ${describe(value)}`)
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
