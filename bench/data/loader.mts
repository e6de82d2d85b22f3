// Data loading against training: one epoch of the tutorial's augmented cifar10-mini training
// set through the DataLoader alone, then one MyCNN training epoch (which overlaps loading with
// training), and the share of the epoch that loading would cost if it did not overlap.
// Target: under 5 %.
//
//   npx tsx bench/data/loader.mts [cifar10 dir]
import { cpus } from 'node:os'
import { join } from 'node:path'
import * as ft from 'ferrite-ml'

const root = process.argv[2] ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'cifar10-mini')
const T = ft.transforms
const transform = T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])
const trainSet = new ft.data.CIFAR10({ root, transform })
const loader = new ft.data.DataLoader(trainSet, { batchSize: 100, shuffle: true, seed: 0 })

async function loadOnly(): Promise<number> {
  const start = performance.now()
  for await (const [images, targets] of loader) {
    images.dispose()
    targets.dispose()
  }
  return (performance.now() - start) / 1000
}

await loadOnly() // warm-up: page cache, thread pool
const loading = Math.min(await loadOnly(), await loadOnly())

ft.manualSeed(0)
const model = new ft.models.MyCNN(32, 10)
const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.01 })
const lossFn = new ft.nn.CrossEntropyLoss()
await ft.train(model, loader, lossFn, optimizer, { log: () => {}, progress: false }) // warm-up epoch
const { seconds: epoch, images } = await ft.train(model, loader, lossFn, optimizer, { log: () => {}, progress: false })

console.log(`machine: ${cpus()[0]?.model}, ${cpus().length} logical cores, ${ft.getNumThreads()} threads`)
console.log(`data: ${trainSet.length} images, batch 100, pad(4) + randomHorizontalFlip + randomCrop(32) + toTensor + normalize`)
console.log(`loading one epoch alone:  ${loading.toFixed(3)} s (${(trainSet.length / loading).toFixed(0)} images/s)`)
console.log(`MyCNN training epoch:     ${epoch.toFixed(3)} s (${(images / epoch).toFixed(0)} images/s, loading overlapped)`)
console.log(`loading / epoch:          ${((100 * loading) / epoch).toFixed(1)} % (target < 5 %)`)
