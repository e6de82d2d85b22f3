import { relu, relu6, sigmoid, tanh } from '../functional'
import type { Tensor } from '../tensor'
import { Module } from './module'

/** Options of {@link ReLU}. */
export interface ReLUOptions {
  /**
   * PyTorch's flag for overwriting the input. Ferrite always returns a new tensor, so it only
   * shows in the printout (`ReLU(inplace=True)`), which keeps ported models printing the same.
   */
  inplace?: boolean
}

/** max(0, x) elementwise, like `torch.nn.ReLU`. */
export class ReLU extends Module {
  /** PyTorch's in-place flag; only affects printing, since Ferrite always returns a new tensor. */
  readonly inplace: boolean

  constructor({ inplace = false }: ReLUOptions = {}) {
    super()
    this.inplace = inplace
  }

  forward(input: Tensor): Tensor {
    return relu(input)
  }

  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : ''
  }
}

/** 1 / (1 + exp(-x)) elementwise, like `torch.nn.Sigmoid`. */
export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return sigmoid(input)
  }
}

/** tanh(x) elementwise, like `torch.nn.Tanh`. */
export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return tanh(input)
  }
}

/**
 * `min(max(x, 0), 6)` elementwise, like `torch.nn.ReLU6` (MobileNetV2's activation). Its
 * `inplace` option only shows in the printout, as {@link ReLU}'s does.
 */
export class ReLU6 extends Module {
  /** PyTorch's in-place flag; only affects printing, since Ferrite always returns a new tensor. */
  readonly inplace: boolean

  constructor({ inplace = false }: ReLUOptions = {}) {
    super()
    this.inplace = inplace
  }

  forward(input: Tensor): Tensor {
    return relu6(input)
  }

  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : ''
  }
}
