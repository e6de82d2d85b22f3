import { linear } from '../functional'
import type { Tensor } from '../tensor'
import { checkIntAtLeast } from '../validate'
import { kaimingUniform_, uniform_ } from './init'
import { Module } from './module'
import { filledParameter, type Parameter } from './parameter'

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean
}

/**
 * y = x Wᵀ + b over the last dim, like `torch.nn.Linear`. The weight is
 * `[outFeatures, inFeatures]`; weight and bias start as U(-k, k) with k = 1 / sqrt(inFeatures),
 * as in PyTorch.
 */
export class Linear extends Module {
  /** Size of the input's last dim. */
  readonly inFeatures: number
  /** Size of the output's last dim. */
  readonly outFeatures: number
  /** `[outFeatures, inFeatures]`. */
  weight: Parameter
  /** `[outFeatures]`, or null when built with `bias: false`. */
  bias: Parameter | null

  constructor(inFeatures: number, outFeatures: number, { bias = true }: LinearOptions = {}) {
    super()
    this.inFeatures = checkIntAtLeast('Linear', 'inFeatures', inFeatures, 0)
    this.outFeatures = checkIntAtLeast('Linear', 'outFeatures', outFeatures, 0)
    this.weight = kaimingUniform_(filledParameter([outFeatures, inFeatures]), { a: Math.sqrt(5) })
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0
    this.bias = bias ? uniform_(filledParameter([outFeatures]), -bound, bound) : null
  }

  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias)
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias === null ? 'False' : 'True'}`
  }
}
