// conv2d against PyTorch at the tutorial models' layer shapes and a few of torchvision's ResNets',
// with batches large enough that Ferrite's CPU routes are the ones a model trains with: Winograd,
// the direct (AVX-512 / NEON) kernels, their stride phases, the tap classes, im2col + gemm with
// its pointwise and col2im paths. test/fixtures/conv_shapes.json (gen_conv_shapes.py) holds
// PyTorch's float32 forward and input, weight and bias gradients for a non-uniform upstream
// gradient, each whole or summarised (test/summaries.ts), with error scales; the inputs are
// hashed from names on both sides.
//
// The route each case takes is in the fixture and checked against Ferrite's routing by
// `the_pytorch_fixture_shapes_take_their_routes` (crates/ferrite-core/src/nn/conv/cpu/tests.rs),
// with the direct kernels and at up to the case's batch size in threads (the stride phases need a
// sample per thread); elsewhere the same numbers are checked on whichever route runs.
//
// Tolerances: a result reduced over K float32 products errs by at most K * u * S (u = 2^-24, S
// the same sum over absolute values, stored by the fixture), PyTorch and Ferrite each: 2 K u S per
// element; a projection sums independent per-element errors, so 6 times their root sum of
// squares (Hoeffding, see gen_conv_shapes.py); the sum of squares 2 * 2 K u sum |t| S. Winograd
// is not a plain sum of products: its transforms add a few roundings of sums of up to four tile
// values per point, small beside the K >= 1152 roundings of its reductions here.
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { loadFixture } from './helpers'
import { type StoredResult, type Worst, checkResult, hashed } from './summaries'

const U = 2 ** -24

interface ConvCase {
  name: string
  input: number[]
  weight: number[]
  stride: number
  padding: number
  bias: boolean
  routes: { forward: string; input: string; weight: string }
  forward: StoredResult & { reduction: number }
  grad_input: StoredResult & { reduction: number }
  grad_weight: StoredResult & { reduction: number }
  grad_bias?: StoredResult & { reduction: number }
}

const fixture = loadFixture<ConvCase>('conv_shapes')
const worst: { name: string; pass: string; worst: Worst }[] = []

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

function check(name: string, pass: string, got: ft.Tensor | null, want: StoredResult & { reduction: number }) {
  expect(got, `${name} ${pass}`).not.toBeNull()
  expect(got!.shape, `${name} ${pass}: shape`).toEqual(want.shape)
  const bound = want.reduction * U
  const found = checkResult(`${name} ${pass}`, got!.toTypedArray() as Float32Array, want, {
    element: (_, scale) => 2 * bound * scale,
    projection: (p, j) => 6 * 2 * bound * p.scale![j],
    sumSquares: (scale) => 2 * 2 * bound * scale,
  })
  worst.push({ name, pass, worst: found })
}

describe('conv2d matches PyTorch at the shapes of the fast kernels', () => {
  it('covers every CPU route of every pass', () => {
    const routes = new Set(fixture.cases.flatMap((c) => [`forward ${c.routes.forward}`, `input ${c.routes.input}`, `weight ${c.routes.weight}`]))
    const kernels = ['Winograd', 'Direct', 'TapClasses', 'Im2col']
    const want = [
      ...kernels.map((k) => `forward ${k}`),
      ...kernels.map((k) => `weight ${k}`),
      ...kernels.map((k) => `input Transposed(${k})`),
      'input StridedPhases',
      'input Col2im',
    ]
    expect([...routes].sort()).toEqual(want.sort())
    expect(fixture.cases.some((c) => c.bias)).toBe(true)
  })

  for (const c of fixture.cases) {
    const label = `${c.name}: [${c.input}] * [${c.weight}], stride ${c.stride}, padding ${c.padding}${c.bias ? ', bias' : ''} (${c.routes.forward} / ${c.routes.input} / ${c.routes.weight})`
    it(label, () => {
      const [o, ci, k] = [c.weight[0], c.weight[1], c.weight[2]]
      using x = ft.tensor(hashed(`${c.name}/input`, product(c.input)), { shape: c.input, requiresGrad: true })
      using w = ft.tensor(hashed(`${c.name}/weight`, product(c.weight), 1 / Math.sqrt(ci * k * k)), { shape: c.weight, requiresGrad: true })
      using b = c.bias ? ft.tensor(hashed(`${c.name}/bias`, o, 0.5), { shape: [o], requiresGrad: true }) : null
      using y = ft.functional.conv2d(x, w, { stride: c.stride, padding: c.padding, ...(b ? { bias: b } : {}) })
      check(c.name, 'forward', y, c.forward)
      using dy = ft.tensor(hashed(`${c.name}/grad_output`, product(y.shape)), { shape: y.shape })
      y.backward(dy)
      check(c.name, 'input gradient', x.grad, c.grad_input)
      check(c.name, 'weight gradient', w.grad, c.grad_weight)
      if (c.grad_bias) check(c.name, 'bias gradient', b!.grad, c.grad_bias)
    })
  }

  afterAll(() => {
    const lines = worst.map((w) => `  ${w.name} ${w.pass}: ${w.worst.ratio.toExponential(2)} of tolerance (${w.worst.at})`)
    console.log(`conv2d vs PyTorch, worst error over tolerance per pass (${ft.getNumThreads()} threads):\n${lines.join('\n')}`)
  })
})
