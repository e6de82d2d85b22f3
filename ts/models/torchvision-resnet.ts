// torchvision's ResNets (torchvision/models/resnet.py): the same modules, field names and order,
// so that `stateDict()` keys, `loadStateDict` of a torchvision `state_dict()` and the printout
// are torchvision's. The class is named ResNet for the printout; `models` exports it as
// TorchvisionResNet beside the tutorial's ResNet.
import * as nn from '../nn'
import { InvalidArgumentError } from '../errors'
import type { Tensor } from '../tensor'
import { checkIntAtLeast, describe } from '../validate'
import { conv3x3, ResidualBlock } from './resnet'
import { markPureForward } from '../inference'


/** 1x1 convolution without bias, torchvision's `conv1x1`. */
function conv1x1(inPlanes: number, outPlanes: number, stride = 1): nn.Conv2d {
  return new nn.Conv2d(inPlanes, outPlanes, 1, { stride, bias: false })
}

/** A residual block class of {@link ResNet}: its constructor and its channel `expansion`. */
export interface ResNetBlock {
  new (inPlanes: number, planes: number, stride?: number, downsample?: nn.Module | null): nn.Module
  /** Output channels per `planes`: 1 for {@link BasicBlock}, 4 for {@link Bottleneck}. */
  readonly expansion: number
}

/**
 * Two 3x3 conv + batch-norm stages and a shortcut: the block of ResNet-18 and -34. It is the
 * tutorial's {@link ResidualBlock} (which copied torchvision's) under torchvision's name.
 */
export class BasicBlock extends ResidualBlock {
  static readonly expansion = 1
}

/**
 * 1x1 (reduce), 3x3 (with the stride, as torchvision's "ResNet V1.5") and 1x1 (expand 4x) conv +
 * batch-norm stages and a shortcut: the block of ResNet-50, -101 and -152.
 */
export class Bottleneck extends nn.Module {
  static readonly expansion = 4
  /** 1x1 conv down to `planes` channels. */
  conv1: nn.Conv2d
  /** Batch norm after `conv1`. */
  bn1: nn.BatchNorm2d
  /** 3x3 conv, carrying the block's stride. */
  conv2: nn.Conv2d
  /** Batch norm after `conv2`. */
  bn2: nn.BatchNorm2d
  /** 1x1 conv up to `planes * 4` channels. */
  conv3: nn.Conv2d
  /** Batch norm after `conv3`. */
  bn3: nn.BatchNorm2d
  /** ReLU after `bn1`, `bn2` and the sum with the shortcut. */
  relu = new nn.ReLU({ inplace: true })
  /** Maps the input to the output's shape for the shortcut; null for the identity. */
  downsample: nn.Module | null

  constructor(inPlanes: number, planes: number, stride = 1, downsample: nn.Module | null = null) {
    super()
    this.conv1 = conv1x1(inPlanes, planes)
    this.bn1 = new nn.BatchNorm2d(planes)
    this.conv2 = conv3x3(planes, planes, stride)
    this.bn2 = new nn.BatchNorm2d(planes)
    this.conv3 = conv1x1(planes, planes * Bottleneck.expansion)
    this.bn3 = new nn.BatchNorm2d(planes * Bottleneck.expansion)
    this.downsample = downsample
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)))
    out = this.relu.forward(this.bn2.forward(this.conv2.forward(out)))
    out = this.bn3.forward(this.conv3.forward(out))
    return this.relu.forward(out.add(identity))
  }
}

/** Options of {@link ResNet} and the `resnet*` builders, with torchvision's defaults. */
export interface ResNetOptions {
  /** Outputs of the final linear layer `fc` (default 1000, ImageNet's classes). */
  numClasses?: number
  /**
   * Start the last batch norm of each block (`bn2` of a BasicBlock, `bn3` of a Bottleneck) at
   * weight 0, so that each block begins as the identity (default false).
   */
  zeroInitResidual?: boolean
}

/**
 * torchvision's ResNet for 224x224 ImageNet-style input (any size of at least 32x32 works): a 7x7
 * stride-2 stem with max pooling, four stages of residual blocks (64, 128, 256 and 512 planes;
 * the last three halve the resolution), global average pooling and a linear classifier `fc`.
 * Build it with {@link resnet18}, {@link resnet34}, {@link resnet50}, ...; `models` exports it as
 * `TorchvisionResNet` (`ResNet` is the tutorial's CIFAR model), and it prints as `ResNet`, as
 * torchvision's does.
 *
 * Weights start as torchvision's: convolutions from `kaiming_normal_` (fan out, ReLU gain),
 * batch norms at weight 1 and bias 0, `fc` as `nn.Linear` starts.
 */
export class ResNet extends nn.Module {
  #inPlanes = 64
  /** Stem: 7x7 conv, stride 2, 3 to 64 channels. */
  conv1 = new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false })
  /** Batch norm after the stem. */
  bn1 = new nn.BatchNorm2d(64)
  /** ReLU after the stem. */
  relu = new nn.ReLU({ inplace: true })
  /** 3x3 max pooling, stride 2. */
  maxpool = new nn.MaxPool2d(3, { stride: 2, padding: 1 })
  /** Stage 1: 64 planes, a quarter of the input's resolution. */
  layer1: nn.Sequential
  /** Stage 2: 128 planes, half of stage 1's resolution. */
  layer2: nn.Sequential
  /** Stage 3: 256 planes, half again. */
  layer3: nn.Sequential
  /** Stage 4: 512 planes, half again. */
  layer4: nn.Sequential
  /** Global average pooling to `[N, C, 1, 1]`. */
  avgpool = new nn.AdaptiveAvgPool2d([1, 1])
  /** The classifier: `512 * block.expansion` features to `numClasses` logits. Replace it to fine-tune. */
  fc: nn.Module

  constructor(block: ResNetBlock, layers: readonly number[], { numClasses = 1000, zeroInitResidual = false }: ResNetOptions = {}) {
    super()
    if (typeof block !== 'function' || !Number.isInteger(block.expansion) || block.expansion < 1) {
      throw new InvalidArgumentError(`ResNet: block must be a block class with an integer expansion of at least 1 (BasicBlock, Bottleneck), got ${describe(block)}`)
    }
    if (!Array.isArray(layers) || layers.length !== 4) {
      throw new InvalidArgumentError(`ResNet: layers must be four block counts, one per stage, got ${Array.isArray(layers) ? `[${layers.join(', ')}]` : describe(layers)}`)
    }
    layers.forEach((n, i) => checkIntAtLeast('ResNet', `layers[${i}]`, n, 1))
    checkIntAtLeast('ResNet', 'numClasses', numClasses, 1)
    this.layer1 = this.#makeLayer(block, 64, layers[0])
    this.layer2 = this.#makeLayer(block, 128, layers[1], 2)
    this.layer3 = this.#makeLayer(block, 256, layers[2], 2)
    this.layer4 = this.#makeLayer(block, 512, layers[3], 2)
    this.fc = new nn.Linear(512 * block.expansion, numClasses)
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' })
      else if (m instanceof nn.BatchNorm2d) {
        nn.init.ones_(m.weight!)
        nn.init.zeros_(m.bias!)
      }
    }
    if (zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck) nn.init.zeros_(m.bn3.weight!)
        else if (m instanceof BasicBlock) nn.init.zeros_(m.bn2.weight!)
      }
    }
  }

  #makeLayer(block: ResNetBlock, planes: number, blocks: number, stride = 1): nn.Sequential {
    const outPlanes = planes * block.expansion
    const downsample = stride !== 1 || this.#inPlanes !== outPlanes ? new nn.Sequential(conv1x1(this.#inPlanes, outPlanes, stride), new nn.BatchNorm2d(outPlanes)) : null
    const stage = new nn.Sequential(new block(this.#inPlanes, planes, stride, downsample))
    this.#inPlanes = outPlanes
    for (let i = 1; i < blocks; i++) stage.append(new block(outPlanes, planes))
    return stage
  }

  forward(x: Tensor): Tensor {
    let out = this.maxpool.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x))))
    out = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(out))))
    return this.fc.forward(this.avgpool.forward(out).flatten(1))
  }
}

/** ResNet-18 (BasicBlock, [2, 2, 2, 2]), like `torchvision.models.resnet18()`: 11.7M parameters with 1000 classes. */
export function resnet18(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], options)
}

/** ResNet-34 (BasicBlock, [3, 4, 6, 3]), like `torchvision.models.resnet34()`. */
export function resnet34(options: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [3, 4, 6, 3], options)
}

/** ResNet-50 (Bottleneck, [3, 4, 6, 3]), like `torchvision.models.resnet50()`. */
export function resnet50(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], options)
}

/** ResNet-101 (Bottleneck, [3, 4, 23, 3]), like `torchvision.models.resnet101()`. */
export function resnet101(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], options)
}

/** ResNet-152 (Bottleneck, [3, 8, 36, 3]), like `torchvision.models.resnet152()`. */
export function resnet152(options: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 8, 36, 3], options)
}

// Their forwards only run tensor ops and their layers (see Module.forward).
markPureForward(Bottleneck, ResNet)
