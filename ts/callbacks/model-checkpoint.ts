/** `modelCheckpoint`: saves the model whenever a monitored number improves, like Keras's `ModelCheckpoint(save_best_only=True)`. */
import { InvalidArgumentError } from '../errors'
import { save } from '../io'
import { describe } from '../validate'
import type { Callback, Monitor } from './callback'
import { BestValue, type MonitorMode } from './monitor'

/** Options of {@link modelCheckpoint}. */
export interface ModelCheckpointOptions {
  /** The `.safetensors` file to write. */
  path: string
  /** The epoch log to watch: `'testAccuracy'`, `'testLoss'`, `'trainLoss'`, ... */
  monitor: Monitor
  /** `'max'` when larger is better, `'min'` when smaller is; inferred from the name (accuracy: max, loss: min) when absent. */
  mode?: MonitorMode
  /** The least change that counts as an improvement (default 0). */
  minDelta?: number
}

/**
 * After each epoch whose `monitor` beats every earlier one, writes the model's `stateDict()` to
 * `path` as `ft.saveModel` does (safetensors that `ft.load` and PyTorch's `load_file` read),
 * atomically: the file is always a complete best model. Its metadata records the epoch (from 1)
 * and the value.
 *
 * ```ts
 * ft.callbacks.modelCheckpoint({ path: 'runs/best.safetensors', monitor: 'testAccuracy' })
 * ```
 */
export function modelCheckpoint(options: ModelCheckpointOptions): Callback {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`modelCheckpoint: expected an options object { path, monitor }, got ${describe(options)}`)
  const { path, monitor, mode, minDelta = 0 } = options
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`modelCheckpoint: path must be a non-empty string, got ${describe(path)}`)
  const best = new BestValue('modelCheckpoint', monitor, mode, minDelta)
  return {
    onTrainBegin() {
      best.reset()
    },
    onEpochEnd({ epoch, logs, model }) {
      if (!best.update(epoch, logs)) return
      const state = model.stateDict()
      try {
        save(state, path, { metadata: { format: 'pt', epoch: String(epoch + 1), monitor, [monitor]: String(best.best) } })
      } finally {
        for (const t of Object.values(state)) t.dispose()
      }
    },
  }
}
