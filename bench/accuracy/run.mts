// The tutorial's accuracy table: MyCNN, ResNet, SE-ResNet and VGG11 trained for 10 epochs on
// cifar10-mini (1000 train / 500 test images per class) with the tutorial's transforms, batch
// 100 and Adam at the tutorial's learning rates. Writes bench/accuracy/RESULTS.md and results.json.
//
//   npm run bench:accuracy -- [--data ../shared/data/cifar10-mini] [--models mycnn,resnet,se-resnet,vgg11] [--epochs 10]
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite'

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'cifar10-mini') },
    models: { type: 'string', default: 'mycnn,resnet,se-resnet,vgg11' },
    epochs: { type: 'string', default: '10' },
    seed: { type: 'string', default: '0' },
  },
})

const { data, transforms: T, models, optim } = ft
const mean = [0.49, 0.48, 0.45]
const std = [0.25, 0.24, 0.26]

/** The tutorial's reported test accuracy after 10 epochs, and the learning rate it used. */
const plans: Record<string, { make: () => ft.nn.Module; lr: number; tutorial: number; label: string }> = {
  mycnn: { make: () => new models.MyCNN(32, 10), lr: 0.01, tutorial: 55.32, label: 'MyCNN' },
  resnet: { make: () => new models.ResNet(models.ResidualBlock, [2, 2, 2]), lr: 0.002, tutorial: 58.18, label: 'ResNet [2, 2, 2]' },
  'se-resnet': { make: () => models.seResNet([2, 2, 2]), lr: 0.001, tutorial: 56.18, label: 'SE-ResNet [2, 2, 2]' },
  vgg11: { make: () => new models.VGG('VGG11'), lr: 0.001, tutorial: 64.2, label: 'VGG11' },
}

const epochs = Number(values.epochs)
const rows: Record<string, unknown>[] = []
for (const name of values.models!.split(',')) {
  const plan = plans[name]
  if (!plan) throw new Error(`unknown model '${name}'; expected ${Object.keys(plans).join(', ')}`)
  ft.manualSeed(Number(values.seed))
  const trainSet = new data.CIFAR10({
    root: values.data!,
    transform: T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize(mean, std)]),
  })
  const testSet = new data.CIFAR10({ root: values.data!, train: false, transform: T.compose([T.toTensor(), T.normalize(mean, std)]) })
  const trainLoader = new data.DataLoader(trainSet, { batchSize: 100, shuffle: true, seed: Number(values.seed) })
  const testLoader = new data.DataLoader(testSet, { batchSize: 100 })
  const model = plan.make()
  const optimizer = new optim.Adam(model.parameters(), { lr: plan.lr })
  console.log(`\n== ${plan.label}: Adam lr ${plan.lr}, ${epochs} epochs`)
  const started = performance.now()
  const history = await ft.fit(model, { epochs, optimizer, trainLoader, testLoader })
  const seconds = (performance.now() - started) / 1000
  const final = 100 * history.testAccuracy[history.testAccuracy.length - 1]
  const row = {
    model: plan.label,
    lr: plan.lr,
    finalAccuracy: final,
    bestAccuracy: 100 * Math.max(...history.testAccuracy),
    tutorial: plan.tutorial,
    secondsPerEpoch: history.epochSeconds.reduce((a, b) => a + b, 0) / history.epochSeconds.length,
    imagesPerSecond: history.imagesPerSecond.reduce((a, b) => a + b, 0) / history.imagesPerSecond.length,
    totalSeconds: seconds,
    history,
  }
  rows.push(row)
  console.log(`${plan.label}: ${final.toFixed(2)} % after ${epochs} epochs (tutorial ${plan.tutorial} %), ${row.secondsPerEpoch.toFixed(1)} s/epoch`)
  await ft.plotCurves(history, join(import.meta.dirname, `curves-${name}.png`))
  model.dispose()
}

const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical cores, ${ft.getNumThreads()} threads, Node ${process.version}`
const table = [
  '| model | optimizer | test accuracy after ' + epochs + ' epochs | best epoch | tutorial | s / epoch (train) | images / s |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r: any) =>
    `| ${r.model} | Adam lr ${r.lr} | ${r.finalAccuracy.toFixed(2)} % | ${r.bestAccuracy.toFixed(2)} % | ${r.tutorial} % | ${r.secondsPerEpoch.toFixed(1)} | ${r.imagesPerSecond.toFixed(0)} |`,
  ),
].join('\n')
const report = `# Accuracy benchmark\n\n${new Date().toISOString().slice(0, 10)}, ${machine}. cifar10-mini (10,000 train / 5,000 test images), batch 100, the tutorial's transforms, seed ${values.seed}.\n\n${table}\n`
writeFileSync(join(import.meta.dirname, 'RESULTS.md'), report)
writeFileSync(join(import.meta.dirname, 'results.json'), JSON.stringify({ machine, epochs, rows }, null, 2))
console.log(`\n${report}`)
