import { native } from '../native'
import { Tensor } from '../tensor'
import { checkPair, type Pair } from '../validate'

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernelSize: Pair
  /** Step between windows (default: `kernelSize`). */
  stride?: Pair
  /** Implicit `-Infinity` padding on both sides, at most half the kernel size (default 0). */
  padding?: Pair
  /** Spacing between window taps (default 1). */
  dilation?: Pair
  /** Round the output size up instead of down, keeping windows that start inside the input or its left padding (default false). */
  ceilMode?: boolean
}

/** Options of {@link avgPool2d}. */
export interface AvgPool2dOptions {
  /** Window size. */
  kernelSize: Pair
  /** Step between windows (default: `kernelSize`). */
  stride?: Pair
  /** Implicit zero padding on both sides, at most half the kernel size (default 0). */
  padding?: Pair
  /** Round the output size up instead of down, keeping windows that start inside the input or its left padding (default false). */
  ceilMode?: boolean
  /** Count the padding in each window's divisor (default true). */
  countIncludePad?: boolean
}

/**
 * The maximum of each window of an `[N, C, H, W]` (or `[C, H, W]`) input, like
 * `torch.nn.functional.max_pool2d`. The gradient goes to the first maximum of each window.
 *
 * ```ts
 * const y = F.maxPool2d(x, { kernelSize: 2 })   // halves H and W
 * ```
 */
export function maxPool2d(input: Tensor, options: MaxPool2dOptions): Tensor {
  const op = 'max_pool2d'
  const kernel = checkPair(op, 'kernelSize', options.kernelSize, 0)
  return new Tensor(
    native.maxPool2d(
      input.handle,
      kernel,
      options.stride === undefined ? kernel : checkPair(op, 'stride', options.stride, 0),
      checkPair(op, 'padding', options.padding ?? 0, 0),
      checkPair(op, 'dilation', options.dilation ?? 1, 0),
      options.ceilMode ?? false,
    ),
  )
}

/**
 * The mean of each window of an `[N, C, H, W]` (or `[C, H, W]`) input, like
 * `torch.nn.functional.avg_pool2d`.
 *
 * ```ts
 * const y = F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false })
 * ```
 */
export function avgPool2d(input: Tensor, options: AvgPool2dOptions): Tensor {
  const op = 'avg_pool2d'
  const kernel = checkPair(op, 'kernelSize', options.kernelSize, 0)
  return new Tensor(
    native.avgPool2d(
      input.handle,
      kernel,
      options.stride === undefined ? kernel : checkPair(op, 'stride', options.stride, 0),
      checkPair(op, 'padding', options.padding ?? 0, 0),
      options.ceilMode ?? false,
      options.countIncludePad ?? true,
    ),
  )
}

/**
 * Averages an `[N, C, H, W]` (or `[C, H, W]`) input down (or up) to `outputSize` planes, like
 * `torch.nn.functional.adaptive_avg_pool2d`: output row `i` of `outH` averages input rows
 * `floor(i * H / outH)` to `ceil((i + 1) * H / outH)`, and likewise for columns.
 *
 * ```ts
 * const features = F.adaptiveAvgPool2d(x, 1).flatten(1)   // global average pooling
 * ```
 */
export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(input.handle, checkPair('adaptive_avg_pool2d', 'outputSize', outputSize, 0)))
}
