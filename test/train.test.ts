// The training loop end to end on the bundled sample (data/cifar10-sample): the loss falls,
// accuracy beats chance clearly, checkpoints resume exactly, and the outputs are real files.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import * as ft from 'ferrite-ml'

const T = ft.transforms
const sample = join(__dirname, '..', 'data', 'cifar10-sample')
const mean = [0.49, 0.48, 0.45]
const std = [0.25, 0.24, 0.26]

function loaders(seed: number) {
  const trainSet = new ft.data.CIFAR10({
    root: sample,
    transform: T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize(mean, std)]),
  })
  const testSet = new ft.data.CIFAR10({ root: sample, train: false, transform: T.compose([T.toTensor(), T.normalize(mean, std)]) })
  return {
    trainLoader: new ft.data.DataLoader(trainSet, { batchSize: 100, shuffle: true, seed }),
    testLoader: new ft.data.DataLoader(testSet, { batchSize: 100 }),
  }
}

describe('fit on the bundled sample', () => {
  it('MyCNN learns in one epoch: the loss falls and accuracy beats chance clearly', async () => {
    ft.manualSeed(0)
    const { trainLoader, testLoader } = loaders(0)
    const model = new ft.models.MyCNN(32, 10)
    const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.01 })
    const lines: string[] = []
    const history = await ft.fit(model, { epochs: 1, optimizer, trainLoader, testLoader, logEvery: 2, log: (l) => lines.push(l), progress: false })
    expect(lines[0]).toBe('Epoch 1/1:')
    expect(lines.at(-1)).toMatch(/^Accuracy on Test Set: \d+\.\d{4} %$/)
    const losses = lines.filter((l) => l.startsWith('Step')).map((l) => Number(l.split('Train Loss: ')[1]))
    expect(lines).toContain(`Step [20/20] Train Loss: ${losses.at(-1)!.toFixed(4)}`)
    const early = (losses[0] + losses[1]) / 2
    const late = (losses.at(-1)! + losses.at(-2)!) / 2
    expect(late).toBeLessThan(early * 0.9)
    expect(history.testAccuracy[0]).toBeGreaterThan(0.2)
    expect(history.trainLoss).toHaveLength(1)
    expect(history.imagesPerSecond[0]).toBeGreaterThan(0)
    model.dispose()
  })

  it("precision: 'bf16' trains under autocast: the loss falls, the weights stay float32", async () => {
    ft.manualSeed(0)
    const { trainLoader, testLoader } = loaders(0)
    // Both convolutions run on the direct kernels' bf16 channel pairs (3x3 on 8x8 planes and up).
    const model = new ft.nn.Sequential(
      new ft.nn.Conv2d(3, 32, 3, { padding: 1 }),
      new ft.nn.BatchNorm2d(32),
      new ft.nn.ReLU(),
      new ft.nn.MaxPool2d(2),
      new ft.nn.Conv2d(32, 32, 3, { padding: 1 }),
      new ft.nn.BatchNorm2d(32),
      new ft.nn.ReLU(),
      new ft.nn.MaxPool2d(4),
      new ft.nn.Flatten(),
      new ft.nn.Linear(32 * 4 * 4, 10),
    )
    const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.01 })
    const lines: string[] = []
    const log = (l: string) => lines.push(l)
    const history = await ft.fit(model, { epochs: 1, optimizer, trainLoader, testLoader, logEvery: 2, log, progress: false, precision: 'bf16' })
    const losses = lines.filter((l) => l.startsWith('Step')).map((l) => Number(l.split('Train Loss: ')[1]))
    expect((losses.at(-1)! + losses.at(-2)!) / 2).toBeLessThan(((losses[0] + losses[1]) / 2) * 0.9)
    expect(history.testAccuracy[0]).toBeGreaterThan(0.2)
    for (const [name, p] of model.namedParameters()) expect(p.dtype, name).toBe('float32')
    await expect(ft.fit(model, { epochs: 1, optimizer, trainLoader, precision: 'fp16' as 'bf16', log })).rejects.toThrow(
      "fit: precision must be 'fp32' or 'bf16', got \"fp16\"",
    )
    model.dispose()
  })

  it('resuming from a checkpoint ends exactly where an uninterrupted run does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-fit-'))
    const run = async (epochs: number, checkpoint?: string, seed = 7, model = (ft.manualSeed(1), new ft.models.MyCNN(32, 10))) => {
      const { trainLoader, testLoader } = loaders(seed)
      const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.005 })
      const scheduler = new ft.optim.StepLR(optimizer, { stepSize: 1, gamma: 0.5 })
      // A loss that draws from the global generator every step, as noise or dropout would.
      const crossEntropy = new ft.nn.CrossEntropyLoss()
      const lossFn = (output: ft.Tensor, targets: ft.Tensor) => (ft.rand([1]).dispose(), crossEntropy.forward(output, targets))
      const history = await ft.fit(model, { epochs, optimizer, scheduler, trainLoader, testLoader, lossFn, checkpoint, resume: true, log: () => {}, progress: false })
      return { model, history, optimizer, nextDraws: ft.rand([4]).toArray() }
    }
    const straight = await run(2)
    const checkpoint = join(dir, 'checkpoint.safetensors')
    await run(1, checkpoint)
    expect(existsSync(checkpoint)).toBe(true)
    // The checkpoint restores the loader's seed too, so a differently seeded loader changes nothing.
    const resumed = await run(2, checkpoint, 12345)
    // Bit for bit: every kernel sums in a fixed order, whatever the threads do.
    expect(resumed.history.trainLoss).toEqual(straight.history.trainLoss)
    expect(resumed.history.testAccuracy).toEqual(straight.history.testAccuracy)
    expect(resumed.optimizer.paramGroups[0].lr).toBeCloseTo(0.00125, 10)
    const a = resumed.model.stateDict()
    const b = straight.model.stateDict()
    for (const key of Object.keys(b)) expect(a[key].toArray(), key).toEqual(b[key].toArray())
    // The global generator continues where it would have: the checkpoint carries its state.
    expect(resumed.nextDraws).toEqual(straight.nextDraws)
  })

  it('saves the model and plots the curves as a PNG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-fit-'))
    const model = new ft.models.MyCNN(32, 10)
    ft.saveModel(model, join(dir, 'model.safetensors'))
    const loaded = ft.load(join(dir, 'model.safetensors'))
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(model.stateDict()).sort())
    await ft.plotCurves({ trainLoss: [2.1, 1.7, 1.5], testAccuracy: [0.3, 0.4, 0.45] }, join(dir, 'curves.png'))
    const png = readFileSync(join(dir, 'curves.png'))
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    expect(png.readUInt32BE(16)).toBe(840) // two 420-pixel panels
  })

  it('evaluate restores the training mode and rejects empty loaders', async () => {
    const model = new ft.models.MyCNN(32, 10)
    const { testLoader } = loaders(0)
    const modesSeen: boolean[] = []
    const forward = model.forward.bind(model)
    model.forward = (x: ft.Tensor) => {
      modesSeen.push(model.training)
      return forward(x)
    }
    for (const mode of [true, false]) {
      model.train(mode)
      modesSeen.length = 0
      const accuracy = await ft.evaluate(model, testLoader, { log: () => {} })
      expect(accuracy).toBeGreaterThanOrEqual(0)
      expect(accuracy).toBeLessThanOrEqual(1)
      expect(modesSeen, 'model.training in each forward').toEqual(Array(testLoader.length).fill(false))
      expect(model.training).toBe(mode)
    }
    for (const [what, empty] of emptyLoaders(testLoader.dataset)) {
      for (const mode of [true, false]) {
        model.train(mode)
        const log = vi.fn()
        const e = await ft.evaluate(model, empty, { log }).catch((error: unknown) => error)
        expect(e, what).toBeInstanceOf(ft.InvalidArgumentError)
        expect((e as Error).message).toBe('evaluate: the data loader produced no batches')
        expect(log, 'no accuracy line for no data').not.toHaveBeenCalled()
        expect(model.training).toBe(mode)
      }
    }
  })

  it('train and fit reject empty loaders, changing no weight', async () => {
    ft.manualSeed(0)
    const model = new ft.models.MyCNN(32, 10)
    const before = model.stateDict()
    const optimizer = new ft.optim.SGD(model.parameters(), { lr: 0.1 })
    const { trainLoader, testLoader } = loaders(0)
    const lossFn = new ft.nn.CrossEntropyLoss()
    const log = () => {}
    for (const [what, empty] of emptyLoaders(trainLoader.dataset)) {
      const fromTrain = await ft.train(model, empty, lossFn, optimizer, { log }).catch((error: unknown) => error)
      expect(fromTrain, `train on ${what}`).toBeInstanceOf(ft.InvalidArgumentError)
      expect((fromTrain as Error).message).toBe('train: the data loader produced no batches')
      const fromFit = await ft.fit(model, { epochs: 1, optimizer, trainLoader: empty, testLoader, log, progress: false }).catch((error: unknown) => error)
      expect(fromFit, `fit on ${what}`).toBeInstanceOf(ft.InvalidArgumentError)
      expect((fromFit as Error).message).toMatch(/the data loader produced no batches/)
    }
    for (const [key, value] of Object.entries(model.stateDict())) {
      expect(Array.from(value.toTypedArray() as ArrayLike<number>), key).toEqual(Array.from(before[key].toTypedArray() as ArrayLike<number>))
    }
  })
})

/** Loaders that yield no batch from `dataset`: no items, and fewer items than a batch with `dropLast`. */
function emptyLoaders(dataset: ft.data.Dataset): [string, ft.data.DataLoader][] {
  return [
    ['an empty Subset', new ft.data.DataLoader(new ft.data.Subset(dataset, []), { batchSize: 10 })],
    ['3 items in batches of 4 with dropLast', new ft.data.DataLoader(new ft.data.Subset(dataset, [0, 1, 2]), { batchSize: 4, dropLast: true })],
  ]
}
