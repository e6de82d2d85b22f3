// Shared helpers for the value tests: loading the PyTorch golden fixtures written by
// test/fixtures/gen_fixtures.py, rebuilding their tensors, and comparing results.
import { readFileSync } from 'node:fs'
import { expect } from 'vitest'
import * as ft from 'ferrite-ml'

export type DType = 'float32' | 'int64' | 'bool'

/** A fixture value: JSON has no NaN/Infinity, so those are the strings 'nan', 'inf', '-inf'. */
export type Encoded = number | boolean | 'nan' | 'inf' | '-inf'

/** A view op applied to a fixture input after it is built, giving a non-contiguous tensor. */
export type Transform = { op: 'transpose'; dim0: number; dim1: number } | { op: 'permute'; dims: number[] } | { op: 'expand'; shape: number[] }

/** A tensor as stored in the fixtures: flat row-major data plus shape and dtype. */
export interface FixtureTensor {
  shape: number[]
  dtype: DType
  data: Encoded[]
  transform?: Transform[]
}

/** Expected values for `expectClose`: a fixture tensor, or plain numbers / booleans. */
export interface ExpectedTensor {
  shape: number[]
  dtype: DType
  data: ArrayLike<Encoded>
}

export interface Fixture<C> {
  generator: string
  cases: C[]
}

/** Reads `test/fixtures/<name>.json` (the `.json` suffix is optional). */
export function loadFixture<C = unknown>(name: string): Fixture<C> {
  const file = name.endsWith('.json') ? name : `${name}.json`
  const url = new URL(`./fixtures/${file}`, import.meta.url)
  return JSON.parse(readFileSync(url, 'utf8')) as Fixture<C>
}

/** One fixture value to a JS number or boolean ('nan' -> NaN, 'inf' -> Infinity, ...). */
export function decodeValue(v: Encoded): number | boolean {
  if (v === 'nan') return NaN
  if (v === 'inf') return Infinity
  if (v === '-inf') return -Infinity
  return v
}

/** Decodes a fixture value list (see `decodeValue`). */
export function decode(values: ArrayLike<Encoded>): (number | boolean)[] {
  return Array.from(values, decodeValue)
}

/** Decodes a scalar operand, which is always numeric. */
export function decodeNumber(v: Encoded): number {
  const d = decodeValue(v)
  if (typeof d !== 'number') throw new Error(`expected a numeric scalar, got ${String(v)}`)
  return d
}

type Nested = number | boolean | Nested[]

/** Flat row-major values to nested arrays of the given shape (a bare value for 0-d). */
export function nest(flat: ArrayLike<number | boolean>, shape: readonly number[]): Nested {
  if (shape.length === 0) return flat[0]
  let pos = 0
  const build = (d: number): Nested[] => {
    const out: Nested[] = []
    for (let i = 0; i < shape[d]; i++) out.push(d === shape.length - 1 ? flat[pos++] : build(d + 1))
    return out
  }
  const nested = build(0)
  if (pos !== flat.length) throw new Error(`nest: ${flat.length} values do not fill shape [${shape.join(', ')}]`)
  return nested
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

/**
 * Builds the tensor a fixture describes: `ft.tensor(nestedData, { dtype })` (`ft.zeros` for
 * empty shapes, whose nesting cannot express trailing dims), then the fixture's view transforms.
 */
/**
 * Every device the device-parameterised suites run on: the CPU, then each GPU present (or
 * `cuda:0` where none is), with why it is skipped where Ferrite cannot place tensors on it, so
 * GPU cases show up in the skipped count on CPU-only machines instead of vanishing.
 */
export const TEST_DEVICES: { device: ft.DeviceName; skip: string | false }[] = (() => {
  const gpus = ft.cuda.devices().map((g) => g.index)
  const usable = ft.cuda.deviceCount()
  // The reason's first clause says what is missing (the rest is advice on installing it).
  const noDevice = `no CUDA device: ${ft.cuda.info().unavailableReason?.split(';')[0] ?? 'CUDA is unavailable'}`
  const skip = (index: number) => (index < usable ? (false as const) : ft.cuda.isAvailable() ? `cuda:${index} is not visible` : noDevice)
  return [
    { device: 'cpu' as const, skip: false as const },
    ...(gpus.length > 0 ? gpus : [0]).map((index) => ({ device: `cuda:${index}` as const, skip: skip(index) })),
  ]
})()

/** The tensor a fixture describes, built on the CPU and moved to `device` before any view is taken. */
export function makeTensor(spec: FixtureTensor, device: ft.DeviceName = 'cpu'): ft.Tensor {
  const values = decode(spec.data)
  let t: ft.Tensor
  if (product(spec.shape) === 0) {
    t = ft.zeros(spec.shape, { dtype: spec.dtype })
  } else {
    t = ft.tensor(nest(values, spec.shape), { dtype: spec.dtype })
  }
  // Guard against a construction bug being reported as a bug in the op under test.
  expect(t.shape, 'makeTensor: shape of the built input').toEqual(spec.shape)
  expect(t.dtype, 'makeTensor: dtype of the built input').toBe(spec.dtype)
  return applyTransforms(t.to(device), spec.transform)
}

/** `t` after a fixture's view transforms (transpose / permute / expand), in order. */
export function applyTransforms(t: ft.Tensor, transforms: readonly Transform[] = []): ft.Tensor {
  for (const tr of transforms) {
    if (tr.op === 'transpose') t = t.transpose(tr.dim0, tr.dim1)
    else if (tr.op === 'permute') t = t.permute(tr.dims)
    else t = t.expand(tr.shape)
  }
  return t
}

/** A tensor's values as JS numbers (bool -> 0/1, int64 -> number), row-major. */
export function valuesOf(t: ft.Tensor): number[] {
  const arr = t.toTypedArray() as Float32Array | BigInt64Array | Uint8Array
  return Array.from(arr as ArrayLike<number | bigint>, (v) => Number(v))
}

export interface CloseOptions {
  rtol?: number
  atol?: number
  /**
   * Per-element magnitude used instead of |expected| in the relative term, e.g. sum |a_ik b_kj|
   * for a matmul entry, so results that cancel to ~0 are judged against the size of their terms.
   */
  scale?: ArrayLike<number>
  /** Prefix for failure messages. */
  label?: string
  /**
   * Round expected float32 values with Math.fround before comparing (default true). The
   * fixtures store each float32 as its shortest round-trip decimal, which as a double is not
   * the float32 value itself; rounding recovers PyTorch's exact output, so data-movement ops
   * compare with zero error. Pass false for float64 reference values computed in a test.
   */
  roundExpected?: boolean
}

/**
 * Checks `actual` against `expected`: shape, dtype, and values. float32 values must satisfy
 * |a - e| <= atol + rtol * |e| (NaN matches NaN, infinities must match exactly); int64 and bool
 * values must be equal. Returns the max relative error |a - e| / |e| over finite nonzero expected
 * values (0 when there are none).
 */
export function expectClose(actual: ft.Tensor, expected: ExpectedTensor, opts: CloseOptions = {}): number {
  const { rtol = 1e-5, atol = 1e-6, scale, label = '', roundExpected = true } = opts
  const at = label ? `${label}: ` : ''
  expect(actual.shape, `${at}shape`).toEqual(expected.shape)
  expect(actual.dtype, `${at}dtype`).toBe(expected.dtype)
  expect(actual.ndim, `${at}ndim`).toBe(expected.shape.length)
  expect(actual.numel(), `${at}numel()`).toBe(product(expected.shape))

  const got = valuesOf(actual)
  const f32 = expected.dtype === 'float32' && roundExpected
  const want = Array.from(expected.data, (v) => {
    const d = decodeValue(v)
    return typeof d === 'boolean' ? Number(d) : f32 ? Math.fround(d) : d
  })
  expect(got.length, `${at}number of values`).toBe(want.length)

  const exact = expected.dtype !== 'float32'
  let maxRel = 0
  const bad: string[] = []
  let nBad = 0
  for (let i = 0; i < want.length; i++) {
    const a = got[i]
    const e = want[i]
    let ok: boolean
    if (exact || !Number.isFinite(e)) {
      ok = Object.is(a, e) || a === e // NaN matches NaN via Object.is; +0 matches -0 via ===
    } else {
      const err = Math.abs(a - e)
      const mag = scale ? Math.max(Math.abs(e), scale[i]) : Math.abs(e)
      ok = err <= atol + rtol * mag // false when a is NaN or infinite
      if (e !== 0 && Number.isFinite(a)) maxRel = Math.max(maxRel, err / Math.abs(e))
    }
    if (!ok) {
      nBad++
      if (bad.length < 8) bad.push(`  [${unravel(i, expected.shape).join(', ')}] got ${a}, expected ${e}`)
    }
  }
  if (nBad > 0) {
    const tol = exact ? 'exact' : `rtol=${rtol}, atol=${atol}, max rel err ${maxRel.toExponential(3)}`
    throw new Error(`${at}${nBad} of ${want.length} values differ (${tol}):\n${bad.join('\n')}`)
  }
  return maxRel
}

/** Multi-index of flat position `i` in a row-major tensor of `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0)
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]
    i = Math.floor(i / shape[d])
  }
  return idx
}

/** Deterministic float32-valued pseudo-random numbers (mulberry32), for tests with no fixture. */
export function makeRng(seed: number) {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    /** Uniform in [lo, hi), rounded to float32. */
    uniform(n: number, lo = -1, hi = 1): Float32Array {
      const out = new Float32Array(n)
      for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next()
      return out
    },
    /** Approximately standard normal (Box-Muller), rounded to float32. */
    normal(n: number): Float32Array {
      const out = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        const u = 1 - next()
        out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next())
      }
      return out
    },
  }
}

/** The typed error `f` throws; fails the test when it throws something else or nothing. */
export function thrown(f: () => unknown): ft.FerriteError {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ft.FerriteError)
    return e as ft.FerriteError
  }
  throw new Error('expected a FerriteError, but nothing was thrown')
}
