import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from '../functional'
import type { Pair } from '../validate'
import type { Tensor } from '../tensor'
import { sizeArg } from './args'
import { Module } from './module'
import { pyRepr } from './repr'

/** Options of {@link MaxPool2d}, with PyTorch's defaults. */
export interface MaxPool2dOptions {
  /** Step of the window (default: the kernel size). */
  stride?: Pair
  /** Implicit -inf padding on each side (default 0), at most half the kernel. */
  padding?: Pair
  /** Spacing between window taps (default 1). */
  dilation?: Pair
  /** Round the output size up rather than down (default false). */
  ceilMode?: boolean
}

/**
 * The maximum over each `kernelSize` window, like `torch.nn.MaxPool2d`. Sizes print as they
 * were given (`kernel_size=2` or `kernel_size=(2, 2)`), as in PyTorch.
 */
export class MaxPool2d extends Module {
  /** Window size, as given (a number or `[h, w]`). */
  readonly kernelSize: Pair
  /** Step of the window; the kernel size unless given. */
  readonly stride: Pair
  /** Implicit -inf padding on each side. */
  readonly padding: Pair
  /** Spacing between window taps. */
  readonly dilation: Pair
  /** Whether the output size rounds up rather than down. */
  readonly ceilMode: boolean

  constructor(kernelSize: Pair, { stride, padding = 0, dilation = 1, ceilMode = false }: MaxPool2dOptions = {}) {
    super()
    this.kernelSize = sizeArg('MaxPool2d', 'kernelSize', kernelSize, 1)
    this.stride = stride === undefined ? this.kernelSize : sizeArg('MaxPool2d', 'stride', stride, 1)
    this.padding = sizeArg('MaxPool2d', 'padding', padding, 0)
    this.dilation = sizeArg('MaxPool2d', 'dilation', dilation, 1)
    this.ceilMode = ceilMode
  }

  forward(input: Tensor): Tensor {
    const { kernelSize, stride, padding, dilation, ceilMode } = this
    return maxPool2d(input, { kernelSize, stride, padding, dilation, ceilMode })
  }

  override extraRepr(): string {
    return (
      `kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}, padding=${pyRepr(this.padding)}, ` +
      `dilation=${pyRepr(this.dilation)}, ceil_mode=${pyRepr(this.ceilMode)}`
    )
  }
}

/** Options of {@link AvgPool2d}, with PyTorch's defaults. */
export interface AvgPool2dOptions {
  /** Step of the window (default: the kernel size). */
  stride?: Pair
  /** Implicit zero padding on each side (default 0), at most half the kernel. */
  padding?: Pair
  /** Round the output size up rather than down (default false). */
  ceilMode?: boolean
  /** Count the padding zeros in each window's divisor (default true). */
  countIncludePad?: boolean
}

/** The mean over each `kernelSize` window, like `torch.nn.AvgPool2d`. */
export class AvgPool2d extends Module {
  /** Window size, as given (a number or `[h, w]`). */
  readonly kernelSize: Pair
  /** Step of the window; the kernel size unless given. */
  readonly stride: Pair
  /** Implicit zero padding on each side. */
  readonly padding: Pair
  /** Whether the output size rounds up rather than down. */
  readonly ceilMode: boolean
  /** Whether padding zeros count in each window's divisor. */
  readonly countIncludePad: boolean

  constructor(kernelSize: Pair, { stride, padding = 0, ceilMode = false, countIncludePad = true }: AvgPool2dOptions = {}) {
    super()
    this.kernelSize = sizeArg('AvgPool2d', 'kernelSize', kernelSize, 1)
    this.stride = stride === undefined ? this.kernelSize : sizeArg('AvgPool2d', 'stride', stride, 1)
    this.padding = sizeArg('AvgPool2d', 'padding', padding, 0)
    this.ceilMode = ceilMode
    this.countIncludePad = countIncludePad
  }

  forward(input: Tensor): Tensor {
    const { kernelSize, stride, padding, ceilMode, countIncludePad } = this
    return avgPool2d(input, { kernelSize, stride, padding, ceilMode, countIncludePad })
  }

  /** PyTorch prints only these three, whatever `ceilMode` and `countIncludePad` are. */
  override extraRepr(): string {
    return `kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}, padding=${pyRepr(this.padding)}`
  }
}

/**
 * Averages each channel down to `outputSize` (`[h, w]`, or one number for both) whatever the
 * input size, like `torch.nn.AdaptiveAvgPool2d`; `[1, 1]` is global average pooling.
 */
export class AdaptiveAvgPool2d extends Module {
  /** The output's `[h, w]` (or one number for both), as given. */
  readonly outputSize: Pair

  constructor(outputSize: Pair) {
    super()
    this.outputSize = sizeArg('AdaptiveAvgPool2d', 'outputSize', outputSize, 1)
  }

  forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize)
  }

  override extraRepr(): string {
    return `output_size=${pyRepr(this.outputSize)}`
  }
}
