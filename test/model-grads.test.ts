// The tutorial's models (MyCNN, ResNet [2, 2, 2], SE-ResNet, VGG11 as `ft.models` builds them)
// against their PyTorch twins (bench/compare/torch_models.py) with the same weights, hashed from
// the state-dict keys on both sides (test/summaries.ts, test/fixtures/summaries.py): the eval-mode
// logits, a train-mode forward's logits, cross-entropy loss and the batch-norm buffers it moves,
// then a train-mode step's loss and every parameter's gradient. test/fixtures/model_grads.json
// (gen_model_grads.py) holds PyTorch's float32 results, whole or summarised. The forward runs 16
// samples (Ferrite's Winograd layers take VGG11's 128- to 512-channel convolutions from 16 on),
// the step 4 (see the tolerances).
//
// Tolerances: through a dozen layers and batch statistics no per-element bound is tight, so each
// result carries PyTorch's own float32 error on it (against the float64 model: sigma, its root
// mean square over the result, floored at 8 roundings of the result's size). That error's largest
// element reaches 22 sigma on these results (gen_model_grads.py prints the figure); Ferrite's
// difference from PyTorch is a second error of that kind, in other summation orders, so it is
// allowed LAMBDA = 32 sigma, scaled up for elements larger than the result's root mean square
// (rounding errors grow with the value). The step's batch keeps every ReLU and max-pool decision
// 10 sigma or more from its jump (see gen_model_grads.py), so no gradient differs by a whole term.
// A wrong kernel errs by a fraction of the values themselves: thousands of sigmas.
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { loadFixture } from './helpers'
import { type StoredResult, type Worst, checkResult, hashed } from './summaries'

/** Allowed error in units of PyTorch's own root-mean-square float32 error (see above). */
const LAMBDA = 32

interface ModelResult extends StoredResult {
  error: number
  rms: number
}

interface ModelCase {
  name: string
  /** Eval logits, then a train-mode forward, of `forward_batch` samples hashed from `input`. */
  forward: {
    input: string
    eval_logits: ModelResult
    train_logits: ModelResult
    loss: ModelResult
    buffers: Record<string, ModelResult>
  }
  /** A train-mode step of `batch` samples hashed from `input`, chosen by gen_model_grads.py (see there). */
  step: { input: string; loss: ModelResult; grads: Record<string, ModelResult> }
}

const fixture = loadFixture('model_grads') as unknown as {
  generator: string
  forward_batch: number
  batch: number
  labels: number[]
  models: ModelCase[]
}

const MODELS: Record<string, () => ft.nn.Module> = {
  mycnn: () => new ft.models.MyCNN(32, 10),
  resnet: () => new ft.models.ResNet(),
  'se-resnet': () => ft.models.seResNet(),
  vgg11: () => new ft.models.VGG('VGG11'),
}

/** The hashed value of a state-dict entry, as gen_model_grads.py's `entry_values`. */
function entryValues(model: string, key: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1)
  const name = `${model}/${key}`
  if (key.endsWith('running_mean')) return hashed(name, n, 0.1)
  if (key.endsWith('running_var')) return hashed(name, n, 0.5, 1)
  if (key.endsWith('bias')) return hashed(name, n, 0.1)
  if (shape.length === 1) return hashed(name, n, 0.25, 1)
  return hashed(name, n, 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1)))
}

const worst: { what: string; worst: Worst }[] = []

function check(what: string, got: ft.Tensor | null, want: ModelResult) {
  expect(got, what).not.toBeNull()
  expect(got!.shape, `${what}: shape`).toEqual(want.shape)
  const found = checkResult(what, got!.toTypedArray() as Float32Array, want, {
    element: (e) => LAMBDA * want.error * (1 + Math.abs(e) / (want.rms || 1)),
    projection: (p, j) => LAMBDA * p.error! * (1 + Math.abs(p.values[j]) / (p.rms || 1)),
  })
  worst.push({ what, worst: found })
}

describe('the tutorial models match PyTorch with the same weights', () => {
  it('covers the four tutorial models', () => {
    expect(fixture.models.map((m) => m.name)).toEqual(Object.keys(MODELS))
  })

  for (const m of fixture.models) {
    it(`${m.name}: eval logits, train-mode logits, loss and batch-norm buffers, every gradient`, () => {
      const model = MODELS[m.name]()
      const entries = Object.entries(model.stateDict())
      const values: Record<string, ft.Tensor> = {}
      for (const [key, t] of entries) {
        if (!key.endsWith('num_batches_tracked')) values[key] = ft.tensor(entryValues(m.name, key, t.shape), { shape: t.shape })
      }
      expect(model.loadStateDict(values, { strict: false }).missingKeys.every((k) => k.endsWith('num_batches_tracked'))).toBe(true)
      Object.values(values).forEach((t) => t.dispose())

      const images = (name: string, n: number) => ft.tensor(hashed(name, n * 3 * 32 * 32), { shape: [n, 3, 32, 32] })
      const labels = (n: number) => ft.tensor(fixture.labels.slice(0, n), { dtype: 'int64' })
      const f = m.forward
      using x = images(f.input, fixture.forward_batch)
      using y = labels(fixture.forward_batch)
      model.eval()
      ft.noGrad(() => {
        using logits = model.forward(x)
        check(`${m.name} eval logits`, logits, f.eval_logits)
        model.train()
        using trainLogits = model.forward(x)
        check(`${m.name} train logits`, trainLogits, f.train_logits)
        using loss = ft.functional.crossEntropy(trainLogits, y)
        check(`${m.name} train loss`, loss, f.loss)
      })
      const buffers = model.namedBuffers().filter(([k]) => !k.endsWith('num_batches_tracked'))
      expect(buffers.map(([k]) => k)).toEqual(Object.keys(f.buffers))
      for (const [key, b] of buffers) check(`${m.name} ${key} after the train-mode forward`, b, f.buffers[key])

      using xs = images(m.step.input, fixture.batch)
      using ys = labels(fixture.batch)
      using out = model.forward(xs)
      using loss = ft.functional.crossEntropy(out, ys)
      check(`${m.name} step loss`, loss, m.step.loss)
      loss.backward()
      const params = model.namedParameters()
      expect(params.map(([k]) => k)).toEqual(Object.keys(m.step.grads))
      for (const [key, p] of params) check(`${m.name} ${key}.grad`, p.grad, m.step.grads[key])
      model.dispose()
    })
  }

  afterAll(() => {
    const top = [...worst].sort((a, b) => b.worst.ratio - a.worst.ratio).slice(0, 12)
    console.log(`models vs PyTorch, largest errors over tolerance (LAMBDA ${LAMBDA}):\n${top.map((w) => `  ${w.what}: ${w.worst.ratio.toExponential(2)} (${w.worst.at})`).join('\n')}`)
  })
})
