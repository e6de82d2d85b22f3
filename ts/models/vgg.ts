import { InvalidArgumentError } from '../errors'
import * as nn from '../nn'
import type { Tensor } from '../tensor'
import { checkIntAtLeast, describe } from '../validate'
import { markPureForward } from '../inference'
import { forwardFusingBatchNormRelu } from './fused'

/** Layer plans: a number is a Conv2d(3x3) -> BatchNorm2d -> ReLU with that many channels, 'M' a 2x2 max pool. */
export const VGG_CONFIGS = {
  /** 8 conv layers (configuration A of Simonyan & Zisserman). */
  VGG11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  /** 10 conv layers (configuration B). */
  VGG13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  /** 13 conv layers (configuration D). */
  VGG16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  /** 16 conv layers (configuration E). */
  VGG19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, readonly (number | 'M')[]>

/** The names of the built-in layer plans: `'VGG11'`, `'VGG13'`, `'VGG16'`, `'VGG19'`. */
export type VGGName = keyof typeof VGG_CONFIGS

/** The tutorial's VGG for 32x32 inputs: `new VGG('VGG11')`, or a custom layer plan. */
export class VGG extends nn.Module {
  /** The conv/batch-norm/ReLU/max-pool stack of the plan, ending in a 1x1 average pool. */
  features: nn.Sequential
  /** Linear classifier from the 512 features left of a 32x32 input to `numClasses` logits. */
  classifier: nn.Linear

  constructor(cfg: VGGName | readonly (number | 'M')[], { numClasses = 10 }: { numClasses?: number } = {}) {
    super()
    const plan = typeof cfg === 'string' ? (Object.hasOwn(VGG_CONFIGS, cfg) ? VGG_CONFIGS[cfg] : undefined) : cfg
    if (plan === undefined) {
      throw new InvalidArgumentError(`VGG: unknown configuration '${String(cfg)}'; expected one of ${Object.keys(VGG_CONFIGS).join(', ')}`)
    }
    if (!Array.isArray(plan)) throw new InvalidArgumentError(`VGG: cfg must be a configuration name or an array of channel counts and 'M', got ${describe(plan)}`)
    checkIntAtLeast('VGG', 'numClasses', numClasses, 1)
    const layers: nn.Module[] = []
    let inChannels = 3
    for (const x of plan) {
      if (x === 'M') {
        layers.push(new nn.MaxPool2d(2, { stride: 2 }))
      } else {
        layers.push(new nn.Conv2d(inChannels, x, 3, { padding: 1 }), new nn.BatchNorm2d(x), new nn.ReLU({ inplace: true }))
        inChannels = x
      }
    }
    layers.push(new nn.AvgPool2d(1, { stride: 1 }))
    this.features = new nn.Sequential(...layers)
    this.classifier = new nn.Linear(512, numClasses)
  }

  forward(x: Tensor): Tensor {
    const out = forwardFusingBatchNormRelu(this.features, x)
    return this.classifier.forward(out.view([out.size(0), -1]))
  }
}

// Their forwards only run tensor ops and their layers (see Module.forward).
markPureForward(VGG)
