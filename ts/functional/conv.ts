import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Tensor } from '../tensor'
import { checkInt } from '../validate'

/** A size for both spatial dims at once, or `[height, width]`. */
export type Pair = number | [number, number]

/**
 * @internal `[height, width]` from a number or a pair of integers. The native side rejects
 * negative values, so they are not checked twice.
 */
export function pair(value: Pair, name: string, op: string): [number, number] {
  if (typeof value === 'number') {
    checkInt(op, name, value)
    return [value, value]
  }
  if (!Array.isArray(value) || value.length !== 2) {
    const got = Array.isArray(value) ? `[${value.join(', ')}]` : String(value)
    throw new InvalidArgumentError(`${op}: ${name} must be an integer or a pair of integers, got ${got}`)
  }
  return [checkInt(op, name, value[0]), checkInt(op, name, value[1])]
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Added to each output channel; shape `[outChannels]`. */
  bias?: Tensor
  /** Step of the kernel across the input (default 1). */
  stride?: Pair
  /** Zeros added to both sides of each spatial dim (default 0). */
  padding?: Pair
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair
  /** Independent channel groups (default 1); both channel counts must be divisible by it. */
  groups?: number
}

/**
 * 2-D convolution, like `torch.nn.functional.conv2d`: an `[N, C, H, W]` (or unbatched
 * `[C, H, W]`) input with a `[outChannels, C / groups, kH, kW]` weight gives
 * `[N, outChannels, outH, outW]`, where `outH = floor((H + 2 * padding - dilation * (kH - 1) - 1) / stride) + 1`.
 *
 * ```ts
 * const y = F.conv2d(x, weight, { bias, padding: 1 })     // 3x3 "same" convolution
 * const down = F.conv2d(x, weight, { stride: [2, 2] })
 * ```
 */
export function conv2d(input: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d'
  return new Tensor(
    native.conv2d(
      input.native,
      weight.native,
      options.bias?.native,
      pair(options.stride ?? 1, 'stride', op),
      pair(options.padding ?? 0, 'padding', op),
      pair(options.dilation ?? 1, 'dilation', op),
      checkInt(op, 'groups', options.groups ?? 1),
    ),
  )
}
