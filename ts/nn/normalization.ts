import { ones, tensor, zeros } from '../creation'
import { InvalidArgumentError, ShapeMismatchError } from '../errors'
import { batchNorm, type BatchNormOptions } from '../functional'
import type { Tensor } from '../tensor'
import { checkIntAtLeast } from '../validate'
import { Module } from './module'
import { filledParameter, type Parameter } from './parameter'
import { pyFloat, pyRepr } from './repr'

/** Options of {@link BatchNorm2d}, with PyTorch's defaults. */
export interface BatchNorm2dOptions {
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number
  /**
   * Weight of each new batch in the running statistics (default 0.1); null keeps a cumulative
   * average over all batches instead.
   */
  momentum?: number | null
  /** Learn a per-channel scale (`weight`, from 1) and shift (`bias`, from 0) (default true). */
  affine?: boolean
  /** With `affine`, learn the shift too (default true); false keeps only the scale. */
  bias?: boolean
  /** Keep running statistics for evaluation mode (default true). */
  trackRunningStats?: boolean
}

/** Options of {@link BatchNorm1d}: those of {@link BatchNorm2d}. */
export type BatchNorm1dOptions = BatchNorm2dOptions

/**
 * What `BatchNorm1d` and `BatchNorm2d` share (PyTorch's `_BatchNorm`): the parameters, the
 * running statistics and their update, the printout. A subclass says which input ranks it takes.
 */
export abstract class BatchNormBase extends Module {
  /** Channels normalised (`C` of `[N, C, ...]`). */
  readonly numFeatures: number
  /** Added to the variance for numerical stability. */
  readonly eps: number
  /** Weight of each new batch in the running statistics; null for a cumulative average. */
  readonly momentum: number | null
  /** Whether it learns a per-channel scale (and shift). */
  readonly affine: boolean
  /** Whether it keeps running statistics for evaluation mode. */
  readonly trackRunningStats: boolean
  /** Per-channel scale `[numFeatures]`, starting at 1; null without `affine`. */
  weight: Parameter | null
  /** Per-channel shift `[numFeatures]`, starting at 0; null without `affine` or with `bias: false`. */
  bias: Parameter | null

  constructor(numFeatures: number, { eps = 1e-5, momentum = 0.1, affine = true, bias = true, trackRunningStats = true }: BatchNorm2dOptions = {}) {
    super()
    const layer = new.target.name
    this.numFeatures = checkIntAtLeast(layer, 'numFeatures', numFeatures, 1)
    if (typeof eps !== 'number' || !(eps >= 0)) throw new InvalidArgumentError(`${layer}: eps must be a non-negative number, got ${String(eps)}`)
    if (momentum !== null && typeof momentum !== 'number') {
      throw new InvalidArgumentError(`${layer}: momentum must be a number or null, got ${String(momentum)}`)
    }
    this.eps = eps
    this.momentum = momentum
    this.affine = affine
    this.trackRunningStats = trackRunningStats
    this.weight = affine ? filledParameter([numFeatures], 1) : null
    this.bias = affine && bias ? filledParameter([numFeatures], 0) : null
    if (trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]))
      this.registerBuffer('running_var', ones([numFeatures]))
      this.registerBuffer('num_batches_tracked', tensor(0, { dtype: 'int64' }))
    }
  }

  /** The running mean (`running_mean`), or null without `trackRunningStats`. */
  get runningMean(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_mean') : null
  }

  /** The running variance (`running_var`), or null without `trackRunningStats`. */
  get runningVar(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('running_var') : null
  }

  /** Training batches seen so far (`num_batches_tracked`), or null without `trackRunningStats`. */
  get numBatchesTracked(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer('num_batches_tracked') : null
  }

  /** Throws a `ShapeMismatchError` worded as PyTorch's for an input of a rank this layer does not take. */
  protected abstract checkInput(input: Tensor): void

  /**
   * Normalises `input`; `{ activation: 'relu' }` applies a ReLU in the same op (see
   * `F.batchNorm`), as a model whose batch norm feeds a ReLU can ask in its `forward`.
   */
  forward(input: Tensor, { activation = null }: Pick<BatchNormOptions, 'activation'> = {}): Tensor {
    this.checkInput(input)
    let momentum = this.momentum ?? 0
    const counter = this.numBatchesTracked
    if (this.training && counter !== null) {
      using next = counter.add(1)
      counter.copy_(next)
      if (this.momentum === null) momentum = 1 / counter.item()
    }
    return batchNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      // Evaluation normalises with the running statistics, when there are any.
      training: this.training || !this.trackRunningStats,
      momentum,
      eps: this.eps,
      activation,
    })
  }

  override extraRepr(): string {
    const momentum = this.momentum === null ? pyRepr(null) : pyFloat(this.momentum)
    return (
      `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${momentum}, affine=${pyRepr(this.affine)}, ` +
      `bias=${pyRepr(this.bias !== null)}, track_running_stats=${pyRepr(this.trackRunningStats)}`
    )
  }
}

/**
 * Batch normalization over the channels of `[N, C]` or `[N, C, L]` input, like
 * `torch.nn.BatchNorm1d`: the statistics are taken over the batch (and the length). Training and
 * evaluation, the buffers' names and the printout are those of {@link BatchNorm2d}:
 * `BatchNorm1d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)`.
 *
 * ```ts
 * const head = new nn.Sequential(new nn.Linear(512, 64), new nn.BatchNorm1d(64), new nn.ReLU(), new nn.Linear(64, 5))
 * ```
 */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(input: Tensor): void {
    if (input.ndim !== 2 && input.ndim !== 3) throw new ShapeMismatchError(`BatchNorm1d: expected 2D or 3D input (got ${input.ndim}D input)`)
  }
}

/**
 * Batch normalization over the channels of `[N, C, H, W]` input, like `torch.nn.BatchNorm2d`.
 * In training mode it normalises with the batch's statistics and updates the running ones (and
 * `num_batches_tracked`); in evaluation mode (`eval()`) it uses the running statistics.
 *
 * Its buffers keep PyTorch's names in `stateDict()`: `running_mean`, `running_var` and
 * `num_batches_tracked` (int64, 0-d), read here as `runningMean`, `runningVar` and
 * `numBatchesTracked`. It prints as PyTorch 2.15 does, which added the `bias` option:
 * `BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)`.
 */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(input: Tensor): void {
    if (input.ndim !== 4) throw new ShapeMismatchError(`BatchNorm2d: expected 4D input (got ${input.ndim}D input)`)
  }
}
