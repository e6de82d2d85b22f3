// The tutorial's models (MyCNN, ResNet [2, 2, 2], SE-ResNet, VGG11 as `ft.models` builds them)
// against their PyTorch twins (bench/compare/torch_models.py) with the same weights, hashed from
// the state-dict keys on both sides (test/summaries.ts, test/fixtures/summaries.py): the eval-mode
// logits, then one train-mode step on a fixed batch: logits, cross-entropy loss, every
// parameter's gradient and every batch-norm buffer it moves. test/fixtures/model_grads.json
// (gen_model_grads.py) holds PyTorch's float32 results, whole or summarised.
//
// Tolerances: through a dozen layers and batch statistics no per-element bound is tight, so each
// result carries PyTorch's own float32 error on it (against the float64 model: sigma, its root mean
// square over the result, floored at 8 roundings of the result's size). That error's largest
// element reaches 22 sigma on these results (gen_model_grads.py prints the figure); Ferrite's
// difference from PyTorch is a second error of that kind, in other summation orders, so it is
// allowed LAMBDA = 32 sigma, scaled up for elements larger than the result's root mean square
// (rounding errors grow with the value). The batch keeps every ReLU and max-pool decision of the
// training step 10 sigma or more from its jump (see gen_model_grads.py), so no gradient differs
// by a whole term. A wrong kernel errs by a fraction of the values themselves: thousands of sigmas.
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
  /** The name the batch is hashed from, chosen by gen_model_grads.py (see there). */
  input: string
  eval_logits: ModelResult
  train_logits: ModelResult
  loss: ModelResult
  grads: Record<string, ModelResult>
  buffers: Record<string, ModelResult>
}

const fixture = loadFixture('model_grads') as unknown as {
  generator: string
  batch: number
  classes: number
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
    it(`${m.name}: eval logits, train-mode loss, every gradient and batch-norm buffer`, () => {
      const model = MODELS[m.name]()
      const entries = Object.entries(model.stateDict())
      const values: Record<string, ft.Tensor> = {}
      for (const [key, t] of entries) {
        if (!key.endsWith('num_batches_tracked')) values[key] = ft.tensor(entryValues(m.name, key, t.shape), { shape: t.shape })
      }
      expect(model.loadStateDict(values, { strict: false }).missingKeys.every((k) => k.endsWith('num_batches_tracked'))).toBe(true)
      Object.values(values).forEach((t) => t.dispose())

      using x = ft.tensor(hashed(m.input, fixture.batch * 3 * 32 * 32), { shape: [fixture.batch, 3, 32, 32] })
      using labels = ft.tensor(fixture.labels, { dtype: 'int64' })
      model.eval()
      ft.noGrad(() => {
        using logits = model.forward(x)
        check(`${m.name} eval logits`, logits, m.eval_logits)
      })
      model.train()
      using logits = model.forward(x)
      check(`${m.name} train logits`, logits, m.train_logits)
      using loss = ft.functional.crossEntropy(logits, labels)
      check(`${m.name} loss`, loss, m.loss)
      loss.backward()
      const params = model.namedParameters()
      expect(params.map(([k]) => k)).toEqual(Object.keys(m.grads))
      for (const [key, p] of params) check(`${m.name} ${key}.grad`, p.grad, m.grads[key])
      const buffers = model.namedBuffers().filter(([k]) => !k.endsWith('num_batches_tracked'))
      expect(buffers.map(([k]) => k)).toEqual(Object.keys(m.buffers))
      for (const [key, b] of buffers) check(`${m.name} ${key} after the step`, b, m.buffers[key])
      model.dispose()
    })
  }

  afterAll(() => {
    const top = [...worst].sort((a, b) => b.worst.ratio - a.worst.ratio).slice(0, 12)
    console.log(`models vs PyTorch, largest errors over tolerance (LAMBDA ${LAMBDA}):\n${top.map((w) => `  ${w.what}: ${w.worst.ratio.toExponential(2)} (${w.worst.at})`).join('\n')}`)
  })
})
