// Mixed precision (ft.autocast, fit's precision: 'bf16') against PyTorch's CPU autocast:
// test/fixtures/gen_autocast.py writes the fixtures.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { loadFixture } from './helpers'

interface Stored {
  shape: number[]
  dtype: 'float32' | 'bfloat16' | 'int64'
  data: number[]
}
interface OpCase {
  name: 'conv2d' | 'linear' | 'matmul'
  inputs: Stored[]
  kwargs: { padding?: number; stride?: number }
  output: Stored
  upstream: Stored
  grads: Stored[]
}
interface Step {
  weights: Record<string, Stored>
  images: Stored
  labels: Stored
  convDtype: string
  logits: Stored
  loss: Stored
  grads: Record<string, Stored>
}
const fixture = loadFixture<OpCase>('autocast') as ReturnType<typeof loadFixture<OpCase>> & { step: Step }
// Every bf16 kernel this CPU runs is checked against PyTorch, also where float32 outruns it and
// autocast would not take it (Intel without AMX): this file runs in a process of its own (vitest's
// 'forks' pool), and the setting is read on the first question below.
process.env.FERRITE_CPU_BF16 ??= '1'
const native = ft.backends.cpu.hasBf16Kernels()

function build(s: Stored): ft.Tensor {
  const flat = s.dtype === 'int64' ? ft.tensor(s.data, { dtype: 'int64' }) : ft.tensor(s.data).to(s.dtype)
  return flat.reshape(s.shape)
}

/**
 * |got - want| <= rtol * |want| + ulps * scale per element. For one op, `scale` is the sum of
 * |products| behind each element (`absolute` below): PyTorch rounds each operand to bf16 (half a
 * step: 2^-9 relative), so each product is off by up to 2^-8 of its size however the sums go,
 * and a bf16 result adds half a step of its own (2^-9 |want|, doubled for two roundings that may
 * differ). Ours rounds the same or (float32 kernels, float32 gradients) not at all.
 */
function expectNear(got: ft.Tensor, want: Stored, scale: number[], { rtol = 2 ** -8, ulps = 2 ** -8 } = {}, label = ''): void {
  expect(got.shape, label).toEqual(want.shape)
  const flat = Array.from(got.toTypedArray() as Float32Array)
  flat.forEach((v, i) => {
    const bound = rtol * Math.abs(want.data[i]) + ulps * scale[i] + 1e-30
    if (!(Math.abs(v - want.data[i]) <= bound)) {
      throw new Error(`${label}[${i}]: ${v} vs PyTorch ${want.data[i]} (|diff| ${Math.abs(v - want.data[i])} > ${bound})`)
    }
  })
}

/** The op on |operands| in float32 with |upstream|: each output's and each gradient's sum of |products|. */
function absolute(c: OpCase): { output: number[]; grads: number[][] } {
  const operands = c.inputs.map((s) => {
    const t = build(s).float().abs()
    t.requiresGrad = true
    return t
  })
  const out = runOp(c, operands)
  out.backward(build(c.upstream).float().abs())
  const values = (t: ft.Tensor) => Array.from(t.toTypedArray() as Float32Array)
  return { output: values(out), grads: operands.map((t) => values(t.grad!)) }
}

/** Relative L2 error of `got` against `want`, for values computed through several bf16 ops. */
function relativeError(got: ft.Tensor, want: Stored): number {
  const flat = Array.from(got.toTypedArray() as Float32Array)
  const diff = Math.hypot(...flat.map((v, i) => v - want.data[i]))
  return diff / Math.hypot(...want.data)
}

function runOp(c: OpCase, operands: ft.Tensor[]): ft.Tensor {
  const [a, b, bias] = operands
  if (c.name === 'conv2d') return ft.functional.conv2d(a, b, { bias, ...c.kwargs })
  if (c.name === 'linear') return ft.functional.linear(a, b, bias)
  return a.matmul(b)
}

describe.skipIf(!native)('autocast on a CPU with bf16 kernels, against PyTorch', () => {
  for (const [i, c] of fixture.cases.entries()) {
    it(`${c.name} #${i}: bf16 result, gradients in each operand's dtype`, () => {
      ft.tidy(() => {
        const operands = c.inputs.map((s) => {
          const t = build(s)
          t.requiresGrad = true
          return t
        })
        const out = ft.autocast({}, () => runOp(c, operands))
        const scale = absolute(c)
        // Convolutions of fewer than 32 channels stay float32 under autocast (by the direct
        // kernels' bf16 pairs or the float32 kernels); wider ones return bf16 from the bf16 gemm,
        // float32 from AMX tiles or (below 1024 positions, as these small cases) the float32
        // kernels. PyTorch's bf16 result is compared by value either way.
        const floatKernels = c.name === 'conv2d' && Math.min(c.inputs[1].shape[0], c.inputs[1].shape[1]) < 32
        if (c.name === 'conv2d' && !floatKernels) expect(['float32', c.output.dtype]).toContain(out.dtype)
        else expect(out.dtype).toBe(floatKernels ? 'float32' : c.output.dtype)
        expectNear(out, c.output, scale.output, {}, `${c.name} output`)
        out.backward(build(c.upstream))
        for (const [k, g] of c.grads.entries()) {
          const grad = operands[k].grad!
          expect(grad.dtype, `grad ${k}`).toBe(g.dtype)
          // PyTorch also rounds a float32 operand's gradient through bf16 (2^-9); ours is float32.
          expectNear(grad, g, scale.grads[k], { rtol: 2 ** -8 }, `${c.name} grad ${k}`)
        }
      })
    })
  }

  it('a training step: bf16 logits, a float32 loss, float32 gradients for the parameters', () => {
    const { step } = fixture
    ft.tidy(() => {
      const net = new ft.nn.Sequential(
        new ft.nn.Conv2d(3, 8, 3, { padding: 1 }),
        new ft.nn.BatchNorm2d(8),
        new ft.nn.ReLU(),
        new ft.nn.MaxPool2d(2),
        new ft.nn.Flatten(),
        new ft.nn.Linear(8 * 4 * 4, 5),
      )
      net.loadStateDict(Object.fromEntries(Object.entries(step.weights).map(([k, s]) => [k, build(s)])))
      const images = build(step.images)
      const labels = build(step.labels)
      const { conv, logits, loss } = ft.autocast({}, () => {
        const logits = net.forward(images)
        return { conv: net.at(0).forward(images), logits, loss: ft.functional.crossEntropy(logits, labels) }
      })
      // PyTorch's is bfloat16 (step.convDtype); a 3 -> 8 convolution runs Ferrite's float32 kernels.
      expect([step.convDtype, conv.dtype]).toEqual(['bfloat16', 'float32'])
      expect(logits.dtype).toBe(step.logits.dtype)
      expect(loss.dtype).toBe('float32')
      // Through batch norm over 6 samples, a bf16 rounding step apart here and there moves
      // whole channels: compared as relative L2 errors, a few bf16 steps' worth.
      expect(relativeError(logits, step.logits)).toBeLessThan(2 ** -6)
      expect(loss.item()).toBeCloseTo(step.loss.data[0], 2)
      loss.backward()
      for (const [name, p] of net.namedParameters()) {
        expect(p.dtype, name).toBe('float32')
        expect(p.grad!.dtype, name).toBe('float32')
        if (name === '0.bias') {
          // Batch norm right after cancels the conv's bias: its gradient is 0 up to rounding in
          // both, so it is held to the size of the weight's gradient instead.
          const noise = Math.max(...(p.grad!.abs().toTypedArray() as Float32Array))
          const weightGrad = Math.max(...step.grads['0.weight'].data.map(Math.abs))
          expect(noise, name).toBeLessThan(2 ** -6 * weightGrad)
        } else {
          // Sums over the batch that cancel (batch norm's bias: 3 % here) magnify bf16's 2^-9.
          expect(relativeError(p.grad!, step.grads[name]), `grad of ${name}`).toBeLessThan(2 ** -4)
        }
      }
    })
  })
})

describe('autocast', () => {
  it('is per device type and restored after sync and async functions, and after errors', async () => {
    expect(ft.isAutocastEnabled()).toBe(false)
    expect(ft.autocast({}, () => [ft.isAutocastEnabled('cpu'), ft.isAutocastEnabled('cuda')])).toEqual([true, false])
    expect(ft.autocast({ deviceType: 'cuda' }, () => ft.isAutocastEnabled('cuda'))).toBe(true)
    expect(ft.autocast({}, () => ft.autocast({ enabled: false }, () => ft.isAutocastEnabled()))).toBe(false)
    expect(() =>
      ft.autocast({}, () => {
        throw new Error('inside')
      }),
    ).toThrow('inside')
    expect(ft.isAutocastEnabled()).toBe(false)
    const pending = ft.autocast({}, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return ft.isAutocastEnabled()
    })
    expect(await pending).toBe(true)
    expect(ft.isAutocastEnabled()).toBe(false)
  })

  it('refuses other dtypes and device types with typed errors', () => {
    expect(() => ft.autocast({ dtype: 'float16' as 'bfloat16' }, () => 0)).toThrow(ft.InvalidArgumentError)
    expect(() => ft.autocast({ deviceType: 'tpu' as 'cpu' }, () => 0)).toThrow("autocast: deviceType must be 'cpu' or 'cuda'")
  })

  it('keeps float32-policy ops in float32 and elementwise ops in their operands dtype', () => {
    ft.tidy(() => {
      const h = ft.randn([4, 3, 2, 2]).to('bfloat16')
      const [bn, sum, soft, relu] = ft.autocast({}, () => [
        ft.functional.batchNorm(h, null, null, { training: true }),
        h.sum(),
        ft.functional.softmax(h, 1),
        ft.functional.relu(h),
      ])
      expect([bn.dtype, sum.dtype, soft.dtype, relu.dtype]).toEqual(['float32', 'float32', 'float32', 'bfloat16'])
      // Outside autocast the same ops keep bf16.
      expect(h.sum().dtype).toBe('bfloat16')
    })
  })

  it('outside autocast, lower-precision ops want operands of one dtype', () => {
    ft.tidy(() => {
      const x = ft.randn([2, 3])
      const h = ft.randn([3, 2]).to('bfloat16')
      expect(() => x.matmul(h)).toThrow(ft.DTypeMismatchError)
      expect(x.to('bfloat16').matmul(h).dtype).toBe('bfloat16')
    })
  })
})
