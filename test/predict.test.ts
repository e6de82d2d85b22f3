// Module.predict and ft.noGradAsync: traced forwards replayed on a worker thread. Results equal the
// synchronous evaluation-mode forward; the event loop keeps turning meanwhile; tensors in use
// cannot be disposed under the call.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const { models } = ft
const F = ft.functional
const gc = globalThis.gc as () => void

/** Collects garbage and lets the event loop turn; `ft.memory()` then releases what the collector took. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

function evalForward(model: ft.nn.Module, x: ft.Tensor): ft.Tensor {
  return ft.noGrad(() => model.eval().forward(x) as ft.Tensor)
}

const tutorialModels: [string, () => ft.nn.Module][] = [
  ['MyCNN', () => new models.MyCNN()],
  ['ResNet', () => new models.ResNet()],
  ['SE-ResNet', () => models.seResNet()],
  ['VGG11', () => new models.VGG('VGG11')],
]

/** Waits for `promise`, counting the ticks of a `periodMs` interval timer meanwhile. */
async function ticksDuring<T>(promise: Promise<T>, periodMs: number): Promise<{ value: T; ticks: number }> {
  let ticks = 0
  const timer = setInterval(() => ticks++, periodMs)
  try {
    return { value: await promise, ticks }
  } finally {
    clearInterval(timer)
  }
}

describe('Module.predict', () => {
  for (const [name, make] of tutorialModels) {
    it(`equals the evaluation-mode forward of ${name} at batch sizes 1, 7 and 64`, async () => {
      ft.manualSeed(2)
      const model = make()
      for (const batch of [1, 7, 64]) {
        const x = ft.randn([batch, 3, 32, 32])
        const predicted = await model.predict(x)
        expect(predicted.shape).toEqual([batch, 10])
        expect(predicted.requiresGrad).toBe(false)
        expect(predicted.toArray()).toEqual(evalForward(model, x).toArray())
      }
    })
  }

  it('keeps the event loop turning while a VGG11 batch of 256 runs, where forward blocks it', async () => {
    ft.manualSeed(3)
    const model = new models.VGG('VGG11').eval()
    const x = ft.randn([256, 3, 32, 32])
    await model.predict(x.narrow(0, 0, 2)) // traces and caches the graph
    const period = 5

    let blockedTicks = 0
    const timer = setInterval(() => blockedTicks++, period)
    const start = performance.now()
    const eager = evalForward(model, x)
    const blockedFor = performance.now() - start
    clearInterval(timer)
    // The synchronous forward held the thread for many timer periods, and no tick ran.
    expect(blockedFor).toBeGreaterThan(10 * period)
    expect(blockedTicks).toBe(0)

    const { value: predicted, ticks } = await ticksDuring(model.predict(x), period)
    expect(ticks).toBeGreaterThan(10)
    expect(predicted.toArray()).toEqual(eager.toArray())
  })

  it('refuses to dispose the input or a weight while the call runs, and allows it once settled', async () => {
    const model = new models.MyCNN()
    const x = ft.randn([16, 3, 32, 32])
    const weight = model.fc.weight
    const pending = model.predict(x)
    expect(() => x.dispose()).toThrow(ft.TensorInUseError)
    expect(() => weight.dispose()).toThrow(ft.TensorInUseError)
    expect(x.isDisposed).toBe(false)
    const result = await pending
    expect(result.shape).toEqual([16, 10])
    x.dispose()
    expect(x.isDisposed).toBe(true)
    expect(model.fc.weight.sum().item()).toBeTypeOf('number')
  })

  it('makes a tidy scope that ends under a running call throw TensorInUseError, disposing the rest', async () => {
    const model = new models.MyCNN()
    let input: ft.Tensor | undefined
    let other: ft.Tensor | undefined
    let pending: Promise<ft.Tensor> | undefined
    const error = (() => {
      try {
        ft.tidy(() => {
          input = ft.randn([4, 3, 32, 32])
          other = ft.randn([2])
          pending = model.predict(input)
        })
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ft.TensorInUseError)
    expect(input!.isDisposed).toBe(false)
    expect(other!.isDisposed).toBe(true)
    expect((await pending!).shape).toEqual([4, 10])
    input!.dispose()
  })

  it('lets the collector release an input in use only once the call has settled, without throwing', async () => {
    const model = new models.MyCNN()
    await model.predict(ft.randn([1, 3, 32, 32])) // traces and caches the graph
    await collect()
    const before = ft.memory()
    const pending = model.predict(ft.randn([64, 3, 32, 32])) // the call alone uses the input
    gc()
    // The collector took the input's JS object while the call holds the tensor: nothing throws,
    // and its memory stays until the call has settled.
    expect(ft.memory().bytes).toBeGreaterThanOrEqual(before.bytes + 64 * 3 * 32 * 32 * 4)
    const output = await pending
    expect(output.shape).toEqual([64, 10])
    output.dispose()
    await collect()
    expect(ft.memory()).toEqual(before)
  })

  it('traces a model in training mode in evaluation mode and restores its mode', async () => {
    const model = new models.MyCNN().train()
    const x = ft.randn([5, 3, 32, 32])
    const counter = model.conv1.at(1) as ft.nn.BatchNorm2d
    const before = counter.numBatchesTracked!.item()
    const predicted = await model.predict(x)
    expect(model.training).toBe(true)
    expect(model.modules().every((m) => m.training)).toBe(true)
    expect(counter.numBatchesTracked!.item()).toBe(before)
    expect(predicted.toArray()).toEqual(evalForward(model, x).toArray())
  })

  it('sees weights updated in place and retraces when parameters are replaced', async () => {
    const model = new ft.nn.Linear(3, 2)
    const x = ft.randn([4, 3])
    await model.predict(x)
    ft.noGrad(() => model.weight.copy_(ft.ones([2, 3])))
    expect((await model.predict(x)).toArray()).toEqual(evalForward(model, x).toArray())
    model.weight = new ft.nn.Parameter(ft.zeros([2, 3]))
    expect((await model.predict(x)).toArray()).toEqual(evalForward(model, x).toArray())
  })

  it('rejects a wrong input shape and an untraceable forward with typed errors', async () => {
    const model = new models.MyCNN()
    await expect(model.predict(ft.randn([2, 3, 32, 31]))).rejects.toThrow(ft.ShapeMismatchError)
    await expect(model.predict(ft.randn([2, 3]))).rejects.toThrow(ft.FerriteError)
    await expect(model.predict(3 as unknown as ft.Tensor)).rejects.toThrow(ft.InvalidArgumentError)

    class ReadsValues extends ft.nn.Module {
      forward(x: ft.Tensor): ft.Tensor {
        return x.mul(x.max().item())
      }
    }
    const rejected = new ReadsValues().predict(ft.randn([3, 2]))
    await expect(rejected).rejects.toThrow(ft.TraceError)
    await expect(rejected).rejects.toThrow(/^item: cannot be traced/)
  })
})

describe('TracedGraph.runAsync', () => {
  it('rejects a replay whose input has another shape past the batch with a ShapeMismatchError', async () => {
    using graph = ft.jit.trace((x) => F.relu(x), ft.randn([1, 4]))
    await expect(graph.runAsync(ft.randn([3, 5]))).rejects.toThrow(ft.ShapeMismatchError)
    const [out] = await graph.runAsync(ft.randn([3, 4]))
    expect(out.shape).toEqual([3, 4])
  })
})

describe('noGradAsync', () => {
  it('returns what ft.noGrad returns, one tensor or several, computed off the thread', async () => {
    const w = ft.randn([4, 3], { requiresGrad: true })
    const x = ft.randn([9, 4])
    const one = (t: ft.Tensor) => F.softmax(t.matmul(w), 1)
    const async = await ft.noGradAsync(one, x)
    expect(async.requiresGrad).toBe(false)
    expect(async.toArray()).toEqual(ft.noGrad(() => one(x)).toArray())

    const two = (a: ft.Tensor, b: ft.Tensor) => [a.add(b), a.mul(b).sum(1)]
    const [b1, b2] = [ft.randn([6, 2]), ft.randn([6, 2])]
    const outs = await ft.noGradAsync(two, b1, b2)
    expect(outs.map((t) => t.shape)).toEqual([[6, 2], [6]])
    outs.forEach((t, i) => expect(t.toArray()).toEqual(two(b1, b2)[i].toArray()))
  })
})
