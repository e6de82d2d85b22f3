// nn.ReLU6 / F.relu6 (PyTorch's hardtanh(0, 6)), nn.Dropout / F.dropout and nn.Identity: values
// and gradients against what PyTorch gives (quoted), the seeded masks, tracing (eval dropout
// records nothing, training dropout is refused) and relu6's ONNX lowering in onnxruntime-node.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'
import { expectAgreement, runOnnx } from './onnx-support'

const { nn } = ft
const F = ft.functional

class Lambda extends nn.Module {
  constructor(private readonly fn: (x: ft.Tensor) => ft.Tensor) {
    super()
  }

  forward(x: ft.Tensor): ft.Tensor {
    return this.fn(x)
  }
}

describe('relu6', () => {
  it('clamps to [0, 6] with no gradient at or beyond the edges, as torch.nn.functional.relu6', () => {
    // torch: x = tensor([-3., 0., .5, 5.5, 6., 7., nan], requires_grad=True)
    //        F.relu6(x) = [0, 0, .5, 5.5, 6, 6, nan]; backward(arange(1., 8.)): x.grad = [0, 0, 3, 4, 0, 0, 7]
    const x = ft.tensor([-3, 0, 0.5, 5.5, 6, 7, NaN], { requiresGrad: true })
    const y = F.relu6(x)
    expect(Array.from(y.toTypedArray() as Float32Array)).toEqual([0, 0, 0.5, 5.5, 6, 6, NaN])
    expect(y.gradFn).toBe('HardtanhBackward0')
    y.backward(ft.arange(1, 8, 1, { dtype: 'float32' }))
    expect(Array.from(x.grad!.toTypedArray() as Float32Array)).toEqual([0, 0, 3, 4, 0, 0, 7])
    expect(F.relu6(ft.tensor([-1, 3, 7], { dtype: 'int64' })).toArray()).toEqual([0, 3, 6])
    expect(thrown(() => F.relu6(ft.tensor([true]))).code).toBe('DTypeMismatch')
  })

  it('prints as PyTorch and exports to ONNX as Clip (float32 and int64)', async () => {
    expect(String(new nn.ReLU6())).toBe('ReLU6()')
    expect(String(new nn.ReLU6({ inplace: true }))).toBe('ReLU6(inplace=True)')
    const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU6())
    const x = ft.randn([3, 4]).mul(6)
    using graph = ft.jit.traceModule(model, x)
    expect(graph.describe().nodes.map((n) => n.op)).toEqual(['linear', 'relu6'])
    const [out] = await runOnnx(ft.onnx.toBuffer(model, x), [x])
    expectAgreement(out, ft.noGrad(() => model.forward(x)), 1e-6)
    const ints = ft.tensor([[-5, 0, 3, 6, 9]], { dtype: 'int64' })
    const [intOut] = await runOnnx(ft.onnx.toBuffer(new Lambda(F.relu6), ints), [ints])
    expectAgreement(intOut, F.relu6(ints))
  })
})

describe('dropout', () => {
  it('zeroes about p of the elements in training, scales the rest by 1/(1-p), and backpropagates through the same mask', () => {
    const x = ft.rand([100, 100]).add(1).requiresGrad_()
    const y = F.dropout(x, { p: 0.3 })
    // PyTorch's CPU dropout is a product with the mask, so its node is a MulBackward0 too.
    expect(y.gradFn).toBe('MulBackward0')
    const scale = Math.fround(1 / Math.fround(0.7))
    const [xs, ys] = [x.toTypedArray() as Float32Array, y.toTypedArray() as Float32Array]
    let dropped = 0
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === 0) dropped++
      else expect(ys[i]).toBe(Math.fround(xs[i] * scale))
    }
    // 3000 expected, 45.8 the standard deviation.
    expect(dropped).toBeGreaterThan(3000 - 5 * 46)
    expect(dropped).toBeLessThan(3000 + 5 * 46)
    y.sum().backward()
    const grad = x.grad!.toTypedArray() as Float32Array
    for (let i = 0; i < grad.length; i++) expect(grad[i]).toBe(ys[i] === 0 ? 0 : scale)
  })

  it('draws its masks from the generator manualSeed seeds', () => {
    const x = ft.ones([64])
    ft.manualSeed(5)
    const a = F.dropout(x, { p: 0.5 }).toArray()
    const b = F.dropout(x, { p: 0.5 }).toArray()
    ft.manualSeed(5)
    expect(F.dropout(x, { p: 0.5 }).toArray()).toEqual(a)
    expect(b).not.toEqual(a)
  })

  it('is the identity in evaluation mode, and p = 1 zeroes everything', () => {
    const x = ft.randn([4, 5])
    expect(F.dropout(x, { p: 0.5, training: false })).toBe(x)
    const layer = new nn.Dropout(0.5)
    expect(layer.eval().forward(x)).toBe(x)
    const ones = ft.ones([3], { requiresGrad: true })
    const zeroed = F.dropout(ones, { p: 1 })
    expect(zeroed.toArray()).toEqual([0, 0, 0])
    zeroed.sum().backward()
    expect(ones.grad!.toArray()).toEqual([0, 0, 0])
  })

  it('records nothing when traced in evaluation mode and refuses to be traced in training', () => {
    const model = new nn.Sequential(new nn.Linear(4, 3), new nn.Dropout(0.2), new nn.ReLU())
    const x = ft.randn([2, 4])
    using graph = ft.jit.traceModule(model, x)
    expect(graph.describe().nodes.map((n) => n.op)).toEqual(['linear', 'relu'])
    const error = thrown(() => ft.jit.trace((t) => F.dropout(t, { p: 0.2 }), x))
    expect(error.code).toBe('Untraceable')
    expect(error.message).toContain('dropout')
  })

  it('prints and checks p as PyTorch', () => {
    expect(String(new nn.Dropout())).toBe('Dropout(p=0.5, inplace=False)')
    expect(String(new nn.Dropout(0.2, { inplace: true }))).toBe('Dropout(p=0.2, inplace=True)')
    const error = thrown(() => new nn.Dropout(1.5))
    expect(error.code).toBe('InvalidArgument')
    expect(error.message).toContain('dropout probability has to be between 0 and 1, but got 1.5')
    expect(thrown(() => F.dropout(ft.ones([2]), { p: -0.1 })).code).toBe('InvalidArgument')
    expect(thrown(() => F.dropout(ft.ones([2], { dtype: 'int64' }), { p: 0.5 })).code).toBe('DTypeMismatch')
  })
})

describe('Identity', () => {
  it('returns its input and prints as PyTorch', () => {
    const x = ft.randn([2, 3])
    expect(new nn.Identity().forward(x)).toBe(x)
    expect(String(new nn.Identity())).toBe('Identity()')
  })
})
