import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Dataset, type Batch } from './dataset'

/** Options of {@link DataLoader}, with PyTorch's defaults. */
export interface DataLoaderOptions {
  /** Items per batch (default 1). */
  batchSize?: number
  /** Reshuffle the order every epoch (default false). */
  shuffle?: boolean
  /**
   * Seeds shuffling and random transforms: a non-negative integer up to `Number.MAX_SAFE_INTEGER`;
   * drawn from `ft.manualSeed`'s generator if absent.
   */
  seed?: number
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
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

/** Two 32-bit words mixed into one (murmur3's finaliser), so that nearby inputs give unrelated outputs. */
function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The 32-bit seed of one epoch, from every bit of a seed up to 2^53. */
function seedOfEpoch(seed: number, epoch: number): number {
  return mix32(mix32(seed >>> 0, Math.floor(seed / 2 ** 32)), epoch)
}

/**
 * The seed of batch `b` of an epoch: distinct for every batch of the epoch, and an integer below
 * 2^53, so that the native side receives it exactly.
 */
function seedOfBatch(epochSeed: number, b: number): number {
  return epochSeed * 2 ** 21 + (b % 2 ** 21)
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
  /** The dataset batches are drawn from. */
  readonly dataset: Dataset
  /** Items per batch. */
  readonly batchSize: number
  /** Whether each epoch visits the items in a new random order. */
  readonly shuffle: boolean
  /** Whether a final batch smaller than `batchSize` is skipped. */
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
    if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0)) {
      throw new InvalidArgumentError(`DataLoader: seed must be a non-negative integer up to Number.MAX_SAFE_INTEGER, got ${seed}`)
    }
    this.seed = seed ?? drawSeed()
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize
    return this.dropLast ? Math.floor(n) : Math.ceil(n)
  }

  /** One epoch of `[inputs, targets]` batches, for `for await`; each call starts the next epoch. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    const epochSeed = seedOfEpoch(this.seed, this.epoch++)
    const order = Array.from({ length: this.dataset.length }, (_, i) => i)
    if (this.shuffle) {
      const random = generator(epochSeed)
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[order[i], order[j]] = [order[j], order[i]]
      }
    }
    const batches = this.length
    const load = (b: number) => {
      const indices = order.slice(b * this.batchSize, (b + 1) * this.batchSize)
      return this.dataset.getBatch(indices, seedOfBatch(epochSeed, b))
    }
    let next = batches > 0 ? load(0) : undefined
    try {
      for (let b = 0; b < batches; b++) {
        const current = await next!
        next = b + 1 < batches ? load(b + 1) : undefined
        yield current
      }
    } finally {
      // Left early (break, return, throw): release the batch prepared ahead before the loop's exit
      // completes, so that no tensor of it appears after the loop (a failed load has nothing).
      const ahead = await next?.catch(() => undefined)
      ahead?.forEach((t) => t.dispose())
    }
  }
}

function drawSeed(): number {
  const t = native.randint(0, 2 ** 31 - 1, [1], 'cpu')
  const seed = native.item(t)
  native.release(t)
  return seed
}
