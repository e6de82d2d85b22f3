/** The data the commands read: CIFAR-10's binary batches or the tutorial's image folders, with its transforms. */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as ft from '../index'
import { integerOption, type OptionSpec, type Values } from './arguments'

const DATA_HELP =
  'CIFAR-10 binary batches (train.bin and test.bin, or data_batch_1..5.bin and test_batch.bin, also in cifar-10-batches-bin/), ' +
  "or the tutorial's image folders: train/<class>/*.png and test/<class>/*.png"

/** `--data`, which `train` and `evaluate` require. */
export const DATA: OptionSpec = { name: 'data', value: '<dir>', help: `${DATA_HELP} (required)` }

/** The help of `--limit`, which `evaluate` extends. */
export const LIMIT_HELP = 'use only n images of each split, the same number from each class (n/10 for CIFAR-10), for quick runs'

/** The `--limit` count, or undefined for all the images. */
export function limitOption(values: Values): number | undefined {
  return values.limit === undefined ? undefined : integerOption(values, 'limit', 0, 1)
}

// The tutorial's CIFAR-10 statistics and augmentation; `export` writes them beside the ONNX file.
export const MEAN = [0.49, 0.48, 0.45]
export const STD = [0.25, 0.24, 0.26]
export const INPUT_SHAPE = [3, 32, 32]
const T = ft.transforms
export const trainTransform = (augment: boolean) =>
  T.compose([...(augment ? [T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32)] : []), T.toTensor(), T.normalize(MEAN, STD)])
export const testTransform = () => T.compose([T.toTensor(), T.normalize(MEAN, STD)])

/** The first `n` indices taking classes in turn (class 0's first image, class 1's first, ...), in file order. */
export function balancedIndices(targets: readonly number[], n: number): number[] {
  if (n >= targets.length) return targets.map((_, i) => i)
  const byClass = new Map<number, number[]>()
  targets.forEach((t, i) => {
    const list = byClass.get(t)
    if (list) list.push(i)
    else byClass.set(t, [i])
  })
  const queues = [...byClass.entries()].sort(([a], [b]) => a - b).map(([, indices]) => indices)
  const picked: number[] = []
  for (let round = 0; picked.length < n; round++) {
    for (const queue of queues) if (round < queue.length && picked.length < n) picked.push(queue[round])
  }
  return picked.sort((a, b) => a - b)
}

const isFolder = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true

/**
 * One split of the data under `root`, cut to `limit` images when given: CIFAR-10's binary batches
 * when `root` holds any, else the tutorial's `train/` and `test/` image folders when present.
 */
export function loadSplit(root: string, train: boolean, transform: ft.transforms.Compose, limit: number | undefined): ft.data.Dataset {
  if (!existsSync(root)) throw new ft.IoError(`data folder not found: ${root}`)
  if (!isFolder(root)) throw new ft.IoError(`--data ${root} is not a folder; expected a folder holding ${DATA_HELP}`)
  const hasBatches = [root, join(root, 'cifar-10-batches-bin')].some((dir) => isFolder(dir) && readdirSync(dir).some((f) => f.endsWith('.bin')))
  const folder = join(root, train ? 'train' : 'test')
  const dataset = !hasBatches && isFolder(folder) ? new ft.data.ImageFolder(folder, { transform }) : new ft.data.CIFAR10({ root, train, transform })
  if (dataset.classes.length > 10) throw new ft.IoError(`${root}: ${dataset.classes.length} classes found, but the models classify 10`)
  return limit === undefined || limit >= dataset.length ? dataset : new ft.data.Subset(dataset, balancedIndices(dataset.targets, limit))
}
