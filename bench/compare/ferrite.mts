// Ferrite's side of `npm run bench:compare`; run.mts starts it once per workload. Threads come
// from RAYON_NUM_THREADS, which run.mts sets for every peer alike. `--workload export` writes the
// ONNX file that ort.mts runs: the same model, weights and batch-norm statistics as `infer`.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import * as ft from 'ferrite-ml'
import {
  BATCH,
  byLayerType,
  CHECK_TOLERANCE,
  CLASSES,
  convFlops,
  IMAGE_SIZE,
  LEARNING_RATE,
  measure,
  onnxFiles,
  peakRssKb,
  peerArgs,
  profileRuns,
  report,
  rssKb,
  type ConvPass,
  type ConvShape,
  type LayerProfile,
  type Limits,
  type OnnxMeta,
  type OutputError,
} from './peer'

const models: Record<string, () => ft.nn.Module> = {
  mycnn: () => new ft.models.MyCNN(IMAGE_SIZE, CLASSES),
  resnet: () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 2, 2]),
  'se-resnet': () => ft.models.seResNet([2, 2, 2]),
  vgg11: () => new ft.models.VGG('VGG11'),
}

/** What a model runs inference through: the model itself, or what `ft.inference.optimize` made of it. */
interface Forward {
  forward(x: ft.Tensor): ft.Tensor
}

/**
 * `ft.inference` (eval-mode fusion, issue 24) where this build has it, feature-detected so that the
 * benchmark runs on builds before and after it; the fastest documented way to run inference.
 */
const inference = (ft as unknown as { inference?: { optimize?: (model: ft.nn.Module) => Forward } }).inference
const optimize = typeof inference?.optimize === 'function' ? inference.optimize.bind(inference) : undefined
/** How `infer` runs the model, for the report's notes. */
const INFERENCE_PATH = optimize ? 'ft.inference.optimize(model).forward(x) under ft.noGrad' : 'model.eval() and model.forward(x) under ft.noGrad'

const args = peerArgs()
const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'))
// Which kernel runs autocast's bf16 products here, or why they fall back to float32 (the reason
// feature-detected, as builds before it lack it).
const float32Reason = (ft.backends.cpu as { float32Reason?: () => string | null }).float32Reason?.()
const features = { 'bf16 kernel': ft.backends.cpu.bf16Kernel() ?? `none${float32Reason ? ` (${float32Reason})` : ''}` }
report({ event: 'ready', version: `ferrite ${version}`, threads: ft.getNumThreads(), rssKb: rssKb(), features, inference: INFERENCE_PATH })
ft.manualSeed(0)
if (args.workload === 'conv') {
  for (const { pass, ...shape } of args.convItems) await convPass(shape, pass, args)
} else if (args.workload === 'export') {
  exportOnnx(args.model, args.batch, args.onnx)
} else {
  await modelStep(args.workload, args.model, args.mode, args.batch, args.profile, args)
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

function makeModel(name: string): ft.nn.Module {
  const make = models[name]
  if (!make) throw new Error(`unknown model '${name}'; expected ${Object.keys(models).join(', ')}`)
  return make()
}

/**
 * The model of `infer` and `export`, drawn from seed 0 in the same order by both: random weights,
 * then each batch norm's weight, bias and running statistics set away from their identity values
 * (as after training), so that a graph which folds or drops batch norm wrongly shows in the check.
 */
function inferenceModel(name: string): ft.nn.Module {
  const model = makeModel(name)
  ft.noGrad(() =>
    ft.tidy(() => {
      for (const m of model.modules()) {
        if (!(m instanceof ft.nn.BatchNorm2d)) continue
        const c = m.numFeatures
        m.weight!.copy_(ft.rand([c]).mul(0.5).add(0.75))
        m.bias!.copy_(ft.randn([c]).mul(0.1))
        m.runningMean!.copy_(ft.randn([c]).mul(0.1))
        m.runningVar!.copy_(ft.rand([c]).mul(0.5).add(0.75))
      }
    }),
  )
  return model.eval()
}

/**
 * Writes `model`'s ONNX file for a fixed batch of `batch` images (onnxruntime's best case: every
 * shape known), with a random input batch and Ferrite's eval output for it, for ort.mts to check its
 * own output against. Also checks that `ft.inference.optimize`, where it exists, computes that output.
 */
function exportOnnx(name: string, batch: number, onnx: string) {
  if (!onnx) throw new Error('export: --onnx FILE is required')
  const model = inferenceModel(name)
  const x = ft.randn([batch, 3, IMAGE_SIZE, IMAGE_SIZE])
  // With grad on, so that the reference is the eval forward as written, never a fused replay
  // (Ferrite's built-in models fuse by themselves in eval mode only without grad).
  const expected = model.forward(x).detach()
  const bytes = ft.onnx.toBuffer(model, x)
  const files = onnxFiles(onnx)
  writeFileSync(files.onnx, bytes)
  writeFileSync(files.input, x.toTypedArray() as Float32Array)
  writeFileSync(files.output, expected.toTypedArray() as Float32Array)
  writeFileSync(files.meta, JSON.stringify({ inputShape: x.shape, outputShape: expected.shape } satisfies OnnxMeta))
  let optimized: OutputError | undefined
  if (optimize) {
    const fast = optimize(model)
    optimized = ft.noGrad(() =>
      ft.tidy(() => {
        const maxAbsDiff = fast.forward(x).sub(expected).abs().max().item()
        const magnitude = expected.abs().max().item()
        return { maxAbsDiff, magnitude, relative: maxAbsDiff / magnitude }
      }),
    )
    if (!(optimized.relative <= CHECK_TOLERANCE)) {
      throw new Error(`${name}: ft.inference.optimize's output differs from the eval forward's by ${optimized.relative} of its magnitude (tolerance ${CHECK_TOLERANCE})`)
    }
  }
  report({ event: 'export', model: name, batch, bytes: bytes.length, ...(optimized ? { optimized } : {}) })
}

/**
 * One training step (forward, backward, Adam) or one eval-mode forward without grad, on a fixed
 * batch. Mode `bf16` runs the forward and the loss under autocast, as PyTorch's AMP recipe does;
 * backward and the optimizer step run outside it, on float32 parameters.
 */
async function modelStep(workload: 'train' | 'infer', name: string, mode: string, batch: number, profile: boolean, limits: Limits) {
  if (mode !== 'fp32' && mode !== 'bf16') throw new Error(`unknown mode '${mode}'; expected fp32 or bf16`)
  const autocast = <T,>(fn: () => T): T => (mode === 'bf16' ? ft.autocast({ dtype: 'bfloat16' }, fn) : fn())
  const model = workload === 'train' ? makeModel(name) : inferenceModel(name)
  const x = ft.randn([batch, 3, IMAGE_SIZE, IMAGE_SIZE])
  const y = ft.randint(0, CLASSES, [batch])
  let call: () => void
  /** One inference call through `forward`: eval mode, no grad, in the run's mode. */
  const inferWith = (forward: Forward) => () => ft.noGrad(() => ft.tidy(() => autocast(() => forward.forward(x)).dispose()))
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
    call = inferWith(optimize ? optimize(model) : model)
  }
  const m = await measure(call, limits)
  report({ event: 'model', workload, model: name, mode, batch, backend: 'cpu', ...m, imagesPerSecond: (batch * 1000) / m.medianMs })
  if (workload === 'infer' && profile) {
    const runs = profileRuns(m.medianMs, limits)
    const layers = profileForward(model, inferWith(model), runs)
    // A fused forward is one native call with no layers to time: the layers are the unfused
    // forward's, and the optimized call is timed beside them in the same pass.
    const optimizedMs = optimize ? timePerCall(call, runs) : undefined
    report({ event: 'profile', model: name, mode, batch, ...layers, ...(optimizedMs === undefined ? {} : { optimizedMs }) })
  }
}

/** Mean ms of `runs` calls of `call`, after one left out. */
function timePerCall(call: () => void, runs: number): number {
  call()
  const start = performance.now()
  for (let i = 0; i < runs; i++) call()
  return (performance.now() - start) / runs
}

/**
 * Times `runs` calls with every module of `root` timed on the way (a pass of its own, after the timed
 * calls): each module's own time, its time less its submodules', summed by module type. A container's
 * own time is the ops of its `forward` outside its submodules (a residual add, a reshape), labelled
 * "own ops". Ferrite's ops run synchronously, so a module's forward returns when its work is done. A
 * module with a `forward` of its own never replays a fused graph, so this times the unfused forward.
 */
function profileForward(root: ft.nn.Module, call: () => void, runs: number): LayerProfile {
  const entries: { name: string; ms: number }[] = []
  const modules = root.modules()
  /** Time spent in the submodules of each module now running, innermost last. */
  const childMs: number[] = []
  for (const module of modules) {
    const forward = module.forward
    const name = module.children().length > 0 ? `${module.constructor.name} (own ops)` : module.constructor.name
    module.forward = function (this: ft.nn.Module, ...inputs: unknown[]) {
      childMs.push(0)
      const start = performance.now()
      try {
        return forward.apply(this, inputs)
      } finally {
        const ms = performance.now() - start
        entries.push({ name, ms: ms - childMs.pop()! })
        if (childMs.length > 0) childMs[childMs.length - 1] += ms
      }
    }
  }
  try {
    call()
    entries.length = 0
    const start = performance.now()
    for (let i = 0; i < runs; i++) call()
    const totalMs = (performance.now() - start) / runs
    return { runs, totalMs, layers: byLayerType(entries, runs) }
  } finally {
    for (const module of modules) Reflect.deleteProperty(module, 'forward')
  }
}
