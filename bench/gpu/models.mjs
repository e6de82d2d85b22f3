// Ferrite's side of the throughput comparison in bench/gpu/run.sh (torch_models.py is PyTorch's):
// the tutorial's four models at batch 100 of 32x32x3 random images on one device, their parameter
// counts, and training (forward, cross entropy, backward, Adam) and inference (eval mode, no grad)
// images/s: warm-up steps, then timed steps between two synchronisations of the device. Both
// scripts time the same way and print the same JSON lines.
//
//   node bench/gpu/models.mjs [--device cuda:0] [--models mycnn,resnet,se-resnet,vgg11] [--json out.jsonl]
//   node bench/gpu/models.mjs --device cuda:0 --models resnet --batch 4 --step-only   (one step, for compute-sanitizer)
// `--device cpu` runs the same on the CPU, a smoke test of this script where there is no GPU.
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'

const MODELS = {
  mycnn: () => new ft.models.MyCNN(32, 10),
  resnet: () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 2, 2]),
  'se-resnet': () => ft.models.seResNet([2, 2, 2]),
  vgg11: () => new ft.models.VGG('VGG11'),
}
const CLASSES = 10
const LEARNING_RATE = 1e-3

const { values: args } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda:0' },
    models: { type: 'string', default: Object.keys(MODELS).join(',') },
    batch: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '3' },
    steps: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '4' },
    json: { type: 'string' },
    'step-only': { type: 'boolean', default: false },
  },
})
const device = args.device
const batch = Number(args.batch)
const onGpu = device.startsWith('cuda')

function report(event) {
  const line = JSON.stringify(event)
  console.log(line)
  if (args.json) appendFileSync(args.json, `${line}\n`)
}

/** Waits for the device's queued work, so that the clock covers it. */
function synchronize() {
  if (onGpu) ft.cuda.synchronize(device)
}

function resetPeak() {
  if (onGpu && ft.cuda.resetPeakMemoryStats) ft.cuda.resetPeakMemoryStats(device)
}

function peakMegabytes() {
  return onGpu && ft.cuda.maxMemoryAllocated ? ft.cuda.maxMemoryAllocated(device) / 2 ** 20 : null
}

/** `warmup` calls, then calls until `steps` ran or `seconds` passed (at least 3), timed as one span. */
function measure(call) {
  const warmStart = performance.now()
  for (let i = 0; i < Number(args.warmup); i++) call()
  synchronize()
  const warmUpSeconds = (performance.now() - warmStart) / 1000
  const start = performance.now()
  let steps = 0
  while (steps < Number(args.steps) && (steps < 3 || performance.now() - start < Number(args.seconds) * 1000)) {
    call()
    steps += 1
  }
  synchronize()
  const seconds = (performance.now() - start) / 1000
  return { steps, seconds, warmUpSeconds, imagesPerSecond: (steps * batch) / seconds }
}

function trainStep(model, optimizer, lossFn, x, y) {
  return () =>
    ft.tidy(() => {
      const loss = lossFn.forward(model.forward(x), y)
      optimizer.zeroGrad()
      loss.backward()
      optimizer.step()
    })
}

function benchModel(name) {
  ft.manualSeed(0)
  const model = MODELS[name]().to(device)
  const parameters = model.parameters().reduce((n, p) => n + p.numel(), 0)
  const x = ft.randn([batch, 3, 32, 32]).to(device)
  const y = ft.randint(0, CLASSES, [batch]).to(device)
  const optimizer = new ft.optim.Adam(model.parameters(), { lr: LEARNING_RATE })
  const lossFn = new ft.nn.CrossEntropyLoss()
  try {
    if (args['step-only']) {
      model.train()
      const loss = ft.tidy(() => {
        const l = lossFn.forward(model.forward(x), y)
        optimizer.zeroGrad()
        l.backward()
        optimizer.step()
        return l.item()
      })
      const out = ft.noGrad(() => model.forward(x).sum().item())
      report({ event: 'step', framework: 'ferrite', model: name, device, batch, parameters, loss, outputSum: out })
      return
    }
    model.train()
    resetPeak()
    const train = measure(trainStep(model, optimizer, lossFn, x, y))
    report({ event: 'model', framework: 'ferrite', workload: 'train', model: name, device, batch, parameters, ...train, peakMB: peakMegabytes() })
    model.eval()
    resetPeak()
    const infer = measure(() => ft.noGrad(() => ft.tidy(() => void model.forward(x))))
    report({ event: 'model', framework: 'ferrite', workload: 'infer', model: name, device, batch, parameters, ...infer, peakMB: peakMegabytes() })
  } finally {
    model.dispose()
    x.dispose()
    y.dispose()
  }
}

function main() {
  if (onGpu && ft.backends) {
    // PyTorch's defaults, which torch_models.py keeps: TF32 for cuDNN convolutions, not for matmul.
    ft.backends.cudnn.allowTf32 = true
    ft.backends.cuda.matmul.allowTf32 = false
  }
  const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'))
  report({ event: 'ready', framework: 'ferrite', version: `ferrite ${version}`, device, threads: ft.getNumThreads() })
  let failed = false
  for (const name of args.models.split(',')) {
    if (!MODELS[name]) throw new Error(`unknown model '${name}'; expected ${Object.keys(MODELS).join(', ')}`)
    try {
      benchModel(name)
    } catch (e) {
      failed = true
      report({ event: 'error', framework: 'ferrite', model: name, device, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })
    }
  }
  process.exitCode = failed ? 1 : 0
}

main()
