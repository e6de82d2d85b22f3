import * as F from '../functional'
import * as nn from '../nn'
import { InvalidArgumentError } from '../errors'
import type { Tensor } from '../tensor'
import { checkIntAtLeast, describe } from '../validate'
import { markPureForward } from '../inference'

/** 3x3 convolution with padding 1 and no bias, as the tutorial's `conv3x3`. */
export function conv3x3(inChannels: number, outChannels: number, stride = 1): nn.Conv2d {
  return new nn.Conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false })
}

/** A residual block type: `new Block(inChannels, outChannels, stride, downsample)`. */
export type Block = new (inChannels: number, outChannels: number, stride?: number, downsample?: nn.Module | null) => nn.Module

/** Two 3x3 conv + batch-norm stages with a shortcut; `downsample` matches the shortcut's shape. */
export class ResidualBlock extends nn.Module {
  /** First 3x3 conv, carrying the block's stride. */
  conv1: nn.Conv2d
  /** Batch norm after `conv1`. */
  bn1: nn.BatchNorm2d
  /** ReLU after `bn1` and after the sum with the shortcut. */
  relu = new nn.ReLU({ inplace: true })
  /** Second 3x3 conv, stride 1. */
  conv2: nn.Conv2d
  /** Batch norm after `conv2`. */
  bn2: nn.BatchNorm2d
  /** Maps the input to the output's shape for the shortcut; null for the identity. */
  downsample: nn.Module | null

  constructor(inChannels: number, outChannels: number, stride = 1, downsample: nn.Module | null = null) {
    super()
    this.conv1 = conv3x3(inChannels, outChannels, stride)
    this.bn1 = new nn.BatchNorm2d(outChannels)
    this.conv2 = conv3x3(outChannels, outChannels)
    this.bn2 = new nn.BatchNorm2d(outChannels)
    this.downsample = downsample
  }

  forward(x: Tensor): Tensor {
    const residual = this.downsample ? this.downsample.forward(x) : x
    // bn1 + relu and the sum + relu run as single ops (F.batchNorm's `activation`, F.addRelu).
    const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x), { activation: 'relu' })))
    return F.addRelu(out, residual)
  }
}

/** Squeeze-and-excitation: rescales each channel by weights computed from its global average. */
export class SELayer extends nn.Module {
  /** Global average pooling to one value per channel (`avg_pool` in the state dict). */
  avgPool = this.registerModule('avg_pool', new nn.AdaptiveAvgPool2d([1, 1]))
  /** ReLU between the two linear layers. */
  relu = new nn.ReLU({ inplace: true })
  /** Squeezes `channel` to `channel / reduction` features. */
  FC1: nn.Linear
  /** Expands back to `channel` weights. */
  FC2: nn.Linear
  /** Maps the weights into (0, 1). */
  sigmoid = new nn.Sigmoid()

  constructor(channel: number, reduction = 16) {
    super()
    checkIntAtLeast('SELayer', 'channel', channel, 1)
    checkIntAtLeast('SELayer', 'reduction', reduction, 1)
    this.FC1 = new nn.Linear(channel, Math.floor(channel / reduction))
    this.FC2 = new nn.Linear(Math.floor(channel / reduction), channel)
  }

  forward(x: Tensor): Tensor {
    const pooled = this.avgPool.forward(x).view([x.size(0), -1])
    const weights = this.sigmoid.forward(this.FC2.forward(this.relu.forward(this.FC1.forward(pooled))))
    return weights.view([x.size(0), x.size(1), 1, 1]).mul(x)
  }
}

/**
 * A residual block with squeeze-and-excitation. Each sample is scaled by its own SE weights; the
 * tutorial's loop scaled every sample by sample 0's, a bug this corrects.
 */
export class SEResidualBlock extends nn.Module {
  /** First 3x3 conv, carrying the block's stride. */
  conv1: nn.Conv2d
  /** Batch norm after `conv1`. */
  bn1: nn.BatchNorm2d
  /** ReLU after `bn1` and after the sum with the shortcut. */
  relu = new nn.ReLU({ inplace: true })
  /** Second 3x3 conv, stride 1. */
  conv2: nn.Conv2d
  /** Batch norm after `conv2`. */
  bn2: nn.BatchNorm2d
  /** Squeeze-and-excitation applied to the residual branch before the sum. */
  se: SELayer
  /** Maps the input to the output's shape for the shortcut; null for the identity. */
  downsample: nn.Module | null

  constructor(inChannels: number, outChannels: number, stride = 1, downsample: nn.Module | null = null, reduction = 16) {
    super()
    this.conv1 = conv3x3(inChannels, outChannels, stride)
    this.bn1 = new nn.BatchNorm2d(outChannels)
    this.conv2 = conv3x3(outChannels, outChannels)
    this.bn2 = new nn.BatchNorm2d(outChannels)
    this.se = new SELayer(outChannels, reduction)
    this.downsample = downsample
  }

  forward(x: Tensor): Tensor {
    const residual = this.downsample ? this.downsample.forward(x) : x
    const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x), { activation: 'relu' })))
    return F.addRelu(this.se.forward(out), residual)
  }
}

/**
 * The tutorial's CIFAR-10 ResNet: a 3x3 stem, three stages of `layers[i]` blocks (16, 32 and 64
 * channels; the last two halve the resolution), 8x8 average pooling and a linear classifier.
 */
export class ResNet extends nn.Module {
  private inChannels = 16
  /** Stem: 3x3 conv from RGB to 16 channels. */
  conv = conv3x3(3, 16)
  /** Batch norm after the stem. */
  bn = new nn.BatchNorm2d(16)
  /** ReLU after the stem. */
  relu = new nn.ReLU({ inplace: true })
  /** Stage 1: `layers[0]` blocks, 16 channels, full resolution. */
  layer1: nn.Sequential
  /** Stage 2: `layers[1]` blocks, 32 channels, half resolution. */
  layer2: nn.Sequential
  /** Stage 3: `layers[2]` blocks, 64 channels, quarter resolution. */
  layer3: nn.Sequential
  /** 8x8 average pooling (`avg_pool` in the state dict): `[N, 64, 8, 8]` to `[N, 64, 1, 1]` for 32x32 inputs. */
  avgPool: nn.AvgPool2d
  /** Classifier from 64 features to `numClasses` logits. */
  fc: nn.Linear

  constructor(block: Block = ResidualBlock, layers: readonly number[] = [2, 2, 2], numClasses = 10) {
    super()
    if (typeof block !== 'function') throw new InvalidArgumentError(`ResNet: block must be a block class such as ResidualBlock, got ${describe(block)}`)
    if (!Array.isArray(layers) || layers.length !== 3) {
      throw new InvalidArgumentError(`ResNet: layers must be three block counts, one per stage, got ${Array.isArray(layers) ? `[${layers.join(', ')}]` : describe(layers)}`)
    }
    layers.forEach((n, i) => checkIntAtLeast('ResNet', `layers[${i}]`, n, 1))
    checkIntAtLeast('ResNet', 'numClasses', numClasses, 1)
    this.layer1 = this.makeLayer(block, 16, layers[0])
    this.layer2 = this.makeLayer(block, 32, layers[1], 2)
    this.layer3 = this.makeLayer(block, 64, layers[2], 2)
    this.avgPool = this.registerModule('avg_pool', new nn.AvgPool2d(8))
    this.fc = new nn.Linear(64, numClasses)
  }

  private makeLayer(block: Block, outChannels: number, numBlocks: number, stride = 1): nn.Sequential {
    let downsample: nn.Module | null = null
    if (stride !== 1 || this.inChannels !== outChannels) {
      downsample = new nn.Sequential(conv3x3(this.inChannels, outChannels, stride), new nn.BatchNorm2d(outChannels))
    }
    const blocks = [new block(this.inChannels, outChannels, stride, downsample)]
    this.inChannels = outChannels
    for (let i = 1; i < numBlocks; i++) blocks.push(new block(outChannels, outChannels))
    return new nn.Sequential(...blocks)
  }

  forward(x: Tensor): Tensor {
    let out = this.bn.forward(this.conv.forward(x), { activation: 'relu' })
    out = this.layer3.forward(this.layer2.forward(this.layer1.forward(out)))
    out = this.avgPool.forward(out)
    return this.fc.forward(out.view([out.size(0), -1]))
  }
}

/** The tutorial's SE-ResNet: `new ResNet(SEResidualBlock, layers)`. */
export function seResNet(layers: readonly number[] = [2, 2, 2], numClasses = 10): ResNet {
  return new ResNet(SEResidualBlock, layers, numClasses)
}

// Their forwards only run tensor ops and their layers (see Module.forward).
markPureForward(ResidualBlock, SELayer, SEResidualBlock, ResNet)
