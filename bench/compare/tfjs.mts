// TensorFlow.js's side of `npm run bench:compare`; run.mts starts it once per workload.
// Training and conv backward-weight use the pure-JS cpu backend (the wasm backend has no
// Conv2DBackpropFilter kernel); inference, conv forward and backward-input use the wasm backend.
// Both run on one thread: tfjs-backend-wasm finds no threads support in Node and the cpu backend is plain JS.
import * as tf from '@tensorflow/tfjs'
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm'
import { models } from './tfjs-models'
import { BATCH, CLASSES, convFlops, IMAGE_SIZE, LEARNING_RATE, measure, peakRssKb, peerArgs, report, rssKb, type ConvPass, type ConvShape, type Limits } from './peer'

type Backend = 'cpu' | 'wasm'

const args = peerArgs()
if (args.workload === 'export') throw new Error('tfjs: the export workload is ferrite.mts\'s')
// TF.js has no bf16 on the CPU; run.mts gives it its one float32 mode.
if (args.workload !== 'conv' && args.mode !== 'fp32') throw new Error(`tfjs: unknown mode '${args.mode}'; expected fp32`)
await useBackend('wasm')
report({ event: 'ready', version: `@tensorflow/tfjs ${tf.version.tfjs} (cpu + wasm backends)`, threads: getThreadsCount(), rssKb: rssKb() })
if (args.workload === 'conv') {
  for (const { pass, ...shape } of args.convItems) await convPass(shape, pass, args)
} else {
  await modelStep(args.workload, args.model, args.batch, args)
}
report({ event: 'done', peakRssKb: peakRssKb() })

async function useBackend(name: Backend) {
  if (!(await tf.setBackend(name))) throw new Error(`tfjs: the ${name} backend did not initialise`)
}

/** NHWC input and HWIO filter; a backward kernel is called directly with a random upstream gradient. */
async function convPass(shape: ConvShape, pass: ConvPass, limits: Limits) {
  const { c, o, hw } = shape
  const backend: Backend = pass === 'backward-weight' ? 'cpu' : 'wasm'
  await useBackend(backend)
  const x = tf.randomNormal([BATCH, hw, hw, c]) as tf.Tensor4D
  const w = tf.randomNormal([3, 3, c, o]) as tf.Tensor4D
  const dy = tf.randomNormal([BATCH, hw, hw, o]) as tf.Tensor4D
  const calls: Record<ConvPass, () => tf.Tensor> = {
    forward: () => tf.conv2d(x, w, 1, 'same'),
    // conv2dTranspose is the Conv2DBackpropInput kernel.
    'backward-input': () => tf.conv2dTranspose(dy, w, [BATCH, hw, hw, c], 1, 'same'),
    // Not a public op; its kernel is what tf.grad of conv2d runs for the filter.
    'backward-weight': () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, c, o] }) as tf.Tensor,
  }
  const m = await measure(() => calls[pass]().dispose(), limits)
  report({ event: 'conv', ...shape, pass, backend, ...m, gflops: convFlops(shape) / m.medianMs / 1e6 })
  tf.dispose([x, w, dy])
}

/** One training step (forward, backward, Adam) on the cpu backend, or one inference forward on wasm. */
async function modelStep(workload: 'train' | 'infer', name: string, batch: number, limits: Limits) {
  const make = models[name]
  if (!make) throw new Error(`unknown model '${name}'; expected ${Object.keys(models).join(', ')}`)
  const backend: Backend = workload === 'train' ? 'cpu' : 'wasm'
  await useBackend(backend)
  const model = make()
  const x = tf.randomNormal([batch, IMAGE_SIZE, IMAGE_SIZE, 3])
  let call: () => unknown
  if (workload === 'train') {
    const y = tf.oneHot(tf.randomUniform([batch], 0, CLASSES, 'int32') as tf.Tensor1D, CLASSES)
    model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, logits) })
    call = () => model.trainOnBatch(x, y)
  } else {
    call = () => (model.predict(x, { batchSize: batch }) as tf.Tensor).dispose()
  }
  const m = await measure(call, limits)
  report({ event: 'model', workload, model: name, batch, backend, ...m, imagesPerSecond: (batch * 1000) / m.medianMs })
}
