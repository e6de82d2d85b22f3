// Soak: 10,000 training steps of MyCNN, once as a plain synchronous loop (no tidy, no dispose, no
// await) and once through `fit` on the bundled CIFAR-10 sample, each in a process of its own.
// Every 500 steps it samples RSS and Ferrite's native bytes as they are (tensors the collector has
// not yet reached included: a sawtooth), then collects garbage and samples the live native bytes
// and tensors. After the warm-up (the first sample), RSS and live native bytes must stay within
// 10 % of their value then, and the sawtooth's peaks in the second half must not exceed those of
// the first. Prints the tables; exits 1 when a series grows. Not part of CI (about 10 minutes on
// two cores).
//
//   npm run soak -- [--steps 10000] [--every 500] [--runs plain,fit]
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'
import { printMachine, printTable, randomBatchStep, runInChild } from '../machine'

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '10000' },
    every: { type: 'string', default: '500' },
    runs: { type: 'string', default: 'plain,fit' },
    child: { type: 'string' },
  },
})
const steps = Number(values.steps)
const every = Number(values.every)
const BATCH = 32
/** Growth allowed after the warm-up sample. */
const TOLERANCE = 0.1

interface Sample {
  step: number
  rss: number
  /** V8's heap, for telling JS growth from native growth within RSS. */
  heapUsed: number
  /** Native bytes as the loop left them, garbage not yet collected included. */
  nativeBytes: number
  /** Native bytes and tensors still reachable, after a full garbage collection. */
  liveBytes: number
  liveTensors: number
}

const gc = globalThis.gc as () => void

function sample(step: number): Sample {
  const { rss, heapUsed } = process.memoryUsage()
  const nativeBytes = ft.memory().bytes
  gc()
  const { bytes, tensors } = ft.memory()
  return { step, rss, heapUsed, nativeBytes, liveBytes: bytes, liveTensors: tensors }
}

/** The plain loop: fresh random batches every step, as a data loader hands them out. */
function plainLoop(): Sample[] {
  const model = new ft.models.MyCNN()
  const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.001 })
  const samples: Sample[] = []
  for (let step = 1; step <= steps; step++) {
    randomBatchStep(model, optimizer, BATCH)
    if (step % every === 0) samples.push(sample(step))
  }
  return samples
}

/** `fit` on the bundled sample with the tutorial's augmentation, as many epochs as `steps` takes. */
async function fitLoop(): Promise<Sample[]> {
  const T = ft.transforms
  const trainSet = new ft.data.CIFAR10({
    root: join(import.meta.dirname, '..', '..', 'data', 'cifar10-sample'),
    transform: T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])]),
  })
  const trainLoader = new ft.data.DataLoader(trainSet, { batchSize: BATCH, shuffle: true, dropLast: true })
  const model = new ft.models.MyCNN()
  const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.001 })
  const samples: Sample[] = []
  let step = 0
  // The loss function is called once per step: it counts them.
  const lossFn = (output: ft.Tensor, targets: ft.Tensor) => {
    step++
    if (step % every === 0) samples.push(sample(step))
    return ft.functional.crossEntropy(output, targets)
  }
  const epochs = Math.ceil(steps / Math.floor(trainSet.length / BATCH))
  await ft.fit(model, { epochs, optimizer, trainLoader, lossFn, log: () => {}, progress: false })
  return samples.filter((s) => s.step <= steps)
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1)

/** Prints a run's table; true when nothing grew (see the top of this file). */
function report(run: string, samples: Sample[]): boolean {
  const [first] = samples
  const peak = (xs: Sample[], key: keyof Sample) => Math.max(...xs.map((s) => s[key]))
  const half = samples.length >> 1
  const rows = samples.map((s) => [String(s.step), mb(s.rss), `${(s.rss / first.rss).toFixed(3)}x`, mb(s.heapUsed), mb(s.nativeBytes), mb(s.liveBytes), String(s.liveTensors)])
  console.log(`\n${run === 'plain' ? 'Plain synchronous loop (no tidy, dispose or await)' : 'fit() on data/cifar10-sample'}, MyCNN, batch ${BATCH}, Adam`)
  printTable(['step', 'RSS MB', `RSS ÷ step ${first.step}`, 'JS heap MB', 'native MB (with garbage)', 'live native MB', 'live tensors'], rows)
  const rssGrowth = peak(samples, 'rss') / first.rss
  const liveGrowth = peak(samples, 'liveBytes') / first.liveBytes
  // Too few samples for two halves after the first: nothing to compare.
  const sawtooth = half > 1 ? peak(samples.slice(half), 'nativeBytes') / peak(samples.slice(1, half), 'nativeBytes') : 1
  const flat = rssGrowth <= 1 + TOLERANCE && liveGrowth <= 1 + TOLERANCE && sawtooth <= 1 + TOLERANCE
  const x = (r: number) => `${r.toFixed(3)}x`
  console.log(
    `peak RSS ${x(rssGrowth)} and peak live native bytes ${x(liveGrowth)} of step ${first.step}'s; ` +
      `native bytes with garbage peak at ${x(sawtooth)} in the second half of the first's: ` +
      (flat ? `flat within ${TOLERANCE * 100} %` : `GROWING (more than ${TOLERANCE * 100} %)`),
  )
  return flat
}

async function main(): Promise<void> {
  printMachine(`Soak: ${steps.toLocaleString('en')} MyCNN training steps per run, samples every ${every}`)
  let allFlat = true
  for (const run of values.runs.split(',')) {
    const samples = runInChild<Sample[]>(['--child', run, '--steps', String(steps), '--every', String(every)], ['--expose-gc'])
    allFlat = report(run, samples) && allFlat
  }
  if (!allFlat) process.exitCode = 1
}

if (values.child === 'plain') console.log(JSON.stringify(plainLoop()))
else if (values.child === 'fit') console.log(JSON.stringify(await fitLoop()))
else await main()
