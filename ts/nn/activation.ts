import { relu, relu6, sigmoid, tanh } from '../functional'
import { gelu, type GeluApproximate, type GeluOptions, hardswish, leakyRelu, silu } from '../functional'
import { pyFloat } from './repr'
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

/** Options of {@link LeakyReLU}. */
export interface LeakyReLUOptions extends ReLUOptions {
  /** The slope for negative inputs (default 0.01). */
  negativeSlope?: number
}

/** `x` where `x > 0`, else `negativeSlope * x`, like `torch.nn.LeakyReLU`. */
export class LeakyReLU extends Module {
  /** The slope for negative inputs. */
  readonly negativeSlope: number
  /** PyTorch's in-place flag; only affects printing, since Ferrite always returns a new tensor. */
  readonly inplace: boolean

  constructor({ negativeSlope = 0.01, inplace = false }: LeakyReLUOptions = {}) {
    super()
    this.negativeSlope = negativeSlope
    this.inplace = inplace
  }

  forward(input: Tensor): Tensor {
    return leakyRelu(input, { negativeSlope: this.negativeSlope })
  }

  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}${this.inplace ? ', inplace=True' : ''}`
  }
}

/** `x * Φ(x)`, Φ the standard normal CDF (or its tanh approximation), like `torch.nn.GELU`. */
export class GELU extends Module {
  /** `'none'` for the exact erf form, `'tanh'` for the approximation. */
  readonly approximate: GeluApproximate

  constructor({ approximate = 'none' }: GeluOptions = {}) {
    super()
    this.approximate = approximate
  }

  forward(input: Tensor): Tensor {
    return gelu(input, { approximate: this.approximate })
  }

  override extraRepr(): string {
    return `approximate='${this.approximate}'`
  }
}

/** `x * sigmoid(x)` (swish), like `torch.nn.SiLU`. */
export class SiLU extends Module {
  /** PyTorch's in-place flag; only affects printing, since Ferrite always returns a new tensor. */
  readonly inplace: boolean

  constructor({ inplace = false }: ReLUOptions = {}) {
    super()
    this.inplace = inplace
  }

  forward(input: Tensor): Tensor {
    return silu(input)
  }

  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : ''
  }
}

/** `x * min(max(x + 3, 0), 6) / 6`, like `torch.nn.Hardswish`, which prints no options. */
export class Hardswish extends Module {
  /** PyTorch's in-place flag, kept for ported code; PyTorch does not print it either. */
  readonly inplace: boolean

  constructor({ inplace = false }: ReLUOptions = {}) {
    super()
    this.inplace = inplace
  }

  forward(input: Tensor): Tensor {
    return hardswish(input)
  }
}
