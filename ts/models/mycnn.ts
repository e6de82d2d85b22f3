import * as nn from '../nn'
import type { Tensor } from '../tensor'
import { checkIntAtLeast } from '../validate'
import { markPureForward } from '../inference'
import { forwardFusingBatchNormRelu } from './fused'

/**
 * The tutorial's simple CNN: two Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d stages and a linear
 * classifier, for square `imageSize` inputs with 3 channels.
 */
export class MyCNN extends nn.Module {
  /** Conv2d(3, 16, 3) -> BatchNorm2d -> ReLU -> MaxPool2d(2): halves the resolution. */
  conv1: nn.Sequential
  /** Conv2d(16, 32, 3) -> BatchNorm2d -> ReLU -> MaxPool2d(2): halves it again. */
  conv2: nn.Sequential
  /** Classifier from the flattened `32 * floor(imageSize / 4)^2` features to `numClasses` logits. */
  fc: nn.Linear

  constructor(imageSize = 32, numClasses = 10) {
    super()
    // Two 2x2 pools of a smaller image leave no pixel to classify.
    checkIntAtLeast('MyCNN', 'imageSize', imageSize, 4)
    checkIntAtLeast('MyCNN', 'numClasses', numClasses, 1)
    this.conv1 = new nn.Sequential(
      new nn.Conv2d(3, 16, 3, { stride: 1, padding: 1 }),
      new nn.BatchNorm2d(16),
      new nn.ReLU(),
      new nn.MaxPool2d(2, { stride: 2 }),
    )
    this.conv2 = new nn.Sequential(
      new nn.Conv2d(16, 32, 3, { stride: 1, padding: 1 }),
      new nn.BatchNorm2d(32),
      new nn.ReLU(),
      new nn.MaxPool2d(2, { stride: 2 }),
    )
    const side = Math.floor(imageSize / 4)
    this.fc = new nn.Linear(32 * side * side, numClasses)
  }

  forward(x: Tensor): Tensor {
    const features = forwardFusingBatchNormRelu(this.conv2, forwardFusingBatchNormRelu(this.conv1, x))
    return this.fc.forward(features.view([features.size(0), -1]))
  }
}

// Their forwards only run tensor ops and their layers (see Module.forward).
markPureForward(MyCNN)
