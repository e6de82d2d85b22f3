// fit's callbacks: the hooks' order and logs, plain objects and classes, async hooks, early
// stopping (when it stops, which weights it restores), best-model checkpoints, errors thrown
// by a hook, and resuming. Runs MyCNN on 100 images of the bundled sample, two steps per epoch.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const T = ft.transforms
const sample = join(__dirname, '..', 'data', 'cifar10-sample')
const transform = T.compose([T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const trainSet = new ft.data.Subset(new ft.data.CIFAR10({ root: sample, transform }), range(100))
const testSet = new ft.data.Subset(new ft.data.CIFAR10({ root: sample, train: false, transform }), range(50))

function setup(lr = 1e-3) {
  ft.manualSeed(3)
  const model = new ft.models.MyCNN(32, 10)
  return {
    model,
    optimizer: new ft.optim.Adam(model.parameters(), { lr }),
    trainLoader: new ft.data.DataLoader(trainSet, { batchSize: 50, shuffle: true, seed: 1 }),
    testLoader: new ft.data.DataLoader(testSet, { batchSize: 50 }),
    log: () => {},
    progress: false,
  }
}

/** A callback setting each epoch's learning rate from `rates`, so that a monitored `lr` follows a known sequence. */
const learningRates = (rates: number[]): ft.callbacks.Callback => ({
  onEpochBegin: ({ optimizer, epoch }) => {
    optimizer.paramGroups[0].lr = rates[epoch]
  },
})

/** A callback copying the weights after every epoch: `weights[epoch]` is a state dict of plain arrays. */
function weightsAfterEachEpoch() {
  const weights: Record<string, unknown>[] = []
  const callback: ft.callbacks.Callback = {
    onEpochEnd: ({ model }) => {
      weights.push(Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.toArray()])))
    },
  }
  return { weights, callback }
}

const plainState = (model: ft.nn.Module) => Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.toArray()]))
const plainFile = (path: string) => Object.fromEntries(Object.entries(ft.load(path)).map(([k, t]) => [k, t.toArray()]))

describe('fit callbacks', () => {
  it('calls the hooks in order with their epoch, step and logs, awaiting async hooks', async () => {
    const calls: string[] = []
    const batchLosses: number[] = []
    let asyncDone = false
    class Recorder implements ft.callbacks.Callback {
      readonly epochLogs: ft.callbacks.EpochLogs[] = []
      onTrainBegin({ epoch, step, epochs, batches }: ft.callbacks.CallbackContext) {
        calls.push(`trainBegin ${epoch} ${step} ${epochs} ${batches}`)
      }
      onEpochBegin({ epoch, step }: ft.callbacks.CallbackContext) {
        expect(asyncDone).toBe(epoch > 0)
        calls.push(`epochBegin ${epoch} ${step}`)
      }
      onBatchEnd({ epoch, step, batch, logs }: ft.callbacks.BatchEndContext) {
        calls.push(`batchEnd ${epoch} ${step} ${batch} ${logs.size} ${logs.lr}`)
        batchLosses.push(logs.loss)
      }
      onEpochEnd({ epoch, step, logs, history }: ft.callbacks.EpochEndContext) {
        calls.push(`epochEnd ${epoch} ${step}`)
        expect(history.trainLoss).toHaveLength(epoch + 1)
        this.epochLogs.push(logs)
      }
      onTrainEnd({ epoch, step, stopped, logs }: ft.callbacks.TrainEndContext) {
        calls.push(`trainEnd ${epoch} ${step} ${stopped}`)
        expect(logs).toBe(this.epochLogs.at(-1))
      }
    }
    const recorder = new Recorder()
    const lines: string[] = []
    const s = setup()
    const history = await ft.fit(s.model, {
      ...s,
      epochs: 2,
      log: (l) => lines.push(l),
      logEvery: 1,
      callbacks: [
        recorder,
        { onEpochEnd: async () => new Promise<void>((resolve) => setTimeout(() => resolve(void (asyncDone = true)), 20)) },
        { onEpochEnd: ({ epoch }) => void lines.push(`user line ${epoch}`) },
      ],
    })
    expect(calls).toEqual([
      'trainBegin 0 0 2 2',
      'epochBegin 0 0',
      'batchEnd 0 1 0 50 0.001',
      'batchEnd 0 2 1 50 0.001',
      'epochEnd 0 2',
      'epochBegin 1 2',
      'batchEnd 1 3 0 50 0.001',
      'batchEnd 1 4 1 50 0.001',
      'epochEnd 1 4',
      'trainEnd 2 4 false',
    ])
    // The built-in log lines come first, as fit printed them before callbacks existed.
    expect(lines.slice(0, 5)).toEqual([
      'Epoch 1/2:',
      `Step [1/2] Train Loss: ${batchLosses[0].toFixed(4)}`,
      `Step [2/2] Train Loss: ${batchLosses[1].toFixed(4)}`,
      `Accuracy on Test Set: ${(100 * history.testAccuracy[0]).toFixed(4)} %`,
      'user line 0',
    ])
    recorder.epochLogs.forEach((logs, epoch) => {
      expect(logs.trainLoss).toBe(history.trainLoss[epoch])
      expect(logs.trainLoss).toBeCloseTo((batchLosses[2 * epoch] + batchLosses[2 * epoch + 1]) / 2, 12)
      expect(logs.testAccuracy).toBe(history.testAccuracy[epoch])
      expect(logs.testLoss).toBe(history.testLoss![epoch])
      expect(logs.lr).toBe(0.001)
      expect(logs.seconds).toBe(history.epochSeconds[epoch])
    })
    // The test loss is the mean of the test batches' cross-entropy, computed here independently.
    const batches: ft.data.Batch[] = []
    for await (const batch of s.testLoader) batches.push(batch)
    s.model.eval()
    const losses = ft.noGrad(() => batches.map(([x, y]) => ft.functional.crossEntropy(s.model.forward(x), y).item()))
    const independent = losses.reduce((a, b) => a + b) / losses.length
    expect(history.testLoss![1]).toBeCloseTo(independent, 5)
    s.model.dispose()
  })

  it('earlyStopping stops after patience epochs without improvement and restores the best weights', async () => {
    const s = setup()
    const { weights, callback } = weightsAfterEachEpoch()
    const lines: string[] = []
    // Improvements in epochs 0, 1 and 3 (by index); 2 is worse, 4 and 5 improve by less than minDelta.
    const rates = [1e-3, 2e-3, 1.5e-3, 3e-3, 3.0001e-3, 3.0002e-3, 5e-3, 5e-3]
    const history = await ft.fit(s.model, {
      ...s,
      epochs: rates.length,
      callbacks: [
        learningRates(rates),
        callback,
        ft.callbacks.earlyStopping({ monitor: 'lr', mode: 'max', patience: 2, minDelta: 1e-6, restoreBest: true, log: (l) => lines.push(l) }),
      ],
    })
    expect(history.trainLoss).toHaveLength(6)
    expect(lines).toEqual(['Early stopping after epoch 6: lr has not improved for 2 epoch(s) (best 0.0030 in epoch 4)', 'Restored the weights of epoch 4 (lr 0.0030)'])
    expect(plainState(s.model)).toEqual(weights[3])
    expect(plainState(s.model)).not.toEqual(weights[5])
    s.model.dispose()
  })

  it('earlyStopping infers the mode from the name, keeps the last weights when they are the best, and checks its options', async () => {
    const s = setup()
    const { weights, callback } = weightsAfterEachEpoch()
    const stopper = ft.callbacks.earlyStopping({ monitor: 'trainLoss', patience: 5, restoreBest: true, log: () => {} })
    const history = await ft.fit(s.model, { ...s, epochs: 3, callbacks: [callback, stopper] })
    // The loss of this run falls every epoch, so 'min' keeps training and the last weights stay.
    expect(history.trainLoss[2]).toBeLessThan(history.trainLoss[1])
    expect(history.trainLoss[1]).toBeLessThan(history.trainLoss[0])
    expect(plainState(s.model)).toEqual(weights[2])
    const invalid = (options: object) => {
      try {
        ft.callbacks.earlyStopping(options as ft.callbacks.EarlyStoppingOptions)
      } catch (error) {
        return (error as ft.FerriteError).code
      }
    }
    expect(invalid({ monitor: 'lr' })).toBe('InvalidArgument')
    expect(invalid({ monitor: 'testAcc' })).toBe('InvalidArgument')
    expect(invalid({ monitor: 'testLoss', patience: -1 })).toBe('InvalidArgument')
    expect(invalid({ monitor: 'testLoss', mode: 'lower' })).toBe('InvalidArgument')
    // A test metric without a test loader is an error naming what is missing.
    await expect(ft.fit(s.model, { ...s, testLoader: undefined, epochs: 1, callbacks: [ft.callbacks.earlyStopping({ monitor: 'testAccuracy' })] })).rejects.toThrow(
      /earlyStopping: the epoch logs have no 'testAccuracy'/,
    )
    s.model.dispose()
  })

  it('modelCheckpoint writes the model only when the monitored value improves, loadable as a state dict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-callbacks-'))
    const path = join(dir, 'best.safetensors')
    const s = setup()
    const { weights, callback } = weightsAfterEachEpoch()
    const savedEpochs: string[] = []
    await ft.fit(s.model, {
      ...s,
      epochs: 4,
      callbacks: [
        learningRates([1e-3, 3e-3, 2e-3, 2.5e-3]),
        callback,
        ft.callbacks.modelCheckpoint({ path, monitor: 'lr', mode: 'max' }),
        { onEpochEnd: () => void savedEpochs.push(ft.loadMetadata(path).epoch) },
      ],
    })
    expect(savedEpochs).toEqual(['1', '2', '2', '2'])
    expect(ft.loadMetadata(path)).toMatchObject({ format: 'pt', monitor: 'lr', lr: '0.003' })
    expect(plainFile(path)).toEqual(weights[1])
    const fresh = new ft.models.MyCNN(32, 10)
    fresh.loadStateDict(ft.load(path))
    expect(plainState(fresh)).toEqual(weights[1])
    s.model.dispose()
  })

  it('a throwing hook ends fit with its error and leaves the saved files whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-callbacks-'))
    const best = join(dir, 'best.safetensors')
    const checkpoint = join(dir, 'checkpoint.safetensors')
    const s = setup()
    const { weights, callback } = weightsAfterEachEpoch()
    const failure = new Error('hook failed')
    const fitting = ft.fit(s.model, {
      ...s,
      epochs: 3,
      checkpoint,
      callbacks: [
        callback,
        learningRates([1e-3, 2e-3, 3e-3]),
        {
          onEpochEnd: async ({ epoch }) => {
            if (epoch === 1) throw failure
          },
        },
        ft.callbacks.modelCheckpoint({ path: best, monitor: 'lr', mode: 'max' }),
      ],
    })
    await expect(fitting).rejects.toBe(failure)
    // The best model is epoch 1's: the hook threw before epoch 2's could be written.
    expect(plainFile(best)).toEqual(weights[0])
    // fit's own checkpoint was written before the hooks of epoch 2 ran, and resumes from there.
    const resumed = setup()
    const restored = ft.loadCheckpoint(checkpoint, resumed.model, resumed.optimizer)
    expect(restored.epoch).toBe(2)
    expect(plainState(resumed.model)).toEqual(weights[1])
    // A step hook that throws mid-epoch leaves the loader usable for the next run.
    await expect(ft.fit(s.model, { ...s, epochs: 1, callbacks: [{ onBatchEnd: () => Promise.reject(failure) }] })).rejects.toBe(failure)
    expect((await ft.fit(s.model, { ...s, epochs: 1 })).trainLoss).toHaveLength(1)
    await expect(ft.fit(s.model, { ...s, epochs: 1, callbacks: [{ onBatchEnd: 3 } as unknown as ft.callbacks.Callback] })).rejects.toThrow(
      /fit: callbacks\[0\]\.onBatchEnd must be a function/,
    )
    s.model.dispose()
    resumed.model.dispose()
  })

  it('when resuming, the hooks see the run continue: epochs and steps count the restored ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-callbacks-'))
    const checkpoint = join(dir, 'checkpoint.safetensors')
    const first = setup()
    await ft.fit(first.model, { ...first, epochs: 1, checkpoint, resume: true })
    const second = setup()
    const calls: string[] = []
    const history = await ft.fit(second.model, {
      ...second,
      epochs: 2,
      checkpoint,
      resume: true,
      callbacks: [
        {
          onTrainBegin: ({ epoch, step, history }) => void calls.push(`trainBegin ${epoch} ${step} ${history.trainLoss.length}`),
          onBatchEnd: ({ step }) => void calls.push(`batchEnd ${step}`),
          onTrainEnd: ({ epoch, step }) => void calls.push(`trainEnd ${epoch} ${step}`),
        },
      ],
    })
    expect(calls).toEqual(['trainBegin 1 2 1', 'batchEnd 3', 'batchEnd 4', 'trainEnd 2 4'])
    expect(history.trainLoss).toHaveLength(2)
    expect(history.testLoss).toHaveLength(2)
    first.model.dispose()
    second.model.dispose()
  })
})
