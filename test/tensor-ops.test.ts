// Golden-value tests: every case in test/fixtures/tensor_ops.json (generated from PyTorch by
// test/fixtures/gen_fixtures.py) is replayed through Ferrite's API and compared with PyTorch's
// output: shape, dtype and values (float32 within rtol/atol, int64/bool exactly), or that
// Ferrite throws where PyTorch raised. Cases of differentiable ops also carry PyTorch's gradient
// of every float32 input for a fixed non-uniform upstream gradient; Ferrite's backward must match.
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { type DType, type Encoded, type FixtureTensor, applyTransforms, decodeNumber, decodeValue, expectClose, loadFixture, makeTensor } from './helpers'

interface OpCase {
  name: string
  op: string
  inputs: FixtureTensor[]
  args?: {
    scalar?: Encoded
    dim?: number | number[]
    keepDim?: boolean
    shape?: number[]
    dims?: number[]
    dim0?: number
    dim1?: number
    startDim?: number
    endDim?: number
    dtype?: DType
    device?: ft.DeviceName
    value?: Encoded
    rtol?: number
    atol?: number
    equalNan?: boolean
    start?: number
    end?: number
    step?: number
    length?: number
    index?: number
  }
  expected?: FixtureTensor | { values: FixtureTensor; indices: FixtureTensor }
  error?: string
  /** PyTorch's gradient w.r.t. each input's base tensor (null for non-float inputs). */
  grads?: (FixtureTensor | null)[]
  rtol?: number
  atol?: number
}

type Result = ft.Tensor | { values: ft.Tensor; indices: ft.Tensor }
type Operand = ft.Tensor | number

const BINARY: Record<string, (x: ft.Tensor, o: Operand) => ft.Tensor> = {
  add: (x, o) => x.add(o),
  sub: (x, o) => x.sub(o),
  mul: (x, o) => x.mul(o),
  div: (x, o) => x.div(o),
  pow: (x, o) => x.pow(o),
  maximum: (x, o) => x.maximum(o as ft.Tensor),
  minimum: (x, o) => x.minimum(o as ft.Tensor),
  eq: (x, o) => x.eq(o),
  ne: (x, o) => x.ne(o),
  lt: (x, o) => x.lt(o),
  le: (x, o) => x.le(o),
  gt: (x, o) => x.gt(o),
  ge: (x, o) => x.ge(o),
}

const UNARY: Record<string, (x: ft.Tensor) => ft.Tensor> = {
  neg: (x) => x.neg(),
  abs: (x) => x.abs(),
  exp: (x) => x.exp(),
  log: (x) => x.log(),
  sqrt: (x) => x.sqrt(),
}

/** Ops whose output is a view/copy of the input; also checked after `.contiguous()`. */
const SHAPE_OPS = new Set(['reshape', 'view', 'flatten', 'permute', 'transpose', 'unsqueeze', 'squeeze', 'expand', 'narrow', 'select', 'contiguous', 'clone'])

/**
 * Ops whose float32 results must equal PyTorch's bit for bit (up to the sign of zero): data
 * movement, dtype conversion, creation, selection. Arithmetic, transcendental ops, reductions
 * and matmul use the case's rtol/atol (defaults 1e-5 / 1e-6).
 */
const EXACT_OPS = new Set([...SHAPE_OPS, 'to', 'zeros', 'ones', 'full', 'neg', 'abs', 'maximum', 'minimum', 'max', 'min'])

function apply(c: OpCase, xs: ft.Tensor[]): Result {
  const a = c.args ?? {}
  const [x, y] = xs
  const dtypeOpt = a.dtype ? { dtype: a.dtype } : undefined
  if (c.op in BINARY) return BINARY[c.op](x, y ?? decodeNumber(a.scalar!))
  if (c.op in UNARY) return UNARY[c.op](x)
  switch (c.op) {
    case 'sum':
    case 'mean': {
      const f = c.op === 'sum' ? x.sum.bind(x) : x.mean.bind(x)
      if (a.keepDim === undefined) return a.dim === undefined ? f() : f(a.dim)
      return f(a.dim, { keepDim: a.keepDim })
    }
    case 'max':
    case 'min': {
      if (a.dim === undefined) return c.op === 'max' ? x.max() : x.min()
      const dim = a.dim as number
      if (a.keepDim === undefined) return c.op === 'max' ? x.max(dim) : x.min(dim)
      return c.op === 'max' ? x.max(dim, { keepDim: a.keepDim }) : x.min(dim, { keepDim: a.keepDim })
    }
    case 'argmax':
    case 'argmin': {
      const f = c.op === 'argmax' ? x.argmax.bind(x) : x.argmin.bind(x)
      if (a.dim === undefined) return f()
      if (a.keepDim === undefined) return f(a.dim as number)
      return f(a.dim as number, { keepDim: a.keepDim })
    }
    case 'matmul':
      return x.matmul(y)
    case 'reshape':
      return x.reshape(a.shape!)
    case 'view':
      return x.view(a.shape!)
    case 'flatten':
      if (a.startDim === undefined) return x.flatten()
      return a.endDim === undefined ? x.flatten(a.startDim) : x.flatten(a.startDim, a.endDim)
    case 'permute':
      return x.permute(a.dims!)
    case 'transpose':
      return x.transpose(a.dim0!, a.dim1!)
    case 'unsqueeze':
      return x.unsqueeze(a.dim as number)
    case 'squeeze':
      return a.dim === undefined ? x.squeeze() : x.squeeze(a.dim as number)
    case 'expand':
      return x.expand(a.shape!)
    case 'narrow':
      return x.narrow(a.dim as number, a.start!, a.length!)
    case 'select':
      return x.select(a.dim as number, a.index!)
    case 'contiguous':
      return x.contiguous()
    case 'clone':
      return x.clone()
    case 'to':
      return a.dtype ? x.to(a.dtype) : x.to(a.device!)
    case 'allClose': {
      const close = ft.allClose(x, y, { rtol: a.rtol, atol: a.atol, equalNan: a.equalNan })
      expect(typeof close).toBe('boolean')
      // Returned as a 0-d bool tensor to compare like every other case.
      return ft.full([], close, { dtype: 'bool' })
    }
    case 'zeros':
      return dtypeOpt ? ft.zeros(a.shape!, dtypeOpt) : ft.zeros(a.shape!)
    case 'ones':
      return dtypeOpt ? ft.ones(a.shape!, dtypeOpt) : ft.ones(a.shape!)
    case 'full':
      return ft.full(a.shape!, decodeValue(a.value!), dtypeOpt)
    case 'arange':
      if (a.start === undefined) return ft.arange(a.end!)
      if (a.step === undefined && !dtypeOpt) return ft.arange(a.start, a.end!)
      return ft.arange(a.start, a.end!, a.step ?? 1, dtypeOpt)
    default:
      throw new Error(`tensor-ops test: no runner for op '${c.op}' (fixture case ${c.name})`)
  }
}

const fixture = loadFixture<OpCase>('tensor_ops')

/** The upstream gradient the fixture's `grads` were computed with (see gen_fixtures.py `upstream`). */
function upstream(shape: readonly number[]): ft.Tensor {
  const n = shape.reduce((p, d) => p * d, 1)
  const g = Array.from({ length: n }, (_, j) => (2 * ((37 * j + 11) % 23) - 23) / 16)
  return ft.tensor(g).reshape(shape)
}

/**
 * Backward is exact where the forward is and the gradient only moves values (no input was
 * expanded, so no gradient is summed); otherwise it uses the case's forward rtol/atol.
 */
function gradTolerance(c: OpCase): { rtol?: number; atol?: number } {
  const summed = c.op === 'expand' || c.inputs.some((x) => x.transform?.some((tr) => tr.op === 'expand'))
  return EXACT_OPS.has(c.op) && !summed ? { rtol: 0, atol: 0 } : { rtol: c.rtol, atol: c.atol }
}

/** Worst float32 relative error seen per op, printed after the run. */
const worst = new Map<string, { rel: number; name: string }>()
function record(c: OpCase, rel: number) {
  if (rel > (worst.get(c.op)?.rel ?? -1)) worst.set(c.op, { rel, name: c.name })
}
const byOp = new Map<string, OpCase[]>()
for (const c of fixture.cases) byOp.set(c.op, [...(byOp.get(c.op) ?? []), c])

describe(`tensor ops match PyTorch (${fixture.generator})`, () => {
  it('fixture is loaded', () => {
    expect(fixture.cases.length).toBeGreaterThan(400)
  })

  afterAll(() => {
    const rows = [...worst].filter(([, w]) => w.rel > 0).map(([op, w]) => `  ${op.padEnd(10)} ${w.rel.toExponential(2)}  (${w.name})`)
    if (rows.length) console.log(`max relative error vs PyTorch per op:\n${rows.join('\n')}`)
  })

  for (const [op, cases] of byOp) {
    describe(op, () => {
      it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
        const xs = c.inputs.map((spec) => makeTensor(spec))
        if (c.error !== undefined) {
          // PyTorch raised (message kept in the fixture for reference); Ferrite must throw one of
          // its typed errors too (not a TypeError from a missing method or a test bug).
          expect(() => apply(c, xs), `PyTorch: ${c.error}`).toThrow(ft.FerriteError)
          return
        }
        const tol = EXACT_OPS.has(c.op) ? { rtol: 0, atol: 0 } : { rtol: c.rtol, atol: c.atol }
        const out = apply(c, xs)
        const exp = c.expected!
        if ('values' in exp) {
          const r = out as { values: ft.Tensor; indices: ft.Tensor }
          expect(r.values, 'max/min over a dim returns { values, indices }').toBeDefined()
          record(c, expectClose(r.values, exp.values, { ...tol, label: 'values' }))
          expectClose(r.indices, exp.indices, { label: 'indices' })
          return
        }
        const t = out as ft.Tensor
        record(c, expectClose(t, exp, tol))
        if (SHAPE_OPS.has(c.op)) expectClose(t.contiguous(), exp, { ...tol, label: 'contiguous()' })
      })
    })
  }
})

describe('tensor-op gradients match PyTorch', () => {
  const gradCases = fixture.cases.filter((c) => c.grads !== undefined)
  it('fixture has gradients', () => {
    expect(gradCases.length).toBeGreaterThanOrEqual(300)
  })

  const gradsByOp = new Map<string, OpCase[]>()
  for (const c of gradCases) gradsByOp.set(c.op, [...(gradsByOp.get(c.op) ?? []), c])
  for (const [op, cases] of gradsByOp) {
    describe(op, () => {
      it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
        // Gradients are taken w.r.t. the base tensor, before the fixture's view transforms.
        const bases = c.inputs.map((spec) => makeTensor({ ...spec, transform: [] }))
        c.grads!.forEach((g, k) => {
          if (g !== null) bases[k].requiresGrad_()
        })
        const result = apply(c, bases.map((base, k) => applyTransforms(base, c.inputs[k].transform)))
        const out = result instanceof ft.Tensor ? result : result.values
        out.backward(upstream(out.shape))
        const tol = gradTolerance(c)
        c.grads!.forEach((want, k) => {
          if (want === null) return
          const got = bases[k].grad
          expect(got, `input ${k} got no gradient`).not.toBeNull()
          expectClose(got!, want, { ...tol, label: `grad of input ${k}` })
        })
      })
    })
  }
})
