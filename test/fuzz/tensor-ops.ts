// Fuzz cases for the methods of ts/tensor.ts: elementwise, reductions, views and conversions.
// Each case builds its inputs, calls the op, and when the call succeeds checks the shape by
// PyTorch's rules (a success where the rules say the call is invalid is a finding too) and,
// where a JS reference is cheap, the values.
import * as ft from 'ferrite-ml'
import { check, type Case, type FuzzSettings } from './harness'
import * as gen from './gen'
import type { Random } from './random'
import {
  broadcastShapes,
  broadcastTo,
  expectRef,
  expectShape,
  narrowRef,
  numel,
  permuteRef,
  reduceRef,
  show,
  valuesOf,
  wrapDim,
  zipRefs,
  type DType,
  type Ref,
} from './reference'

type Maker = (rng: Random, settings: FuzzSettings) => Case

const f32 = Math.fround
const isF32 = (x: number) => Number.isNaN(x) || f32(x) === x
const smallInts = (ref: Ref) => ref.data.every((v) => Math.abs(v) <= 2 ** 20)

/** After a successful op on `input` with `requiresGrad`, backward through a sum gives it a grad of its own shape. */
function checkBackward(op: string, input: gen.Made, out: ft.Tensor): void {
  if (!input.t.requiresGrad || out.dtype !== 'float32' || !out.requiresGrad) return
  out.sum().backward()
  const grad = input.t.grad
  check(grad !== null, () => `${op}: backward left no grad on its input`)
  expectShape(`${op} backward`, grad, input.ref.shape)
}

/** Turns on gradients for some float32 inputs (leaves only: views of a leaf are not). */
function maybeRequireGrad(rng: Random, input: gen.Made): void {
  if (input.ref.dtype === 'float32' && input.t.isLeaf && rng.chance(0.3)) input.t.requiresGrad_()
}

const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const
const COMPARISONS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge'])
const binaryValue: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  maximum: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  minimum: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
  eq: (x, y) => +(x === y),
  ne: (x, y) => +(x !== y),
  lt: (x, y) => +(x < y),
  le: (x, y) => +(x <= y),
  gt: (x, y) => +(x > y),
  ge: (x, y) => +(x >= y),
}

/** A shape that broadcasts against `s` (trailing dims kept or 1), or now and then any shape. */
function partnerShape(rng: Random, s: readonly number[]): number[] {
  if (rng.chance(0.25)) return gen.shape(rng)
  const drop = rng.int(0, s.length)
  return s.slice(drop).map((n) => (rng.chance(0.3) ? 1 : n))
}

const binary: Maker = (rng) => {
  const op = rng.pick(BINARY)
  const a = gen.anyTensor(rng)
  maybeRequireGrad(rng, a)
  const useScalar = rng.chance(0.4)
  const scalar = gen.scalar(rng)
  const b = useScalar ? undefined : gen.tensor(rng, partnerShape(rng, a.ref.shape), rng.chance(0.6) ? a.ref.dtype : gen.dtype(rng))
  return {
    description: `(${a.how}).${op}(${b ? b.how : scalar})`,
    run() {
      const out = b ? a.t[op](b.t) : a.t[op](scalar)
      const shape = b ? broadcastShapes(a.ref.shape, b.ref.shape) : a.ref.shape
      check(shape !== null, () => `${op} accepted shapes ${show(a.ref.shape)} and ${show(b!.ref.shape)}, which do not broadcast`)
      const other: Ref = b ? b.ref : { shape: [], dtype: 'float32', data: Float64Array.of(scalar) }
      const f = binaryValue[op]
      const bothFloat = a.ref.dtype === 'float32' && other.dtype === 'float32' && (b !== undefined || isF32(scalar))
      const bothInt = b !== undefined && a.ref.dtype === 'int64' && other.dtype === 'int64' && smallInts(a.ref) && smallInts(other)
      if (f && (bothFloat || bothInt)) {
        const dtype: DType = COMPARISONS.has(op) ? 'bool' : bothInt && op !== 'div' ? 'int64' : 'float32'
        expectRef(op, out, zipRefs(a.ref, other, dtype, (x, y) => (dtype === 'float32' ? f32(f(x, y)) : f(x, y))))
      } else {
        expectShape(op, out, shape)
      }
      checkBackward(op, a, out)
    },
  }
}

const UNARY = ['neg', 'abs', 'exp', 'log', 'sqrt', 'relu', 'sigmoid', 'tanh', 'contiguous', 'clone', 'detach'] as const
const unaryValue: Record<string, [(x: number) => number, number]> = {
  neg: [(x) => -x, 0],
  abs: [Math.abs, 0],
  sqrt: [Math.sqrt, 0],
  exp: [Math.exp, 1e-5],
  log: [Math.log, 1e-5],
  relu: [(x) => (x > 0 || Number.isNaN(x) ? x : 0), 0],
  sigmoid: [(x) => 1 / (1 + Math.exp(-x)), 1e-5],
  tanh: [Math.tanh, 1e-5],
}

const unary: Maker = (rng) => {
  const op = rng.pick(UNARY)
  const a = gen.anyTensor(rng)
  maybeRequireGrad(rng, a)
  const functional = op === 'relu' || op === 'sigmoid' || op === 'tanh'
  return {
    description: functional ? `F.${op}(${a.how})` : `(${a.how}).${op}()`,
    run() {
      const out = functional ? ft.functional[op](a.t) : a.t[op]()
      const reference = unaryValue[op]
      if (op === 'contiguous' || op === 'clone' || op === 'detach') expectRef(op, out, a.ref)
      else if (reference && a.ref.dtype === 'float32') {
        const [f, tolerance] = reference
        expectRef(op, out, { ...a.ref, data: a.ref.data.map((x) => f32(f(x))) }, tolerance)
      } else expectShape(op, out, a.ref.shape)
      checkBackward(op, a, out)
    },
  }
}

/** Dims for a reduction: none, one, or a list that may repeat or leave the range. */
function reductionDims(rng: Random, rank: number): number | number[] | undefined {
  const kind = rng.int(0, 2)
  if (kind === 0) return undefined
  if (kind === 1) return gen.dim(rng, rank)
  return Array.from({ length: rng.int(0, rank + 1) }, () => gen.dim(rng, rank))
}

/** The non-negative dims of a valid reduction, or null when PyTorch rejects them. */
function normalizeDims(dims: number | number[] | undefined, rank: number): number[] | null {
  const list = dims === undefined ? [] : typeof dims === 'number' ? [dims] : dims
  const wrapped = list.map((d) => wrapDim(d, rank))
  if (wrapped.some((d) => d === null) || new Set(wrapped).size !== wrapped.length) return null
  return rank === 0 ? [] : (wrapped as number[])
}

const hasNonFinite = (ref: Ref) => ref.data.some((v) => !Number.isFinite(v) || Math.abs(v) > 1e30)

const reduction: Maker = (rng) => {
  const op = rng.pick(['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const)
  const a = gen.anyTensor(rng)
  maybeRequireGrad(rng, a)
  const rank = a.ref.shape.length
  const keepDim = rng.chance(0.5)
  const dims = op === 'sum' || op === 'mean' ? reductionDims(rng, rank) : rng.chance(0.5) ? undefined : gen.dim(rng, rank)
  return {
    description: `(${a.how}).${op}(${JSON.stringify(dims) ?? ''}${dims === undefined ? '' : `, { keepDim: ${keepDim} }`})`,
    run() {
      if (op === 'max' || op === 'min') {
        if (dims === undefined) {
          const out = a.t[op]()
          check(a.ref.data.length > 0, () => `${op}() of an empty tensor returned ${out.toString()} instead of an error`)
          const want = a.ref.data.some(Number.isNaN) ? NaN : a.ref.data.reduce((x, y) => Math[op](x, y))
          expectRef(op, out, { shape: [], dtype: a.ref.dtype, data: Float64Array.of(want) })
          checkBackward(op, a, out)
          return
        }
        const { values, indices } = a.t[op](dims as number, { keepDim })
        const d = normalizeDims(dims, rank)
        check(d !== null, () => `${op}(dim ${dims}) accepted a dim outside a rank-${rank} tensor`)
        const expected = reduceRef(a.ref, d, keepDim, a.ref.dtype, (v) => (v.some(Number.isNaN) ? NaN : v.reduce((x, y) => Math[op](x, y), op === 'max' ? -Infinity : Infinity)))
        check(d.length === 0 || a.ref.shape[d[0]] > 0, () => `${op}(${dims}) over an empty dim returned values instead of an error`)
        expectRef(op, values, expected)
        expectShape(`${op} indices`, indices, expected.shape)
        return
      }
      const out = op === 'sum' || op === 'mean' ? a.t[op](dims, { keepDim }) : a.t[op](dims as number | undefined, { keepDim })
      const d = normalizeDims(dims, rank)
      check(d !== null, () => `${op}(${JSON.stringify(dims)}) accepted dims invalid for a rank-${rank} tensor`)
      if (op === 'sum' || op === 'mean') {
        const dtype: DType = a.ref.dtype === 'float32' || op === 'mean' ? 'float32' : 'int64'
        const expected = reduceRef(a.ref, d, keepDim, dtype, (v) => v.reduce((x, y) => x + y, 0) / (op === 'mean' ? v.length : 1))
        if (hasNonFinite(a.ref) || (a.ref.dtype === 'int64' && !smallInts(a.ref))) expectShape(op, out, expected.shape)
        else {
          const scale = reduceRef(a.ref, d, keepDim, dtype, (v) => v.reduce((x, y) => x + Math.abs(y), 0) / (op === 'mean' ? v.length : 1))
          expectRef(op, out, expected, 1e-5, scale.data)
        }
        checkBackward(op, a, out)
        return
      }
      // argmax / argmin: the first extreme (no NaN in the input), over all elements without a dim.
      const whole = dims === undefined
      check(!whole || a.ref.data.length > 0, () => `${op}() of an empty tensor returned ${out.toString()}`)
      const flat: Ref = whole ? { ...a.ref, shape: [a.ref.data.length] } : a.ref
      const expected = reduceRef(flat, whole ? [0] : d, whole ? false : keepDim, 'int64', (v) => {
        const best = v.reduce((x, y) => (op === 'argmax' ? Math.max(x, y) : Math.min(x, y)))
        return v.indexOf(best)
      })
      if (whole && keepDim) expected.shape = a.ref.shape.map(() => 1)
      if (a.ref.data.some(Number.isNaN) || (!whole && rank > 0 && a.ref.shape[d[0]] === 0)) expectShape(op, out, expected.shape)
      else expectRef(op, out, expected)
    },
  }
}

/** A shape with `n` elements (one dim may be -1), or now and then any shape. */
function reshapeTarget(rng: Random, n: number): number[] {
  if (rng.chance(0.2)) return gen.shape(rng).map((d) => (rng.chance(0.1) ? -1 : d))
  const dims: number[] = []
  let left = n
  while (left > 1 && dims.length < 4) {
    const divisors = [2, 3, 5, 7].filter((p) => left % p === 0)
    if (divisors.length === 0) break
    const p = rng.pick(divisors)
    dims.push(p)
    left /= p
  }
  dims.push(left)
  const shuffled = rng.shuffle(dims)
  if (rng.chance(0.3)) shuffled[rng.int(0, shuffled.length - 1)] = -1
  if (rng.chance(0.1)) shuffled.push(rng.pick([1, -1, 0]))
  return shuffled
}

/** What a reshape to `target` gives for `n` elements, or null when PyTorch rejects it. */
function resolveShape(target: number[], n: number): number[] | null {
  const free = target.filter((d) => d === -1).length
  if (free > 1 || target.some((d) => d < -1)) return null
  const known = numel(target.filter((d) => d !== -1))
  if (free === 0) return known === n ? target : null
  if (known === 0 || n % known !== 0) return null
  return target.map((d) => (d === -1 ? n / known : d))
}

const CONVERSIONS: Record<DType, (x: number) => number> = {
  float32: f32,
  int64: (x) => Math.trunc(x),
  bool: (x) => +(x !== 0),
}

const view: Maker = (rng) => {
  const op = rng.pick(['reshape', 'view', 'flatten', 'permute', 'transpose', 'unsqueeze', 'squeeze', 'narrow', 'select', 'expand', 'to', 'item', 'toArray', 'toString', 'size'] as const)
  const a = gen.anyTensor(rng)
  maybeRequireGrad(rng, a)
  const s = a.ref.shape
  const rank = s.length
  const n = a.ref.data.length
  const d0 = gen.dim(rng, rank)
  const d1 = gen.dim(rng, rank)
  const target = reshapeTarget(rng, n)
  const perm = rng.chance(0.8) ? rng.shuffle(s.map((_, i) => i)) : Array.from({ length: rng.int(0, rank + 1) }, () => gen.dim(rng, rank))
  const start = rng.chance(0.8) ? rng.int(0, Math.max(0, (s[wrapDim(d0, rank) ?? 0] ?? 1) - 1)) : rng.pick([-1, 0.5, 1e9, NaN])
  const length = rng.chance(0.8) ? rng.int(0, Math.max(0, (s[wrapDim(d0, rank) ?? 0] ?? 1) - (Number.isInteger(start) ? start : 0))) : rng.pick([-1, 1.5, 2 ** 40])
  const index = rng.chance(0.8) ? rng.int(-(s[wrapDim(d0, rank) ?? 0] ?? 1), (s[wrapDim(d0, rank) ?? 0] ?? 1) - 1) : rng.pick([1e9, -1e9, 0.5, NaN])
  const expandTo = [...(rng.chance(0.3) ? [rng.int(0, 3)] : []), ...s.map((d) => (d === 1 && rng.chance(0.5) ? rng.int(0, 4) : rng.chance(0.2) ? -1 : rng.chance(0.05) ? d + 1 : d))]
  const dtype: string = rng.chance(0.9) ? gen.dtype(rng) : rng.pick(['float16', 'cuda:0', 'cpu'])
  const args: Record<string, string> = {
    reshape: show(target), view: show(target), flatten: `${d0}, ${d1}`, permute: show(perm), transpose: `${d0}, ${d1}`, unsqueeze: `${d0}`,
    squeeze: `${d0}`, narrow: `${d0}, ${start}, ${length}`, select: `${d0}, ${index}`, expand: show(expandTo), to: `'${dtype}'`, item: '', toArray: '', toString: '', size: `${d0}`,
  }
  return {
    description: `(${a.how}).${op}(${args[op]})`,
    run() {
      switch (op) {
        case 'reshape':
        case 'view': {
          const out = a.t[op](target)
          const resolved = resolveShape(target, n)
          check(resolved !== null, () => `${op}(${show(target)}) accepted a shape invalid for ${n} elements`)
          expectRef(op, out, { ...a.ref, shape: resolved })
          return checkBackward(op, a, out)
        }
        case 'flatten': {
          const out = a.t.flatten(d0, d1)
          const [i, j] = [wrapDim(d0, rank), wrapDim(d1, rank)]
          check(i !== null && j !== null && (rank === 0 || i <= j), () => `flatten(${d0}, ${d1}) accepted invalid dims for rank ${rank}`)
          const shape = rank === 0 ? [1] : [...s.slice(0, i), numel(s.slice(i, j + 1)), ...s.slice(j + 1)]
          return expectRef(op, out, { ...a.ref, shape })
        }
        case 'permute': {
          const out = a.t.permute(perm)
          const wrapped = perm.map((d) => wrapDim(d, rank))
          check(perm.length === rank && !wrapped.includes(null) && new Set(wrapped).size === rank, () => `permute(${show(perm)}) accepted dims invalid for rank ${rank}`)
          expectRef(op, out, permuteRef(a.ref, wrapped as number[]))
          return checkBackward(op, a, out)
        }
        case 'transpose': {
          const out = a.t.transpose(d0, d1)
          const [i, j] = [wrapDim(d0, rank), wrapDim(d1, rank)]
          check(i !== null && j !== null, () => `transpose(${d0}, ${d1}) accepted dims outside rank ${rank}`)
          const dims = s.map((_, k) => (k === i ? j : k === j ? i : k))
          return expectRef(op, out, rank === 0 ? a.ref : permuteRef(a.ref, dims))
        }
        case 'unsqueeze': {
          const out = a.t.unsqueeze(d0)
          const i = wrapDim(d0, rank + 1)
          check(i !== null, () => `unsqueeze(${d0}) accepted a dim outside [${-rank - 1}, ${rank}]`)
          return expectRef(op, out, { ...a.ref, shape: [...s.slice(0, i), 1, ...s.slice(i)] })
        }
        case 'squeeze': {
          const out = a.t.squeeze(d0)
          const i = wrapDim(d0, rank)
          check(i !== null, () => `squeeze(${d0}) accepted a dim outside rank ${rank}`)
          return expectRef(op, out, { ...a.ref, shape: rank > 0 && s[i] === 1 ? s.filter((_, k) => k !== i) : s })
        }
        case 'narrow': {
          const out = a.t.narrow(d0, start, length)
          const i = wrapDim(d0, rank)
          check(i !== null && rank > 0 && start >= 0 && length >= 0 && start + length <= s[i], () => `narrow(${d0}, ${start}, ${length}) accepted a range outside ${show(s)}`)
          return expectRef(op, out, narrowRef(a.ref, i, start, length))
        }
        case 'select': {
          const out = a.t.select(d0, index)
          const i = wrapDim(d0, rank)
          check(i !== null && rank > 0 && index >= -s[i] && index < s[i], () => `select(${d0}, ${index}) accepted an index outside ${show(s)}`)
          const slice = narrowRef(a.ref, i, index < 0 ? index + s[i] : index, 1)
          expectRef(op, out, { ...slice, shape: s.filter((_, k) => k !== i) })
          return checkBackward(op, a, out)
        }
        case 'expand': {
          const out = a.t.expand(expandTo)
          const lead = expandTo.length - rank
          const resolved = expandTo.map((d, k) => (d === -1 && k >= lead ? s[k - lead] : d))
          const ok = lead >= 0 && resolved.every((d, k) => d >= 0 && (k < lead ? expandTo[k] !== -1 : s[k - lead] === d || s[k - lead] === 1))
          check(ok, () => `expand(${show(expandTo)}) accepted a shape ${show(s)} cannot broadcast to`)
          return expectRef(op, out, broadcastTo(a.ref, resolved))
        }
        case 'to': {
          const out = a.t.to(dtype as DType)
          if (dtype === 'cpu') return expectRef(op, out, a.ref)
          check(dtype in CONVERSIONS, () => `to('${dtype}') succeeded`)
          const to = dtype as DType
          const exact = to !== 'int64' || a.ref.data.every((x) => Number.isFinite(x) && Math.abs(x) < 2 ** 53)
          if (exact) return expectRef(op, out, { ...a.ref, dtype: to, data: a.ref.data.map(CONVERSIONS[to]) })
          return expectShape(op, out, s)
        }
        case 'item': {
          const v = a.t.item()
          check(n === 1, () => `item() of ${n} elements returned ${v}`)
          return check(Object.is(v, a.ref.data[0]) || v === a.ref.data[0], () => `item() returned ${v}, expected ${a.ref.data[0]}`)
        }
        case 'toArray': {
          const flat = ([a.t.toArray()] as unknown[]).flat(Infinity as 1).map(Number)
          return check(flat.length === n && flat.every((v, k) => Object.is(v, a.ref.data[k]) || v === a.ref.data[k]), () => `toArray() gave ${flat.slice(0, 8)}...`)
        }
        case 'toString':
          return check(typeof a.t.toString() === 'string', () => 'toString() did not return a string')
        case 'size': {
          const v = a.t.size(d0)
          const i = wrapDim(d0, rank)
          return check(i !== null && rank > 0 && v === s[i], () => `size(${d0}) of ${show(s)} returned ${v}`)
        }
      }
    },
  }
}

const copyInto: Maker = (rng) => {
  const dst = gen.anyTensor(rng)
  const src = gen.tensor(rng, partnerShape(rng, dst.ref.shape), rng.chance(0.6) ? dst.ref.dtype : gen.dtype(rng))
  return {
    description: `(${dst.how}).copy_(${src.how})`,
    run() {
      dst.t.copy_(src.t)
      const shape = broadcastShapes(dst.ref.shape, src.ref.shape)
      check(shape !== null && shape.length === dst.ref.shape.length && shape.every((d, k) => d === dst.ref.shape[k]), () => `copy_ accepted a source of shape ${show(src.ref.shape)} for ${show(dst.ref.shape)}`)
      // An expanded destination has several elements in one place: which value wins is undefined.
      if (!dst.how.includes('expand') && src.ref.dtype === dst.ref.dtype) expectRef('copy_', dst.t, broadcastTo(src.ref, dst.ref.shape))
    },
  }
}

const join: Maker = (rng) => {
  const op = rng.pick(['cat', 'stack'] as const)
  const base = gen.shape(rng, 4)
  const rank = base.length
  const dim = gen.dim(rng, op === 'stack' ? rank + 1 : rank)
  const along = wrapDim(dim, rank) ?? 0
  const dt = gen.dtype(rng)
  const parts = Array.from({ length: rng.int(0, 4) }, () => {
    const s = [...base]
    if (op === 'cat' && rank > 0) s[along] = rng.int(0, 3)
    if (rng.chance(0.1)) return gen.anyTensor(rng)
    return gen.tensor(rng, s, rng.chance(0.9) ? dt : gen.dtype(rng))
  })
  return {
    description: `ft.${op}([${parts.map((p) => p.how).join(', ')}], ${dim})`,
    run() {
      const out = ft[op](parts.map((p) => p.t), dim)
      check(parts.length > 0, () => `${op} of no tensors returned ${show(out.shape)}`)
      const shapes = parts.map((p) => p.ref.shape)
      if (op === 'stack') {
        const first = shapes[0]
        const d = wrapDim(dim, first.length + 1)
        const same = shapes.every((s) => s.length === first.length && s.every((n, k) => n === first[k]))
        check(d !== null && same, () => `stack accepted shapes ${shapes.map(show).join(' ')} at dim ${dim}`)
        return expectShape(op, out, [...first.slice(0, d), parts.length, ...first.slice(d)])
      }
      const d = wrapDim(dim, rank)
      const fits = shapes.every((s) => s.length === rank && s.every((n, k) => k === along || n === base[k]))
      if (!fits || rank === 0) return
      check(d !== null, () => `cat accepted dim ${dim} for rank ${rank}`)
      const shape = [...base]
      shape[along] = shapes.reduce((total, s) => total + s[along], 0)
      expectShape(op, out, shape)
      if (parts.every((p) => p.ref.dtype === dt)) {
        const outer = numel(base.slice(0, along))
        const inner = numel(base.slice(along + 1))
        const data: number[] = []
        for (let o = 0; o < outer; o++) {
          for (const p of parts) {
            const block = p.ref.shape[along] * inner
            for (const v of p.ref.data.subarray(o * block, (o + 1) * block)) data.push(v)
          }
        }
        expectRef(op, out, { shape, dtype: dt, data: Float64Array.from(data) })
      }
    },
  }
}

/** PyTorch's matmul shape: 1-D operands gain a dim that the result drops again; batch dims broadcast. */
function matmulShapes(a: number[], b: number[]): { a: number[]; b: number[]; out: number[] } | null {
  if (a.length === 0 || b.length === 0) return null
  const a2 = a.length === 1 ? [1, a[0]] : a
  const b2 = b.length === 1 ? [b[0], 1] : b
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2))
  if (batch === null || a2[a2.length - 1] !== b2[b2.length - 2]) return null
  const [m, k, n] = [a2[a2.length - 2], a2[a2.length - 1], b2[b2.length - 1]]
  const out = [...batch, m, n].filter((_, d, all) => !((a.length === 1 && d === all.length - 2) || (b.length === 1 && d === all.length - 1)))
  return { a: [...batch, m, k], b: [...batch, k, n], out }
}

/** A float64 reference product of refs already broadcast to [..., m, k] and [..., k, n]. */
function matmulRef(a: Ref, b: Ref, abs: boolean): Float64Array {
  const [m, k] = a.shape.slice(-2)
  const n = b.shape[b.shape.length - 1]
  const batches = numel(a.shape.slice(0, -2))
  const out = new Float64Array(batches * m * n)
  const f = abs ? Math.abs : (x: number) => x
  for (let p = 0; p < batches; p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0
        for (let q = 0; q < k; q++) sum += f(a.data[(p * m + i) * k + q]) * f(b.data[(p * k + q) * n + j])
        out[(p * m + i) * n + j] = sum
      }
  return out
}

const matmul: Maker = (rng) => {
  const [m, k, n] = [rng.int(0, 6), rng.int(0, 6), rng.int(0, 6)]
  const batch = Array.from({ length: rng.int(0, 2) }, () => rng.int(1, 3))
  const left = rng.pick([[k], [m, k], [...batch, m, k]])
  const right = rng.pick([[rng.chance(0.9) ? k : k + 1], [rng.chance(0.9) ? k : k + 1, n], [...batch.map((d) => (rng.chance(0.3) ? 1 : d)), k, n]])
  const a = gen.tensor(rng, rng.chance(0.05) ? gen.shape(rng) : left, rng.chance(0.9) ? 'float32' : gen.dtype(rng))
  const b = gen.tensor(rng, rng.chance(0.05) ? gen.shape(rng) : right, rng.chance(0.9) ? 'float32' : gen.dtype(rng))
  maybeRequireGrad(rng, a)
  return {
    description: `(${a.how}).matmul(${b.how})`,
    run() {
      const out = a.t.matmul(b.t)
      const shapes = matmulShapes(a.ref.shape, b.ref.shape)
      check(shapes !== null, () => `matmul accepted shapes ${show(a.ref.shape)} and ${show(b.ref.shape)}`)
      if (a.ref.dtype !== 'float32' || b.ref.dtype !== 'float32' || hasNonFinite(a.ref) || hasNonFinite(b.ref)) return expectShape('matmul', out, shapes.out)
      const [x, y] = [broadcastTo(a.ref.shape.length === 1 ? { ...a.ref, shape: [1, ...a.ref.shape] } : a.ref, shapes.a), broadcastTo(b.ref.shape.length === 1 ? { ...b.ref, shape: [...b.ref.shape, 1] } : b.ref, shapes.b)]
      expectRef('matmul', out, { shape: shapes.out, dtype: 'float32', data: matmulRef(x, y, false) }, 1e-5, matmulRef(x, y, true))
      checkBackward('matmul', a, out)
    },
  }
}

const seeding: Maker = (rng) => {
  const seed = rng.chance(0.7) ? rng.int(0, 2 ** 31) : gen.scalar(rng)
  const like = gen.anyTensor(rng)
  const factory = rng.pick(['zerosLike', 'onesLike', 'randLike', 'randnLike'] as const)
  return {
    description: `ft.manualSeed(${seed}); ft.${factory}(${like.how})`,
    run() {
      ft.manualSeed(seed)
      check(Number.isSafeInteger(seed), () => `manualSeed accepted ${seed}`)
      const first = valuesOf(ft.rand([4]))
      ft.manualSeed(seed)
      check(valuesOf(ft.rand([4])).every((v, i) => v === first[i]), () => `manualSeed(${seed}) did not repeat the draws`)
      expectShape(factory, ft[factory](like.t), like.ref.shape)
    },
  }
}

export const TENSOR_OPS: Record<string, Maker> = { binary, unary, reduction, view, copyInto, join, matmul, seeding }
