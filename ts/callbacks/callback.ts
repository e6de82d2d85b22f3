/**
 * The callback interface of {@link fit}: hooks at the start and end of training, of each epoch
 * and after each optimizer step, as Keras's `Callback` and Lightning's hooks. A callback is any
 * object with some of the hooks; each may return a promise, which `fit` awaits before going on.
 */
import { InvalidArgumentError } from '../errors'
import type { Module } from '../nn'
import type { Optimizer } from '../optim'
import type { History } from '../train'
import { describe } from '../validate'

/** What every hook receives: the run's objects and where it stands. */
export interface CallbackContext {
  /** The model being trained. */
  readonly model: Module
  /** The optimizer stepping it; `paramGroups[0].lr` is the current learning rate. */
  readonly optimizer: Optimizer<{
    /** Learning rate, which a callback may read or set. */
    lr: number
  }>
  /** The per-epoch results so far (restored ones included when resuming); `fit` returns this object. */
  readonly history: History
  /** Epochs the run trains in all, counting resumed ones. */
  readonly epochs: number
  /**
   * The epoch's index from 0, which indexes `history`'s arrays (`Epoch 1/10` in the log is 0). In
   * `onTrainBegin`, the first epoch to run (above 0 when resuming); in `onTrainEnd`, the epochs done.
   */
  readonly epoch: number
  /** Batches in an epoch (the training loader's length). */
  readonly batches: number
  /** Optimizer steps taken in the whole run so far, resumed epochs included. */
  readonly step: number
  /** Prints a line where `fit`'s log lines go (its `log` option, default `console.log`). */
  log(line: string): void
  /** Asks `fit` to stop once the current epoch has ended (its `onEpochEnd` hooks all run), as Keras's `model.stop_training = True`. */
  stopTraining(): void
}

/** The results of one epoch, as `onEpochEnd` receives them. */
export interface EpochLogs {
  /** Mean training loss over the epoch's steps. */
  trainLoss: number
  /** Mean loss over the test batches; absent without a test loader. */
  testLoss?: number
  /** Test accuracy (a fraction); absent without a test loader. */
  testAccuracy?: number
  /** Learning rate of the epoch's steps (of the first parameter group), before the scheduler's step. */
  lr: number
  /** Wall-clock seconds of the training pass. */
  seconds: number
  /** Training images per second. */
  imagesPerSecond: number
}

/** The names of the numbers in {@link EpochLogs}, which `earlyStopping` and `modelCheckpoint` can monitor. */
export type Monitor = keyof EpochLogs

/** The results of one optimizer step, as `onBatchEnd` receives them. */
export interface BatchLogs {
  /** The step's loss. */
  loss: number
  /** Learning rate of the step (of the first parameter group). */
  lr: number
  /** Images in the batch. */
  size: number
}

/** What `onEpochEnd` receives. */
export interface EpochEndContext extends CallbackContext {
  /** The epoch's results. */
  readonly logs: EpochLogs
}

/** What `onBatchEnd` receives. */
export interface BatchEndContext extends CallbackContext {
  /** The batch's index in the epoch, from 0. */
  readonly batch: number
  /** The step's results. */
  readonly logs: BatchLogs
}

/** What `onTrainEnd` receives. */
export interface TrainEndContext extends CallbackContext {
  /** The last epoch's results; absent when no epoch ran (a resumed run that was already complete). */
  readonly logs?: EpochLogs
  /** Whether a callback stopped training before `epochs`. */
  readonly stopped: boolean
}

/** A hook's result: `fit` awaits a promise before going on. */
export type HookResult = void | Promise<void>

/**
 * Hooks `fit` calls, all optional, in the order the callbacks were given (the built-in log
 * lines and progress bar first). An error thrown (or a promise rejected) by a hook ends `fit`
 * with that error; files written before it (checkpoints, best models) stay as they were.
 *
 * ```ts
 * await ft.fit(model, { ..., callbacks: [{ onEpochEnd: ({ epoch, logs }) => console.log(epoch, logs.testAccuracy) }] })
 * ```
 */
export interface Callback {
  /** Before the first epoch (after a checkpoint is restored when resuming). */
  onTrainBegin?(context: CallbackContext): HookResult
  /** After the last epoch, or after the epoch in which a callback called `stopTraining()`; not called when `fit` throws. */
  onTrainEnd?(context: TrainEndContext): HookResult
  /** Before an epoch's training pass. */
  onEpochBegin?(context: CallbackContext): HookResult
  /** After an epoch's training pass, test pass, scheduler step and `fit`'s own checkpoint. */
  onEpochEnd?(context: EpochEndContext): HookResult
  /** After each optimizer step. */
  onBatchEnd?(context: BatchEndContext): HookResult
}

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchEnd'] as const
type Hook = (typeof HOOKS)[number]
type ContextOf<H extends Hook> = Parameters<NonNullable<Callback[H]>>[0]

/** `fit`'s `callbacks` option, checked: an array of objects whose hooks are functions. */
export function checkCallbacks(callbacks: unknown): Callback[] {
  if (callbacks === undefined) return []
  if (!Array.isArray(callbacks)) throw new InvalidArgumentError(`fit: callbacks must be an array, got ${describe(callbacks)}`)
  callbacks.forEach((callback: unknown, i) => {
    if (typeof callback !== 'object' || callback === null) throw new InvalidArgumentError(`fit: callbacks[${i}] must be an object with hooks such as onEpochEnd, got ${describe(callback)}`)
    for (const hook of HOOKS) {
      const fn = (callback as Record<string, unknown>)[hook]
      if (fn !== undefined && typeof fn !== 'function') throw new InvalidArgumentError(`fit: callbacks[${i}].${hook} must be a function, got ${describe(fn)}`)
    }
  })
  return callbacks
}

/** The callbacks of one `fit`, called in order. */
export class CallbackList {
  readonly #callbacks: readonly Callback[]

  constructor(callbacks: readonly Callback[]) {
    this.#callbacks = callbacks
  }

  /** Whether any callback has `hook`, so that `fit` can skip building its context. */
  has(hook: Hook): boolean {
    return this.#callbacks.some((callback) => callback[hook] !== undefined)
  }

  /** Calls `hook` of each callback in order, awaiting a returned promise before the next; synchronous hooks add no await. */
  call<H extends Hook>(hook: H, context: ContextOf<H>): HookResult {
    for (let i = 0; i < this.#callbacks.length; i++) {
      const result = (this.#callbacks[i][hook] as ((context: ContextOf<H>) => HookResult) | undefined)?.call(this.#callbacks[i], context)
      if (typeof (result as Promise<void> | undefined)?.then === 'function') return (result as Promise<void>).then(() => this.#callFrom(i + 1, hook, context))
    }
  }

  async #callFrom<H extends Hook>(start: number, hook: H, context: ContextOf<H>): Promise<void> {
    for (let i = start; i < this.#callbacks.length; i++) {
      await (this.#callbacks[i][hook] as ((context: ContextOf<H>) => HookResult) | undefined)?.call(this.#callbacks[i], context)
    }
  }
}
