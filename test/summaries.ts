// The TypeScript twin of test/fixtures/summaries.py: the hashed values the conv-shape and
// whole-model fixtures are computed from, and the checks of a Ferrite result against a fixture's
// whole or summarised PyTorch result. Keep the two files in step.
import { expect } from 'vitest'

/** FNV-1a of `name`'s UTF-8 bytes. */
function fnv1a(name: string): number {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(name)) h = Math.imul(h ^ byte, 0x01000193) >>> 0
  return h
}

/** The 32-bit hash of flat index `i` of a tensor whose name hashes to `seed`. */
function hashBits(seed: number, i: number): number {
  let x = (Math.imul(i, 0x9e3779b1) + seed) >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b) >>> 0
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35) >>> 0
  x ^= x >>> 16
  return x >>> 0
}

/**
 * `n` exact float32 values in [-1, 1): element `i` of the tensor called `name`, times `scale` plus
 * `offset`, each step rounded to float32 as in summaries.py (the product of two float32 values and
 * the sum of two of these magnitudes are exact in a double, so one rounding each gives numpy's).
 */
export function hashed(name: string, n: number, scale = 1, offset = 0): Float32Array {
  const seed = fnv1a(name)
  const [s, o] = [Math.fround(scale), Math.fround(offset)]
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.fround(((hashBits(seed, i) >>> 8) - 0x800000) / 0x800000 * s) + o
  return out
}

/** The flat indices a summary samples, as summaries.py's `sample_indices`. */
function sampleIndices(count: number, numel: number): number[] {
  const seed = fnv1a('samples')
  return Array.from({ length: count }, (_, j) => hashBits(seed, j) % numel)
}

/** One projection of a summary: `sum r(i) t(i)` per index of the kept axes. */
export interface Projection {
  axes: number[]
  values: number[]
  /** Per-value error scales (conv_shapes.json). */
  scale?: number[]
  /** Root mean square of PyTorch's float32 error on the values, and of the values (model_grads.json). */
  error?: number
  rms?: number
}

/** A PyTorch result as a fixture stores it: whole, or summarised (see summaries.py). */
export interface StoredResult {
  shape: number[]
  values?: number[]
  /** Per-element error scales, where the fixture's tolerances need them. */
  scale?: number[]
  projections?: Projection[]
  samples?: { index: number[]; values: number[]; scale?: number[] }
  sum_squares?: number
  sum_squares_scale?: number
}

/** What a check found: the largest error over its tolerance, and where. */
export interface Worst {
  ratio: number
  at: string
}

/** `sum r_k(i) t(i)` per index of `axes`, in float64, as summaries.py's `project`. */
export function project(t: Float32Array, shape: number[], axes: number[], k: number): Float64Array {
  const seed = fnv1a(`projection ${k}`)
  const kept = axes.reduce((a, d) => a * shape[d], 1)
  const out = new Float64Array(kept)
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1))
  for (let i = 0; i < t.length; i++) {
    let at = 0
    for (const d of axes) at = at * shape[d] + (Math.floor(i / strides[d]) % shape[d])
    out[at] += ((hashBits(seed, i) >>> 8) - 0x800000) / 0x800000 * t[i]
  }
  return out
}

/**
 * Checks `got` (a Ferrite result, flat) against a stored PyTorch result. Tolerances come from
 * the caller: `elementTol(value, scale)` for whole values and samples, `projection(p, j)` for value
 * `j` of projection `p`, `sumSquares(scale)` for the sum of squares. Fails with the worst
 * offenders; returns the largest error-to-tolerance ratio.
 */
export function checkResult(
  label: string,
  got: Float32Array,
  want: StoredResult,
  tol: {
    element: (expected: number, scale: number) => number
    projection: (p: Projection, j: number) => number
    sumSquares?: (scale: number) => number
  },
): Worst {
  expect(got.length, `${label}: number of values`).toBe(want.shape.reduce((a, b) => a * b, 1))
  let worst: Worst = { ratio: 0, at: '' }
  const bad: string[] = []
  const judge = (what: string, a: number, e: number, t: number) => {
    const err = Math.abs(a - e)
    const ratio = err === 0 ? 0 : err / t
    if (!(ratio <= 1)) bad.push(`${what}: got ${a}, expected ${e} (error ${err.toExponential(2)}, tolerance ${t.toExponential(2)})`)
    if (ratio > worst.ratio || Number.isNaN(ratio)) worst = { ratio, at: what }
  }
  if (want.values) {
    want.values.forEach((e, i) => judge(`[${i}]`, got[i], e, tol.element(e, want.scale?.[i] ?? 0)))
  } else {
    want.projections!.forEach((p, k) => {
      const mine = project(got, want.shape, p.axes, k)
      p.values.forEach((e, j) => judge(`projection onto axes ${p.axes} [${j}]`, mine[j], e, tol.projection(p, j)))
    })
    const s = want.samples!
    const at = sampleIndices(s.index.length, got.length)
    expect(at, `${label}: sampled indices`).toEqual(s.index)
    s.index.forEach((i, j) => judge(`sample [${i}]`, got[i], s.values[j], tol.element(s.values[j], s.scale?.[j] ?? 0)))
    if (tol.sumSquares) {
      const sq = got.reduce((a, v) => a + v * v, 0)
      judge('sum of squares', sq, want.sum_squares!, tol.sumSquares(want.sum_squares_scale!))
    }
  }
  if (bad.length > 0) throw new Error(`${label}: ${bad.length} values out of tolerance:\n  ${bad.slice(0, 8).join('\n  ')}`)
  return worst
}
