import { InvalidArgumentError } from '../errors'
import { conv2d } from '../functional'
import type { Tensor } from '../tensor'
import { checkIntAtLeast, checkPair, type Pair } from '../validate'
import { kaimingUniform_, uniform_ } from './init'
import { Module } from './module'
import { filledParameter, type Parameter } from './parameter'
import { pyRepr } from './repr'

/** Options of {@link Conv2d}, with PyTorch's defaults. */
export interface Conv2dOptions {
  /** Step of the sliding window (default 1). */
  stride?: Pair
  /** Zeros added on each side of the input (default 0). */
  padding?: Pair
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair
  /** Independent channel groups; in and out channels must both divide by it (default 1). */
  groups?: number
  /** Learn an additive bias per output channel (default true). */
  bias?: boolean
}

/**
 * 2-D convolution over `[N, C, H, W]` input, like `torch.nn.Conv2d`. The weight is
 * `[outChannels, inChannels / groups, kh, kw]`; weight and bias start as U(-k, k) with
 * k = 1 / sqrt(inChannels / groups * kh * kw), as in PyTorch.
 *
 * ```ts
 * const conv = new nn.Conv2d(3, 16, 3, { padding: 1 })  // [N, 3, 32, 32] -> [N, 16, 32, 32]
 * ```
 */
export class Conv2d extends Module {
  /** Channels of the input (`C` of `[N, C, H, W]`). */
  readonly inChannels: number
  /** Channels of the output, one filter each. */
  readonly outChannels: number
  /** `[kh, kw]` of the kernel. */
  readonly kernelSize: [number, number]
  /** `[sh, sw]` step of the window. */
  readonly stride: [number, number]
  /** `[ph, pw]` zeros added on each side. */
  readonly padding: [number, number]
  /** `[dh, dw]` spacing between kernel taps. */
  readonly dilation: [number, number]
  /** Independent channel groups (1 is a dense convolution). */
  readonly groups: number
  /** The filters, `[outChannels, inChannels / groups, kh, kw]`. */
  weight: Parameter
  /** One bias per output channel, `[outChannels]`, or null when built with `bias: false`. */
  bias: Parameter | null

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dOptions = {}) {
    super()
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true } = options
    this.inChannels = checkIntAtLeast('Conv2d', 'inChannels', inChannels, 1)
    this.outChannels = checkIntAtLeast('Conv2d', 'outChannels', outChannels, 1)
    this.kernelSize = checkPair('Conv2d', 'kernelSize', kernelSize, 1)
    this.stride = checkPair('Conv2d', 'stride', stride, 1)
    this.padding = checkPair('Conv2d', 'padding', padding, 0)
    this.dilation = checkPair('Conv2d', 'dilation', dilation, 1)
    this.groups = checkIntAtLeast('Conv2d', 'groups', groups, 1)
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new InvalidArgumentError(`Conv2d: inChannels (${inChannels}) and outChannels (${outChannels}) must both be divisible by groups (${this.groups})`)
    }
    const [kh, kw] = this.kernelSize
    const bound = 1 / Math.sqrt((inChannels / this.groups) * kh * kw)
    this.weight = kaimingUniform_(filledParameter([outChannels, inChannels / this.groups, kh, kw]), { a: Math.sqrt(5) })
    this.bias = bias ? uniform_(filledParameter([outChannels]), -bound, bound) : null
  }

  forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, {
      bias: this.bias ?? undefined,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    })
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}`
    if (this.padding.some((p) => p !== 0)) s += `, padding=${pyRepr(this.padding)}`
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${pyRepr(this.dilation)}`
    if (this.groups !== 1) s += `, groups=${this.groups}`
    if (this.bias === null) s += ', bias=False'
    return s
  }
}
