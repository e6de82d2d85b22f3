// Ferrite's side of `npm run bench:compare`; run.mts starts it once per workload. Threads come
// from RAYON_NUM_THREADS, which run.mts sets for every peer alike.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as ft from 'ferrite-ml'
import { BATCH, CLASSES, convFlops, IMAGE_SIZE, LEARNING_RATE, measure, peakRssKb, peerArgs, report, rssKb, type ConvPass, type ConvShape, type Limits } from './peer'

const models: Record<string, () => ft.nn.Module> = {
  mycnn: () => new ft.models.MyCNN(IMAGE_SIZE, CLASSES),
  resnet: () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 2, 2]),
  'se-resnet': () => ft.models.seResNet([2, 2, 2]),
  vgg11: () => new ft.models.VGG('VGG11'),
}

const args = peerArgs()
const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'))
// Whether autocast's products run on AVX512-BF16 kernels here, or fall back to float32.
const features = { 'bf16 kernels': ft.backends.cpu.hasBf16Kernels() }
report({ event: 'ready', version: `ferrite ${version}`, threads: ft.getNumThreads(), rssKb: rssKb(), features })
ft.manualSeed(0)
if (args.workload === 'conv') {
  for (const { pass, ...shape } of args.convItems) await convPass(shape, pass, args)
} else {
  await modelStep(args.workload, args.model, args.mode, args)
}
report({ event: 'done', peakRssKb: peakRssKb() })

/** One conv pass; a backward is timed alone on a retained graph with only its operand requiring grad. */
async function convPass(shape: ConvShape, pass: ConvPass, limits: Limits) {
  const { c, o, hw } = shape
  const x = ft.randn([BATCH, c, hw, hw])
  const w = ft.randn([o, c, 3, 3])
  const owned = [x, w]
  let call: () => void
  if (pass === 'forward') {
    call = () => ft.noGrad(() => ft.functional.conv2d(x, w, { padding: 1 }).dispose())
  } else {
    const wrt = pass === 'backward-input' ? x : w
    wrt.requiresGrad = true
    const y = ft.functional.conv2d(x, w, { padding: 1 })
    const dy = ft.randnLike(y)
    owned.push(y, dy)
    call = () => {
      wrt.grad = null
      y.backward(dy, { retainGraph: true })
    }
  }
  const m = await measure(call, limits)
  report({ event: 'conv', ...shape, pass, backend: 'cpu', ...m, gflops: convFlops(shape) / m.medianMs / 1e6 })
  for (const t of owned) t.dispose()
}

/**
 * One training step (forward, backward, Adam) or one eval-mode forward without grad, on a fixed
 * batch. Mode `bf16` runs the forward and the loss under autocast, as PyTorch's AMP recipe does;
 * backward and the optimizer step run outside it, on float32 parameters.
 */
async function modelStep(workload: 'train' | 'infer', name: string, mode: string, limits: Limits) {
  const make = models[name]
  if (!make) throw new Error(`unknown model '${name}'; expected ${Object.keys(models).join(', ')}`)
  if (mode !== 'fp32' && mode !== 'bf16') throw new Error(`unknown mode '${mode}'; expected fp32 or bf16`)
  const autocast = <T,>(fn: () => T): T => (mode === 'bf16' ? ft.autocast({ dtype: 'bfloat16' }, fn) : fn())
  const model = make()
  const x = ft.randn([BATCH, 3, IMAGE_SIZE, IMAGE_SIZE])
  const y = ft.randint(0, CLASSES, [BATCH])
  let call: () => void
  if (workload === 'train') {
    const optimizer = new ft.optim.Adam(model.parameters(), { lr: LEARNING_RATE })
    const lossFn = new ft.nn.CrossEntropyLoss()
    model.train()
    call = () =>
      ft.tidy(() => {
        const loss = autocast(() => lossFn.forward(model.forward(x), y))
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
        return loss.item()
      })
  } else {
    model.eval()
    call = () => ft.noGrad(() => ft.tidy(() => autocast(() => model.forward(x)).dispose()))
  }
  const m = await measure(call, limits)
  report({ event: 'model', workload, model: name, mode, backend: 'cpu', ...m, imagesPerSecond: (BATCH * 1000) / m.medianMs })
}
