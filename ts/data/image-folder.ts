import { readdirSync, realpathSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { FerriteError, InvalidArgumentError, IoError } from '../errors'
import { native } from '../native'
import type { Compose } from '../transforms'
import { type Batch, ImageDataset } from './dataset'

/** The extensions `ImageFolder` counts as images by default: the formats Ferrite decodes. */
export const IMG_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp']

/** Options of {@link ImageFolder}. */
export interface ImageFolderOptions {
  /** Transforms applied to each image, e.g. `T.compose([T.centerCrop(224), T.toTensor()])`; none gives raw 0-255 floats. */
  transform?: Compose
  /** File name endings counted as images, compared case-insensitively; other files are ignored. */
  extensions?: readonly string[]
  /**
   * Decode each batch's files when the loader assembles it (default `true`, as torchvision does),
   * so that memory follows the batch, not the data set; `false` decodes every image once, up
   * front, and keeps the pixels: faster epochs for small images that fit in memory.
   */
  lazy?: boolean
  /** Turn photos upright by their EXIF orientation tag, like PIL's `ImageOps.exif_transpose` (default false, as `Image.open`). */
  exifOrientation?: boolean
  /**
   * A file that cannot be read or decoded: `'throw'` (default) raises an `IoError` naming it;
   * `'skip'` leaves it out (a batch is made of the others) and lists it in {@link ImageFolder.skipped}.
   */
  onError?: 'throw' | 'skip'
}

/** A sample: an image file and the index of its class. */
export type Sample = [path: string, target: number]

/**
 * Images in one folder per class, like `torchvision.datasets.ImageFolder`:
 *
 * ```
 * root/cat/001.png
 * root/cat/kittens/002.jpg
 * root/dog/003.png
 * ```
 *
 * Classes are the subfolders of `root`, sorted as Python's `sorted()` sorts them (by code point);
 * a class's images are found in its folder and every folder below it (links followed), in
 * torchvision's order: folder by folder in sorted path order, files sorted by name within each.
 * Files are PNG, JPEG or WebP, told apart by their content; each is converted to RGB. By default
 * a batch's files are decoded natively, in parallel, when the data loader assembles the batch;
 * with `lazy: false` every image is decoded once, up front, and held as bytes.
 */
export class ImageFolder extends ImageDataset {
  /** The folder holding one subfolder per class. */
  readonly root: string
  /** File name endings counted as images. */
  readonly extensions: readonly string[]
  /** Every image file and its class index, in dataset order (without the skipped files when not lazy). */
  readonly samples: readonly Sample[]
  /** Whether files are decoded batch by batch. */
  readonly lazy: boolean
  readonly #skippedUpFront: readonly string[]
  #warned = false

  constructor(root: string, { transform, extensions = IMG_EXTENSIONS, lazy = true, exifOrientation = false, onError = 'throw' }: ImageFolderOptions = {}) {
    if (!Array.isArray(extensions) || extensions.length === 0 || extensions.some((e) => typeof e !== 'string' || e === '')) {
      throw new InvalidArgumentError(`ImageFolder: extensions must be a non-empty array of file endings such as '.png', got ${String(extensions)}`)
    }
    if (onError !== 'throw' && onError !== 'skip') throw new InvalidArgumentError(`ImageFolder: onError must be 'throw' or 'skip', got ${String(onError)}`)
    const classes = findClasses(root)
    const found = findSamples(root, classes, extensions)
    const paths = found.map(([path]) => path)
    const targets = found.map(([, target]) => target)
    const options = { exifOrientation: exifOrientation === true, skipErrors: onError === 'skip' }
    let samples = found
    let skippedUpFront: string[] = []
    let set
    if (lazy) {
      set = new native.NativeImageFiles(paths, targets, options)
    } else {
      set = native.NativeImageSet.fromImageFiles(paths, targets, options)
      const skipped = new Set(set.skippedPositions())
      samples = found.filter((_, i) => !skipped.has(i))
      skippedUpFront = [...skipped].map((i) => paths[i])
    }
    super(set, classes, transform)
    this.root = root
    this.extensions = [...extensions]
    this.samples = samples
    this.lazy = lazy
    this.#skippedUpFront = skippedUpFront
  }

  /** The files left out so far with `onError: 'skip'`: found while decoding batches when lazy, else at construction. */
  get skipped(): readonly string[] {
    return this.native instanceof native.NativeImageFiles ? this.native.skipped() : this.#skippedUpFront
  }

  /** The transformed images at `indices` and their labels; with `onError: 'skip'`, files that fail are left out. */
  override async getBatch(indices: number[], seed: number): Promise<Batch> {
    const batch = await super.getBatch(indices, seed)
    if (!this.#warned && this.skipped.length > 0) {
      this.#warned = true
      process.emitWarning(`ImageFolder: skipped ${this.skipped[0]}, which cannot be read; dataset.skipped lists every file skipped`)
    }
    return batch
  }
}

/** The class folders of `root`, in Python's sorted order. */
function findClasses(root: string): string[] {
  let isFolder: boolean
  try {
    isFolder = statSync(root).isDirectory()
  } catch (error) {
    throw ioError(root, error)
  }
  if (!isFolder) throw new IoError(`ImageFolder: ${root}: not a folder`)
  const classes = list(root).filter((name) => isDirectory(join(root, name)))
  if (classes.length === 0) throw new IoError(`ImageFolder: Couldn't find any class folder in ${root}.`)
  return sortedByCodePoint(classes)
}

/** Every image of every class, class by class, in torchvision's `make_dataset` order. */
function findSamples(root: string, classes: string[], extensions: readonly string[]): Sample[] {
  const endings = extensions.map((e) => e.toLowerCase())
  const samples: Sample[] = []
  const empty: string[] = []
  classes.forEach((name, target) => {
    const before = samples.length
    // Python: `for root, _, fnames in sorted(os.walk(dir, followlinks=True)): for fname in sorted(fnames)`.
    const folders = walk(join(root, name), new Set())
    const order = sortedByCodePoint(folders.map(([folder]) => folder))
    const filesOf = new Map(folders)
    for (const folder of order) {
      for (const file of sortedByCodePoint(filesOf.get(folder)!)) {
        const lower = file.toLowerCase()
        if (endings.some((e) => lower.endsWith(e))) samples.push([join(folder, file), target])
      }
    }
    if (samples.length === before) empty.push(name)
  })
  if (empty.length > 0) {
    throw new IoError(`ImageFolder: ${root}: Found no valid file for the classes ${empty.join(', ')}. Supported extensions are: ${extensions.join(', ')}`)
  }
  return samples
}

/**
 * `[folder, file names]` for `folder` and every folder below it, following links like
 * `os.walk(followlinks=True)` but never into a folder that contains the link (which would loop).
 */
function walk(folder: string, ancestors: Set<string>): [string, string[]][] {
  const real = realpathSync(folder)
  if (ancestors.has(real)) return []
  ancestors.add(real)
  const files: string[] = []
  const found: [string, string[]][] = [[folder, files]]
  for (const name of list(folder)) {
    const path = join(folder, name)
    if (isDirectory(path)) found.push(...walk(path, ancestors))
    else files.push(name)
  }
  ancestors.delete(real)
  return found
}

function list(folder: string): string[] {
  try {
    return readdirSync(folder)
  } catch (error) {
    throw ioError(folder, error)
  }
}

/**
 * Like Python's `os.path.isdir`: links are followed, and a link that is broken or loops (ELOOP) is
 * not a folder; one named like an image is then reported by the decoder, naming its path.
 */
function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false
  } catch {
    return false
  }
}

/** Python's `sorted()` for strings compares code points; UTF-8 bytes sort the same way, UTF-16 units do not. */
function sortedByCodePoint(names: string[]): string[] {
  return names
    .map((name) => ({ name, key: Buffer.from(name) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ name }) => name)
}

function ioError(path: string, error: unknown): FerriteError {
  const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message
  return new IoError(`ImageFolder: ${path}: ${reason}`, { cause: error })
}
