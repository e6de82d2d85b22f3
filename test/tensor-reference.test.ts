// Independent oracle: Ferrite's float32 results against naive float64 loops written here, on
// pseudo-random inputs of odd sizes (no PyTorch involved). Float tolerance is 1e-4 relative to
// the magnitude of the terms (sum |a_ik * b_kj| for a matmul entry, sum |x| for a sum), so
// entries that cancel to ~0 are judged against the size of what was added up.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectClose, makeRng, unravel, valuesOf } from './helpers'

const RTOL = 1e-4
/** Reference values here are float64: compare them unrounded. */
const REF = { roundExpected: false } as const

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

/** Row-major strides of a contiguous tensor of `shape`. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1)
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1]
  return s
}

/** Flat offset into a contiguous `shape` of multi-index `idx` broadcast from a larger shape. */
function bcastOffset(idx: readonly number[], shape: readonly number[]): number {
  const st = strides(shape)
  const lead = idx.length - shape.length
  let off = 0
  for (let d = 0; d < shape.length; d++) off += (shape[d] === 1 ? 0 : idx[lead + d]) * st[d]
  return off
}

function fromData(data: Float32Array, shape: number[]): ft.Tensor {
  const t = ft.tensor(data).reshape(shape)
  expect(t.shape).toEqual(shape)
  return t
}

/** C[m,n] = sum_k A[m,k] B[k,n] in float64, with the per-entry magnitude sum |A B|. */
function refMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number) {
  const out = new Float64Array(m * n)
  const mag = new Float64Array(m * n)
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0
      let g = 0
      for (let p = 0; p < k; p++) {
        const v = a[i * k + p] * b[p * n + j]
        s += v
        g += Math.abs(v)
      }
      out[i * n + j] = s
      mag[i * n + j] = g
    }
  return { out, mag }
}

/** Transposes a row-major [rows, cols] matrix. */
function transpose2d(x: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]
  return out
}

describe('float64 reference loops', () => {
  const rng = makeRng(0x5eed)

  it.each(
    [
      [65, 31, 47],
      [1, 1, 1],
      [7, 1, 9],
      [128, 257, 129],
      [3, 1000, 2],
    ].map(([m, k, n]) => [`${m}x${k} · ${k}x${n}`, m, k, n] as const),
  )('matmul %s (A·B vs triple loop)', (_name, m, k, n) => {
    const a = rng.normal(m * k)
    const b = rng.normal(k * n)
    const { out, mag } = refMatmul(a, b, m, k, n)
    const c = fromData(a, [m, k]).matmul(fromData(b, [k, n]))
    expectClose(c, { shape: [m, n], dtype: 'float32', data: out }, { ...REF, rtol: RTOL, atol: 0, scale: mag })
  })

  it('matmul of transposed views: (A^T stored [31,65]).T · (B stored [47,31]).T', () => {
    const [m, k, n] = [65, 31, 47]
    const at = rng.normal(k * m) // A^T, row-major [k, m]
    const bt = rng.normal(n * k) // B^T, row-major [n, k]
    const a = transpose2d(at, k, m)
    const b = transpose2d(bt, n, k)
    const { out, mag } = refMatmul(a, b, m, k, n)
    const av = fromData(at, [k, m]).transpose(0, 1)
    const bv = fromData(bt, [n, k]).transpose(0, 1)
    expect(av.shape).toEqual([m, k])
    const expected = { shape: [m, n], dtype: 'float32' as const, data: out }
    expectClose(av.matmul(bv), expected, { ...REF, rtol: RTOL, atol: 0, scale: mag, label: 'views' })
    expectClose(av.contiguous().matmul(bv.contiguous()), expected, {
      ...REF,
      rtol: RTOL,
      atol: 0,
      scale: mag,
      label: 'contiguous copies',
    })
  })

  it('batched matmul with broadcast batch dims: [3,1,7,5] · [4,5,6] -> [3,4,7,6]', () => {
    const [m, k, n] = [7, 5, 6]
    const a = rng.normal(3 * m * k)
    const b = rng.normal(4 * k * n)
    const out = new Float64Array(3 * 4 * m * n)
    const mag = new Float64Array(out.length)
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 4; j++) {
        const r = refMatmul(a.subarray(i * m * k, (i + 1) * m * k), b.subarray(j * k * n, (j + 1) * k * n), m, k, n)
        out.set(r.out, (i * 4 + j) * m * n)
        mag.set(r.mag, (i * 4 + j) * m * n)
      }
    const c = fromData(a, [3, 1, m, k]).matmul(fromData(b, [4, k, n]))
    expectClose(c, { shape: [3, 4, m, n], dtype: 'float32', data: out }, { ...REF, rtol: RTOL, atol: 0, scale: mag })
  })

  it.each([
    [
      [4, 1, 3],
      [5, 1],
      [4, 5, 3],
    ],
    [[7], [3, 1, 7], [3, 1, 7]],
    [
      [2, 1, 5, 1],
      [3, 1, 4],
      [2, 3, 5, 4],
    ],
    [[], [3, 2], [3, 2]],
  ] as const)('broadcasting add/mul %j with %j -> %j', (sa, sb, so) => {
    const a = rng.normal(numel(sa))
    const b = rng.normal(numel(sb))
    const sum = new Float64Array(numel(so))
    const prod = new Float64Array(numel(so))
    for (let i = 0; i < sum.length; i++) {
      const idx = unravel(i, so)
      const x = a[bcastOffset(idx, sa)]
      const y = b[bcastOffset(idx, sb)]
      sum[i] = x + y
      prod[i] = x * y
    }
    const ta = sa.length === 0 ? ft.tensor(a[0]) : fromData(a, [...sa])
    const tb = fromData(b, [...sb])
    // a + b is the float64 sum rounded once to float32: judge it against |a| + |b|.
    const scale = Array.from(sum, (_, i) => {
      const idx = unravel(i, so)
      return Math.abs(a[bcastOffset(idx, sa)]) + Math.abs(b[bcastOffset(idx, sb)])
    })
    expectClose(ta.add(tb), { shape: [...so], dtype: 'float32', data: sum }, { ...REF, rtol: RTOL, atol: 0, scale, label: 'a+b' })
    expectClose(tb.add(ta), { shape: [...so], dtype: 'float32', data: sum }, { ...REF, rtol: RTOL, atol: 0, scale, label: 'b+a' })
    expectClose(ta.mul(tb), { shape: [...so], dtype: 'float32', data: prod }, { ...REF, rtol: RTOL, atol: 0, label: 'a*b' })
  })

  /** Reference sum / mean / max / argmax of a contiguous `shape` over one dim. */
  function refReduce(x: ArrayLike<number>, shape: number[], dim: number) {
    const outShape = shape.filter((_, d) => d !== dim)
    const n = numel(outShape)
    const sum = new Float64Array(n)
    const mag = new Float64Array(n)
    const max = new Float64Array(n).fill(-Infinity)
    const argmax = new Float64Array(n)
    const st = strides(shape)
    for (let o = 0; o < n; o++) {
      const oi = unravel(o, outShape)
      const idx = [...oi.slice(0, dim), 0, ...oi.slice(dim)]
      let base = 0
      for (let d = 0; d < shape.length; d++) base += idx[d] * st[d]
      for (let r = 0; r < shape[dim]; r++) {
        const v = x[base + r * st[dim]]
        sum[o] += v
        mag[o] += Math.abs(v)
        if (v > max[o]) {
          max[o] = v
          argmax[o] = r
        }
      }
    }
    return { outShape, sum, mag, max, argmax }
  }

  it.each([
    [[6, 7, 8], 1],
    [[6, 7, 8], 0],
    [[6, 7, 8], 2],
    [[5, 1, 3], 1],
    [[3, 1001], 1],
    [[10007], 0],
  ])('sum/mean/max/argmax of %j over dim %i', (shape, dim) => {
    const x = rng.normal(numel(shape))
    const t = fromData(x, shape)
    const { outShape, sum, mag, max, argmax } = refReduce(x, shape, dim)
    const len = shape[dim]
    const f32 = (data: ArrayLike<number>) => ({ shape: outShape, dtype: 'float32' as const, data })
    expectClose(t.sum(dim), f32(sum), { ...REF, rtol: RTOL, atol: 0, scale: mag, label: 'sum' })
    const meanMag = Array.from(mag, (v) => v / len)
    expectClose(t.mean(dim), f32(Array.from(sum, (v) => v / len)), { ...REF, rtol: RTOL, atol: 0, scale: meanMag, label: 'mean' })
    expectClose(t.sum(dim - shape.length), f32(sum), { ...REF, rtol: RTOL, atol: 0, scale: mag, label: 'sum(negative dim)' })
    const kept = shape.map((s, d) => (d === dim ? 1 : s))
    expectClose(t.sum(dim, { keepDim: true }), { ...f32(sum), shape: kept }, { ...REF, rtol: RTOL, atol: 0, scale: mag, label: 'sum keepDim' })
    const m = t.max(dim)
    expectClose(m.values, f32(max), { rtol: 0, atol: 0, label: 'max values' })
    expectClose(m.indices, { shape: outShape, dtype: 'int64', data: argmax }, { label: 'max indices' })
    expectClose(t.argmax(dim), { shape: outShape, dtype: 'int64', data: argmax }, { label: 'argmax' })
  })

  it('sum over all elements and over several dims of a permuted view', () => {
    const shape = [6, 7, 8]
    const x = rng.normal(numel(shape))
    const t = fromData(x, shape)
    let all = 0
    let allMag = 0
    for (const v of x) {
      all += v
      allMag += Math.abs(v)
    }
    expectClose(t.sum(), { shape: [], dtype: 'float32', data: [all] }, { ...REF, rtol: RTOL, atol: 0, scale: [allMag] })
    expectClose(
      t.mean(),
      { shape: [], dtype: 'float32', data: [all / x.length] },
      {
        ...REF,
        rtol: RTOL,
        atol: 0,
        scale: [allMag / x.length],
      },
    )
    // p = t.permute([2, 0, 1]) has shape [8, 6, 7]; summing p over dims [0, 2] leaves t's dim 0.
    const p = t.permute([2, 0, 1])
    const out = new Float64Array(6)
    const mag = new Float64Array(6)
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 7; j++)
        for (let k = 0; k < 8; k++) {
          const v = x[(i * 7 + j) * 8 + k]
          out[i] += v
          mag[i] += Math.abs(v)
        }
    expectClose(p.sum([0, 2]), { shape: [6], dtype: 'float32', data: out }, { ...REF, rtol: RTOL, atol: 0, scale: mag })
  })

  it('permute + contiguous moves every element to the right place', () => {
    const shape = [3, 4, 5, 2]
    const perm = [2, 0, 3, 1]
    const x = rng.uniform(numel(shape))
    const outShape = perm.map((p) => shape[p])
    const out = new Float32Array(x.length)
    const st = strides(shape)
    for (let i = 0; i < out.length; i++) {
      const oi = unravel(i, outShape)
      let src = 0
      for (let d = 0; d < perm.length; d++) src += oi[d] * st[perm[d]]
      out[i] = x[src]
    }
    const p = fromData(x, shape).permute(perm)
    expectClose(p.contiguous(), { shape: outShape, dtype: 'float32', data: out }, { rtol: 0, atol: 0 })
    expectClose(p.reshape([-1]), { shape: [x.length], dtype: 'float32', data: out }, { rtol: 0, atol: 0 })
    // toArray() of the view nests the same values.
    expect((p.toArray() as number[][][][]).flat(3)).toEqual(Array.from(out))
  })

  it('elementwise exp / log / sqrt / pow on a non-contiguous view vs Math', () => {
    const x = rng.uniform(9 * 13, 0.05, 4)
    const v = fromData(x, [9, 13]).transpose(0, 1)
    const xt = transpose2d(x, 9, 13)
    const want = (f: (a: number) => number) => ({ shape: [13, 9], dtype: 'float32' as const, data: Array.from(xt, f) })
    expectClose(v.exp(), want(Math.exp), { ...REF, rtol: RTOL, atol: 0, label: 'exp' })
    expectClose(v.log(), want(Math.log), { ...REF, rtol: RTOL, atol: 1e-6, label: 'log' })
    expectClose(v.sqrt(), want(Math.sqrt), { ...REF, rtol: RTOL, atol: 0, label: 'sqrt' })
    expectClose(
      v.pow(1.7),
      want((a) => a ** 1.7),
      { ...REF, rtol: RTOL, atol: 0, label: 'pow' },
    )
    expectClose(
      v.div(v.add(1)),
      want((a) => a / Math.fround(a + 1)),
      { ...REF, rtol: RTOL, atol: 0, label: 'div' },
    )
  })

  it('int64 and bool reductions are exact', () => {
    const shape = [5, 9, 4]
    const vals = Array.from(rng.uniform(numel(shape), -1000, 1000), (v) => Math.trunc(v))
    const t = ft.tensor(vals, { dtype: 'int64' }).reshape(shape)
    expect(t.dtype).toBe('int64')
    const { outShape, sum, max, argmax } = refReduce(vals, shape, 1)
    expectClose(t.sum(1), { shape: outShape, dtype: 'int64', data: sum })
    const m = t.max(1)
    expectClose(m.values, { shape: outShape, dtype: 'int64', data: max })
    expectClose(m.indices, { shape: outShape, dtype: 'int64', data: argmax })
    const pos = t.gt(0)
    expect(pos.dtype).toBe('bool')
    const count = vals.filter((v) => v > 0).length
    expectClose(pos.sum(), { shape: [], dtype: 'int64', data: [count] })
    expect(valuesOf(pos.to('int64').sum())).toEqual([count])
  })
})

describe('random tensors (statistical and determinism checks; no PyTorch reference)', () => {
  it('manualSeed makes rand / randn / randint reproducible', () => {
    ft.manualSeed(1234)
    const a = [ft.rand([5, 3]), ft.randn([7]), ft.randint(-3, 9, [4, 2])]
    ft.manualSeed(1234)
    const b = [ft.rand([5, 3]), ft.randn([7]), ft.randint(-3, 9, [4, 2])]
    for (let i = 0; i < a.length; i++) {
      expect(b[i].shape).toEqual(a[i].shape)
      expect(valuesOf(b[i])).toEqual(valuesOf(a[i]))
    }
    ft.manualSeed(1235)
    expect(valuesOf(ft.rand([5, 3]))).not.toEqual(valuesOf(a[0]))
  })

  it('getRngState / setRngState replay the same draws, like torch.get_rng_state', () => {
    ft.manualSeed(5)
    ft.randn([3])
    const state = ft.getRngState()
    expect(state).toBeInstanceOf(Uint8Array)
    const next = valuesOf(ft.randn([6]))
    ft.manualSeed(6)
    ft.setRngState(state)
    expect(valuesOf(ft.randn([6]))).toEqual(next)
    expect(() => ft.setRngState(state.subarray(1))).toThrow(ft.InvalidArgumentError)
    expect(() => ft.setRngState(state.subarray(1))).toThrow(/expected a state of 56 bytes/)
    expect(() => ft.setRngState([1, 2] as never)).toThrow(ft.InvalidArgumentError)
  })

  it('rand is float32 in [0, 1) with mean ~ 1/2', () => {
    ft.manualSeed(7)
    const t = ft.rand([100_003])
    expect(t.dtype).toBe('float32')
    expect(t.shape).toEqual([100_003])
    const v = valuesOf(t)
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...v)).toBeLessThan(1)
    const mean = v.reduce((s, x) => s + x, 0) / v.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01)
  })

  it('randn is float32 with mean ~ 0 and std ~ 1', () => {
    ft.manualSeed(8)
    const t = ft.randn([3, 33_335])
    expect(t.dtype).toBe('float32')
    const v = valuesOf(t)
    const mean = v.reduce((s, x) => s + x, 0) / v.length
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length)
    expect(Math.abs(mean)).toBeLessThan(0.02)
    expect(Math.abs(std - 1)).toBeLessThan(0.02)
    expect(v.every(Number.isFinite)).toBe(true)
  })

  it('randint is int64 in [low, high) and hits every value', () => {
    ft.manualSeed(9)
    const t = ft.randint(-3, 4, [5000])
    expect(t.dtype).toBe('int64')
    const seen = new Set(valuesOf(t))
    expect([...seen].sort((x, y) => x - y)).toEqual([-3, -2, -1, 0, 1, 2, 3])
  })
})

describe('accumulation precision (large reductions stay exact where PyTorch is)', () => {
  it('sum of 2^25 ones is exactly 2^25 (no naive float32 accumulator saturating at 2^24)', () => {
    const n = 2 ** 25
    for (const [shape, dim, want] of [
      [[n], undefined, [n]],
      [[2, n], 1, [n, n]],
      [[n, 2], 0, [n, n]],
    ] as const) {
      const t = ft.ones(shape)
      const s = dim === undefined ? t.sum() : t.sum(dim)
      expect(valuesOf(s), `ones([${shape}]).sum(${dim ?? ''})`).toEqual(want)
      t.dispose() // 128-256 MB each: free now rather than at GC
      s.dispose()
    }
  })

  it('mean of 10^7 copies of 0.1 is 0.1 within 1e-6', () => {
    const t = ft.full([10_000_000], 0.1)
    const m = t.mean().item()
    t.dispose()
    expect(Math.abs(m - 0.1)).toBeLessThan(1e-6)
  })

  it('int64 sums beyond 2^31 are exact', () => {
    const t = ft.full([3000], 2 ** 31 - 1, { dtype: 'int64' })
    expect(valuesOf(t.sum())).toEqual([3000 * (2 ** 31 - 1)])
  })
})
