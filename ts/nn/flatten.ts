import type { Tensor } from '../tensor'
import { checkInt } from '../validate'
import { Module } from './module'

/** Options of {@link Flatten}, with PyTorch's defaults. */
export interface FlattenOptions {
  /** First dim to flatten (default 1, keeping the batch dim). */
  startDim?: number
  /** Last dim to flatten, inclusive (default -1). */
  endDim?: number
}

/** Flattens dims `startDim..endDim` into one, like `torch.nn.Flatten`: `[N, C, H, W]` becomes `[N, C*H*W]`. */
export class Flatten extends Module {
  /** First dim flattened. */
  readonly startDim: number
  /** Last dim flattened, inclusive. */
  readonly endDim: number

  constructor({ startDim = 1, endDim = -1 }: FlattenOptions = {}) {
    super()
    this.startDim = checkInt('Flatten', 'startDim', startDim)
    this.endDim = checkInt('Flatten', 'endDim', endDim)
  }

  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim)
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`
  }
}
