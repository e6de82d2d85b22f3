/** `tensorBoard`: `fit`'s losses, accuracy and learning rate in TensorBoard event files, like Keras's `TensorBoard` callback. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from '../errors'
import { SummaryWriter, type SummaryWriterOptions } from '../tensorboard'
import { plotCurves } from '../train'
import { describe } from '../validate'
import type { Callback, EpochLogs } from './callback'

/** Options of {@link tensorBoard}. */
export interface TensorBoardOptions extends SummaryWriterOptions {
  /** Record the step scalars every this many optimizer steps (default 1: every step). */
  every?: number
}

/** Per-epoch scalars: the epoch log each comes from, under its TensorBoard tag. */
const EPOCH_TAGS: [keyof EpochLogs, string][] = [
  ['trainLoss', 'epoch/trainLoss'],
  ['testLoss', 'epoch/testLoss'],
  ['testAccuracy', 'epoch/testAccuracy'],
  ['lr', 'epoch/lr'],
  ['imagesPerSecond', 'epoch/imagesPerSecond'],
]

/**
 * Writes a new event file in `logDir` for each `fit` (`tensorboard --logdir <logDir>` shows it):
 * `step/trainLoss` and `step/lr` at every `every`-th optimizer step (step = steps taken in the
 * run), `epoch/trainLoss`, `epoch/testLoss`, `epoch/testAccuracy`, `epoch/lr` and
 * `epoch/imagesPerSecond` after each epoch (step = epochs done), and the curves chart as the
 * image `curves` when training ends. The file is flushed after each epoch.
 *
 * ```ts
 * await ft.fit(model, { ..., callbacks: [ft.callbacks.tensorBoard('runs/tb')] })
 * ```
 */
export function tensorBoard(logDir: string, options: TensorBoardOptions = {}): Callback {
  if (typeof logDir !== 'string' || logDir === '') throw new InvalidArgumentError(`tensorBoard: logDir must be a non-empty string, got ${describe(logDir)}`)
  const { every = 1, ...writerOptions } = options
  if (!Number.isSafeInteger(every) || every < 1) throw new InvalidArgumentError(`tensorBoard: every must be a positive integer, got ${describe(every)}`)
  let writer: SummaryWriter | undefined
  return {
    onTrainBegin() {
      writer = new SummaryWriter(logDir, writerOptions)
    },
    onBatchEnd({ step, logs }) {
      if (step % every !== 0) return
      writer?.addScalar('step/trainLoss', logs.loss, step)
      writer?.addScalar('step/lr', logs.lr, step)
    },
    onEpochEnd({ epoch, logs }) {
      for (const [key, tag] of EPOCH_TAGS) {
        const value = logs[key]
        if (value !== undefined) writer?.addScalar(tag, value, epoch + 1)
      }
      writer?.flush()
    },
    async onTrainEnd({ epoch, history }) {
      if (writer === undefined) return
      if (history.trainLoss.length > 0) writer.addImage('curves', await curvesPng(history), epoch)
      writer.close()
      writer = undefined
    },
  }
}

/** The bytes of `plotCurves`' chart, drawn in a temporary folder. */
async function curvesPng(history: Parameters<typeof plotCurves>[0]): Promise<Buffer> {
  const folder = mkdtempSync(join(tmpdir(), 'ferrite-curves-'))
  try {
    const path = join(folder, 'curves.png')
    await plotCurves(history, path)
    return readFileSync(path)
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}
