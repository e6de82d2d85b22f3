// What the TypeScript peers (ferrite.mts, ort.mts, tfjs.mts) share: their command line, the timing
// loop and the JSON lines they report to run.mts. torch_bench.py has the same loop in Python.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'

/** The batch of conv passes and training steps, and inference's default (`--batches` adds others). */
export const BATCH = 100
export const CLASSES = 10
export const IMAGE_SIZE = 32
export const LEARNING_RATE = 1e-3

/** A conv layer of the comparison: in channels, out channels, height = width (3x3, padding 1, stride 1). */
export interface ConvShape {
  c: number
  o: number
  hw: number
}

export type ConvPass = 'forward' | 'backward-input' | 'backward-weight'
export const CONV_PASSES: ConvPass[] = ['forward', 'backward-input', 'backward-weight']

export interface Limits {
  /** Seconds one measurement may take, warm-up included: a slow peer reports what it finished. */
  budgetS: number
  /** Seconds of timed calls to aim for once warm. */
  targetS: number
}

export interface ConvItem extends ConvShape {
  pass: ConvPass
}

export type Workload = 'conv' | 'train' | 'infer'

export interface PeerArgs extends Limits {
  /** `export` (ferrite.mts only) writes the model's ONNX file and a checked input and output for ort.mts. */
  workload: Workload | 'export'
  model: string
  /** How train and infer run the model, one of the peer's own modes (run.mts's PEER_MODES); conv ignores it. */
  mode: string
  /** Images per training step or inference call. */
  batch: number
  /** Threads to run, for peers that take them as an argument (ort.mts); others read RAYON_NUM_THREADS. */
  threads?: number
  /** After an inference measurement, time each layer type of the forward (a separate pass, not timed with it). */
  profile: boolean
  /** The ONNX file that `export` writes and ort.mts runs; its input and expected output lie beside it (onnxFiles). */
  onnx: string
  convItems: ConvItem[]
}

/**
 * `--workload conv --items 3x16x32:forward,...` or `--workload train|infer --model resnet [--mode bf16]
 * [--batch 1] [--profile]`, plus `--budget` and `--target` in seconds; `--onnx FILE` for `export` and ort.mts.
 */
export function peerArgs(): PeerArgs {
  const { values } = parseArgs({
    options: {
      workload: { type: 'string' },
      model: { type: 'string', default: '' },
      mode: { type: 'string', default: 'fp32' },
      batch: { type: 'string', default: String(BATCH) },
      threads: { type: 'string' },
      profile: { type: 'boolean', default: false },
      onnx: { type: 'string', default: '' },
      items: { type: 'string', default: '' },
      budget: { type: 'string', default: '20' },
      target: { type: 'string', default: '3' },
    },
  })
  const workload = values.workload
  if (workload !== 'conv' && workload !== 'train' && workload !== 'infer' && workload !== 'export') throw new Error(`--workload must be conv, train, infer or export, got ${workload}`)
  const batch = Number(values.batch)
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${values.batch}`)
  const convItems = values.items
    .split(',')
    .filter(Boolean)
    .map((item) => {
      const [shape, pass] = item.split(':')
      const [c, o, hw] = shape.split('x').map(Number)
      if (!CONV_PASSES.includes(pass as ConvPass)) throw new Error(`--items: unknown pass '${pass}' in '${item}'`)
      return { c, o, hw, pass: pass as ConvPass }
    })
  return {
    workload,
    model: values.model,
    mode: values.mode,
    batch,
    threads: values.threads === undefined ? undefined : Number(values.threads),
    profile: values.profile,
    onnx: values.onnx,
    convItems,
    budgetS: Number(values.budget),
    targetS: Number(values.target),
  }
}

/** The files of one exported model: the ONNX graph, an input batch and Ferrite's eval output for it (raw float32). */
export function onnxFiles(onnx: string): { onnx: string; input: string; output: string; meta: string } {
  return { onnx, input: `${onnx}.input.f32`, output: `${onnx}.output.f32`, meta: `${onnx}.json` }
}

/** What `export` writes beside the ONNX file: the shapes of its input and output batch. */
export interface OnnxMeta {
  inputShape: number[]
  outputShape: number[]
}

/** One layer type's share of a forward: total ms per call over all its layers, and how many layers ran per call. */
export interface LayerTime {
  name: string
  ms: number
  calls: number
}

/**
 * Where one inference call's time goes, from a profiling pass after the timed calls: `layers` by
 * type, costliest first, and `totalMs` the whole call as timed in that pass (profiling included),
 * so that `totalMs` minus the layers' sum is the time spent between them.
 */
export interface LayerProfile {
  runs: number
  totalMs: number
  layers: LayerTime[]
  /**
   * Ferrite with `ft.inference`: ms per call of the optimized forward that the timed calls ran,
   * timed in the same pass. A fused graph is one native call with no layers to time, so `layers`
   * and `totalMs` are then the unfused eval forward's.
   */
  optimizedMs?: number
}

/** How many profiled calls to make: about half the target time, at least 3 and at most 200. */
export function profileRuns(medianMs: number, { targetS }: Limits): number {
  return Math.min(200, Math.max(3, Math.round((500 * targetS) / Math.max(medianMs, 1e-3))))
}

/** Sums `entries` of one call's profile by name into per-call figures, costliest first. */
export function byLayerType(entries: Iterable<{ name: string; ms: number }>, runs: number): LayerTime[] {
  const totals = new Map<string, LayerTime>()
  for (const { name, ms } of entries) {
    const t = totals.get(name) ?? { name, ms: 0, calls: 0 }
    t.ms += ms
    t.calls += 1
    totals.set(name, t)
  }
  return [...totals.values()].map((t) => ({ name: t.name, ms: t.ms / runs, calls: t.calls / runs })).sort((a, b) => b.ms - a.ms)
}

export interface Measurement {
  /** Timed calls after the warm-up; 0 when only the warm-up finished within the budget. */
  runs: number
  /** Median and best of the timed calls, or the warm-up's time when `runs` is 0. */
  medianMs: number
  bestMs: number
  /** Wall time of the whole measurement, warm-up included. */
  seconds: number
}

const WARM_UP_CALLS = 2
const MIN_RUNS = 3

/**
 * Warm-up (two calls, or one if it took over a quarter of the budget), then timed calls until
 * `targetS` has passed and at least `MIN_RUNS` ran, stopping early once `budgetS` is spent.
 */
export async function measure(call: () => unknown, { budgetS, targetS }: Limits): Promise<Measurement> {
  const start = performance.now()
  const elapsedS = () => (performance.now() - start) / 1000
  const warmUp: number[] = []
  do warmUp.push(await timed(call))
  while (warmUp.length < WARM_UP_CALLS && elapsedS() < budgetS / 4)
  const times: number[] = []
  const timedStart = performance.now()
  while (elapsedS() < budgetS && (times.length < MIN_RUNS || performance.now() - timedStart < targetS * 1000)) times.push(await timed(call))
  const sorted = (times.length > 0 ? times : [Math.min(...warmUp)]).sort((a, b) => a - b)
  return { runs: times.length, medianMs: sorted[sorted.length >> 1], bestMs: sorted[0], seconds: elapsedS() }
}

async function timed(call: () => unknown): Promise<number> {
  const t = performance.now()
  await call()
  return performance.now() - t
}

/** One JSON line to run.mts; it reads only stdout lines that start with `{`. */
export function report(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

/** Peak resident set size in KiB: the kernel's high-water mark (VmHWM), else Node's maxRSS. */
export function peakRssKb(): number {
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readStatus())
  return hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS
}

/** Resident set size now, in KiB. */
export function rssKb(): number {
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(readStatus())
  return rss ? Number(rss[1]) : Math.round(process.memoryUsage.rss() / 1024)
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8')
  } catch {
    return ''
  }
}

/** How far an output is from the expected one: the largest |difference|, the largest |expected| and their ratio. */
export interface OutputError {
  maxAbsDiff: number
  magnitude: number
  relative: number
}

/** Relative error of onnxruntime's `actual` output against Ferrite's `expected` (both plain arrays, not tensors). */
export function relativeError(actual: Float32Array, expected: Float32Array): OutputError {
  if (actual.length !== expected.length) throw new Error(`outputs differ in size: ${actual.length} values against ${expected.length}`)
  let maxAbsDiff = 0
  let magnitude = 0
  for (let i = 0; i < expected.length; i++) {
    // NaN in either makes the difference NaN, which Math.max keeps: the check then fails.
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - expected[i]))
    magnitude = Math.max(magnitude, Math.abs(expected[i]))
  }
  return { maxAbsDiff, magnitude, relative: maxAbsDiff / magnitude }
}

/** The largest relative error (`relativeError`) at which an exported graph counts as the same model. */
export const CHECK_TOLERANCE = 1e-4

/** Multiply-adds of one conv pass, times two: all three passes do the same N * O * H * W * C * 9. */
export function convFlops({ c, o, hw }: ConvShape): number {
  return 2 * BATCH * o * hw * hw * c * 9
}
