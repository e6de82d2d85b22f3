// A TypeScript user's file, type-checked (never run) against the shipped declarations.
import * as ft from 'ferrite-ml'

const { data, transforms: T, models, optim, nn } = ft

export async function trainResNet(root: string): Promise<ft.History> {
  const mean = [0.49, 0.48, 0.45]
  const std = [0.25, 0.24, 0.26]
  const trainSet = new data.ImageFolder(`${root}/train`, {
    transform: T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize(mean, std)]),
  })
  const testSet = new data.CIFAR10({ root, train: false, transform: T.compose([T.toTensor(), T.normalize(mean, std)]) })
  const trainLoader = new data.DataLoader(trainSet, { batchSize: 100, shuffle: true, seed: 0 })
  const testLoader = new data.DataLoader(testSet, { batchSize: 100 })
  const model: ft.nn.Module = new models.ResNet(models.ResidualBlock, [2, 2, 2])
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.002 })
  const history = await ft.fit(model, { epochs: 10, optimizer, trainLoader, testLoader, device: 'cpu' })
  ft.saveModel(model, 'resnet.safetensors')
  await ft.plotCurves(history, 'curves.png')
  return history
}

export function layers(): number[] {
  const conv = new nn.Conv2d(3, 16, 3, { padding: 1 })
  const x: ft.Tensor = ft.randn([1, 3, 32, 32])
  const y = ft.noGrad(() => new nn.Sequential(conv, new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2)).forward(x))
  const shape: readonly number[] = y.shape
  try {
    x.matmul(x)
  } catch (error) {
    if (error instanceof ft.ShapeMismatchError && error.code === 'ShapeMismatch') return [...shape]
  }
  return [...shape]
}

export async function exportForBrowsers(model: ft.nn.Module): Promise<Uint8Array> {
  const options: ft.onnx.ExportOptions = { dynamicBatch: true, outputNames: ['logits'], opsetVersion: 17, metadata: { classes: 'cifar10' } }
  await ft.onnx.exportModel(model, ft.randn([2, 3, 32, 32]), 'model.onnx', options)
  try {
    return ft.onnx.toBuffer(model, [ft.randn([1, 3, 32, 32])])
  } catch (error) {
    if (error instanceof ft.OnnxExportError && error.code === 'OnnxExport') console.log(error.op)
    throw error
  }
}
