// Plain-JS references for the fuzzed ops: shapes by PyTorch's rules, and values (float64 arrays
// in row-major order) for the ops cheap to compute here. Independent of the kernels: the only
// thing read back from the addon is the result being checked.
import type * as ft from 'ferrite-ml'
import { check } from './harness'

export type DType = 'float32' | 'int64' | 'bool'

/** A tensor's expected contents: its shape, dtype and values in row-major order. */
export interface Ref {
  shape: number[]
  dtype: DType
  data: Float64Array
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s
    s *= shape[d]
  }
  return strides
}

/** The values of a strided view of `data`, in row-major order of `shape`. */
export function gather(data: Float64Array, shape: readonly number[], strides: readonly number[], offset = 0): Float64Array {
  const out = new Float64Array(numel(shape))
  if (out.length === 0) return out
  const index = new Array<number>(shape.length).fill(0)
  let at = offset
  for (let i = 0; i < out.length; i++) {
    out[i] = data[at]
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++
      at += strides[d]
      if (index[d] < shape[d]) break
      at -= strides[d] * shape[d]
      index[d] = 0
    }
  }
  return out
}

/** A dim in `[-rank, rank)` (PyTorch also takes 0 and -1 for 0-d tensors) as a non-negative index, or null. */
export function wrapDim(dim: number, rank: number): number | null {
  const r = Math.max(rank, 1)
  if (!Number.isInteger(dim) || dim < -r || dim >= r) return null
  return dim < 0 ? dim + r : dim
}

/** The broadcast shape of two shapes, or null when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length)
  const out: number[] = []
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1
    const y = b[b.length - rank + i] ?? 1
    if (x !== y && x !== 1 && y !== 1) return null
    out.push(x === 1 ? y : x)
  }
  return out
}

/** `ref` broadcast to `shape` (which must be a broadcast of its shape). */
export function broadcastTo(ref: Ref, shape: readonly number[]): Ref {
  const own = contiguousStrides(ref.shape)
  const lead = shape.length - ref.shape.length
  const strides = shape.map((_, d) => (d < lead || ref.shape[d - lead] === 1 ? 0 : own[d - lead]))
  return { shape: [...shape], dtype: ref.dtype, data: gather(ref.data, shape, strides) }
}

/** Elementwise `f` of two broadcast refs. */
export function zipRefs(a: Ref, b: Ref, dtype: DType, f: (x: number, y: number) => number): Ref {
  const shape = broadcastShapes(a.shape, b.shape)!
  const x = broadcastTo(a, shape).data
  const y = broadcastTo(b, shape).data
  return { shape, dtype, data: x.map((v, i) => f(v, y[i])) }
}

export function permuteRef(ref: Ref, dims: readonly number[]): Ref {
  const own = contiguousStrides(ref.shape)
  const shape = dims.map((d) => ref.shape[d])
  return { shape, dtype: ref.dtype, data: gather(ref.data, shape, dims.map((d) => own[d])) }
}

/** The slice `[start, start + length)` of `dim`. */
export function narrowRef(ref: Ref, dim: number, start: number, length: number): Ref {
  const strides = contiguousStrides(ref.shape)
  const shape = [...ref.shape]
  shape[dim] = length
  return { shape, dtype: ref.dtype, data: gather(ref.data, shape, strides, start * strides[dim]) }
}

/** Reduces `dims` (none: all) with `f` over each group of values. */
export function reduceRef(ref: Ref, dims: readonly number[], keepDim: boolean, dtype: DType, f: (values: number[]) => number): Ref {
  const all = dims.length === 0
  const reduced = (d: number) => all || dims.includes(d)
  const kept = ref.shape.map((_, d) => d).filter((d) => !reduced(d))
  const gone = ref.shape.map((_, d) => d).filter(reduced)
  const strides = contiguousStrides(ref.shape)
  const outer = kept.map((d) => ref.shape[d])
  const inner = gone.map((d) => ref.shape[d])
  const starts = gather(Float64Array.from({ length: ref.data.length }, (_, i) => i), outer, kept.map((d) => strides[d]))
  const offsets = gather(Float64Array.from({ length: ref.data.length }, (_, i) => i), inner, gone.map((d) => strides[d]))
  const data = starts.map((start) => f(Array.from(offsets, (o) => ref.data[start + o])))
  const shape = keepDim ? ref.shape.map((n, d) => (reduced(d) ? 1 : n)) : outer
  return { shape, dtype, data }
}

/** The values of a tensor as float64, in row-major order. */
export function valuesOf(t: ft.Tensor): Float64Array {
  const typed = t.toTypedArray()
  return typed instanceof BigInt64Array ? Float64Array.from(typed, Number) : Float64Array.from(typed)
}

export const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((n, i) => n === b[i])

export const show = (shape: readonly number[]) => `[${shape.join(', ')}]`

/** Checks a result's shape and dtype, and its values within `tolerance` (relative to `scale`, default |expected|). */
export function expectRef(op: string, actual: ft.Tensor, expected: Ref, tolerance = 0, scale?: Float64Array): void {
  check(sameShape(actual.shape, expected.shape), () => `${op}: shape ${show(actual.shape)}, expected ${show(expected.shape)}`)
  check(actual.dtype === expected.dtype, () => `${op}: dtype ${actual.dtype}, expected ${expected.dtype}`)
  const got = valuesOf(actual)
  for (let i = 0; i < got.length; i++) {
    const want = expected.data[i]
    const ok = Number.isNaN(want)
      ? Number.isNaN(got[i])
      : got[i] === want || Math.abs(got[i] - want) <= tolerance * Math.max(1, Math.abs(scale?.[i] ?? want))
    check(ok, () => `${op}: element ${i} is ${got[i]}, expected ${want} (shape ${show(expected.shape)})`)
  }
}

/** Checks only the shape of a result. */
export function expectShape(op: string, actual: ft.Tensor, shape: readonly number[]): void {
  check(sameShape(actual.shape, shape), () => `${op}: shape ${show(actual.shape)}, expected ${show(shape)}`)
}
