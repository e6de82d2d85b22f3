/** `earlyStopping`: stops `fit` when a monitored number has stopped improving, like Keras's `EarlyStopping`. */
import { noGrad } from '../autograd'
import { InvalidArgumentError } from '../errors'
import type { Tensor } from '../tensor'
import { describe } from '../validate'
import type { Callback, Monitor } from './callback'
import { BestValue, type MonitorMode } from './monitor'

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions {
  /** The epoch log to watch: `'testAccuracy'`, `'testLoss'`, `'trainLoss'`, ... */
  monitor: Monitor
  /** `'max'` when larger is better, `'min'` when smaller is; inferred from the name (accuracy: max, loss: min) when absent. */
  mode?: MonitorMode
  /** Epochs without improvement after which training stops (default 0: the first epoch that does not improve). */
  patience?: number
  /** The least change that counts as an improvement (default 0). */
  minDelta?: number
  /** Copy the best epoch's weights back into the model when training ends (default false). */
  restoreBest?: boolean
  /** Where the lines saying why training stopped and which weights were restored go (default: where `fit`'s log lines go). */
  log?: (line: string) => void
}

/**
 * Stops training once `monitor` has not improved for `patience` epochs (counted after the epoch
 * that set the best value). With `restoreBest`, the best epoch's parameters and buffers are
 * copied (in native memory, on the model's device) each time they improve, and loaded back when
 * training ends if a later epoch was worse.
 *
 * ```ts
 * ft.callbacks.earlyStopping({ monitor: 'testAccuracy', patience: 3, restoreBest: true })
 * ```
 */
export function earlyStopping(options: EarlyStoppingOptions): Callback {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`earlyStopping: expected an options object { monitor, patience, ... }, got ${describe(options)}`)
  const { monitor, mode, patience = 0, minDelta = 0, restoreBest = false, log: ownLog } = options
  const best = new BestValue('earlyStopping', monitor, mode, minDelta)
  if (!Number.isSafeInteger(patience) || patience < 0) throw new InvalidArgumentError(`earlyStopping: patience must be a non-negative integer, got ${describe(patience)}`)
  if (ownLog !== undefined && typeof ownLog !== 'function') throw new InvalidArgumentError(`earlyStopping: log must be a function, got ${describe(ownLog)}`)
  if (typeof restoreBest !== 'boolean') throw new InvalidArgumentError(`earlyStopping: restoreBest must be true or false, got ${describe(restoreBest)}`)
  let bestWeights: Record<string, Tensor> | undefined
  let epochsWithoutImprovement = 0
  const release = () => {
    for (const t of Object.values(bestWeights ?? {})) t.dispose()
    bestWeights = undefined
  }
  return {
    onTrainBegin() {
      release()
      best.reset()
      epochsWithoutImprovement = 0
    },
    onEpochEnd({ epoch, logs, model, stopTraining, log: fitLog }) {
      const log = ownLog ?? fitLog
      if (best.update(epoch, logs)) {
        epochsWithoutImprovement = 0
        if (restoreBest) bestWeights = copyState(model.stateDict(), bestWeights)
        return
      }
      epochsWithoutImprovement += 1
      if (epochsWithoutImprovement >= patience) {
        const bestText = best.best === undefined ? 'no epoch gave a number' : `best ${best.best.toFixed(4)} in epoch ${best.bestEpoch + 1}`
        log(`Early stopping after epoch ${epoch + 1}: ${monitor} has not improved for ${epochsWithoutImprovement} epoch(s) (${bestText})`)
        stopTraining()
      }
    },
    onTrainEnd({ epoch, model, log: fitLog }) {
      const log = ownLog ?? fitLog
      try {
        if (bestWeights !== undefined && best.bestEpoch !== epoch - 1) {
          model.loadStateDict(bestWeights)
          log(`Restored the weights of epoch ${best.bestEpoch + 1} (${monitor} ${best.best?.toFixed(4)})`)
        }
      } finally {
        release()
      }
    },
  }
}

/** `state` copied into `into`'s tensors (the copies of an earlier epoch), or into new copies; `state`'s views are released. */
function copyState(state: Record<string, Tensor>, into: Record<string, Tensor> | undefined): Record<string, Tensor> {
  return noGrad(() => {
    const copies: Record<string, Tensor> = {}
    for (const [key, tensor] of Object.entries(state)) {
      copies[key] = into?.[key] !== undefined ? into[key].copy_(tensor) : tensor.clone()
      tensor.dispose()
    }
    return copies
  })
}
