import * as nn from '../nn'
import type { Tensor } from '../tensor'

/**
 * @internal `layers.forward(x)` with each batch norm that feeds a ReLU run as one op
 * (`{ activation: 'relu' }`, the same values and gradients in one pass fewer each way). The
 * modules stay as they are, so the printout and state dict do not change.
 */
export function forwardFusingBatchNormRelu(layers: nn.Sequential, x: Tensor): Tensor {
  const children = layers.children()
  let out = x
  for (let i = 0; i < children.length; i++) {
    const layer = children[i]
    if (layer instanceof nn.BatchNorm2d && children[i + 1] instanceof nn.ReLU) {
      out = layer.forward(out, { activation: 'relu' })
      i++
    } else {
      out = layer.forward(out) as Tensor
    }
  }
  return out
}
