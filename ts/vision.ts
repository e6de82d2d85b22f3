/**
 * Image files, like PIL's `Image.open(path).convert(mode)` and torchvision's `save_image`: PNG
 * and JPEG in and out, and a titled grid of pictures for looking at results side by side.
 * Decoding, colour conversion, scaling and drawing all run natively.
 *
 * ```ts
 * const gray = ft.vision.readImage('photo.jpg', { mode: 'L' }) // [1, H, W], values 0..255
 * ft.vision.saveImageGrid([gray, edges], 'out/edges.png', { titles: ['original', 'edges'] })
 * ```
 */
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError } from './errors'
import { native } from './native'
import { Tensor } from './tensor'
import { checkInt, checkLimit, describe } from './validate'

/** A file path, or a `file:` URL such as `new URL('./photo.jpg', import.meta.url)`. */
export type ImagePath = string | URL

/** The channels {@link readImage} returns, named after PIL's modes. */
export type ImageMode = 'RGB' | 'L'

/** Options of {@link readImage}. */
export interface ReadImageOptions {
  /** `'RGB'` (the default) gives `[3, H, W]`; `'L'` gives `[1, H, W]` luma, as PIL's `convert('L')`. */
  mode?: ImageMode
}

/** Options of {@link saveImageGrid}. */
export interface ImageGridOptions {
  /** One title per image, centred above it (8x8 bitmap font; missing characters show as boxes). */
  titles?: readonly string[]
  /** Pictures per row before wrapping; all in one row by default. */
  columns?: number
  /**
   * Stretch each image's own min..max over black..white, like matplotlib's `imshow` autoscaling
   * (default true). When false, values are clamped to 0..255 and rounded.
   */
  normalize?: boolean
  /** Whole-number magnification of pictures (nearest neighbour), text and margins (default 1). */
  scale?: number
}

/**
 * Reads an 8-bit PNG, JPEG or WebP (gray, gray + alpha, RGB, RGBA or palette; alpha is dropped) into a
 * float32 tensor of shape `[C, H, W]` with values 0..255. The format comes from the file's
 * bytes, not its name. `'L'` uses PIL's rounded ITU-R 601-2 luma, so PNGs match
 * `np.asarray(Image.open(path).convert('L'))` exactly; JPEG decoders may differ from PIL's by
 * rounding. Throws an `IoError` naming the file when it is missing, not an image, truncated,
 * corrupt, not 8-bit or larger than {@link getMaxImagePixels}.
 */
export function readImage(path: ImagePath, { mode = 'RGB' }: ReadImageOptions = {}): Tensor {
  if (mode !== 'RGB' && mode !== 'L') {
    throw new InvalidArgumentError(`readImage: mode must be 'RGB' or 'L', got ${describe(mode)}`)
  }
  return new Tensor(native.readImage(filePath('readImage', path), mode))
}

/** Options of {@link writeImage}. */
export interface WriteImageOptions {
  /** JPEG quality 1..100, as PIL's `save(path, quality=...)` (default 75); only for `.jpg`/`.jpeg` files. */
  quality?: number
}

/**
 * Writes a `[C, H, W]` (C = 1 or 3) or `[H, W]` tensor as an 8-bit gray or RGB image, values
 * clamped to 0..255 and rounded. The format comes from the extension, as with PIL's
 * `Image.save`: `.png`, or `.jpg`/`.jpeg` (baseline JPEG at `quality`). The file is replaced
 * atomically: readers see the old file or the new one, never a partial write.
 */
export function writeImage(image: Tensor, path: ImagePath, { quality }: WriteImageOptions = {}): void {
  const checkedQuality = quality === undefined ? undefined : checkInt('writeImage', 'quality', quality)
  if (checkedQuality !== undefined && (checkedQuality < 1 || checkedQuality > 100)) {
    throw new InvalidArgumentError(`writeImage: quality must be 1 to 100, as PIL's; got ${checkedQuality}`)
  }
  native.writeImage(tensorArgument('writeImage', 'image', image).handle, filePath('writeImage', path), checkedQuality)
}

/**
 * Saves `images` (each `[C, H, W]` with C = 1 or 3, or `[H, W]`) side by side on a white page
 * as one PNG, like a row of matplotlib subplots showing `imshow(x, cmap='gray')` with a
 * `set_title` each: left to right, wrapping after `columns`, each picture autoscaled on its own
 * (see {@link ImageGridOptions.normalize}) with its title centred above it. The page is RGB when
 * any image has colour, else gray, and is written atomically.
 */
export function saveImageGrid(images: readonly Tensor[], path: ImagePath, options: ImageGridOptions = {}): void {
  const op = 'saveImageGrid'
  if (!Array.isArray(images)) throw new InvalidArgumentError(`${op}: images must be an array of tensors, got ${describe(images)}`)
  const handles = images.map((image, i) => tensorArgument(op, `images[${i}]`, image).handle)
  const { titles, columns, normalize = true, scale = 1 } = options
  if (titles !== undefined && !(Array.isArray(titles) && titles.every((t) => typeof t === 'string'))) {
    throw new InvalidArgumentError(`${op}: titles must be an array of strings, got ${describe(titles)}`)
  }
  if (typeof normalize !== 'boolean') throw new InvalidArgumentError(`${op}: normalize must be a boolean, got ${describe(normalize)}`)
  native.saveImageGrid(handles, filePath(op, path), {
    titles: titles === undefined ? undefined : [...titles],
    columns: columns === undefined ? undefined : positive(op, 'columns', columns),
    normalize,
    scale: positive(op, 'scale', scale),
  })
}

/**
 * The most pixels (width x height) an image may have for {@link readImage} and image folders to
 * decode it. Larger images throw an `IoError` naming the file and its size, read from the header
 * before anything is decoded. The default is PIL's `Image.MAX_IMAGE_PIXELS` (89,478,485), or
 * `FERRITE_MAX_IMAGE_PIXELS` when set.
 */
export function getMaxImagePixels(): number {
  return native.maxImagePixels()
}

/** Sets the most pixels an image may have to be decoded (`Infinity` for no limit); `null` restores the default. */
export function setMaxImagePixels(pixels: number | null): void {
  native.setMaxImagePixels(checkLimit('setMaxImagePixels', 'pixels', pixels))
}

function filePath(op: string, path: ImagePath): string {
  if (path instanceof URL) return fileURLToPath(path)
  if (typeof path !== 'string' || path === '') {
    throw new InvalidArgumentError(`${op}: path must be a non-empty string or a file URL, got ${describe(path)}`)
  }
  return path
}

function tensorArgument(op: string, name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw new InvalidArgumentError(`${op}: ${name} must be a Tensor, got ${describe(value)}`)
  return value
}

// The binding takes u32: a negative count would wrap around instead of failing.
function positive(op: string, name: string, value: number): number {
  if (checkInt(op, name, value) < 1 || value > 0xffff_ffff) {
    throw new InvalidArgumentError(`${op}: ${name} must be a positive integer, got ${value}`)
  }
  return value
}
