/** The callback behind `fit`'s own output: the log lines and the progress bar. */
import { StepLogger } from '../progress'
import type { Callback } from './callback'

/** Options of {@link progressLogger}: `fit`'s options of the same names. */
export interface ProgressLoggerOptions {
  log: (line: string) => void
  logEvery: number
  progress: boolean
}

/**
 * The tutorial's lines (`Epoch 1/10:`, `Step [100/500] Train Loss: ...`, `Accuracy on Test Set:
 * ...`) and, on a terminal, the progress bar: the callback `fit` puts first.
 */
export function progressLogger(options: ProgressLoggerOptions): Callback {
  let steps: StepLogger | undefined
  return {
    onEpochBegin({ epoch, epochs, batches }) {
      options.log(`Epoch ${epoch + 1}/${epochs}:`)
      steps = new StepLogger(batches, `Epoch ${epoch + 1}/${epochs}`, options)
    },
    onBatchEnd({ batch, logs }) {
      steps?.update(batch + 1, logs.loss, logs.size)
    },
    onEpochEnd({ logs }) {
      steps?.clear()
      if (logs.testAccuracy !== undefined) options.log(`Accuracy on Test Set: ${(100 * logs.testAccuracy).toFixed(4)} %`)
    },
  }
}
