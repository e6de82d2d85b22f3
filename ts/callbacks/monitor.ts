/** Tracking the best value of an epoch log, shared by `earlyStopping` and `modelCheckpoint`. */
import { InvalidArgumentError } from '../errors'
import { describe } from '../validate'
import type { EpochLogs, Monitor } from './callback'

/** Whether a larger or a smaller value of the monitored number is better. */
export type MonitorMode = 'min' | 'max'

const MONITORS: readonly Monitor[] = ['trainLoss', 'testLoss', 'testAccuracy', 'lr', 'seconds', 'imagesPerSecond']

/** The best value of one epoch log seen so far, and whether a new value improves on it. */
export class BestValue {
  readonly monitor: Monitor
  readonly mode: MonitorMode
  readonly #minDelta: number
  readonly #op: string
  /** The best value; `undefined` until an epoch has given a number. */
  best: number | undefined
  /** The epoch index (from 0) that gave `best`. */
  bestEpoch = -1

  constructor(op: string, monitor: unknown, mode: unknown, minDelta: unknown) {
    if (!MONITORS.includes(monitor as Monitor)) throw new InvalidArgumentError(`${op}: monitor must be one of ${MONITORS.join(', ')}, got ${describe(monitor)}`)
    this.monitor = monitor as Monitor
    const inferred = /accuracy|imagesPerSecond/i.test(this.monitor) ? 'max' : /loss|seconds/i.test(this.monitor) ? 'min' : undefined
    if (mode !== undefined && mode !== 'min' && mode !== 'max') throw new InvalidArgumentError(`${op}: mode must be 'min' or 'max', got ${describe(mode)}`)
    if (mode === undefined && inferred === undefined) throw new InvalidArgumentError(`${op}: cannot tell whether a larger or a smaller ${this.monitor} is better; pass mode: 'min' or 'max'`)
    this.mode = (mode ?? inferred) as MonitorMode
    if (typeof minDelta !== 'number' || !(minDelta >= 0) || !Number.isFinite(minDelta)) throw new InvalidArgumentError(`${op}: minDelta must be a non-negative number, got ${describe(minDelta)}`)
    this.#minDelta = minDelta
    this.#op = op
  }

  /** Forgets the best value, for a new run. */
  reset(): void {
    this.best = undefined
    this.bestEpoch = -1
  }

  /** The monitored value of `logs`; throws when the epoch logs lack it (a test metric without a test loader). */
  read(logs: EpochLogs): number {
    const value = logs[this.monitor]
    if (value === undefined) throw new InvalidArgumentError(`${this.#op}: the epoch logs have no '${this.monitor}' (they have ${Object.keys(logs).join(', ')}); test metrics need fit's testLoader`)
    return value
  }

  /**
   * Records `logs`' value of epoch `epoch` if it beats the best by more than `minDelta` (the first
   * number always does; NaN never does) and says whether it did.
   */
  update(epoch: number, logs: EpochLogs): boolean {
    const value = this.read(logs)
    if (Number.isNaN(value)) return false
    const better = this.best === undefined || (this.mode === 'min' ? value < this.best - this.#minDelta : value > this.best + this.#minDelta)
    if (better) {
      this.best = value
      this.bestEpoch = epoch
    }
    return better
  }
}
