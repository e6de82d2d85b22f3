// ft.jit.trace / traceModule: the graph description the ONNX export reads (ops, attributes, named
// constants), replay at other batch sizes against eager evaluation, and the typed error for what a
// graph cannot replay.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const { nn, models } = ft
const F = ft.functional

function count(ops: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const op of ops) counts[op] = (counts[op] ?? 0) + 1
  return counts
}

/** The evaluation-mode forward op by op, as the trace records it (not the automatic fused replay). */
function eager(model: ft.nn.Module, x: ft.Tensor): ft.Tensor {
  const automatic = ft.inference.setAutomaticFusion(false)
  try {
    return ft.noGrad(() => model.eval().forward(x) as ft.Tensor)
  } finally {
    ft.inference.setAutomaticFusion(automatic)
  }
}

const tutorialModels: [string, () => ft.nn.Module, Record<string, number>][] = [
  ['MyCNN', () => new models.MyCNN(), { conv2d: 2, batch_norm_relu: 2, max_pool2d: 2, view: 1, linear: 1 }],
  // ResNet [2, 2, 2]: a stem, six blocks of two convolutions, two downsampling convolutions; the
  // stem's and each block's first batch norm feed a ReLU (one op each), and each block ends in an add+ReLU.
  ['ResNet', () => new models.ResNet(), { conv2d: 15, batch_norm: 8, batch_norm_relu: 7, add_relu: 6, avg_pool2d: 1, view: 1, linear: 1 }],
  [
    'SE-ResNet',
    () => models.seResNet(),
    // Each block's SE layer adds a pool, two linears, a relu, a sigmoid, two views and a mul.
    { conv2d: 15, batch_norm: 8, batch_norm_relu: 7, add_relu: 6, relu: 6, binary: 6, adaptive_avg_pool2d: 6, sigmoid: 6, linear: 13, view: 13, avg_pool2d: 1 },
  ],
  ['VGG11', () => new models.VGG('VGG11'), { conv2d: 8, batch_norm_relu: 8, max_pool2d: 5, avg_pool2d: 1, view: 1, linear: 1 }],
]

describe('traceModule', () => {
  for (const [name, make, expected] of tutorialModels) {
    it(`describes ${name} with its ops and its state dict as named constants, and replays like eager`, () => {
      ft.manualSeed(1)
      const model = make()
      const x = ft.randn([1, 3, 32, 32])
      using graph = ft.jit.traceModule(model, x)
      const d = graph.describe()

      expect(count(d.nodes.map((n) => n.op))).toEqual(expected)
      expect(d.values.every((v, i) => v.id === i)).toBe(true)
      expect(d.inputs).toHaveLength(1)
      expect(d.values[d.inputs[0]]).toEqual({ id: d.inputs[0], kind: 'input', shape: [1, 3, 32, 32], dtype: 'float32' })
      expect(d.outputs).toHaveLength(1)
      expect(d.values[d.outputs[0]].shape).toEqual([1, 10])
      // Every parameter and running statistic used is a constant named by its stateDict key
      // (num_batches_tracked is only used in training).
      const state = model.stateDict()
      const named = d.values.filter((v) => v.kind === 'constant').map((v) => v.name)
      const used = Object.keys(state).filter((k) => !k.endsWith('num_batches_tracked'))
      expect(named.sort()).toEqual(used.sort())
      for (const v of d.values.filter((v) => v.kind === 'constant')) {
        expect(v.shape).toEqual(state[v.name!].shape)
        expect(graph.constant(v.id).sub(state[v.name!]).abs().max().item()).toBe(0)
      }
      for (const node of d.nodes) {
        expect(node.output).toBeGreaterThan(Math.max(...node.inputs.map((i) => i ?? -1)))
        if (node.op.startsWith('batch_norm')) expect(node.attrs).toEqual({ training: false, momentum: 0.1, eps: 1e-5 })
      }

      for (const batch of [1, 5]) {
        const input = ft.randn([batch, 3, 32, 32])
        const [replayed] = graph.run(input)
        expect(replayed.shape).toEqual([batch, 10])
        expect(replayed.toArray()).toEqual(eager(model, input).toArray())
      }
    })
  }

  it('gives conv2d and pool attributes as the description documents them', () => {
    const model = new nn.Sequential(new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1, bias: false }), new nn.MaxPool2d(2, { stride: 1, ceilMode: true }), new nn.Flatten())
    using graph = ft.jit.traceModule(model, ft.randn([2, 3, 8, 8]))
    const [conv, pool, flatten] = graph.describe().nodes
    expect(conv).toMatchObject({ op: 'conv2d', attrs: { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 } })
    expect(conv.inputs[2]).toBeNull()
    expect(pool).toMatchObject({ op: 'max_pool2d', attrs: { kernelSize: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1], ceilMode: true } })
    expect(flatten).toMatchObject({ op: 'flatten', attrs: { startDim: 1, endDim: -1 } })
  })

  it('restores the training mode of every module, and traces batch norm in evaluation mode', () => {
    const model = new models.MyCNN()
    model.train()
    model.conv2.eval()
    using graph = ft.jit.traceModule(model, ft.randn([1, 3, 32, 32]))
    const batchNorms = graph.describe().nodes.filter((n) => n.op.startsWith('batch_norm'))
    expect(batchNorms).toHaveLength(2)
    expect(batchNorms.every((n) => n.attrs.training === false)).toBe(true)
    expect(model.training).toBe(true)
    expect(model.conv1.training).toBe(true)
    expect(model.conv2.training).toBe(false)
  })
})

describe('trace', () => {
  it('records tensor methods, scalars, reductions and joins, and replays them at another batch size', () => {
    const w = ft.randn([4, 4])
    const f = (x: ft.Tensor, y: ft.Tensor) => {
      const h = F.tanh(x.matmul(w).mul(2).add(y))
      const joined = ft.cat([h, h.exp()], 1)
      return [F.softmax(joined, -1), joined.sum(1, { keepDim: true }).expand([x.size(0), 3]), joined.argmax(1)]
    }
    const x = ft.randn([1, 4])
    const y = ft.randn([1, 4])
    using graph = ft.jit.trace(f, [x, y], { names: { w } })
    const d = graph.describe()
    expect(d.nodes.map((n) => n.op)).toEqual(['matmul', 'binary_scalar', 'binary', 'tanh', 'unary', 'cat', 'softmax', 'reduce', 'expand', 'arg_reduce'])
    expect(d.nodes[1].attrs).toEqual({ op: 'mul', scalar: 2 })
    expect(d.nodes[7].attrs).toEqual({ op: 'sum', dims: [1], keepDim: true })
    expect(d.nodes[8].attrs).toEqual({ shape: [1, 3] })
    expect(d.nodes[9].attrs).toEqual({ op: 'argmax', dim: 1, keepDim: false })
    expect(d.values.find((v) => v.kind === 'constant')?.name).toBe('w')
    expect(d.values[d.outputs[2]].dtype).toBe('int64')

    const [x6, y6] = [ft.randn([6, 4]), ft.randn([6, 4])]
    const replayed = graph.run(x6, y6)
    const want = f(x6, y6)
    expect(replayed.map((t) => t.shape)).toEqual([[6, 8], [6, 3], [6]])
    replayed.forEach((t, i) => expect(t.toArray()).toEqual(want[i].toArray()))
  })

  it('sees later changes to the constants, whose storage it shares', () => {
    const w = ft.ones([3])
    using graph = ft.jit.trace((x) => x.mul(w), ft.ones([1, 3]))
    ft.noGrad(() => w.copy_(ft.tensor([1, 2, 3])))
    expect(graph.run(ft.ones([2, 3]))[0].toArray()).toEqual([[1, 2, 3], [1, 2, 3]])
  })

  it('checks the inputs of a replay', () => {
    using graph = ft.jit.trace((x) => F.relu(x), ft.randn([1, 3, 4]))
    expect(thrown(() => graph.run(ft.randn([2, 3, 5]))).code).toBe('ShapeMismatch')
    expect(thrown(() => graph.run(ft.randn([2, 3]))).code).toBe('ShapeMismatch')
    expect(thrown(() => graph.run()).code).toBe('InvalidArgument')
    expect(thrown(() => graph.run(ft.zeros([2, 3, 4], { dtype: 'int64' }))).code).toBe('DTypeMismatch')
  })

  it('fails with a TraceError naming an op that reads traced values', () => {
    const model = new models.MyCNN().eval()
    const reads = (x: ft.Tensor) => {
      const y = model.forward(x) as ft.Tensor
      return y.mul(y.max().item())
    }
    const error = thrown(() => ft.jit.trace(reads, ft.randn([1, 3, 32, 32])))
    expect(error).toBeInstanceOf(ft.TraceError)
    expect(error.code).toBe('Untraceable')
    expect(error.message).toMatch(/^item: cannot be traced/)
    expect(error.message).toContain('conv2d')

    // In training mode, BatchNorm2d counts batches in place.
    const training = thrown(() => ft.jit.trace((x) => model.train().forward(x) as ft.Tensor, ft.randn([1, 3, 32, 32])))
    expect(training.message).toMatch(/^copy_: cannot be traced/)

    const loss = (x: ft.Tensor) => ft.functional.crossEntropy(x, ft.tensor([1], { dtype: 'int64' }))
    const lossError = thrown(() => ft.jit.trace(loss, ft.randn([1, 3])))
    expect(lossError).toBeInstanceOf(ft.TraceError)
    expect(lossError.message).toMatch(/^cross_entropy: cannot be traced/)

    const linear = new nn.Linear(3, 2)
    linear.forward(ft.randn([4, 3])).sum().backward()
    const optimizer = new ft.optim.SGD(linear.parameters(), { lr: 0.1 })
    const steps = (x: ft.Tensor) => {
      optimizer.step()
      return linear.forward(x)
    }
    const names = Object.fromEntries(linear.namedParameters())
    // The step's first read of a parameter is its gradient.
    expect(thrown(() => ft.jit.trace(steps, ft.randn([1, 3]), { names })).message).toMatch(/^grad: cannot be traced/)

    const toArray = (x: ft.Tensor) => ft.tensor(F.relu(x).toArray() as number[][])
    expect(thrown(() => ft.jit.trace(toArray, ft.randn([1, 3]))).message).toMatch(/^toArray: cannot be traced/)
  })

  it('fails even when the traced function swallows the error', () => {
    const swallows = (x: ft.Tensor) => {
      try {
        x.item()
      } catch {
        // ignored on purpose
      }
      return F.relu(x)
    }
    expect(thrown(() => ft.jit.trace(swallows, ft.randn([1]))).message).toMatch(/^item: cannot be traced/)
  })

  it('leaves nothing recording after the traced function throws', () => {
    const x = ft.randn([1, 3])
    expect(() =>
      ft.jit.trace(() => {
        F.relu(x)
        throw new Error('forward failed')
      }, x),
    ).toThrow('forward failed')
    // Values can be read again, and a new trace starts cleanly.
    expect(F.relu(x).sum().item()).toBeGreaterThanOrEqual(0)
    expect(x.sum().item()).toBeTypeOf('number')
    using graph = ft.jit.trace((t) => t.neg(), x)
    expect(graph.describe().nodes.map((n) => n.op)).toEqual(['unary'])
  })

  it('rejects what is not a function of tensors returning tensors', () => {
    expect(thrown(() => ft.jit.trace(() => 3 as unknown as ft.Tensor, ft.randn([1]))).code).toBe('InvalidArgument')
    expect(thrown(() => ft.jit.trace((x) => x, [1 as unknown as ft.Tensor])).code).toBe('InvalidArgument')
    const x = ft.randn([1])
    expect(thrown(() => ft.jit.trace((a) => a, [x, x])).code).toBe('InvalidArgument')
  })

  it('can no longer be used once disposed', () => {
    const graph = ft.jit.trace((x) => F.relu(x), ft.randn([1]))
    graph.dispose()
    expect(thrown(() => graph.describe()).code).toBe('InvalidArgument')
  })
})
