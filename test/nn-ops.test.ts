// Golden-value tests for the neural-network ops: every case in test/fixtures/nn_ops.json (made
// by test/fixtures/gen_nn_fixtures.py from torch.nn.functional) is replayed through
// ft.functional. Each case checks the forward output, the running stats batchNorm updates, and
// the gradient of the non-uniform loss (out * R).sum() for every float input; error cases must
// throw a FerriteError. The worst relative error per op is printed at the end. The whole suite
// runs once per device in TEST_DEVICES (the cases of a GPU Ferrite cannot use are skipped, and
// counted, with the reason: no driver, no device).
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { type FixtureTensor, TEST_DEVICES, decode, expectClose, loadFixture, makeTensor, valuesOf } from './helpers'

const F = ft.functional

interface NnCase {
  name: string
  op: string
  inputs: Record<string, FixtureTensor>
  args: Record<string, unknown>
  expected?: FixtureTensor
  state?: Record<string, FixtureTensor>
  upstream?: FixtureTensor
  grads?: Record<string, FixtureTensor>
  error?: string
  forwardAtol?: number
}

type Inputs = Record<string, ft.Tensor>
type Pair = number | [number, number]

const RTOL = 1e-4
/** atol relative to the largest expected magnitude, so sums that cancel to ~0 are judged at the tensor's scale. */
const ATOL_SCALE = 1e-5
const ATOL_FLOOR = 1e-7
/** Below this fraction of the largest magnitude, the reported relative error uses the floor as denominator. */
const REL_FLOOR = 1e-3

function run(c: NnCase, x: Inputs): ft.Tensor {
  const a = c.args
  const bias = x.bias ? { bias: x.bias } : {}
  const weight = x.weight ? { weight: x.weight } : {}
  switch (c.op) {
    case 'conv2d':
      return F.conv2d(x.input, x.weight, { ...(a as { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number }), ...bias })
    case 'maxPool2d':
      return F.maxPool2d(x.input, a as { kernelSize: Pair; stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean })
    case 'avgPool2d':
      return F.avgPool2d(x.input, a as { kernelSize: Pair; stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean })
    case 'adaptiveAvgPool2d':
      return F.adaptiveAvgPool2d(x.input, a.outputSize as Pair)
    case 'batchNorm':
      return F.batchNorm(x.input, x.runningMean ?? null, x.runningVar ?? null, {
        ...(a as { training?: boolean; momentum?: number; eps?: number }),
        ...weight,
        ...bias,
      })
    case 'relu':
      return F.relu(x.input)
    case 'sigmoid':
      return F.sigmoid(x.input)
    case 'tanh':
      return F.tanh(x.input)
    case 'softmax':
      return F.softmax(x.input, a.dim as number)
    case 'logSoftmax':
      return F.logSoftmax(x.input, a.dim as number)
    case 'crossEntropy':
      return F.crossEntropy(x.input, x.target, a as { reduction?: 'mean' | 'sum' | 'none'; ignoreIndex?: number; labelSmoothing?: number })
    case 'nllLoss':
      return F.nllLoss(x.input, x.target, a as { reduction?: 'mean' | 'sum' | 'none'; ignoreIndex?: number })
    case 'linear':
      return x.bias ? F.linear(x.input, x.weight, x.bias) : F.linear(x.input, x.weight)
    default:
      throw new Error(`nn-ops test: no runner for op '${c.op}' (case ${c.name})`)
  }
}

/**
 * Builds a case's inputs. Inputs with a gradient in the fixture become leaves with requiresGrad;
 * a transformed input is a view of its leaf, whose gradient PyTorch recorded.
 */
function buildInputs(c: NnCase, device: ft.DeviceName): { used: Inputs; leaves: Inputs } {
  const used: Inputs = {}
  const leaves: Inputs = {}
  for (const [key, spec] of Object.entries(c.inputs)) {
    const leaf = makeTensor({ ...spec, transform: undefined }, device)
    if (c.grads && key in c.grads) leaf.requiresGrad = true
    leaves[key] = leaf
    let t = leaf
    for (const tr of spec.transform ?? []) {
      if (tr.op !== 'transpose') throw new Error(`nn-ops test: unexpected transform ${tr.op}`)
      t = t.transpose(tr.dim0, tr.dim1)
    }
    used[key] = t
  }
  return { used, leaves }
}

function maxAbs(spec: FixtureTensor): number {
  let m = 0
  for (const v of decode(spec.data)) if (typeof v === 'number' && Number.isFinite(v)) m = Math.max(m, Math.abs(v))
  return m
}

/**
 * Checks `actual` against PyTorch within rtol 1e-4 and an atol scaled to the tensor, and returns
 * the relative error max |a - e| / max(|e|, 1e-3 * max|E|) over finite expected values.
 */
function compare(actual: ft.Tensor, expected: FixtureTensor, label: string, atolOverride?: number): number {
  const scale = maxAbs(expected)
  const atol = atolOverride ?? Math.max(ATOL_SCALE * scale, ATOL_FLOOR)
  expectClose(actual, expected, { rtol: RTOL, atol, label })
  const got = valuesOf(actual)
  const want = decode(expected.data).map((v) => Math.fround(v as number))
  let worst = 0
  for (let i = 0; i < want.length; i++) {
    const denom = Math.max(Math.abs(want[i]), REL_FLOOR * scale)
    if (Number.isFinite(want[i]) && denom > 0) worst = Math.max(worst, Math.abs(got[i] - want[i]) / denom)
  }
  return worst
}

interface Worst {
  rel: number
  name: string
}
function record(table: Map<string, Worst>, c: NnCase, rel: number) {
  if (rel > (table.get(c.op)?.rel ?? -1)) table.set(c.op, { rel, name: c.name })
}

const fixture = loadFixture<NnCase>('nn_ops')
const byOp = new Map<string, NnCase[]>()
for (const c of fixture.cases) byOp.set(c.op, [...(byOp.get(c.op) ?? []), c])

function summary(device: ft.DeviceName, forwardWorst: Map<string, Worst>, backwardWorst: Map<string, Worst>): string {
  const cell = (w?: Worst) => `${(w ? w.rel.toExponential(2) : '-').padEnd(9)} ${(w?.name.split('/')[1] ?? '').padEnd(34)}`
  const lines = [`${device}: max relative error vs PyTorch per op (|a - e| / max(|e|, ${REL_FLOOR} * max|E|)), with the worst case:`]
  lines.push(`  ${'op'.padEnd(18)} ${'cases'.padEnd(5)} ${'forward'.padEnd(44)} gradients`)
  for (const [op, cases] of byOp) {
    const n = cases.filter((c) => c.error === undefined).length
    lines.push(`  ${op.padEnd(18)} ${String(n).padEnd(5)} ${cell(forwardWorst.get(op))} ${cell(backwardWorst.get(op))}`.trimEnd())
  }
  return lines.join('\n')
}

for (const { device, skip } of TEST_DEVICES) {
  describe(`nn ops on ${device} match PyTorch (${fixture.generator})`, () => {
    // Each case is reported as skipped with the reason (vitest prints it as the test's note).
    if (skip !== false) beforeEach((context) => context.skip(skip))
    const forwardWorst = new Map<string, Worst>()
    const backwardWorst = new Map<string, Worst>()
    it('fixture is loaded', () => {
      expect(fixture.cases.length).toBeGreaterThan(150)
    })

    afterAll(() => {
      if (forwardWorst.size > 0) console.log(summary(device, forwardWorst, backwardWorst))
    })

    for (const [op, cases] of byOp) {
      describe(op, () => {
        it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
          const { used, leaves } = buildInputs(c, device)
          if (c.error !== undefined) {
            expect(() => run(c, used), `PyTorch: ${c.error}`).toThrow(ft.FerriteError)
            return
          }
          const out = run(c, used)
          record(forwardWorst, c, compare(out, c.expected!, 'forward', c.forwardAtol))
          for (const [key, want] of Object.entries(c.state ?? {})) {
            record(forwardWorst, c, compare(used[key], want, `${key} after the call`))
          }
          out.mul(makeTensor(c.upstream!, device)).sum().backward()
          for (const [key, want] of Object.entries(c.grads ?? {})) {
            const grad = leaves[key].grad
            expect(grad, `${key}.grad`).not.toBeNull()
            record(backwardWorst, c, compare(grad!, want, `d(out * R).sum() / d${key}`))
          }
          for (const key of ['runningMean', 'runningVar', 'target']) {
            if (leaves[key]) expect(leaves[key].grad, `${key} gets no gradient`).toBeNull()
          }
        })
      })
    }

    describe('under ft.noGrad: same values (and running stats), no graph', () => {
      const firstCases = [...byOp.values()].map((cases) => cases.find((c) => c.error === undefined && c.grads)!)
      it.each(firstCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
        const { used } = buildInputs(c, device)
        const out = ft.noGrad(() => run(c, used))
        expect(out.requiresGrad).toBe(false)
        compare(out, c.expected!, 'forward', c.forwardAtol)
        for (const [key, want] of Object.entries(c.state ?? {})) compare(used[key], want, `${key} after the call`)
      })
    })
  })
}
