import { InvalidArgumentError } from '../errors'
import * as nn from '../nn'
import type { Tensor } from '../tensor'

/** Layer plans: a number is a Conv2d(3x3) -> BatchNorm2d -> ReLU with that many channels, 'M' a 2x2 max pool. */
export const VGG_CONFIGS = {
  VGG11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  VGG13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  VGG16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  VGG19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, readonly (number | 'M')[]>

export type VGGName = keyof typeof VGG_CONFIGS

/** The tutorial's VGG for 32x32 inputs: `new VGG('VGG11')`, or a custom layer plan. */
export class VGG extends nn.Module {
  features: nn.Sequential
  classifier = new nn.Linear(512, 10)

  constructor(cfg: VGGName | readonly (number | 'M')[]) {
    super()
    const plan = typeof cfg === 'string' ? VGG_CONFIGS[cfg] : cfg
    if (plan === undefined) {
      throw new InvalidArgumentError(`VGG: unknown configuration '${String(cfg)}'; expected one of ${Object.keys(VGG_CONFIGS).join(', ')}`)
    }
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
  }

  forward(x: Tensor): Tensor {
    const out = this.features.forward(x)
    return this.classifier.forward(out.view([out.size(0), -1]))
  }
}
