// A user's first training run in plain CommonJS: MyCNN for two epochs on the bundled sample.
const ft = require('ferrite-ml')

async function main() {
  const root = process.argv[2]
  const { data, transforms: T, models, optim } = ft
  const transform = T.compose([T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])
  const trainLoader = new data.DataLoader(new data.CIFAR10({ root, transform }), { batchSize: 100, shuffle: true, seed: 0 })
  const testLoader = new data.DataLoader(new data.CIFAR10({ root, train: false, transform }), { batchSize: 100 })
  ft.manualSeed(0)
  const model = new models.MyCNN(32, 10)
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 })
  const history = await ft.fit(model, { epochs: 2, optimizer, trainLoader, testLoader })
  const [first, last] = [history.trainLoss[0], history.trainLoss[1]]
  if (!(last < first)) throw new Error(`the training loss did not fall: ${first} -> ${last}`)
  if (!(history.testAccuracy[1] > 0.2)) throw new Error(`test accuracy ${history.testAccuracy[1]} is not clearly above chance`)
  // ONNX export runs on the installed protobufjs and the generated module shipped in dist/.
  const file = require('node:path').join(require('node:os').tmpdir(), `ferrite-cjs-${process.pid}.onnx`)
  await ft.onnx.exportModel(model, ft.randn([2, 3, 32, 32]), file, { dynamicBatch: true })
  const bytes = require('node:fs').statSync(file).size
  require('node:fs').rmSync(file)
  const weightBytes = 4 * model.parameters().reduce((n, p) => n + p.numel(), 0)
  if (!(bytes > weightBytes)) throw new Error(`the ONNX file holds ${bytes} bytes, fewer than the model's ${weightBytes} bytes of weights`)
  console.log(`cjs: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, test accuracy ${(100 * history.testAccuracy[1]).toFixed(1)} %, ONNX file ${bytes} bytes`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
