// The tutorial's training section in TypeScript: datasets with its transforms, a DataLoader,
// a model, Adam, fit() with the tutorial's log lines, the curves as a picture and the saved model.
// Run with `npx tsx examples/04-train.ts [model] [data dir] [epochs]`, e.g.
//   npx tsx examples/04-train.ts resnet ../shared/data/cifar10-mini 10
// model: mycnn (default), resnet, se-resnet, vgg11; data: the bundled sample by default.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import * as ft from 'ferrite-ml'

const { data, transforms: T, models, optim } = ft

async function main(): Promise<void> {
  const [name = 'mycnn', root = join(__dirname, '..', 'data', 'cifar10-sample'), epochs = '5'] = process.argv.slice(2)
  ft.manualSeed(0)

  // mean and std of cifar10 in 3 channels, and the tutorial's augmentation
  const mean = [0.49, 0.48, 0.45]
  const std = [0.25, 0.24, 0.26]
  const trainSet = new data.CIFAR10({
    root,
    transform: T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize(mean, std)]),
  })
  const testSet = new data.CIFAR10({ root, train: false, transform: T.compose([T.toTensor(), T.normalize(mean, std)]) })
  const trainLoader = new data.DataLoader(trainSet, { batchSize: 100, shuffle: true, seed: 0 })
  const testLoader = new data.DataLoader(testSet, { batchSize: 100 })

  const plans = {
    mycnn: { model: () => new models.MyCNN(32, 10), lr: 0.01 },
    resnet: { model: () => new models.ResNet(models.ResidualBlock, [2, 2, 2]), lr: 0.002 },
    'se-resnet': { model: () => models.seResNet([2, 2, 2]), lr: 0.001 },
    vgg11: { model: () => new models.VGG('VGG11'), lr: 0.001 },
  }
  const plan = plans[name as keyof typeof plans]
  if (!plan) throw new Error(`unknown model ${name}; expected one of ${Object.keys(plans).join(', ')}`)
  const model = plan.model()
  console.log(String(model))

  const optimizer = new optim.Adam(model.parameters(), { lr: plan.lr })
  const history = await ft.fit(model, { epochs: Number(epochs), optimizer, trainLoader, testLoader, device: 'cpu' })

  const out = join('out', name)
  mkdirSync(out, { recursive: true })
  ft.saveModel(model, join(out, 'model.safetensors'))
  await ft.plotCurves(history, join(out, 'curves.png'))
  console.log(`saved ${join(out, 'model.safetensors')} and ${join(out, 'curves.png')}`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
