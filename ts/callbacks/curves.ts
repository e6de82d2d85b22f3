/** `plotCurves`: the curves chart of `fit`'s history, written when training ends. */
import { InvalidArgumentError } from '../errors'
import { plotCurves as plotCurvesFile } from '../train'
import { describe } from '../validate'
import type { Callback } from './callback'

/**
 * Writes `ft.plotCurves`' chart of the train loss and test accuracy to `path` when training ends,
 * as `ferrite train` does with its `curves.png`.
 */
export function plotCurves(path: string): Callback {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`plotCurves: path must be a non-empty string, got ${describe(path)}`)
  return {
    async onTrainEnd({ history }) {
      await plotCurvesFile(history, path)
    },
  }
}
