import { fromNativeError, IndexOutOfRangeError } from '../errors'
import type { NativeImageSet, NativeTensor } from '../native'
import { Tensor } from '../tensor'
import type { Compose } from '../transforms'

/** A map-style dataset: `length` items, read by index. */
export abstract class Dataset<T> {
  abstract get length(): number
  abstract get(index: number): T
}

/** A batch: inputs stacked along a new first dim, and their labels. */
export type Batch = [images: Tensor, targets: Tensor]

/**
 * Labelled images decoded once and held natively as bytes. Items and batches are produced by the
 * native transform pipeline; batches never pass through JS element by element.
 */
export class ImageDataset extends Dataset<[Tensor, number]> {
  /** Class names, index = label. */
  readonly classes: string[]
  readonly classToIdx: Record<string, number>
  transform: Compose | undefined
  /** @internal */
  readonly native: NativeImageSet
  #targets: number[] | undefined

  /** @internal */
  constructor(set: NativeImageSet, classes: string[], transform: Compose | undefined) {
    super()
    this.native = set
    this.classes = classes
    this.classToIdx = Object.fromEntries(classes.map((c, i) => [c, i]))
    this.transform = transform
  }

  get length(): number {
    return this.native.length
  }

  /** The label of every image, in order. */
  get targets(): number[] {
    this.#targets ??= this.native.labels()
    return this.#targets!
  }

  /** The transformed image `[C, H, W]` and its label. Random transforms draw from `seed`. */
  get(index: number, seed = 0): [Tensor, number] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new IndexOutOfRangeError(`dataset: index ${index} is out of range for a dataset of ${this.length} images`)
    }
    const [images, labels] = this.native.loadBatch([index], this.specs(), seed).map((h: NativeTensor) => new Tensor(h))
    const image = images.squeeze(0)
    images.dispose()
    const label = labels.item()
    labels.dispose()
    return [image, label]
  }

  /** The transformed images at `indices`, stacked, with their labels; prepared off the JS thread. */
  async getBatch(indices: number[], seed: number): Promise<Batch> {
    const r = await this.native.loadBatchAsync(indices, this.specs(), seed)
    if (r.errorCode !== undefined && r.errorCode !== null) {
      throw fromNativeError(Object.assign(new Error(r.errorMessage ?? ''), { code: r.errorCode }))
    }
    return [new Tensor(r.images!), new Tensor(r.labels!)]
  }

  private specs() {
    return (this.transform?.transforms ?? []).map(({ toString: _, ...spec }) => spec)
  }
}
