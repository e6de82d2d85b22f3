/**
 * Image transforms with torchvision's semantics: `T.compose([T.randomResizedCrop(224),
 * T.randomHorizontalFlip(), T.colorJitter({ brightness: 0.2 }), T.toTensor(),
 * T.normalize(T.IMAGENET_MEAN, T.IMAGENET_STD)])`. They run natively inside the data loader,
 * each image at its own size until a transform gives them one; randomness comes from the
 * loader's seed. The 8-bit arithmetic is that of torchvision's uint8 tensor path.
 */
import { InvalidArgumentError } from './errors'

/** One transform, as handed to the native pipeline. */
export interface Transform {
  /** Which transform this is; the fields below are set as it needs them. */
  readonly kind:
    | 'pad'
    | 'randomHorizontalFlip'
    | 'randomCrop'
    | 'centerCrop'
    | 'resize'
    | 'randomResizedCrop'
    | 'colorJitter'
    | 'randomRotation'
    | 'grayscale'
    | 'toTensor'
    | 'normalize'
    // The random transforms with their draw given (torchvision's functional `resized_crop`,
    // `adjust_*` in order, `rotate`): what the tests compare with torchvision.
    | 'resizedCrop'
    | 'adjustColor'
    | 'rotate'
  /** `pad`, `randomCrop`: pixels added as `[left, top, right, bottom]`. */
  readonly padding?: number[]
  /** `pad`, `randomCrop`: the byte value (0-255) of padded pixels. */
  readonly fill?: number
  /** `randomHorizontalFlip`: probability of flipping. */
  readonly p?: number
  /** `randomCrop`, `centerCrop`, `randomResizedCrop`, `resizedCrop`: the output `[height, width]`; `resize`: that or `[shorterSide]`. */
  readonly size?: number[]
  /** `resize`, `randomResizedCrop`, `resizedCrop`: antialiased bilinear when shrinking. */
  readonly antialias?: boolean
  /** `resize`: the longest the longer side may become. */
  readonly maxSize?: number
  /** `randomResizedCrop`: the range of the crop's area as a fraction of the image's. */
  readonly scale?: number[]
  /** `randomResizedCrop`: the range of the crop's aspect ratio (width / height). */
  readonly ratio?: number[]
  /** `resizedCrop`: the window `[top, left, height, width]`. */
  readonly crop?: number[]
  /** `colorJitter`: the range each factor is drawn from. */
  readonly brightness?: number[]
  readonly contrast?: number[]
  readonly saturation?: number[]
  readonly hue?: number[]
  /** `adjustColor`: adjustments applied in order. */
  readonly adjustments?: { kind: 'brightness' | 'contrast' | 'saturation' | 'hue'; factor: number }[]
  /** `randomRotation`: the range of the angle, in degrees counter-clockwise. */
  readonly degrees?: number[]
  /** `rotate`: the angle, in degrees counter-clockwise. */
  readonly angle?: number
  /** `randomRotation`, `rotate`: grow the canvas to hold the whole rotated image. */
  readonly expand?: boolean
  /** `grayscale`: 1 or 3. */
  readonly numOutputChannels?: number
  /** `randomCrop`: pad images smaller than `size` up to it instead of failing. */
  readonly padIfNeeded?: boolean
  /** `normalize`: per-channel mean subtracted. */
  readonly mean?: number[]
  /** `normalize`: per-channel standard deviation divided by. */
  readonly std?: number[]
  /** torchvision's repr, e.g. `RandomCrop(size=(32, 32), padding=None)`. */
  toString(): string
}

/** Transforms applied in order. */
export class Compose {
  /** The transforms, in the order they run. */
  readonly transforms: readonly Transform[]

  constructor(transforms: readonly Transform[]) {
    for (const t of transforms) {
      if (typeof t !== 'object' || t === null || typeof t.kind !== 'string') {
        throw new InvalidArgumentError('compose: expected transforms made by ft.transforms (pad, randomCrop, toTensor, ...)')
      }
    }
    this.transforms = [...transforms]
  }

  /** torchvision's layout: `Compose(\n    ToTensor()\n)`. */
  toString(): string {
    return `Compose(\n${this.transforms.map((t) => `    ${t}\n`).join('')})`
  }
}

/** Chains transforms into one pipeline, like `torchvision.transforms.Compose`; image transforms go before `toTensor()`. */
export function compose(transforms: readonly Transform[]): Compose {
  return new Compose(transforms)
}

/** A pixel value for padded or uncovered pixels: one byte, as the images are 8-bit until `toTensor()`. */
function byte(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new InvalidArgumentError(`${op}: ${name} must be a byte value 0-255, got ${v}`)
  return v
}

function nonNegativeInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`${op}: ${name} must be a non-negative integer, got ${v}`)
  return v
}

/** torchvision's padding argument: one value for all sides, [leftRight, topBottom], or [left, top, right, bottom]. */
function sides(op: string, padding: number | readonly number[]): number[] {
  const p = typeof padding === 'number' ? [padding] : [...padding]
  p.forEach((v) => nonNegativeInt(op, 'padding', v))
  if (p.length === 1) return [p[0], p[0], p[0], p[0]]
  if (p.length === 2) return [p[0], p[1], p[0], p[1]]
  if (p.length === 4) return p
  throw new InvalidArgumentError(`${op}: padding must have 1, 2 or 4 values, got ${p.length}`)
}

/** torchvision's size argument of crops: a number or `[size]` for a square, or `[height, width]`. */
function hw(op: string, size: number | readonly [number] | readonly [number, number]): number[] {
  const s = typeof size === 'number' ? [size, size] : size.length === 1 ? [size[0], size[0]] : [...size]
  if (s.length !== 2 || s.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new InvalidArgumentError(`${op}: size must be a positive integer or [height, width], got ${Array.isArray(size) ? `[${size.join(', ')}]` : String(size)}`)
  }
  return s
}

const pyTuple = (v: readonly (number | string)[]) => `(${v.join(', ')})`
/** A number as Python's repr prints a float: `30.0`, `0.75`. */
const pyFloat = (v: number) => (Number.isInteger(v) ? v.toFixed(1) : String(v))
const pyFloats = (v: readonly number[]) => v.map(pyFloat)

/** ImageNet's per-channel mean, for `normalize` with torchvision's pretrained weights. */
export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406])
/** ImageNet's per-channel standard deviation. */
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225])

function positiveInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`${op}: ${name} must be a positive integer, got ${v}`)
  return v
}

function range(op: string, name: string, v: readonly number[]): [number, number] {
  if (v.length !== 2 || v.some((x) => !Number.isFinite(x)) || v[0] > v[1]) {
    throw new InvalidArgumentError(`${op}: ${name} must be [min, max] with min <= max, got [${v.join(', ')}]`)
  }
  return [v[0], v[1]]
}

/** Pads every side with a constant `fill` (0-255). */
export function pad(padding: number | readonly number[], { fill = 0 }: { fill?: number } = {}): Transform {
  const sidesOf = sides('pad', padding)
  byte('pad', 'fill', fill)
  return { kind: 'pad', padding: sidesOf, fill, toString: () => `Pad(padding=${typeof padding === 'number' ? padding : pyTuple(padding)}, fill=${fill}, padding_mode=constant)` }
}

/** Mirrors the image left-right with probability `p`. */
export function randomHorizontalFlip(p = 0.5): Transform {
  if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`)
  return { kind: 'randomHorizontalFlip', p, toString: () => `RandomHorizontalFlip(p=${p})` }
}

/** Crops a random `size` window, after optional padding. */
export function randomCrop(
  size: number | readonly [number] | readonly [number, number],
  { padding, padIfNeeded = false, fill = 0 }: { padding?: number | readonly number[]; padIfNeeded?: boolean; fill?: number } = {},
): Transform {
  const s = hw('randomCrop', size)
  byte('randomCrop', 'fill', fill)
  return {
    kind: 'randomCrop',
    size: s,
    padding: padding === undefined ? [0, 0, 0, 0] : sides('randomCrop', padding),
    padIfNeeded,
    fill,
    toString: () => `RandomCrop(size=${pyTuple(s)}, padding=${padding === undefined ? 'None' : typeof padding === 'number' ? padding : pyTuple(padding)})`,
  }
}

/** Crops the central `size` window. */
export function centerCrop(size: number | readonly [number] | readonly [number, number]): Transform {
  const s = hw('centerCrop', size)
  return { kind: 'centerCrop', size: s, toString: () => `CenterCrop(size=${pyTuple(s)})` }
}

/** Height x width x channel bytes to a `[C, H, W]` float32 tensor in [0, 1]. */
export function toTensor(): Transform {
  return { kind: 'toTensor', toString: () => 'ToTensor()' }
}

/** `(x - mean) / std` per channel, after `toTensor()`. */
export function normalize(mean: readonly number[], std: readonly number[]): Transform {
  if (mean.length !== std.length || mean.length === 0) {
    throw new InvalidArgumentError(`normalize: mean and std need one value per channel, got ${mean.length} and ${std.length}`)
  }
  if ([...mean, ...std].some((v) => !Number.isFinite(v))) {
    throw new InvalidArgumentError(`normalize: mean and std must be finite numbers, got mean [${mean.join(', ')}] and std [${std.join(', ')}]`)
  }
  if (std.some((s) => s === 0)) throw new InvalidArgumentError('normalize: std must not be 0')
  return { kind: 'normalize', mean: [...mean], std: [...std], toString: () => `Normalize(mean=[${mean.join(', ')}], std=[${std.join(', ')}])` }
}

/** Options of {@link resize}. */
export interface ResizeOptions {
  /** Antialias when shrinking (torchvision's default); without it, plain bilinear from the 2 nearest pixels. */
  antialias?: boolean
  /** With one `size`: the longest the longer side may become; the shorter side shrinks to keep the aspect ratio. */
  maxSize?: number
}

/**
 * Bilinear resize: a number (or `[number]`) resizes the shorter side to it and keeps the aspect
 * ratio (the longer side becomes `int(size * long / short)`); `[height, width]` resizes to exactly that.
 */
export function resize(size: number | readonly [number] | readonly [number, number], { antialias = true, maxSize }: ResizeOptions = {}): Transform {
  const s =
    typeof size === 'number' || size.length === 1
      ? [positiveInt('resize', 'size', typeof size === 'number' ? size : size[0])]
      : hw('resize', size)
  if (maxSize !== undefined) {
    if (s.length !== 1) throw new InvalidArgumentError('resize: maxSize works with a single size (the shorter side), not [height, width]')
    if (positiveInt('resize', 'maxSize', maxSize) <= s[0]) {
      throw new InvalidArgumentError(`resize: maxSize (${maxSize}) must be larger than size (${s[0]})`)
    }
  }
  return {
    kind: 'resize',
    size: s,
    antialias,
    ...(maxSize === undefined ? {} : { maxSize }),
    toString: () =>
      `Resize(size=${typeof size === 'number' ? size : size.length === 1 ? `[${s[0]}]` : pyTuple(s)}, interpolation=bilinear, max_size=${maxSize ?? 'None'}, antialias=${antialias ? 'True' : 'False'})`,
  }
}

/** Options of {@link randomResizedCrop}. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area, as a fraction of the image's. */
  scale?: readonly [number, number]
  /** Range of the crop's aspect ratio (width / height), drawn log-uniformly. */
  ratio?: readonly [number, number]
  /** Antialias when shrinking. */
  antialias?: boolean
}

/**
 * Crops a window of random area and aspect ratio and resizes it to `size`, with torchvision's
 * sampling: up to 10 draws until the window fits, else the centred window of the clamped ratio.
 */
export function randomResizedCrop(
  size: number | readonly [number] | readonly [number, number],
  { scale = [0.08, 1], ratio = [3 / 4, 4 / 3], antialias = true }: RandomResizedCropOptions = {},
): Transform {
  const s = hw('randomResizedCrop', size)
  const sc = range('randomResizedCrop', 'scale', scale)
  const r = range('randomResizedCrop', 'ratio', ratio)
  if (sc[0] < 0 || r[0] <= 0) throw new InvalidArgumentError('randomResizedCrop: scale must be non-negative and ratio positive')
  const rounded = (v: number) => pyFloat(Math.round(v * 1e4) / 1e4)
  return {
    kind: 'randomResizedCrop',
    size: s,
    scale: sc,
    ratio: r,
    antialias,
    toString: () =>
      `RandomResizedCrop(size=${pyTuple(s)}, scale=${pyTuple(pyFloats(sc))}, ratio=${pyTuple(r.map(rounded))}, interpolation=bilinear, antialias=${antialias ? 'True' : 'False'})`,
  }
}

/** Options of {@link colorJitter}: each a number `x` (the range `[1 - x, 1 + x]`, hue `[-x, x]`) or `[min, max]`. */
export interface ColorJitterOptions {
  /** Brightness factor range; 0 gives black, 1 the image. */
  brightness?: number | readonly [number, number]
  /** Contrast factor range; 0 gives the mean gray. */
  contrast?: number | readonly [number, number]
  /** Saturation factor range; 0 gives grayscale. */
  saturation?: number | readonly [number, number]
  /** Hue shift range, within [-0.5, 0.5] turns. */
  hue?: number | readonly [number, number]
}

/** torchvision's `ColorJitter._check_input`: the factor range, or undefined when it changes nothing. */
function jitterRange(name: string, value: number | readonly [number, number] | undefined, center: number, bound: [number, number]): [number, number] | undefined {
  if (value === undefined) return undefined
  let r: [number, number]
  if (typeof value === 'number') {
    if (!(value >= 0)) throw new InvalidArgumentError(`colorJitter: if ${name} is a single number, it must be non-negative, got ${value}`)
    r = [center - value, center + value]
    if (name !== 'hue') r[0] = Math.max(r[0], 0)
  } else {
    r = range('colorJitter', name, value)
  }
  if (!(bound[0] <= r[0] && r[0] <= r[1] && r[1] <= bound[1])) {
    throw new InvalidArgumentError(`colorJitter: ${name} values should be between [${bound.join(', ')}] and increasing, got [${r.join(', ')}]`)
  }
  return r[0] === center && r[1] === center ? undefined : r
}

/**
 * Randomly changes brightness, contrast, saturation and hue, in a random order, each factor drawn
 * uniformly from its range (torchvision's `ColorJitter`). Works on 1- and 3-channel images.
 */
export function colorJitter({ brightness, contrast, saturation, hue }: ColorJitterOptions = {}): Transform {
  const ranges = {
    brightness: jitterRange('brightness', brightness, 1, [0, Infinity]),
    contrast: jitterRange('contrast', contrast, 1, [0, Infinity]),
    saturation: jitterRange('saturation', saturation, 1, [0, Infinity]),
    hue: jitterRange('hue', hue, 0, [-0.5, 0.5]),
  }
  const present = Object.fromEntries(Object.entries(ranges).filter(([, r]) => r !== undefined)) as Record<string, number[]>
  return {
    kind: 'colorJitter',
    ...present,
    toString: () =>
      `ColorJitter(${Object.entries(ranges)
        .map(([k, r]) => `${k}=${r === undefined ? 'None' : pyTuple(pyFloats(r))}`)
        .join(', ')})`,
  }
}

/** Options of {@link randomRotation}. */
export interface RandomRotationOptions {
  /** The byte value (0-255) of pixels the rotation uncovers. */
  fill?: number
  /** Grow the output to hold the whole rotated image instead of keeping the input's size. */
  expand?: boolean
}

/**
 * Rotates by an angle drawn uniformly from `[-degrees, degrees]` (or `[min, max]`), counter-clockwise
 * about the centre, sampling the nearest pixel (torchvision's default interpolation).
 */
export function randomRotation(degrees: number | readonly [number, number], { fill = 0, expand = false }: RandomRotationOptions = {}): Transform {
  if (typeof degrees === 'number' && !(degrees >= 0 && Number.isFinite(degrees))) {
    throw new InvalidArgumentError(`randomRotation: if degrees is a single number, it must be non-negative and finite, got ${degrees}`)
  }
  const d = typeof degrees === 'number' ? [-degrees, degrees] : range('randomRotation', 'degrees', degrees)
  byte('randomRotation', 'fill', fill)
  return {
    kind: 'randomRotation',
    degrees: d,
    fill,
    expand,
    toString: () => `RandomRotation(degrees=[${pyFloats(d).join(', ')}], interpolation=nearest, expand=${expand ? 'True' : 'False'}, fill=${fill})`,
  }
}

/** Converts RGB to gray with ITU-R 601-2 luma (`0.2989 R + 0.587 G + 0.114 B`), as 1 or 3 channels. */
export function grayscale({ numOutputChannels = 1 }: { numOutputChannels?: 1 | 3 } = {}): Transform {
  if (numOutputChannels !== 1 && numOutputChannels !== 3) {
    throw new InvalidArgumentError(`grayscale: numOutputChannels must be 1 or 3, got ${String(numOutputChannels)}`)
  }
  return { kind: 'grayscale', numOutputChannels, toString: () => `Grayscale(num_output_channels=${numOutputChannels})` }
}
