// Generators of op arguments: shapes of rank 0..5 (0-sized dims, now and then one long dim),
// float32 / int64 / bool tensors with hostile values, laid out contiguously or as permuted,
// expanded and narrowed views, and the scalars and dims a careless caller passes.
import * as ft from 'ferrite-ml'
import type { Random } from './random'
import { contiguousStrides, gather, numel, type DType, type Ref } from './reference'

export const DTYPES: readonly DType[] = ['float32', 'int64', 'bool']

/** The most elements one generated tensor holds (2 MB as int64). */
export const MAX_ELEMENTS = 1 << 18

/** A tensor and what it should hold. */
export interface Made {
  t: ft.Tensor
  ref: Ref
  /** How it was made, for the case's description. */
  how: string
}

const SMALL_DIMS = [0, 1, 1, 2, 2, 3, 3, 4, 5, 7]

export function shape(rng: Random, maxRank = 5): number[] {
  const rank = rng.int(0, maxRank)
  const dims = Array.from({ length: rank }, () => rng.pick(SMALL_DIMS))
  if (rank > 0 && rng.chance(0.08)) {
    // One long dim, the rest shrunk to fit MAX_ELEMENTS.
    const long = rng.int(0, rank - 1)
    dims[long] = rng.int(100, 50_000)
    for (let d = 0; d < rank && numel(dims) > MAX_ELEMENTS; d++) if (d !== long) dims[d] = 1
  }
  return dims
}

export function dtype(rng: Random): DType {
  return rng.pick(DTYPES)
}

const FLOAT_SPECIALS = [NaN, Infinity, -Infinity, -0, 0, 1e38, -3.4e38, 1e-40, 1e-45, 0.5, -1]
const INT_SPECIALS = [0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 40, -(2 ** 53), 2 ** 53 - 1, 1e15]

export function value(rng: Random, dt: DType, hostile: boolean): number {
  if (dt === 'bool') return rng.int(0, 1)
  if (dt === 'int64') return hostile && rng.chance(0.05) ? rng.pick(INT_SPECIALS) : rng.int(-9, 9)
  return Math.fround(hostile && rng.chance(0.05) ? rng.pick(FLOAT_SPECIALS) : rng.normal() * 3)
}

/** `data` laid out as a tensor of `dtype` and `shape`, contiguous. */
export function fromValues(data: Float64Array, shapeOf: readonly number[], dt: DType): ft.Tensor {
  return dt === 'float32' ? ft.tensor(Float32Array.from(data), { shape: shapeOf }) : ft.tensor(data, { shape: shapeOf, dtype: dt })
}

/**
 * A tensor of `shapeOf` and `dt`: contiguous, or a permuted, expanded or narrowed view of
 * another. `hostile` values include NaN, infinities, subnormals and large integers.
 */
export function tensor(rng: Random, shapeOf: readonly number[], dt: DType, hostile = true): Made {
  const target = [...shapeOf]
  const rank = target.length
  const layout = rank === 0 ? 'contiguous' : rng.pick(['contiguous', 'contiguous', 'permuted', 'expanded', 'narrowed'] as const)
  const values = (n: number) => Float64Array.from({ length: n }, () => value(rng, dt, hostile))
  if (layout === 'permuted' && rank >= 2) {
    const perm = rng.shuffle(target.map((_, d) => d))
    // base.permute(perm) has shape `target` when base's dim perm[i] has size target[i].
    const baseShape = new Array<number>(rank)
    perm.forEach((p, i) => (baseShape[p] = target[i]))
    const base = values(numel(baseShape))
    const baseStrides = contiguousStrides(baseShape)
    const data = gather(base, target, perm.map((p) => baseStrides[p]))
    return { t: fromValues(base, baseShape, dt).permute(perm), ref: { shape: target, dtype: dt, data }, how: `${dt} ${describeShape(baseShape)}.permute(${describeShape(perm)})` }
  }
  if (layout === 'expanded') {
    const baseShape = target.map((n) => (rng.chance(0.5) ? 1 : n))
    const base = values(numel(baseShape))
    const own = contiguousStrides(baseShape)
    const data = gather(base, target, baseShape.map((n, d) => (n === 1 ? 0 : own[d])))
    return { t: fromValues(base, baseShape, dt).expand(target), ref: { shape: target, dtype: dt, data }, how: `${dt} ${describeShape(baseShape)}.expand(${describeShape(target)})` }
  }
  if (layout === 'narrowed') {
    const dim = rng.int(0, rank - 1)
    const extra = rng.int(1, 3)
    const start = rng.int(0, extra)
    const baseShape = [...target]
    baseShape[dim] += extra
    const base = values(numel(baseShape))
    const strides = contiguousStrides(baseShape)
    const data = gather(base, target, strides, start * strides[dim])
    return {
      t: fromValues(base, baseShape, dt).narrow(dim, start, target[dim]),
      ref: { shape: target, dtype: dt, data },
      how: `${dt} ${describeShape(baseShape)}.narrow(${dim}, ${start}, ${target[dim]})`,
    }
  }
  const data = values(numel(target))
  return { t: fromValues(data, target, dt), ref: { shape: target, dtype: dt, data }, how: `${dt} ${describeShape(target)}` }
}

/** A tensor of random shape and dtype. */
export function anyTensor(rng: Random): Made {
  return tensor(rng, shape(rng), dtype(rng))
}

export const describeShape = (s: readonly number[]) => `[${s.join(',')}]`

/** Numbers a careless caller passes where a scalar goes. */
export const HOSTILE_SCALARS = [0, 1, -1, 2, 0.5, -2.5, 3, NaN, Infinity, -Infinity, -0, 1e300, -1e300, 2 ** 53, 2 ** 63, 1e-45, 7.25]

export function scalar(rng: Random): number {
  return rng.chance(0.5) ? rng.pick(HOSTILE_SCALARS) : Math.round(rng.normal() * 40) / 8
}

/** A dim for a tensor of `rank`: mostly valid, sometimes out of range, fractional, NaN or huge. */
export function dim(rng: Random, rank: number): number {
  if (rng.chance(0.85)) return rng.int(-Math.max(rank, 1), Math.max(rank, 1) - 1)
  return rng.pick([rank, -rank - 1, rank + 3, 0.5, -1.5, NaN, Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e20])
}

/** A size-like integer: mostly small, sometimes negative, fractional, NaN or (with `huge`) beyond memory. */
export function count(rng: Random, max: number, huge: boolean): number {
  if (rng.chance(0.85)) return rng.int(0, max)
  const odd = [-1, -2, 0.5, NaN, Infinity, -Infinity, -(2 ** 31)]
  return rng.pick(huge ? [...odd, 2 ** 40, 2 ** 53, 1e300] : odd)
}
