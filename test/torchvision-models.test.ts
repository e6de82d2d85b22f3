// torchvision's ResNets and MobileNetV2 against torchvision itself (fixtures from
// test/fixtures/gen_torchvision_models.py): state-dict keys, shapes and dtypes, the printout,
// the logits of torchvision's weights loaded with loadStateDict, fine-tuning a replaced head with
// the rest frozen, and the ONNX export in onnxruntime-node.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'
import { expectAgreement, runOnnx } from './onnx-support'

const { nn, models } = ft

interface ModelFixture {
  /** `[key, shape, dtype]` in `state_dict()` order. */
  keys: [string, number[], string][]
  repr: string
  /** Evaluation-mode logits of the input, `[2, 10]` flattened. */
  logits?: number[]
  /** Training-mode logits (batch statistics), resnet18 only. */
  trainLogits?: number[]
}

const FIXTURES = join(__dirname, 'fixtures', 'torchvision')
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'models.json'), 'utf8')) as { generator: string; models: Record<string, ModelFixture> }

/** A brotli-compressed safetensors fixture, loaded with ft.load. */
function loadCompressed(name: string): Record<string, ft.Tensor> {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-torchvision-'))
  try {
    const path = join(dir, `${name}.safetensors`)
    writeFileSync(path, brotliDecompressSync(readFileSync(join(FIXTURES, `${name}.safetensors.br`))))
    return ft.load(path)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const input = loadCompressed('input').input

/** The model with torchvision's weights for `name`, in evaluation mode. */
function pretrained<M extends ft.nn.Module>(name: string, make: () => M): M {
  const model = make()
  const weights = loadCompressed(name)
  expect(model.loadStateDict(weights)).toEqual({ missingKeys: [], unexpectedKeys: [] })
  for (const t of Object.values(weights)) t.dispose()
  return model.eval()
}

/** The largest absolute difference between `actual` and the expected values. */
function maxAbsDiff(actual: ft.Tensor, expected: readonly number[]): number {
  const values = actual.toTypedArray() as Float32Array
  expect(values.length).toBe(expected.length)
  return expected.reduce((max, e, i) => Math.max(max, Math.abs(values[i] - e)), 0)
}

const BUILDERS: Record<string, () => ft.nn.Module> = {
  resnet18: () => models.resnet18({ numClasses: 10 }),
  resnet34: () => models.resnet34({ numClasses: 10 }),
  resnet50: () => models.resnet50({ numClasses: 10 }),
  resnet101: () => models.resnet101({ numClasses: 10 }),
  resnet152: () => models.resnet152({ numClasses: 10 }),
  mobilenet_v2: () => models.mobilenetV2({ numClasses: 10 }),
  mobilenet_v2_width_0_5: () => models.mobilenetV2({ numClasses: 10, widthMult: 0.5 }),
  resnet18_1000: () => models.resnet18(),
}

describe('torchvision models', () => {
  for (const [name, make] of Object.entries(BUILDERS)) {
    const expected = fixture.models[name]

    it(`${name}: state-dict keys, shapes and dtypes and the printout are torchvision's`, () => {
      using model = make()
      expect(Object.entries(model.stateDict()).map(([key, t]) => [key, t.shape, t.dtype])).toEqual(expected.keys)
      expect(String(model)).toBe(expected.repr)
    })

    if (expected.logits) {
      it(`${name}: torchvision's weights give torchvision's logits within 1e-4`, () => {
        using model = pretrained(name, make)
        const diff = maxAbsDiff(ft.noGrad(() => model.forward(input) as ft.Tensor), expected.logits!)
        console.info(`${name}: max |logits - torchvision's| = ${diff.toExponential(2)} (${fixture.generator})`)
        expect(diff).toBeLessThanOrEqual(1e-4)
        if (expected.trainLogits) {
          const train = maxAbsDiff(ft.noGrad(() => model.train().forward(input) as ft.Tensor), expected.trainLogits)
          console.info(`${name} in training mode: max |logits - torchvision's| = ${train.toExponential(2)}`)
          expect(train).toBeLessThanOrEqual(1e-4)
        }
      })
    }
  }

  it('starts from torchvision\'s initialisation', () => {
    ft.manualSeed(0)
    using resnet = models.resnet18({ numClasses: 10, zeroInitResidual: true })
    // kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / (64 * 7 * 7)).
    const stem = resnet.conv1.weight
    const std = Math.sqrt(2 / (64 * 49))
    expect(stem.mean().item()).toBeCloseTo(0, 3)
    expect(stem.mul(stem).mean().sqrt().item() / std).toBeCloseTo(1, 1)
    const block = resnet.layer1.at(0) as ft.models.BasicBlock
    expect(block.bn1.weight!.toArray()).toEqual(new Array(64).fill(1))
    expect(block.bn2.weight!.toArray()).toEqual(new Array(64).fill(0))
    using mobilenet = models.mobilenetV2({ numClasses: 10 })
    const classifier = mobilenet.classifier.at(1) as ft.nn.Linear
    expect(classifier.weight.mul(classifier.weight).mean().sqrt().item()).toBeCloseTo(0.01, 3)
    expect(classifier.bias!.abs().max().item()).toBe(0)
  })

  it('refuses bad arguments with typed errors that say what was expected', () => {
    const cases: [() => unknown, string][] = [
      [() => new models.TorchvisionResNet(models.BasicBlock, [2, 2, 2]), 'layers must be four block counts'],
      [() => new models.TorchvisionResNet(models.BasicBlock, [2, 0, 2, 2]), 'layers[1]'],
      [() => new models.TorchvisionResNet({} as ft.models.ResNetBlock, [2, 2, 2, 2]), 'block must be a block class'],
      [() => models.resnet18({ numClasses: 0 }), 'numClasses'],
      [() => models.mobilenetV2({ widthMult: -1 }), 'widthMult must be a positive number'],
      [() => models.mobilenetV2({ dropout: 2 }), 'dropout probability has to be between 0 and 1'],
      [() => new models.InvertedResidual(16, 16, 3, 6), 'stride should be 1 or 2'],
    ]
    for (const [make, message] of cases) {
      const error = thrown(make)
      expect(error.code).toBe('InvalidArgument')
      expect(error.message).toContain(message)
    }
  })

  it('fine-tunes a replaced head with the rest frozen: one SGD step changes only the head', () => {
    using model = pretrained('resnet18', () => models.resnet18({ numClasses: 10 }))
    model.fc = new nn.Linear(512, 5)
    const state = model.stateDict()
    expect(state['fc.weight'].shape).toEqual([5, 512])
    expect(model.parameters()).toContain((model.fc as ft.nn.Linear).weight)
    for (const p of model.parameters()) p.requiresGrad = false
    for (const p of model.fc.parameters()) p.requiresGrad = true
    const before = Object.fromEntries(Object.entries(state).map(([k, t]) => [k, t.clone()]))
    // The optimizer: a group for the head and one for the (still frozen) last stage.
    const opt = new ft.optim.SGD([{ params: model.fc.parameters(), lr: 0.1 }, { params: model.layer4.parameters(), lr: 1e-3 }], { momentum: 0.9 })
    model.train()
    const loss = ft.functional.crossEntropy(model.forward(input) as ft.Tensor, ft.tensor([1, 3], { dtype: 'int64' }))
    loss.backward()
    opt.step()
    const after = model.stateDict()
    const changed = Object.keys(after).filter((k) => after[k].sub(before[k]).abs().max().item() !== 0)
    // The frozen layers keep their weights; batch norm's running statistics follow the batch in training mode.
    expect(changed.filter((k) => !/running_(mean|var)|num_batches_tracked/.test(k))).toEqual(['fc.weight', 'fc.bias'])
    expect(model.layer4.parameters().every((p) => p.grad === null)).toBe(true)
  })

  for (const name of ['resnet18', 'mobilenet_v2']) {
    it(`${name}: ft.onnx.exportModel's file runs in onnxruntime-node within 1e-4 of Ferrite, and predict agrees in any mode`, async () => {
      using model = pretrained(name, BUILDERS[name])
      using expected = ft.noGrad(() => model.forward(input) as ft.Tensor)
      const dir = mkdtempSync(join(tmpdir(), 'ferrite-torchvision-onnx-'))
      try {
        const path = join(dir, `${name}.onnx`)
        await ft.onnx.exportModel(model, input, path)
        const [output] = await runOnnx(readFileSync(path), [input])
        const diff = expectAgreement(output, expected, 1e-4)
        console.info(`${name}: ONNX max |onnxruntime - Ferrite| = ${diff.toExponential(2)}`)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
      // predict computes in evaluation mode (running statistics, no dropout) while the model trains.
      model.train()
      using predicted = await model.predict(input)
      expect(model.training).toBe(true)
      expect(maxAbsDiff(predicted, Array.from(expected.toTypedArray() as Float32Array))).toBeLessThanOrEqual(1e-5)
    })
  }
})
