// Every traced op's ONNX lowering, on hand-written graph descriptions (the tracer's contract):
// each small graph is computed by Ferrite while it is recorded, exported, run in onnxruntime-node
// and compared with Ferrite's result; the dynamic-batch cases are recorded at batch 2 and run at 5.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import type { GraphDescription, GraphNode, GraphValue } from '../ts/trace'
import { expectAgreement, runOnnx } from './onnx-support'

type ModelModule = typeof import('../ts/onnx/model')
type ProtoModule = typeof import('../ts/onnx/onnx-proto')
const load = createRequire(import.meta.url)
const { buildModel } = load(join(__dirname, '..', 'dist', 'cjs', 'onnx', 'model.js')) as ModelModule
const { onnx } = load(join(__dirname, '..', 'dist', 'cjs', 'onnx', 'onnx-proto.js')) as ProtoModule

type Attrs = GraphNode['attrs']

/** A value being recorded: its id in the description and Ferrite's tensor for it. */
interface Recorded {
  id: number
  t: ft.Tensor
}

/** Records ops into a GraphDescription while computing them with Ferrite, as the tracer would. */
class Recorder {
  readonly values: GraphValue[] = []
  readonly nodes: GraphNode[] = []
  readonly inputs: number[] = []
  readonly constants = new Map<number, ft.Tensor>()

  #value(kind: GraphValue['kind'], t: ft.Tensor, name?: string): Recorded {
    const id = this.values.length
    this.values.push({ id, kind, shape: t.shape, dtype: t.dtype, ...(name === undefined ? {} : { name }) })
    return { id, t }
  }

  input(t: ft.Tensor): Recorded {
    const value = this.#value('input', t)
    this.inputs.push(value.id)
    return value
  }

  constant(t: ft.Tensor, name?: string): Recorded {
    const value = this.#value('constant', t, name)
    this.constants.set(value.id, t)
    return value
  }

  op(op: string, inputs: (Recorded | null)[], attrs: Attrs, compute: (...xs: ft.Tensor[]) => ft.Tensor): Recorded {
    const result = this.#value('node', compute(...inputs.map((x) => x?.t as ft.Tensor)))
    this.nodes.push({ op, inputs: inputs.map((x) => x?.id ?? null), output: result.id, attrs })
    return result
  }

  describe(outputs: Recorded[]): GraphDescription {
    return { inputs: this.inputs, outputs: outputs.map((o) => o.id), values: this.values, nodes: this.nodes }
  }
}

interface Options {
  dynamicBatch?: boolean
  opsetVersion?: number
}

/** Records `graph` on `inputs` and returns the exported ONNX bytes and Ferrite's outputs. */
function exportGraph(inputs: ft.Tensor[], graph: (r: Recorder, xs: Recorded[]) => Recorded[], { dynamicBatch = false, opsetVersion = 17 }: Options = {}) {
  const recorder = new Recorder()
  const outputs = graph(recorder, inputs.map((t) => recorder.input(t)))
  const description = recorder.describe(outputs)
  const model = buildModel(description, (id) => recorder.constants.get(id) as ft.Tensor, {
    inputNames: inputs.map((_, i) => `input_${i}`),
    outputNames: outputs.map((_, i) => `output_${i}`),
    dynamicBatch,
    opsetVersion,
    metadata: {},
    graphName: 'test',
    producerVersion: '0',
  })
  return { bytes: onnx.ModelProto.encode(model).finish(), expected: outputs.map((o) => o.t), model }
}

/** Exports `graph` recorded on `inputs`, runs it in onnxruntime and compares every output with Ferrite's. */
async function agrees(inputs: ft.Tensor[], graph: (r: Recorder, xs: Recorded[]) => Recorded[], options: Options = {}, tolerance = 1e-4): Promise<void> {
  const { bytes, expected } = exportGraph(inputs, graph, options)
  const actual = await runOnnx(bytes, inputs)
  expected.forEach((e, i) => expectAgreement(actual[i], e, tolerance))
}

/**
 * The dynamic-batch rule: `graph` recorded at batch 2 runs at batch 5 in onnxruntime and agrees
 * with Ferrite's computation of the same graph at batch 5.
 */
async function agreesAtBatch5(shape: number[], graph: (r: Recorder, xs: Recorded[]) => Recorded[]): Promise<void> {
  ft.manualSeed(1)
  const { bytes } = exportGraph([ft.randn([2, ...shape])], graph, { dynamicBatch: true })
  const input = ft.randn([5, ...shape])
  const { expected } = exportGraph([input], graph)
  const [actual] = await runOnnx(bytes, [input])
  expectAgreement(actual, expected[0])
}

const F = ft.functional
const conv = (x: Recorded, w: Recorded, b: Recorded | null, stride: [number, number], padding: [number, number], dilation: [number, number], groups: number) =>
  [[x, w, b], { stride, padding, dilation, groups }, (xt: ft.Tensor, wt: ft.Tensor, bt?: ft.Tensor) => F.conv2d(xt, wt, { bias: bt ?? undefined, stride, padding, dilation, groups })] as const

describe('ONNX lowering of each traced op (onnxruntime-node agrees with Ferrite)', () => {
  it('conv2d: bias, stride, padding; groups and dilation without bias', async () => {
    ft.manualSeed(0)
    const x = ft.randn([2, 4, 9, 9])
    await agrees([x], (r, [input]) => {
      const [inputs, attrs, compute] = conv(input, r.constant(ft.randn([6, 4, 3, 3]), 'conv.weight'), r.constant(ft.randn([6]), 'conv.bias'), [2, 1], [1, 2], [1, 1], 1)
      const y = r.op('conv2d', [...inputs], attrs, compute)
      const [inputs2, attrs2, compute2] = conv(y, r.constant(ft.randn([4, 3, 3, 3])), null, [1, 1], [2, 2], [2, 2], 2)
      return [r.op('conv2d', [...inputs2], attrs2, compute2)]
    })
  })

  it('batch_norm in eval mode, with and without weight and bias', async () => {
    ft.manualSeed(0)
    const x = ft.randn([3, 4, 5, 5])
    await agrees([x], (r, [input]) => {
      const mean = r.constant(ft.randn([4]), 'bn.running_mean')
      const variance = r.constant(ft.rand([4]).add(0.5), 'bn.running_var')
      const [weight, bias] = [r.constant(ft.randn([4]), 'bn.weight'), r.constant(ft.randn([4]), 'bn.bias')]
      const attrs = { training: false, momentum: 0.1, eps: 1e-3 }
      const y = r.op('batch_norm', [input, mean, variance, weight, bias], attrs, (a, m, v, w, b) => F.batchNorm(a, m, v, { weight: w, bias: b, eps: 1e-3 }))
      return [y, r.op('batch_norm', [y, mean, variance, null, null], attrs, (a, m, v) => F.batchNorm(a, m, v, { eps: 1e-3 }))]
    })
  })

  it('batch_norm_relu (BatchNormalization then Relu) and add_relu (Add then Relu)', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([3, 4, 5, 5]), ft.randn([3, 4, 5, 5])], (r, [input, other]) => {
      const mean = r.constant(ft.randn([4]), 'bn.running_mean')
      const variance = r.constant(ft.rand([4]).add(0.5), 'bn.running_var')
      const [weight, bias] = [r.constant(ft.randn([4]), 'bn.weight'), r.constant(ft.randn([4]), 'bn.bias')]
      const attrs = { training: false, momentum: 0.1, eps: 1e-3 }
      const y = r.op('batch_norm_relu', [input, mean, variance, weight, bias], attrs, (a, m, v, w, b) =>
        F.batchNorm(a, m, v, { weight: w, bias: b, eps: 1e-3, activation: 'relu' }),
      )
      return [y, r.op('add_relu', [y, other], {}, (a, b) => F.addRelu(a, b)), r.op('add_relu', [input, other], {}, (a, b) => F.addRelu(a, b))]
    })
  })

  it('linear on a batch of vectors (Gemm), on 3-d input and without bias (MatMul); matmul', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([3, 5]), ft.randn([2, 4, 5])], (r, [flat, deep]) => {
      const [weight, bias] = [r.constant(ft.randn([6, 5]), 'fc.weight'), r.constant(ft.randn([6]), 'fc.bias')]
      return [
        r.op('linear', [flat, weight, bias], {}, (x, w, b) => F.linear(x, w, b)),
        r.op('linear', [deep, weight, bias], {}, (x, w, b) => F.linear(x, w, b)),
        r.op('linear', [deep, weight, null], {}, (x, w) => F.linear(x, w)),
        r.op('matmul', [deep, r.constant(ft.randn([5, 3]))], {}, (a, b) => a.matmul(b)),
      ]
    })
  })

  it('max_pool2d, avg_pool2d (with and without the padding in the divisor) and adaptive_avg_pool2d', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([2, 3, 8, 8])], (r, [x]) => [
      r.op('max_pool2d', [x], { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false }, (a) => F.maxPool2d(a, { kernelSize: 3, stride: 2, padding: 1 })),
      r.op('max_pool2d', [x], { kernelSize: [2, 2], stride: [1, 2], padding: [0, 1], dilation: [2, 1], ceilMode: false }, (a) => F.maxPool2d(a, { kernelSize: 2, stride: [1, 2], padding: [0, 1], dilation: [2, 1] })),
      r.op('avg_pool2d', [x], { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: false, countIncludePad: true }, (a) => F.avgPool2d(a, { kernelSize: 3, stride: 2, padding: 1 })),
      r.op('avg_pool2d', [x], { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: false, countIncludePad: false }, (a) => F.avgPool2d(a, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false })),
      r.op('adaptive_avg_pool2d', [x], { outputSize: [1, 1] }, (a) => F.adaptiveAvgPool2d(a, 1)),
      r.op('adaptive_avg_pool2d', [x], { outputSize: [2, 4] }, (a) => F.adaptiveAvgPool2d(a, [2, 4])),
    ])
  })

  it('pools in ceil mode where ONNX and PyTorch count the same windows', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([1, 2, 7, 7])], (r, [x]) => [
      r.op('max_pool2d', [x], { kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: true }, (a) => F.maxPool2d(a, { kernelSize: 2, ceilMode: true })),
      r.op('avg_pool2d', [x], { kernelSize: [3, 3], stride: [2, 2], padding: [0, 0], ceilMode: true, countIncludePad: true }, (a) => F.avgPool2d(a, { kernelSize: 3, stride: 2, ceilMode: true })),
    ])
    // Last windows that hang over the input's end: the divisor counts the padding, not the overhang.
    await agrees([ft.randn([1, 2, 6, 6])], (r, [x]) =>
      [true, false].flatMap((countIncludePad) =>
        [0, 1].map((padding) =>
          r.op('avg_pool2d', [x], { kernelSize: [3, 3], stride: [2, 2], padding: [padding, padding], ceilMode: true, countIncludePad }, (a) =>
            F.avgPool2d(a, { kernelSize: 3, stride: 2, padding, ceilMode: true, countIncludePad }),
          ),
        ),
      ),
    )
  })

  it('activations, softmax and log_softmax', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([3, 4, 5])], (r, [x]) => [
      r.op('relu', [x], {}, (a) => F.relu(a)),
      r.op('sigmoid', [x], {}, (a) => F.sigmoid(a)),
      r.op('tanh', [x], {}, (a) => F.tanh(a)),
      r.op('softmax', [x], { dim: 1 }, (a) => F.softmax(a, 1)),
      r.op('log_softmax', [x], { dim: -1 }, (a) => F.logSoftmax(a, -1)),
    ])
  })

  it('binary ops with broadcasting, comparisons giving bool, and int64 operands promoted', async () => {
    ft.manualSeed(0)
    const ints = ft.randint(-3, 4, [4, 5])
    await agrees([ft.randn([3, 4, 5]), ft.rand([4, 5]).add(0.5), ints], (r, [a, b, n]) => [
      ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).map((op) => r.op('binary', [a, b], { op }, (x, y) => x[op](y))),
      r.op('binary', [b, a], { op: 'pow' }, (x, y) => x.pow(y)),
      ...(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((op) => r.op('binary', [a, n], { op }, (x, y) => x[op](y))),
      r.op('binary', [n, n], { op: 'add' }, (x, y) => x.add(y)),
      r.op('binary', [a, n], { op: 'mul' }, (x, y) => x.mul(y)),
    ])
  })

  it('binary_scalar ops, on float and on int64 tensors', async () => {
    ft.manualSeed(0)
    await agrees([ft.rand([3, 4]).add(0.5), ft.randint(-3, 4, [3, 4])], (r, [x, n]) => [
      ...(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((op) => r.op('binary_scalar', [x], { op, scalar: 0.75 }, (t) => t[op](0.75))),
      r.op('binary_scalar', [n], { op: 'mul', scalar: 3 }, (t) => t.mul(3)),
      r.op('binary_scalar', [n], { op: 'mul', scalar: 0.5 }, (t) => t.mul(0.5)),
      r.op('binary_scalar', [n], { op: 'gt', scalar: 0.5 }, (t) => t.gt(0.5)),
      r.op('binary_scalar', [n], { op: 'eq', scalar: 1 }, (t) => t.eq(1)),
    ])
  })

  it('unary ops', async () => {
    ft.manualSeed(0)
    await agrees([ft.rand([3, 4]).add(0.1), ft.randint(-3, 4, [3, 4])], (r, [x, n]) => [
      ...(['neg', 'abs', 'exp', 'log', 'sqrt'] as const).map((op) => r.op('unary', [x], { op }, (t) => t[op]())),
      r.op('unary', [n], { op: 'neg' }, (t) => t.neg()),
      r.op('unary', [n], { op: 'abs' }, (t) => t.abs()),
    ])
  })

  it('reductions over some dims, all dims and with keepDim, at opsets 13, 17 and 18 (where ReduceMean takes axes as an input)', async () => {
    for (const opsetVersion of [13, 17, 18, 21]) {
      ft.manualSeed(0)
      await agrees([ft.randn([2, 3, 4]), ft.randint(-3, 4, [3, 4])], (r, [x, n]) => [
        ...(['sum', 'mean'] as const).flatMap((op) => [
          r.op('reduce', [x], { op, dims: [1, -1], keepDim: false }, (t) => t[op]([1, -1])),
          r.op('reduce', [x], { op, dims: [0], keepDim: true }, (t) => t[op](0, { keepDim: true })),
          r.op('reduce', [x], { op, dims: [], keepDim: false }, (t) => t[op]()),
        ]),
        r.op('reduce', [x], { op: 'max', dims: [1], keepDim: false }, (t) => (t.max(1) as ft.ValuesIndices).values),
        r.op('reduce', [x], { op: 'min', dims: [2], keepDim: true }, (t) => (t.min(2, { keepDim: true }) as ft.ValuesIndices).values),
        r.op('reduce', [x], { op: 'max', dims: [], keepDim: false }, (t) => t.max() as ft.Tensor),
        r.op('reduce', [n], { op: 'sum', dims: [1], keepDim: false }, (t) => t.sum(1)),
      ], { opsetVersion })
    }
  })

  it('arg_reduce over a dim and over all elements, with and without keepDim', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([3, 4, 5])], (r, [x]) => [
      r.op('arg_reduce', [x], { op: 'argmax', dim: 1, keepDim: false }, (t) => t.argmax(1)),
      r.op('arg_reduce', [x], { op: 'argmin', dim: -1, keepDim: true }, (t) => t.argmin(-1, { keepDim: true })),
      r.op('arg_reduce', [x], { op: 'argmax', dim: null, keepDim: false }, (t) => t.argmax()),
      r.op('arg_reduce', [x], { op: 'argmin', dim: null, keepDim: true }, (t) => t.argmin(undefined, { keepDim: true })),
    ])
  })

  it('shape ops: reshape, view, expand, flatten, permute, transpose, unsqueeze, squeeze, narrow, select', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([2, 1, 3, 4])], (r, [x]) => [
      r.op('reshape', [x], { shape: [2, -1] }, (t) => t.reshape([2, -1])),
      r.op('view', [x], { shape: [6, 4] }, (t) => t.view([6, 4])),
      r.op('expand', [x], { shape: [3, 2, 5, 3, 4] }, (t) => t.expand([3, 2, 5, 3, 4])),
      r.op('expand', [x], { shape: [-1, 6, -1, -1] }, (t) => t.expand([-1, 6, -1, -1])),
      r.op('flatten', [x], { startDim: 1, endDim: 2 }, (t) => t.flatten(1, 2)),
      r.op('flatten', [x], { startDim: 0, endDim: -1 }, (t) => t.flatten()),
      r.op('permute', [x], { dims: [3, 0, -2, 1] }, (t) => t.permute([3, 0, -2, 1])),
      r.op('transpose', [x], { dim0: -1, dim1: 1 }, (t) => t.transpose(-1, 1)),
      r.op('unsqueeze', [x], { dim: -1 }, (t) => t.unsqueeze(-1)),
      r.op('unsqueeze', [x], { dim: 0 }, (t) => t.unsqueeze(0)),
      r.op('squeeze', [x], { dim: null }, (t) => t.squeeze()),
      r.op('squeeze', [x], { dim: 1 }, (t) => t.squeeze(1)),
      r.op('squeeze', [x], { dim: 2 }, (t) => t.squeeze(2)),
      r.op('narrow', [x], { dim: -1, start: 1, length: 2 }, (t) => t.narrow(-1, 1, 2)),
      r.op('select', [x], { dim: 2, index: -1 }, (t) => t.select(2, -1)),
      r.op('select', [x], { dim: 0, index: 1 }, (t) => t.select(0, 1)),
    ])
  })

  it('contiguous, clone, to_dtype, cat and stack', async () => {
    ft.manualSeed(0)
    await agrees([ft.randn([2, 3]), ft.randn([2, 5])], (r, [a, b]) => {
      const transposed = r.op('transpose', [a], { dim0: 0, dim1: 1 }, (t) => t.transpose(0, 1))
      return [
        r.op('contiguous', [transposed], {}, (t) => t.contiguous()),
        r.op('clone', [a], {}, (t) => t.clone()),
        r.op('to_dtype', [a], { dtype: 'int64' }, (t) => t.to('int64')),
        r.op('to_dtype', [a], { dtype: 'bool' }, (t) => t.to('bool')),
        r.op('cat', [a, b, a], { dim: -1 }, (...ts) => ft.cat(ts, -1)),
        r.op('stack', [a, a], { dim: 1 }, (...ts) => ft.stack(ts, 1)),
        r.op('stack', [a, a, a], { dim: -1 }, (...ts) => ft.stack(ts, -1)),
      ]
    })
  })

  it('bfloat16: BFLOAT16 initializers, ops computed in float32 and rounded once', async () => {
    ft.manualSeed(0)
    const graph = (r: Recorder, [x]: Recorded[]) => {
      const half = r.op('to_dtype', [x], { dtype: 'bfloat16' }, (t) => t.to('bfloat16'))
      const [weight, bias] = [r.constant(ft.randn([6, 5]).to('bfloat16'), 'fc.weight'), r.constant(ft.randn([6]).to('bfloat16'), 'fc.bias')]
      const y = r.op('linear', [half, weight, bias], {}, (a, w, b) => F.linear(a, w, b))
      const scaled = r.op('binary_scalar', [y], { op: 'add', scalar: 0.3 }, (t) => t.add(0.3))
      return [r.op('to_dtype', [scaled], { dtype: 'float32' }, (t) => t.to('float32'))]
    }
    const { model } = exportGraph([ft.randn([4, 5])], graph)
    expect(model.graph?.initializer?.filter((t) => t.name?.startsWith('fc.')).map((t) => [t.name, t.dataType, t.rawData?.length])).toEqual([
      ['fc.weight', onnx.TensorProto.DataType.BFLOAT16, 60],
      ['fc.bias', onnx.TensorProto.DataType.BFLOAT16, 12],
    ])
    // bfloat16 keeps 8 bits of mantissa: one rounding apart is up to 2^-8 of the value.
    await agrees([ft.randn([4, 5])], graph, {}, 0.05)
  })

  it('graph outputs that are inputs, constants or repeated values reach their names through Identity', async () => {
    ft.manualSeed(0)
    const { bytes, model } = exportGraph([ft.randn([2, 3])], (r, [x]) => {
      const y = r.op('relu', [x], {}, (t) => F.relu(t))
      return [x, y, y, r.constant(ft.randn([4]), 'table')]
    })
    expect(model.graph?.output?.map((o) => o.name)).toEqual(['output_0', 'output_1', 'output_2', 'output_3'])
    const [x, y, y2, table] = await runOnnx(bytes, [ft.tensor([[1, -2, 3], [-4, 5, -6]])])
    expect(Array.from(x.data as Float32Array)).toEqual([1, -2, 3, -4, 5, -6])
    expect(Array.from(y.data as Float32Array)).toEqual([1, 0, 3, 0, 5, 0])
    expect(y2.data).toEqual(y.data)
    expect(table.dims).toEqual([4])
  })
})

describe('ONNX value names', () => {
  it('stateDict keys that look like made-up names keep their own; nodes take others', async () => {
    ft.manualSeed(0)
    const graph = (r: Recorder, [x]: Recorded[]) => {
      const y = r.op('relu', [x], {}, (t) => F.relu(t))
      return [r.op('binary', [y, r.constant(ft.randn([3]), 'relu')], { op: 'add' }, (a, b) => a.add(b))]
    }
    const { model } = exportGraph([ft.randn([2, 3])], graph)
    expect(model.graph?.initializer?.map((t) => t.name)).toEqual(['relu'])
    await agrees([ft.randn([2, 3])], graph)
  })

  it('an input or output called like a stateDict key is an OnnxExportError', () => {
    const recorder = new Recorder()
    const x = recorder.input(ft.randn([2]))
    const y = recorder.op('binary', [x, recorder.constant(ft.randn([2]), 'output_0')], { op: 'mul' }, (a, b) => a.mul(b))
    const settings = { inputNames: ['input_0'], outputNames: ['output_0'], dynamicBatch: false, opsetVersion: 17, metadata: {}, graphName: 'g', producerVersion: '0' }
    expect(() => buildModel(recorder.describe([y]), (id) => recorder.constants.get(id) as ft.Tensor, settings)).toThrow(/two values of the graph are both called 'output_0'/)
  })
})

describe('ONNX export with a dynamic batch (recorded at batch 2, run at batch 5)', () => {
  it('reshape and view whose dim 0 is the batch follow it; -1 does too', async () => {
    await agreesAtBatch5([3, 4], (r, [x]) => [r.op('view', [x], { shape: [x.t.shape[0], 12] }, (t) => t.view([t.shape[0], 12]))])
    await agreesAtBatch5([3, 4], (r, [x]) => [r.op('reshape', [x], { shape: [-1, 4, 3] }, (t) => t.reshape([-1, 4, 3]))])
  })

  it('flatten from dim 1, expand with the batch in its shape, and the ops between', async () => {
    await agreesAtBatch5([1, 4, 4], (r, [x]) => {
      const expanded = r.op('expand', [x], { shape: [x.t.shape[0], 3, 4, 4] }, (t) => t.expand([t.shape[0], 3, 4, 4]))
      const flat = r.op('flatten', [expanded], { startDim: 1, endDim: -1 }, (t) => t.flatten(1))
      const mean = r.op('reduce', [flat], { op: 'mean', dims: [1], keepDim: true }, (t) => t.mean(1, { keepDim: true }))
      return [r.op('binary', [flat, mean], { op: 'sub' }, (a, b) => a.sub(b))]
    })
  })
})

describe('ONNX export errors name the op', () => {
  const expectOnnxError = (graph: (r: Recorder, xs: Recorded[]) => Recorded[], op: string, message: RegExp, options: Options = {}) => {
    ft.manualSeed(0)
    let error: unknown
    try {
      exportGraph([ft.randn([2, 3, 7, 7])], graph, options)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ft.OnnxExportError)
    expect((error as ft.OnnxExportError).code).toBe('OnnxExport')
    expect((error as ft.OnnxExportError).op).toBe(op)
    expect((error as Error).message).toMatch(message)
  }

  it('an op without a mapping', () => {
    expectOnnxError((r, [x]) => [r.op('cross_entropy', [x], {}, (t) => t.sum())], 'cross_entropy', /'cross_entropy'.*no ONNX mapping/)
  })

  it('adaptive_avg_pool2d whose output size does not divide the input', () => {
    expectOnnxError((r, [x]) => [r.op('adaptive_avg_pool2d', [x], { outputSize: [3, 3] }, (t) => F.adaptiveAvgPool2d(t, 3))], 'adaptive_avg_pool2d', /3x3 does not divide the input's 7x7/)
  })

  it('max_pool2d in ceil mode where PyTorch drops the last window', () => {
    expectOnnxError(
      (r, [x]) => [r.op('max_pool2d', [x], { kernelSize: [2, 2], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: true }, (t) => F.maxPool2d(t, { kernelSize: 2, padding: 1, ceilMode: true }))],
      'max_pool2d',
      /ceilMode/,
    )
  })

  it('batch_norm in training mode', () => {
    expectOnnxError(
      (r, [x]) => [r.op('batch_norm', [x, r.constant(ft.zeros([3])), r.constant(ft.ones([3])), null, null], { training: true, momentum: 0.1, eps: 1e-5 }, (t) => t.clone())],
      'batch_norm',
      /training mode/,
    )
  })

  it('squeeze of the dynamic batch dim', () => {
    expectOnnxError((r, [x]) => {
      const one = r.op('narrow', [x], { dim: 0, start: 0, length: 1 }, (t) => t.narrow(0, 0, 1))
      return [r.op('squeeze', [one], { dim: null }, (t) => t.squeeze())]
    }, 'squeeze', /dynamic batch/, { dynamicBatch: true })
  })
})
