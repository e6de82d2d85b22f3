import { InvalidArgumentError } from '../errors'
import type { Optimizer } from './optimizer'

/** Any optimizer whose parameter groups have a learning rate `lr` (SGD, Adam, AdamW). */
export type LrOptimizer = Optimizer<{
  /** Learning rate, which the scheduler sets in every parameter group. */
  lr: number
}>

/**
 * Base class of the learning-rate schedulers: `step()` once per epoch (or per batch for
 * OneCycleLR), after `optimizer.step()`. Like PyTorch, constructing one applies the epoch-0 rate.
 */
export abstract class LRScheduler {
  /** The optimizer whose groups' `lr` this scheduler sets. */
  readonly optimizer: LrOptimizer
  /** Each group's starting rate: its `lr` at construction (`maxLr / divFactor` for OneCycleLR). */
  readonly baseLrs: number[]
  /** The epoch (per-batch step for OneCycleLR) whose rate is set: 0 after construction, +1 per `step()`. */
  lastEpoch = -1

  constructor(optimizer: LrOptimizer) {
    this.optimizer = optimizer
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr)
  }

  /** The rate of each parameter group at `this.lastEpoch`. */
  protected abstract lrAt(epoch: number): number[]

  /** Advances one epoch and sets the groups' learning rates. */
  step(): void {
    this.lastEpoch += 1
    this.lrAt(this.lastEpoch).forEach((lr, i) => (this.optimizer.paramGroups[i].lr = lr))
  }

  /** The learning rates set by the last `step()`. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr)
  }

  /** The scheduler's position, to save with a checkpoint, like PyTorch's `state_dict()`. */
  stateDict(): {
    /** The epoch (or step) whose rate is set. */
    lastEpoch: number
    /** Each group's starting rate. */
    baseLrs: number[]
  } {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] }
  }

  /** Jumps to the saved `lastEpoch` and sets the groups' rates for it. */
  loadStateDict(state: { lastEpoch: number }): void {
    this.lastEpoch = state.lastEpoch
    this.lrAt(this.lastEpoch).forEach((lr, i) => (this.optimizer.paramGroups[i].lr = lr))
  }
}

/** Multiplies the rate by `gamma` every `stepSize` epochs. */
export class StepLR extends LRScheduler {
  /** Epochs between decays. */
  readonly stepSize: number
  /** Factor applied at each decay (default 0.1). */
  readonly gamma: number

  constructor(optimizer: LrOptimizer, { stepSize, gamma = 0.1 }: { stepSize: number; gamma?: number }) {
    super(optimizer)
    if (!(stepSize >= 1)) throw new InvalidArgumentError(`StepLR: stepSize must be at least 1, got ${stepSize}`)
    this.stepSize = stepSize
    this.gamma = gamma
    this.step()
  }

  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((lr) => lr * this.gamma ** Math.floor(epoch / this.stepSize))
  }
}

/** Cosine annealing from the base rate to `etaMin` over `tMax` epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  /** Epochs from the base rate down to `etaMin` (half a cosine period). */
  readonly tMax: number
  /** The lowest rate (default 0). */
  readonly etaMin: number

  constructor(optimizer: LrOptimizer, { tMax, etaMin = 0 }: { tMax: number; etaMin?: number }) {
    super(optimizer)
    if (!(tMax > 0)) throw new InvalidArgumentError(`CosineAnnealingLR: tMax must be positive, got ${tMax}`)
    this.tMax = tMax
    this.etaMin = etaMin
    this.step()
  }

  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((lr) => this.etaMin + ((lr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2)
  }
}

/** Options of {@link OneCycleLR}, with PyTorch's defaults. */
export interface OneCycleLROptions {
  /** The peak rate, for all groups or one per group. */
  maxLr: number | number[]
  /** Total number of steps; or give `epochs` and `stepsPerEpoch`. */
  totalSteps?: number
  /** Epochs to train, with `stepsPerEpoch`, when `totalSteps` is not given. */
  epochs?: number
  /** Batches per epoch, with `epochs`, when `totalSteps` is not given. */
  stepsPerEpoch?: number
  /** Fraction of the steps spent warming up (default 0.3). */
  pctStart?: number
  /** Shape of each phase's curve: `'cos'` (default) or `'linear'`. */
  annealStrategy?: 'cos' | 'linear'
  /** Cycle momentum inversely to the rate (default true): Adam's beta1, or SGD's momentum. */
  cycleMomentum?: boolean
  /** Momentum at the peak rate (default 0.85). */
  baseMomentum?: number
  /** Momentum at the lowest rates (default 0.95). */
  maxMomentum?: number
  /** The starting rate is `maxLr / divFactor` (default 25). */
  divFactor?: number
  /** The final rate is the starting rate divided by this (default 1e4). */
  finalDivFactor?: number
  /** Three phases, as in the paper: warm up, come back down symmetrically, then anneal to the final rate (default false). */
  threePhase?: boolean
}

/**
 * The 1cycle policy (Smith & Topin), stepped once per batch: the rate warms up from
 * `maxLr / divFactor` to `maxLr`, then anneals to `maxLr / (divFactor * finalDivFactor)`, while
 * momentum (Adam's beta1, or SGD's momentum) cycles the other way.
 */
export class OneCycleLR extends LRScheduler {
  /** Steps in the whole cycle; stepping past it throws. */
  readonly totalSteps: number
  private readonly phases: { end: number; lr: [string, string]; momentum: [string, string] }[]
  private readonly anneal: (start: number, end: number, pct: number) => number
  private readonly cycleMomentum: boolean
  private readonly groupValues: Record<string, number>[]

  constructor(optimizer: LrOptimizer, o: OneCycleLROptions) {
    super(optimizer)
    const total = o.totalSteps ?? (o.epochs !== undefined && o.stepsPerEpoch !== undefined ? o.epochs * o.stepsPerEpoch : undefined)
    if (total === undefined || !(total > 0)) {
      throw new InvalidArgumentError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch, all positive')
    }
    this.totalSteps = total
    const pctStart = o.pctStart ?? 0.3
    const divFactor = o.divFactor ?? 25
    const finalDivFactor = o.finalDivFactor ?? 1e4
    this.anneal = (o.annealStrategy ?? 'cos') === 'cos'
      ? (start, end, pct) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (start, end, pct) => (end - start) * pct + start
    this.phases = o.threePhase
      ? [
          { end: pctStart * total - 1, lr: ['initialLr', 'maxLr'], momentum: ['maxMomentum', 'baseMomentum'] },
          { end: 2 * pctStart * total - 2, lr: ['maxLr', 'initialLr'], momentum: ['baseMomentum', 'maxMomentum'] },
          { end: total - 1, lr: ['initialLr', 'minLr'], momentum: ['maxMomentum', 'maxMomentum'] },
        ]
      : [
          { end: pctStart * total - 1, lr: ['initialLr', 'maxLr'], momentum: ['maxMomentum', 'baseMomentum'] },
          { end: total - 1, lr: ['maxLr', 'minLr'], momentum: ['baseMomentum', 'maxMomentum'] },
        ]
    this.cycleMomentum = o.cycleMomentum ?? true
    const groups = optimizer.paramGroups as unknown as { betas?: unknown; momentum?: unknown }[]
    if (this.cycleMomentum && groups.some((g) => g.betas === undefined && g.momentum === undefined)) {
      throw new InvalidArgumentError('OneCycleLR: cycleMomentum needs an optimizer with momentum (SGD) or betas (Adam); pass cycleMomentum: false')
    }
    const maxLrs = Array.isArray(o.maxLr) ? o.maxLr : optimizer.paramGroups.map(() => o.maxLr as number)
    this.groupValues = optimizer.paramGroups.map((_, i) => ({
      initialLr: maxLrs[i] / divFactor,
      maxLr: maxLrs[i],
      minLr: maxLrs[i] / divFactor / finalDivFactor,
      baseMomentum: o.baseMomentum ?? 0.85,
      maxMomentum: o.maxMomentum ?? 0.95,
    }))
    this.baseLrs.splice(0, this.baseLrs.length, ...this.groupValues.map((v) => v.initialLr))
    this.step()
  }

  protected lrAt(step: number): number[] {
    if (step > this.totalSteps) {
      throw new InvalidArgumentError(`OneCycleLR: tried to step ${step} times, more than totalSteps ${this.totalSteps}`)
    }
    return this.groupValues.map((values, i) => {
      let start = 0
      for (const phase of this.phases) {
        if (step <= phase.end || phase === this.phases[this.phases.length - 1]) {
          const pct = (step - start) / (phase.end - start)
          if (this.cycleMomentum) this.setMomentum(i, this.anneal(values[phase.momentum[0]], values[phase.momentum[1]], pct))
          return this.anneal(values[phase.lr[0]], values[phase.lr[1]], pct)
        }
        start = phase.end
      }
      throw new Error('unreachable')
    })
  }

  private setMomentum(group: number, momentum: number): void {
    const g = this.optimizer.paramGroups[group] as unknown as { betas?: [number, number]; momentum?: number }
    if (g.betas) g.betas = [momentum, g.betas[1]]
    else g.momentum = momentum
  }
}
