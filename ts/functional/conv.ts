import { native } from '../native'
import { Tensor } from '../tensor'
import { checkInt, checkPair, type Pair } from '../validate'

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
      input.handle,
      weight.handle,
      options.bias?.handle,
      checkPair(op, 'stride', options.stride ?? 1, 0),
      checkPair(op, 'padding', options.padding ?? 0, 0),
      checkPair(op, 'dilation', options.dilation ?? 1, 0),
      checkInt(op, 'groups', options.groups ?? 1),
    ),
  )
}
