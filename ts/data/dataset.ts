import { fromNativeError, IndexOutOfRangeError, InvalidArgumentError, IoError } from '../errors'
import type { NativeImageFiles, NativeImageSet } from '../native'
import { stack, tensor } from '../creation'
import { Tensor } from '../tensor'
import type { Compose } from '../transforms'
import { describe } from '../validate'

/** A batch: inputs stacked along a new first dim, and their labels. */
export type Batch = [images: Tensor, targets: Tensor]

/** An item of a labelled dataset: an input tensor and its class index. */
export type Item = [input: Tensor, target: number]

/**
 * A map-style dataset of labelled items, like `torch.utils.data.Dataset`: implement `length`
 * and `get`. The data loader batches items with `getBatch`; datasets backed by native data
 * override it to build whole batches natively.
 */
export abstract class Dataset {
  /** Number of items, like `__len__`. */
  abstract get length(): number
  /** The item at `index` in `[0, length)`, like `__getitem__`. */
  abstract get(index: number): Item

  /** The items at `indices`, stacked (`seed` is for datasets with random transforms). */
  async getBatch(indices: number[], _seed: number): Promise<Batch> {
    const got: unknown[] = []
    try {
      for (const i of indices) {
        got.push(this.get(i))
        checkItem(this, i, got.at(-1))
      }
      const items = got as Item[]
      return [stack(items.map(([input]) => input)), tensor(items.map(([, target]) => target), { dtype: 'int64' })]
    } finally {
      for (const item of got) {
        const input: unknown = Array.isArray(item) ? item[0] : item
        if (input instanceof Tensor) input.dispose()
      }
    }
  }
}

/** An item must be `[Tensor, integer label]`: collating anything else would fail obscurely or truncate the label. */
function checkItem(dataset: Dataset, index: number, item: unknown): void {
  const where = `${dataset.constructor.name}.get(${index})`
  if (!Array.isArray(item) || item.length !== 2 || !(item[0] instanceof Tensor)) {
    const got = Array.isArray(item) ? `[${item.map((x) => describe(x)).join(', ')}]` : describe(item)
    throw new InvalidArgumentError(`${where} returned ${got}; expected [input: Tensor, label: integer]`)
  }
  if (!Number.isSafeInteger(item[1])) {
    throw new InvalidArgumentError(`${where} returned the label ${describe(item[1])}; expected an integer class index`)
  }
}

/** Some of a dataset's items, by index, like `torch.utils.data.Subset`; batches still come from the dataset. */
export class Subset extends Dataset {
  /** The dataset the items come from. */
  readonly dataset: Dataset
  /** The indices into `dataset`, in subset order. */
  readonly indices: readonly number[]

  constructor(dataset: Dataset, indices: readonly number[]) {
    super()
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= dataset.length) {
        throw new IndexOutOfRangeError(`Subset: index ${i} is out of range for a dataset of ${dataset.length} items`)
      }
    }
    this.dataset = dataset
    this.indices = [...indices]
  }

  /** Number of indices. */
  get length(): number {
    return this.indices.length
  }

  /** Item `index` of the subset: `dataset.get(indices[index])`. */
  get(index: number): Item {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new IndexOutOfRangeError(`Subset: index ${index} is out of range for a subset of ${this.length} items`)
    }
    return this.dataset.get(this.indices[index])
  }

  override getBatch(indices: number[], seed: number): Promise<Batch> {
    return this.dataset.getBatch(indices.map((i) => this.indices[i]), seed)
  }
}

/**
 * Labelled images decoded once and held natively as bytes. Items and batches are produced by the
 * native transform pipeline; batches never pass through JS element by element.
 */
export class ImageDataset extends Dataset {
  /** Class names, index = label. */
  readonly classes: string[]
  /** Class name to label, like torchvision's `class_to_idx`. */
  readonly classToIdx: Record<string, number>
  /** The transforms applied to every image; without any, images are `[C, H, W]` float32 with raw 0-255 values. */
  transform: Compose | undefined
  /** @internal */
  readonly native: NativeImageSet | NativeImageFiles
  #targets: number[] | undefined

  /** @internal */
  constructor(set: NativeImageSet | NativeImageFiles, classes: string[], transform: Compose | undefined) {
    super()
    this.native = set
    this.classes = classes
    this.classToIdx = Object.fromEntries(classes.map((c, i) => [c, i]))
    this.transform = transform
  }

  /** Number of images. */
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
    const [images, labels] = this.native.loadBatch([index], this.specs(), seed).map((h) => new Tensor(h))
    if (images.shape[0] === 0) {
      images.dispose()
      labels.dispose()
      throw new IoError(`dataset: image ${index} cannot be read and was skipped`)
    }
    const image = images.squeeze(0)
    images.dispose()
    const label = labels.item()
    labels.dispose()
    return [image, label]
  }

  /** The transformed images at `indices`, stacked, with their labels; prepared off the JS thread. */
  override async getBatch(indices: number[], seed: number): Promise<Batch> {
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
