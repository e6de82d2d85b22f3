// torchvision's MobileNetV2 (torchvision/models/mobilenetv2.py and ops/misc.py): the same modules
// and nesting, so that `stateDict()` keys (`features.3.conv.1.0.weight`), `loadStateDict` of a
// torchvision `state_dict()` and the printout are torchvision's.
import * as nn from '../nn'
import { adaptiveAvgPool2d } from '../functional'
import { InvalidArgumentError } from '../errors'
import type { Tensor } from '../tensor'
import { checkIntAtLeast, describe } from '../validate'
import { markPureForward } from '../inference'

/**
 * `v` rounded to the nearest multiple of `divisor` (at least `divisor`), but never more than 10%
 * below `v`: torchvision's `_make_divisible`, which sets the channel counts of a width multiplier.
 */
function makeDivisible(v: number, divisor: number): number {
  const rounded = Math.max(divisor, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor)
  return rounded < 0.9 * v ? rounded + divisor : rounded
}

/** Options of {@link Conv2dNormActivation}. */
export interface Conv2dNormActivationOptions {
  /** Step of the convolution (default 1). */
  stride?: number
  /** Channel groups of the convolution (default 1; the channel count for a depthwise one). */
  groups?: number
}

/**
 * A convolution without bias (padded to keep the size at stride 1), a batch norm and a ReLU6, as
 * one Sequential (keys `0`, `1`, `2`): torchvision's `Conv2dNormActivation` as MobileNetV2 uses it.
 */
export class Conv2dNormActivation extends nn.Sequential {
  /** Channels of the output. */
  readonly outChannels: number

  constructor(inChannels: number, outChannels: number, kernelSize = 3, { stride = 1, groups = 1 }: Conv2dNormActivationOptions = {}) {
    super(
      new nn.Conv2d(inChannels, outChannels, kernelSize, { stride, padding: Math.floor((kernelSize - 1) / 2), groups, bias: false }),
      new nn.BatchNorm2d(outChannels),
      new nn.ReLU6({ inplace: true }),
    )
    this.outChannels = outChannels
  }
}

/**
 * MobileNetV2's block: a 1x1 expansion by `expandRatio` (left out when it is 1), a 3x3 depthwise
 * convolution carrying the stride, and a linear 1x1 projection, in the Sequential `conv`; the
 * input is added back when the shapes allow (stride 1, as many channels out as in).
 */
export class InvertedResidual extends nn.Module {
  /** Stride of the depthwise convolution, 1 or 2. */
  readonly stride: number
  /** Whether the input is added to the output (stride 1 and as many channels out as in). */
  readonly useResConnect: boolean
  /** Channels of the output. */
  readonly outChannels: number
  /** Expansion, depthwise convolution and projection. */
  conv: nn.Sequential

  constructor(inChannels: number, outChannels: number, stride: number, expandRatio: number) {
    super()
    if (stride !== 1 && stride !== 2) throw new InvalidArgumentError(`InvertedResidual: stride should be 1 or 2 instead of ${describe(stride)}`)
    this.stride = stride
    this.outChannels = outChannels
    this.useResConnect = stride === 1 && inChannels === outChannels
    const hidden = Math.round(inChannels * expandRatio)
    this.conv = new nn.Sequential()
    if (expandRatio !== 1) this.conv.append(new Conv2dNormActivation(inChannels, hidden, 1))
    this.conv.append(new Conv2dNormActivation(hidden, hidden, 3, { stride, groups: hidden }))
    this.conv.append(new nn.Conv2d(hidden, outChannels, 1, { bias: false }))
    this.conv.append(new nn.BatchNorm2d(outChannels))
  }

  forward(x: Tensor): Tensor {
    const out = this.conv.forward(x) as Tensor
    return this.useResConnect ? x.add(out) : out
  }
}

/** Options of {@link MobileNetV2} and {@link mobilenetV2}, with torchvision's defaults. */
export interface MobileNetV2Options {
  /** Outputs of the classifier (default 1000, ImageNet's classes). */
  numClasses?: number
  /** Scales every layer's channel count (default 1), rounded to multiples of `roundNearest`. */
  widthMult?: number
  /** Channel counts are rounded to multiples of this (default 8). */
  roundNearest?: number
  /** Dropout probability before the classifier's linear layer (default 0.2). */
  dropout?: number
}

/** `[expansion t, channels c, blocks n, first stride s]` of each stage, from the paper. */
const INVERTED_RESIDUAL_SETTING: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
]

/**
 * torchvision's MobileNetV2 (Sandler et al., 2018): a 3x3 stride-2 stem, 17 inverted residual
 * blocks and a 1x1 convolution to 1280 channels in `features`, global average pooling, and
 * `classifier` = Sequential(Dropout(0.2), Linear(1280, numClasses)). Weights start as
 * torchvision's: convolutions from `kaiming_normal_` (fan out), batch norms at 1 and 0, the linear
 * layer from N(0, 0.01²) with zero bias.
 */
export class MobileNetV2 extends nn.Module {
  /** Channels of the last feature map, the classifier's input (1280 for `widthMult` <= 1). */
  readonly lastChannel: number
  /** Stem, inverted residual blocks and the last 1x1 convolution. */
  features: nn.Sequential
  /** Dropout and the linear layer (`classifier.1`). Replace it, or its linear layer, to fine-tune. */
  classifier: nn.Sequential

  constructor({ numClasses = 1000, widthMult = 1, roundNearest = 8, dropout = 0.2 }: MobileNetV2Options = {}) {
    super()
    checkIntAtLeast('MobileNetV2', 'numClasses', numClasses, 1)
    checkIntAtLeast('MobileNetV2', 'roundNearest', roundNearest, 1)
    if (typeof widthMult !== 'number' || !(widthMult > 0) || !Number.isFinite(widthMult)) {
      throw new InvalidArgumentError(`MobileNetV2: widthMult must be a positive number, got ${describe(widthMult)}`)
    }
    let inChannels = makeDivisible(32 * widthMult, roundNearest)
    this.lastChannel = makeDivisible(1280 * Math.max(1, widthMult), roundNearest)
    this.features = new nn.Sequential(new Conv2dNormActivation(3, inChannels, 3, { stride: 2 }))
    for (const [t, c, n, s] of INVERTED_RESIDUAL_SETTING) {
      const outChannels = makeDivisible(c * widthMult, roundNearest)
      for (let i = 0; i < n; i++) {
        this.features.append(new InvertedResidual(inChannels, outChannels, i === 0 ? s : 1, t))
        inChannels = outChannels
      }
    }
    this.features.append(new Conv2dNormActivation(inChannels, this.lastChannel, 1))
    this.classifier = new nn.Sequential(new nn.Dropout(dropout), new nn.Linear(this.lastChannel, numClasses))
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) {
        nn.init.kaimingNormal_(m.weight, { mode: 'fan_out' })
        if (m.bias) nn.init.zeros_(m.bias)
      } else if (m instanceof nn.BatchNorm2d) {
        nn.init.ones_(m.weight!)
        nn.init.zeros_(m.bias!)
      } else if (m instanceof nn.Linear) {
        nn.init.normal_(m.weight, 0, 0.01)
        if (m.bias) nn.init.zeros_(m.bias)
      }
    }
  }

  forward(x: Tensor): Tensor {
    const features = this.features.forward(x) as Tensor
    return this.classifier.forward(adaptiveAvgPool2d(features, [1, 1]).flatten(1)) as Tensor
  }
}

/** MobileNetV2, like `torchvision.models.mobilenet_v2()`: 3.5M parameters with 1000 classes. */
export function mobilenetV2(options: MobileNetV2Options = {}): MobileNetV2 {
  return new MobileNetV2(options)
}

// Their forwards only run tensor ops and their layers (see Module.forward).
markPureForward(InvertedResidual, MobileNetV2)
