/**
 * Image transforms with torchvision's semantics: `T.compose([T.pad(4), T.randomHorizontalFlip(),
 * T.randomCrop(32), T.toTensor(), T.normalize(mean, std)])`. They run natively, on whole
 * batches, inside the data loader; randomness comes from the loader's seed.
 */
import { InvalidArgumentError } from './errors'

/** One transform, as handed to the native pipeline. */
export interface Transform {
  /** Which transform this is; the fields below are set as it needs them. */
  readonly kind: 'pad' | 'randomHorizontalFlip' | 'randomCrop' | 'centerCrop' | 'toTensor' | 'normalize'
  /** `pad`, `randomCrop`: pixels added as `[left, top, right, bottom]`. */
  readonly padding?: number[]
  /** `pad`, `randomCrop`: the byte value (0-255) of padded pixels. */
  readonly fill?: number
  /** `randomHorizontalFlip`: probability of flipping. */
  readonly p?: number
  /** `randomCrop`, `centerCrop`: the crop's `[height, width]`. */
  readonly size?: number[]
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

function hw(op: string, size: number | readonly [number, number]): number[] {
  const s = typeof size === 'number' ? [size, size] : [...size]
  if (s.length !== 2 || s.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new InvalidArgumentError(`${op}: size must be a positive integer or [height, width], got ${String(size)}`)
  }
  return s
}

const pyTuple = (v: readonly number[]) => `(${v.join(', ')})`

/** Pads every side with a constant `fill` (0-255). */
export function pad(padding: number | readonly number[], { fill = 0 }: { fill?: number } = {}): Transform {
  const sidesOf = sides('pad', padding)
  return { kind: 'pad', padding: sidesOf, fill, toString: () => `Pad(padding=${typeof padding === 'number' ? padding : pyTuple(padding)}, fill=${fill}, padding_mode=constant)` }
}

/** Mirrors the image left-right with probability `p`. */
export function randomHorizontalFlip(p = 0.5): Transform {
  if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`)
  return { kind: 'randomHorizontalFlip', p, toString: () => `RandomHorizontalFlip(p=${p})` }
}

/** Crops a random `size` window, after optional padding. */
export function randomCrop(
  size: number | readonly [number, number],
  { padding, padIfNeeded = false, fill = 0 }: { padding?: number | readonly number[]; padIfNeeded?: boolean; fill?: number } = {},
): Transform {
  const s = hw('randomCrop', size)
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
export function centerCrop(size: number | readonly [number, number]): Transform {
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
  if (std.some((s) => s === 0)) throw new InvalidArgumentError('normalize: std must not be 0')
  return { kind: 'normalize', mean: [...mean], std: [...std], toString: () => `Normalize(mean=[${mean.join(', ')}], std=[${std.join(', ')}])` }
}
