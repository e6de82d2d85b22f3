import { dropout } from '../functional'
import { checkProbability } from '../functional/dropout'
import type { Tensor } from '../tensor'
import { Module } from './module'
import { pyFloat } from './repr'

/** Options of {@link Dropout}, with PyTorch's defaults. */
export interface DropoutOptions {
  /**
   * PyTorch's flag for overwriting the input. Ferrite always returns a new tensor, so it only
   * shows in the printout (`Dropout(p=0.2, inplace=False)`).
   */
  inplace?: boolean
}

/**
 * Zeroes each element with probability `p` in training mode and scales the rest by
 * `1 / (1 - p)`; the identity in evaluation mode (`eval()`), like `torch.nn.Dropout`. The masks
 * come from the generator `ft.manualSeed` seeds. See {@link dropout} for tracing.
 *
 * ```ts
 * const head = new nn.Sequential(new nn.Dropout(0.2), new nn.Linear(1280, 10))
 * ```
 */
export class Dropout extends Module {
  /** Probability of zeroing an element. */
  readonly p: number
  /** PyTorch's in-place flag; only affects printing. */
  readonly inplace: boolean

  constructor(p = 0.5, { inplace = false }: DropoutOptions = {}) {
    super()
    this.p = checkProbability('Dropout', p)
    this.inplace = inplace
  }

  forward(input: Tensor): Tensor {
    return dropout(input, { p: this.p, training: this.training })
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${this.inplace ? 'True' : 'False'}`
  }
}
