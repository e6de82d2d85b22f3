// Training on your own photos: a folder of JPEGs of mixed sizes, read batch by batch by
// ImageFolder with torchvision's ImageNet transforms, and torchvision's ResNet-18 fine-tuned with
// a new head, its backbone frozen but for layer4, and SGD with a learning rate per group.
//
// The photos are made here from CIFAR-10 images upscaled to camera-like sizes, so the example
// runs anywhere; point --photos at a folder of your own (one subfolder per class under train/
// and val/) to use yours. Pretrained weights: save torchvision's once, with Python,
//   import torchvision, safetensors.torch
//   m = torchvision.models.resnet18(weights='IMAGENET1K_V1')
//   safetensors.torch.save_file(m.state_dict(), 'resnet18.safetensors')
// and pass --weights resnet18.safetensors; without them the network starts from random weights.
//
// Run with `npx tsx examples/05-fine-tune.ts [options]`:
//   --data DIR       CIFAR-10 data to make the photos from (default: the bundled sample)
//   --photos DIR     the photo folder, made when missing (default: out/photos)
//   --weights FILE   torchvision ResNet-18 weights as safetensors (float32, float16 or bfloat16)
//   --classes N      classes to make photos of (default 5)   --per-class N   training photos each (default 40)
//   --size N         crop size (default 112; ImageNet uses 224, four times the work)
//   --epochs N       (default 3)              --out DIR   where the model goes (default out/fine-tune)
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'

const { data, transforms: T, models, nn, optim } = ft
const { IMAGENET_MEAN, IMAGENET_STD } = T

// Width x height of the made photos: a phone's 4:3 and 3:4, a square and a wide screenshot.
const PHOTO_SIZES: readonly [number, number][] = [
  [500, 375],
  [375, 500],
  [320, 320],
  [640, 360],
  [240, 180],
]

/** Makes `photos/{train,val}/<class>/<n>.jpg` from CIFAR-10 images, each upscaled to one of PHOTO_SIZES. */
function makePhotos(cifarRoot: string, photos: string, classes: number, perClass: number): void {
  const building = `${photos}.partial`
  rmSync(building, { recursive: true, force: true })
  for (const [split, train, count] of [['train', true, perClass], ['val', false, Math.ceil(perClass / 4)]] as const) {
    const source = new data.CIFAR10({ root: cifarRoot, train })
    const made = new Array<number>(classes).fill(0)
    for (let index = 0; index < source.length && made.some((n) => n < count); index++) {
      const label = source.targets[index]
      if (label >= classes || made[label] >= count) continue
      const [width, height] = PHOTO_SIZES[index % PHOTO_SIZES.length]
      source.transform = T.compose([T.resize([height, width])])
      const [image] = source.get(index)
      const folder = join(building, split, source.classes[label])
      mkdirSync(folder, { recursive: true })
      ft.vision.writeImage(image, join(folder, `${made[label]}.jpg`), { quality: 90 })
      image.dispose()
      made[label]++
    }
  }
  renameSync(building, photos)
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      data: { type: 'string', default: join(__dirname, '..', 'data', 'cifar10-sample') },
      photos: { type: 'string', default: join('out', 'photos') },
      weights: { type: 'string' },
      classes: { type: 'string', default: '5' },
      'per-class': { type: 'string', default: '40' },
      size: { type: 'string', default: '112' },
      epochs: { type: 'string', default: '3' },
      out: { type: 'string', default: join('out', 'fine-tune') },
    },
  })
  const size = Number(args.size)
  ft.manualSeed(0)

  if (!existsSync(args.photos)) {
    makePhotos(args.data, args.photos, Number(args.classes), Number(args['per-class']))
    console.log(`made ${args.photos} from ${args.data}`)
  }

  // torchvision's ImageNet recipe: a random crop of 8-100 % of the photo for training; for
  // validation, the shorter side resized to 256/224 of the crop and the centre cut out.
  const trainSet = new data.ImageFolder(join(args.photos, 'train'), {
    transform: T.compose([
      T.randomResizedCrop(size),
      T.randomHorizontalFlip(),
      T.colorJitter({ brightness: 0.2, contrast: 0.2 }),
      T.toTensor(),
      T.normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]),
  })
  const valSet = new data.ImageFolder(join(args.photos, 'val'), {
    transform: T.compose([T.resize(Math.round((size * 256) / 224)), T.centerCrop(size), T.toTensor(), T.normalize(IMAGENET_MEAN, IMAGENET_STD)]),
  })
  console.log(`${trainSet.length} training and ${valSet.length} validation photos of ${trainSet.classes.length} classes: ${trainSet.classes.join(', ')}`)
  const trainLoader = new data.DataLoader(trainSet, { batchSize: 32, shuffle: true, seed: 0 })
  const valLoader = new data.DataLoader(valSet, { batchSize: 32 })

  // torchvision's ResNet-18 with its key names, so its state_dict() loads as it is; the head is
  // then replaced by one for our classes.
  const pretrained = args.weights ? ft.load(args.weights) : undefined
  const model = models.resnet18({ numClasses: pretrained?.['fc.weight']?.shape[0] ?? 1000 })
  if (pretrained) {
    model.loadStateDict(pretrained)
    console.log(`loaded ${args.weights}`)
  } else {
    console.log('no --weights given: fine-tuning from random weights (see the top of this file for pretrained ones)')
  }
  model.fc = new nn.Linear(512, trainSet.classes.length)

  for (const p of model.parameters()) p.requiresGrad = false
  for (const p of [...model.layer4.parameters(), ...model.fc.parameters()]) p.requiresGrad = true
  const optimizer = new optim.SGD(
    [
      { params: model.fc.parameters(), lr: 1e-2 },
      { params: model.layer4.parameters(), lr: 1e-3 },
    ],
    { momentum: 0.9 },
  )

  const history = await ft.fit(model, { epochs: Number(args.epochs), optimizer, trainLoader, testLoader: valLoader })
  mkdirSync(args.out, { recursive: true })
  ft.saveModel(model, join(args.out, 'model.safetensors'))
  const last = history.testAccuracy.at(-1) ?? 0
  console.log(`validation accuracy ${(100 * last).toFixed(1)} %; saved ${join(args.out, 'model.safetensors')}`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
