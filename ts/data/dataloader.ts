import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Dataset, type Batch } from './dataset'

export interface DataLoaderOptions {
  batchSize?: number
  /** Reshuffle the order every epoch. */
  shuffle?: boolean
  /** Seeds shuffling and random transforms; drawn from `ft.manualSeed`'s generator if absent. */
  seed?: number
  /** Drop the last batch when it is smaller than `batchSize`. */
  dropLast?: boolean
}

/** A small, fast, seedable generator (mulberry32) for shuffling indices. */
function generator(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Iterates a dataset in batches, like `torch.utils.data.DataLoader`:
 *
 * ```ts
 * for await (const [images, targets] of loader) { ... }
 * ```
 *
 * Each epoch (each `for await`) reshuffles when `shuffle` is set; the next batch is assembled
 * natively on a worker thread while the current one is being used.
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly dataset: Dataset
  readonly batchSize: number
  readonly shuffle: boolean
  readonly dropLast: boolean
  /** Seeds shuffling and augmentation, together with the epoch. */
  seed: number
  /** Epochs started so far; it varies the shuffle and the augmentation between epochs. */
  epoch = 0

  constructor(dataset: Dataset, { batchSize = 1, shuffle = false, seed, dropLast = false }: DataLoaderOptions = {}) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`)
    if (!(dataset instanceof Dataset)) {
      throw new InvalidArgumentError('DataLoader: expected a dataset (ft.data.ImageFolder, ft.data.CIFAR10, or a subclass of ft.data.Dataset)')
    }
    this.dataset = dataset
    this.batchSize = batchSize
    this.shuffle = shuffle
    this.dropLast = dropLast
    this.seed = seed ?? drawSeed()
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize
    return this.dropLast ? Math.floor(n) : Math.ceil(n)
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    const epoch = this.epoch++
    const order = Array.from({ length: this.dataset.length }, (_, i) => i)
    if (this.shuffle) {
      const random = generator(this.seed * 1_000_003 + epoch)
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[order[i], order[j]] = [order[j], order[i]]
      }
    }
    const batches = this.length
    const load = (b: number) => {
      const indices = order.slice(b * this.batchSize, (b + 1) * this.batchSize)
      return this.dataset.getBatch(indices, (this.seed * 1_000_003 + epoch) * 100_003 + b)
    }
    let next = batches > 0 ? load(0) : undefined
    for (let b = 0; b < batches; b++) {
      const current = await next!
      next = b + 1 < batches ? load(b + 1) : undefined
      yield current
    }
  }
}

function drawSeed(): number {
  const t = native.randint(0, 2 ** 31 - 1, [1], 'cpu')
  const seed = t.item()
  t.dispose()
  return seed
}
