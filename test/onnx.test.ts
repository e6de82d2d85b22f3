// ONNX export of whole models: the tutorial's four and a user-defined module, traced by
// ft.onnx.exportModel / toBuffer, run in onnxruntime-node and compared with Ferrite's eval forward.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { ONNX_MODELS, preparedModel } from './fixtures/onnx_models'
import { expectAgreement, runOnnx } from './onnx-support'

type ProtoModule = typeof import('../ts/onnx/onnx-proto')
const { onnx } = createRequire(import.meta.url)(join(__dirname, '..', 'dist', 'cjs', 'onnx', 'onnx-proto.js')) as ProtoModule

const F = ft.functional
const figures: string[] = []
afterAll(() => console.log(`ONNX agreement (max abs diff against Ferrite's eval forward):\n${figures.join('\n')}`))

/** Ferrite's eval output for `input` against onnxruntime's for the exported bytes: their largest difference, and the outputs' largest magnitude. */
async function agreement(model: ft.nn.Module, bytes: Uint8Array, input: ft.Tensor): Promise<string> {
  const expected = ft.noGrad(() => model.forward(input) as ft.Tensor)
  const [actual] = await runOnnx(bytes, [input])
  const scale = expected.abs().max() as ft.Tensor
  return `${expectAgreement(actual, expected).toExponential(2)} (|output| <= ${scale.item().toPrecision(2)})`
}

describe('the tutorial models exported to ONNX agree with Ferrite in onnxruntime-node', () => {
  for (const name of Object.keys(ONNX_MODELS) as (keyof typeof ONNX_MODELS)[]) {
    it(`${name}: fixed batch 1, and a dynamic batch traced at 2 run at 1 and 5`, async () => {
      using model = preparedModel(name)
      ft.manualSeed(1)
      const fixed = ft.onnx.toBuffer(model, ft.randn([1, 3, 32, 32]))
      const dynamic = ft.onnx.toBuffer(model, ft.randn([2, 3, 32, 32]), { dynamicBatch: true })
      const [one, five] = [ft.randn([1, 3, 32, 32]), ft.randn([5, 3, 32, 32])]
      const diffs = [await agreement(model, fixed, one), await agreement(model, dynamic, one), await agreement(model, dynamic, five)]
      figures.push(`  ${name}: fixed batch 1 ${diffs[0]}, dynamic batch 1 ${diffs[1]}, batch 5 ${diffs[2]}`)
      // A file with a fixed batch refuses another batch size rather than computing something else.
      await expect(runOnnx(fixed, [five])).rejects.toThrow(/dimension|shape/i)
    })
  }
})

describe('the oldest and newest opsets the exporter writes', () => {
  it('se-resnet at opsets 13 and 21 agrees with Ferrite', async () => {
    using model = preparedModel('se-resnet')
    for (const opsetVersion of [13, 21]) {
      const bytes = ft.onnx.toBuffer(model, ft.randn([2, 3, 32, 32]), { dynamicBatch: true, opsetVersion })
      figures.push(`  se-resnet at opset ${opsetVersion}: batch 3 ${await agreement(model, bytes, ft.randn([3, 3, 32, 32]))}`)
    }
  })
})

/** A user's module using cat, transposes and permutes, softmax, a reduction, scalar ops, view and flatten. */
class Mixer extends ft.nn.Module {
  conv = new ft.nn.Conv2d(3, 8, 3, { padding: 1 })
  norm = new ft.nn.BatchNorm2d(8)
  head = new ft.nn.Linear(24, 5)

  forward(x: ft.Tensor): ft.Tensor {
    const features = F.maxPool2d(F.relu(this.norm.forward(this.conv.forward(x))), { kernelSize: 2 }) // [N, 8, 4, 4]
    const tokens = features.flatten(2).transpose(1, 2) // [N, 16, 8]
    const scores = tokens.matmul(tokens.permute([0, 2, 1])).mul(1 / Math.sqrt(8)) // [N, 16, 16]
    const mixed = F.softmax(scores, -1).matmul(tokens) // [N, 16, 8]
    const summary = ft.cat([mixed.mean(1), tokens.sum(1).div(16), mixed.pow(2).mean(1).sqrt()], 1) // [N, 24]
    const logits = this.head.forward(summary.view([x.size(0), -1]))
    return F.logSoftmax(logits.sub(logits.mean(-1, { keepDim: true })), 1)
  }
}

describe('a user-defined module exported to ONNX', () => {
  it('agrees with Ferrite at batch 1 and, with a dynamic batch, at 5', async () => {
    ft.manualSeed(0)
    using model = new Mixer()
    model.train()
    ft.noGrad(() => model.forward(ft.randn([6, 3, 8, 8]).add(0.5)))
    model.eval()
    const dynamic = ft.onnx.toBuffer(model, ft.randn([3, 3, 8, 8]), { dynamicBatch: true })
    const diffs = [await agreement(model, dynamic, ft.randn([1, 3, 8, 8])), await agreement(model, dynamic, ft.randn([5, 3, 8, 8]))]
    figures.push(`  Mixer (user module): dynamic batch 1 ${diffs[0]}, batch 5 ${diffs[1]}`)
  })

  it('exports non-finite scalars (maximum with -Infinity, minimum with Infinity) exactly', async () => {
    class Clamp extends ft.nn.Module {
      forward(x: ft.Tensor): ft.Tensor {
        return F.relu(x.maximum(-Infinity).minimum(Infinity).maximum(x.mul(0.5)))
      }
    }
    using model = new Clamp()
    const input = ft.tensor([[-2, -0.5, 0, 3]])
    const [actual] = await runOnnx(ft.onnx.toBuffer(model, input), [input])
    expect(Array.from(actual.data as Float32Array)).toEqual([0, 0, 0, 3])
  })

  it('one that calls an op ONNX cannot express fails with an OnnxExportError naming the op, and writes no file', async () => {
    class Uneven extends ft.nn.Module {
      forward(x: ft.Tensor): ft.Tensor {
        return F.adaptiveAvgPool2d(x, 3)
      }
    }
    const path = join(mkdtempSync(join(tmpdir(), 'ferrite-onnx-')), 'uneven.onnx')
    const error = await ft.onnx.exportModel(new Uneven(), ft.randn([1, 2, 7, 7]), path).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ft.OnnxExportError)
    expect(error).toMatchObject({ code: 'OnnxExport', op: 'adaptive_avg_pool2d' })
    expect((error as Error).message).toMatch(/adaptive_avg_pool2d.*3x3 does not divide the input's 7x7/)
    expect(existsSync(path)).toBe(false)
  })

  it('one that calls an op the trace cannot record (a loss, item()) fails with an OnnxExportError naming it, the TraceError as its cause', () => {
    class WithLoss extends ft.nn.Module {
      forward(x: ft.Tensor): ft.Tensor {
        return F.crossEntropy(x, ft.tensor([0], { dtype: 'int64' }))
      }
    }
    class ReadsValues extends ft.nn.Module {
      forward(x: ft.Tensor): ft.Tensor {
        return x.mul(x.sum().item())
      }
    }
    for (const [model, op] of [[new WithLoss(), 'cross_entropy'], [new ReadsValues(), 'item']] as const) {
      let error: unknown
      try {
        ft.onnx.toBuffer(model, ft.randn([1, 4]))
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ft.OnnxExportError)
      expect(error).toMatchObject({ code: 'OnnxExport', op })
      expect((error as Error).message).toContain(`${op}: cannot be traced`)
      expect((error as Error).cause).toBeInstanceOf(ft.TraceError)
    }
  })
})

describe('exportModel options and file', () => {
  it('writes names, opset, producer, metadata, the symbolic batch and stateDict-named initializers into the file', async () => {
    using model = preparedModel('mycnn')
    model.train()
    const path = join(mkdtempSync(join(tmpdir(), 'ferrite-onnx-')), 'mycnn.onnx')
    await ft.onnx.exportModel(model, ft.randn([2, 3, 32, 32]), path, {
      inputNames: ['pixels'],
      outputNames: ['logits'],
      dynamicBatch: true,
      opsetVersion: 18,
      metadata: { dataset: 'cifar10', classes: 'airplane,automobile' },
    })
    // The training flags come back as they were; no temporary file is left beside the output.
    expect(model.modules().every((m) => m.training)).toBe(true)
    expect(readdirSync(join(path, '..'))).toEqual(['mycnn.onnx'])
    const file = onnx.ModelProto.decode(readFileSync(path))
    expect(file.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 18]])
    expect(Number(file.irVersion)).toBe(8)
    expect(file.producerName).toBe('ferrite')
    expect(file.producerVersion).toBe(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version)
    expect(Object.fromEntries(file.metadataProps.map((p) => [p.key, p.value]))).toEqual({ dataset: 'cifar10', classes: 'airplane,automobile' })
    const graph = file.graph as InstanceType<typeof onnx.GraphProto>
    const shape = (v: (typeof graph.input)[number]) => v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))
    expect(graph.input.map((v) => [v.name, shape(v)])).toEqual([['pixels', ['batch', 3, 32, 32]]])
    expect(graph.output.map((v) => [v.name, shape(v)])).toEqual([['logits', ['batch', 10]]])
    const initializers = graph.initializer.map((t) => t.name)
    expect(initializers).toEqual(expect.arrayContaining(Object.keys(model.stateDict()).filter((k) => !k.endsWith('num_batches_tracked'))))
    expect(graph.node.map((n) => n.opType)).toEqual(expect.arrayContaining(['Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Reshape', 'Gemm']))
  })

  it('toBuffer gives the bytes exportModel writes', async () => {
    using model = preparedModel('mycnn')
    const path = join(mkdtempSync(join(tmpdir(), 'ferrite-onnx-')), 'mycnn.onnx')
    const example = ft.randn([1, 3, 32, 32])
    await ft.onnx.exportModel(model, example, path)
    const bytes = ft.onnx.toBuffer(model, example)
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype)
    expect(Buffer.compare(readFileSync(path), bytes)).toBe(0)
  })

  it('rejects bad options and paths with typed errors', async () => {
    using model = preparedModel('mycnn')
    const x = ft.randn([1, 3, 32, 32])
    expect(() => ft.onnx.toBuffer(model, x, { opsetVersion: 12 })).toThrow(ft.InvalidArgumentError)
    expect(() => ft.onnx.toBuffer(model, x, { opsetVersion: 22 })).toThrow(/opsetVersion must be an integer from 13 to 21/)
    expect(() => ft.onnx.toBuffer(model, x, { inputNames: ['a', 'b'] })).toThrow(/inputNames must be 1 non-empty string/)
    expect(() => ft.onnx.toBuffer(model, x, { outputNames: ['logits', 'extra'] })).toThrow(/outputNames must be 1 non-empty string/)
    expect(() => ft.onnx.toBuffer(model, [] as ft.Tensor[])).toThrow(/example must be a Tensor/)
    const missing = join(tmpdir(), 'ferrite-no-such-dir', 'x', 'model.onnx')
    await expect(ft.onnx.exportModel(model, x, missing)).rejects.toThrow(ft.IoError)
    await expect(ft.onnx.exportModel(model, x, missing)).rejects.toThrow(missing)
  })
})

describe("ONNX's own checker and onnxruntime for Python (test/fixtures/check_onnx.py, committed summary)", () => {
  it('passed every tutorial model', () => {
    const summary = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'check_onnx.json'), 'utf8')) as {
      tolerance: number
      models: Record<string, { passed: boolean; batches: Record<string, { maxAbsDiff: number }> }>
    }
    expect(Object.keys(summary.models).sort()).toEqual(Object.keys(ONNX_MODELS).sort())
    expect(summary.tolerance).toBeLessThanOrEqual(1e-4)
    for (const [name, result] of Object.entries(summary.models)) {
      expect(result.passed, name).toBe(true)
      expect(Object.keys(result.batches).sort(), name).toEqual(['1', '5'])
      for (const { maxAbsDiff } of Object.values(result.batches)) expect(maxAbsDiff).toBeLessThanOrEqual(summary.tolerance)
    }
  })
})
