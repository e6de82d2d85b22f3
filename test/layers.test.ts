// The fine-tuning layers and losses against PyTorch: every case in test/fixtures/layers.json
// (made by test/fixtures/gen_layers.py) replayed through ft.functional and ft.nn, forward values
// and gradients; finite differences for the gradients; the printouts; and each new activation
// exported to ONNX and run in onnxruntime-node, at the opsets where its lowering changes.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { type Fixture, type FixtureTensor, decode, expectClose, loadFixture, makeTensor, valuesOf } from './helpers'
import { expectAgreement, runOnnx } from './onnx-support'

const F = ft.functional
const { nn } = ft

interface ActivationCase {
  name: string
  kind: 'activation'
  op: 'leakyRelu' | 'gelu' | 'silu' | 'hardswish'
  args: Record<string, unknown>
  input: FixtureTensor
  expected: FixtureTensor
  gradInput: FixtureTensor
  upstream: FixtureTensor
  grad: FixtureTensor
}

interface BatchNormStep {
  mode: 'train' | 'eval'
  input: FixtureTensor
  expected: FixtureTensor
  upstream: FixtureTensor
  grads: Record<string, FixtureTensor>
  state: Record<string, FixtureTensor>
}

interface BatchNormCase {
  name: string
  kind: 'batchNorm1d'
  numFeatures: number
  options: ft.nn.BatchNorm1dOptions
  initial: Record<string, FixtureTensor>
  steps: BatchNormStep[]
  repr: string
}

interface LossCase {
  name: string
  kind: 'loss'
  op: 'mseLoss' | 'binaryCrossEntropyWithLogits'
  reduction: 'mean' | 'sum' | 'none'
  input: FixtureTensor
  target: FixtureTensor
  weight?: FixtureTensor
  posWeight?: FixtureTensor
  expected: FixtureTensor
  upstream: FixtureTensor
  grads: { input: FixtureTensor; target: FixtureTensor }
}

interface ReprCase {
  layer: string
  options: Record<string, unknown>
  repr: string
}

type LayerCase = ActivationCase | BatchNormCase | LossCase
const fixture = loadFixture<LayerCase>('layers') as Fixture<LayerCase> & { reprs: ReprCase[] }
const ofKind = <K extends string>(kind: K) => fixture.cases.filter((c) => c.kind === kind)
const activationCases = ofKind('activation') as ActivationCase[]
const batchNormCases = ofKind('batchNorm1d') as BatchNormCase[]
const lossCases = ofKind('loss') as LossCase[]

const FLOAT32_EPSILON = 2 ** -23

function activation(op: ActivationCase['op'], args: Record<string, unknown>): (x: ft.Tensor) => ft.Tensor {
  switch (op) {
    case 'leakyRelu':
      return (x) => F.leakyRelu(x, args as ft.functional.LeakyReluOptions)
    case 'gelu':
      return (x) => F.gelu(x, args as ft.functional.GeluOptions)
    case 'silu':
      return F.silu
    case 'hardswish':
      return F.hardswish
  }
}

function activationModule(op: ActivationCase['op'], args: Record<string, unknown>): ft.nn.Module {
  switch (op) {
    case 'leakyRelu':
      return new nn.LeakyReLU(args)
    case 'gelu':
      return new nn.GELU(args)
    case 'silu':
      return new nn.SiLU()
    case 'hardswish':
      return new nn.Hardswish()
  }
}

/** The largest finite magnitude in a fixture tensor. */
function maxAbs(spec: FixtureTensor): number {
  return decode(spec.data).reduce<number>((m, v) => (typeof v === 'number' && Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0)
}

/** Float32 values of a fixture tensor. */
const numbers = (spec: FixtureTensor) => decode(spec.data).map((v) => Math.fround(v as number))

/**
 * `actual` against PyTorch element by element: |a - e| <= tolerance[i] + 1e-5 |e| (4 float32 ulp
 * and formula differences), non-finite values exactly.
 */
function expectWithin(actual: ft.Tensor, expected: FixtureTensor, tolerance: readonly number[], label: string): void {
  expect(actual.shape, `${label} shape`).toEqual(expected.shape)
  const [got, want] = [valuesOf(actual), numbers(expected)]
  for (let i = 0; i < want.length; i++) {
    const [a, e] = [got[i], want[i]]
    const ok = Number.isFinite(e) ? Math.abs(a - e) <= tolerance[i] + 1e-5 * Math.abs(e) : Object.is(a, e) || a === e
    expect(ok, `${label}[${i}]: got ${a}, PyTorch ${e}`).toBe(true)
  }
}

/** Compares with rtol 1e-4 and an atol of 1e-5 of the tensor's largest magnitude (sums that cancel are judged at its scale). */
function compareScaled(actual: ft.Tensor, expected: FixtureTensor, label: string): void {
  expectClose(actual, expected, { rtol: 1e-4, atol: Math.max(1e-5 * maxAbs(expected), 1e-7), label })
}

/**
 * `∂ sum(f(x) * R) / ∂x` by central differences in float32, element by element: what the analytic
 * gradient is checked against where no fixture pins it.
 */
function finiteDifferences(f: (x: ft.Tensor) => ft.Tensor, x: Float32Array, shape: number[], upstream: ft.Tensor, step = 1e-2): Float32Array {
  const loss = (values: Float32Array) => ft.noGrad(() => f(ft.tensor(values).reshape(shape)).mul(upstream).sum().item())
  const grad = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const [plus, minus] = [Float32Array.from(x), Float32Array.from(x)]
    plus[i] += step
    minus[i] -= step
    grad[i] = (loss(plus) - loss(minus)) / (plus[i] - minus[i])
  }
  return grad
}

function expectNearNumeric(analytic: ft.Tensor, numeric: Float32Array, label: string): void {
  const got = valuesOf(analytic)
  for (let i = 0; i < numeric.length; i++) {
    expect(Math.abs(got[i] - numeric[i]), `${label}[${i}]: analytic ${got[i]} vs numeric ${numeric[i]}`).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(numeric[i])))
  }
}

describe('activations against PyTorch', () => {
  for (const c of activationCases) {
    it(`${c.name}: forward at edge points and random values, and the input gradient`, () => {
      const f = activation(c.op, c.args)
      const x = makeTensor(c.input)
      const xs = numbers(c.input)
      // Each is x times a gate in [0, 1] (leaky relu: times the slope): a float32 rounding of the
      // gate costs about |x| * 2^-23, PyTorch's erf approximation about |x| * 1e-7.
      const forwardTolerance = xs.map((v) => 16 * FLOAT32_EPSILON * Math.abs(v))
      expectWithin(f(x), c.expected, forwardTolerance, 'forward')
      expectWithin(activationModule(c.op, c.args).forward(x), c.expected, forwardTolerance, 'module')
      const leaf = makeTensor(c.gradInput)
      leaf.requiresGrad = true
      const upstream = makeTensor(c.upstream)
      f(leaf).mul(upstream).sum().backward()
      // The derivative is gate + x * gate': its rounding grows with |x| where gate' is not yet 0.
      const r = numbers(c.upstream)
      const gradTolerance = numbers(c.gradInput).map((v, i) => 16 * FLOAT32_EPSILON * Math.abs(r[i]) * (1 + Math.abs(v)))
      expectWithin(leaf.grad as ft.Tensor, c.grad, gradTolerance, 'gradient')
    })
  }

  it('gradients match finite differences away from the kinks', () => {
    const x = Float32Array.from([-4.2, -2.5, -1.3, -0.4, 0.3, 0.9, 1.7, 2.6, 3.8, 5.5])
    const upstream = ft.tensor(Array.from({ length: 10 }, (_, i) => 0.5 + 0.1 * i))
    for (const c of activationCases) {
      const f = activation(c.op, c.args)
      const leaf = ft.tensor(x, { requiresGrad: true })
      f(leaf).mul(upstream).sum().backward()
      expectNearNumeric(leaf.grad as ft.Tensor, finiteDifferences(f, x, [10], upstream), c.name)
    }
  })

  it('refuse integer tensors and unknown approximations with typed errors', () => {
    const ints = ft.tensor([1, 2], { dtype: 'int64' })
    expect(() => F.gelu(ints)).toThrow(ft.DTypeMismatchError)
    expect(() => F.gelu(ft.ones([2]), { approximate: 'erf' as 'none' })).toThrow(ft.InvalidArgumentError)
    expect(() => F.leakyRelu(ft.ones([2]), { negativeSlope: Number.NaN })).toThrow(ft.InvalidArgumentError)
  })
})

describe('BatchNorm1d against PyTorch', () => {
  for (const c of batchNormCases) {
    it(`${c.name}: outputs, gradients and running statistics step by step`, () => {
      const m = new nn.BatchNorm1d(c.numFeatures, c.options)
      expect(String(m)).toBe(c.repr)
      const initial = Object.fromEntries(Object.entries(c.initial).map(([k, v]) => [k, makeTensor(v)]))
      m.loadStateDict(initial)
      for (const [i, step] of c.steps.entries()) {
        m.train(step.mode === 'train')
        m.zeroGrad()
        const x = makeTensor(step.input)
        x.requiresGrad = true
        const out = m.forward(x)
        compareScaled(out, step.expected, `step ${i} output`)
        out.mul(makeTensor(step.upstream)).sum().backward()
        compareScaled(x.grad as ft.Tensor, step.grads.input, `step ${i} input gradient`)
        if (step.grads.weight) compareScaled(m.weight?.grad as ft.Tensor, step.grads.weight, `step ${i} weight gradient`)
        if (step.grads.bias) compareScaled(m.bias?.grad as ft.Tensor, step.grads.bias, `step ${i} bias gradient`)
        const state = m.stateDict()
        expect(Object.keys(state).filter((k) => k !== 'weight' && k !== 'bias').sort()).toEqual(Object.keys(step.state).sort())
        for (const [key, want] of Object.entries(step.state)) compareScaled(state[key], want, `step ${i} ${key}`)
      }
    })
  }

  it('gradients match finite differences in training mode, for [N, C] and [N, C, L]', () => {
    for (const shape of [[5, 3], [3, 2, 4]]) {
      const n = shape.reduce((a, b) => a * b, 1)
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(1.7 * i) * 2 + 0.3)
      const upstream = ft.tensor(Array.from({ length: n }, (_, i) => Math.cos(0.9 * i) + 0.2)).reshape(shape)
      const m = new nn.BatchNorm1d(shape[1])
      const leaf = ft.tensor(x, { requiresGrad: true })
      m.forward(leaf.reshape(shape)).mul(upstream).sum().backward()
      const f = (t: ft.Tensor) => F.batchNorm(t, null, null, { weight: m.weight, bias: m.bias, training: true })
      expectNearNumeric(leaf.grad as ft.Tensor, finiteDifferences(f, x, shape, upstream), `BatchNorm1d [${shape}]`)
    }
  })

  it('takes 2-D and 3-D inputs only, with PyTorch\'s message', () => {
    const m = new nn.BatchNorm1d(3)
    expect(() => m.forward(ft.ones([2, 3, 4, 5]))).toThrow('BatchNorm1d: expected 2D or 3D input (got 4D input)')
    expect(() => m.forward(ft.ones([3]))).toThrow(ft.ShapeMismatchError)
    expect(() => new nn.BatchNorm1d(0)).toThrow(/BatchNorm1d/)
  })
})

function runLoss(c: LossCase, x: ft.Tensor, y: ft.Tensor, useModule: boolean): ft.Tensor {
  const weight = c.weight ? makeTensor(c.weight) : null
  const posWeight = c.posWeight ? makeTensor(c.posWeight) : null
  if (c.op === 'mseLoss') return useModule ? new nn.MSELoss({ reduction: c.reduction }).forward(x, y) : F.mseLoss(x, y, { reduction: c.reduction })
  if (useModule) return new nn.BCEWithLogitsLoss({ weight, posWeight, reduction: c.reduction }).forward(x, y)
  return F.binaryCrossEntropyWithLogits(x, y, { weight, posWeight, reduction: c.reduction })
}

describe('losses against PyTorch', () => {
  for (const c of lossCases) {
    it(`${c.name}: value and the input and target gradients`, () => {
      for (const useModule of [false, true]) {
        const [x, y] = [makeTensor(c.input), makeTensor(c.target)]
        x.requiresGrad = true
        y.requiresGrad = true
        const loss = runLoss(c, x, y, useModule)
        const label = useModule ? 'module' : 'functional'
        // Per-element losses are a few float32 operations; the mean and sum add one rounding per element.
        expectClose(loss, c.expected, { rtol: 1e-5, atol: 1e-6 * Math.max(1, maxAbs(c.expected)), label })
        loss.mul(makeTensor(c.upstream)).sum().backward()
        compareScaled(x.grad as ft.Tensor, c.grads.input, `${label} input gradient`)
        compareScaled(y.grad as ft.Tensor, c.grads.target, `${label} target gradient`)
      }
    })
  }

  it('gradients match finite differences for the input and the target', () => {
    const x = Float32Array.from({ length: 8 }, (_, i) => Math.sin(2.3 * i) * 3)
    const y = Float32Array.from({ length: 8 }, (_, i) => (Math.cos(1.1 * i) + 1) / 2)
    const upstream = ft.tensor(1.3)
    const weight = ft.tensor([0.5, 2, 1, 1.5])
    const posWeight = ft.tensor([3, 0.5, 1, 2])
    const losses: [string, (a: ft.Tensor, b: ft.Tensor) => ft.Tensor][] = [
      ['mse', (a, b) => F.mseLoss(a, b)],
      ['bce', (a, b) => F.binaryCrossEntropyWithLogits(a, b, { weight, posWeight, reduction: 'sum' })],
    ]
    for (const [name, loss] of losses) {
      const [xl, yl] = [ft.tensor(x, { requiresGrad: true }), ft.tensor(y, { requiresGrad: true })]
      loss(xl.reshape([2, 4]), yl.reshape([2, 4])).mul(upstream).backward()
      const yt = ft.tensor(y).reshape([2, 4])
      const xt = ft.tensor(x).reshape([2, 4])
      expectNearNumeric(xl.grad as ft.Tensor, finiteDifferences((t) => loss(t, yt), x, [2, 4], upstream), `${name} input`)
      expectNearNumeric(yl.grad as ft.Tensor, finiteDifferences((t) => loss(xt, t), y, [2, 4], upstream), `${name} target`)
    }
  })

  it('BCEWithLogitsLoss keeps weight and pos_weight as buffers, as PyTorch does', () => {
    const lossFn = new nn.BCEWithLogitsLoss({ posWeight: ft.tensor([2, 3]) })
    expect(Object.keys(lossFn.stateDict())).toEqual(['pos_weight'])
    expect(lossFn.weight).toBeNull()
    expect(valuesOf(lossFn.posWeight as ft.Tensor)).toEqual([2, 3])
  })

  it('refuse mismatched shapes, class-index targets and weights that do not broadcast', () => {
    const x = ft.ones([2, 3])
    expect(() => F.mseLoss(x, ft.ones([3]))).toThrow(ft.ShapeMismatchError)
    expect(() => F.binaryCrossEntropyWithLogits(x, ft.ones([2, 3], { dtype: 'int64' }))).toThrow(ft.DTypeMismatchError)
    expect(() => F.binaryCrossEntropyWithLogits(x, x, { posWeight: ft.ones([2]) })).toThrow(/pos_weight of shape \[2\] cannot be broadcast/)
    expect(() => F.mseLoss(x, x, { reduction: 'avg' as 'mean' })).toThrow(ft.InvalidArgumentError)
  })
})

describe('printing', () => {
  const make: Record<string, (options: Record<string, unknown>) => ft.nn.Module> = {
    LeakyReLU: (o) => new nn.LeakyReLU(o),
    GELU: (o) => new nn.GELU(o),
    SiLU: (o) => new nn.SiLU(o),
    Hardswish: (o) => new nn.Hardswish(o),
    MSELoss: (o) => new nn.MSELoss(o),
    BCEWithLogitsLoss: (o) => new nn.BCEWithLogitsLoss(o),
  }
  for (const r of fixture.reprs) {
    it(`${r.repr} prints as in PyTorch`, () => expect(String(make[r.layer](r.options))).toBe(r.repr))
  }
})

describe('ONNX export of the new layers', () => {
  const layers: [string, () => ft.nn.Module][] = [
    ['LeakyReLU(0.2)', () => new nn.LeakyReLU({ negativeSlope: 0.2 })],
    ['GELU', () => new nn.GELU()],
    ["GELU('tanh')", () => new nn.GELU({ approximate: 'tanh' })],
    ['SiLU', () => new nn.SiLU()],
    ['Hardswish', () => new nn.Hardswish()],
  ]
  // Values across every piece: the hardswish corners, saturated tails, 0.
  const example = ft.tensor([[-9, -3, -2.5, -1, -0.25, 0], [0.25, 1, 2.5, 3, 4, 9]])
  for (const [name, make] of layers) {
    for (const opsetVersion of [13, 14, 17, 20, 21]) {
      it(`${name} at opset ${opsetVersion} agrees with onnxruntime within 1e-5`, async () => {
        const model = new nn.Sequential(new nn.Linear(6, 6), make())
        const x = example.mul(0.7)
        const [actual] = await runOnnx(ft.onnx.toBuffer(model, x, { opsetVersion }), [x])
        expectAgreement(actual, ft.noGrad(() => model.eval().forward(x)), 1e-5)
      })
    }
  }

  it('BatchNorm1d in eval mode exports for [N, C] and [N, C, L] inputs', async () => {
    for (const shape of [[4, 3], [2, 3, 5]]) {
      const model = new nn.Sequential(new nn.BatchNorm1d(3), new nn.GELU())
      model.train()
      model.forward(ft.randn(shape))
      model.eval()
      const x = ft.randn(shape)
      const [actual] = await runOnnx(ft.onnx.toBuffer(model, x), [x])
      expectAgreement(actual, ft.noGrad(() => model.forward(x)), 1e-5)
    }
  })

  it('Module.predict replays the new activations', async () => {
    ft.manualSeed(3)
    const model = new nn.Sequential(new nn.Linear(4, 8), new nn.BatchNorm1d(8), new nn.LeakyReLU(), new nn.Linear(8, 8), new nn.GELU({ approximate: 'tanh' }), new nn.SiLU(), new nn.Hardswish())
    model.eval()
    const x = ft.randn([5, 4])
    const predicted = await model.predict(x)
    expect(valuesOf(predicted)).toEqual(valuesOf(ft.noGrad(() => model.forward(x))))
  })
})
