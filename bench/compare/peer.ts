// What the TypeScript peers (ferrite.mts, tfjs.mts) share: their command line, the timing loop
// and the JSON lines they report to run.mts. torch_bench.py has the same loop in Python.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'

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

export interface PeerArgs extends Limits {
  workload: 'conv' | 'train' | 'infer'
  model: string
  /** How train and infer run the model, one of the peer's own modes (run.mts's PEER_MODES); conv ignores it. */
  mode: string
  convItems: ConvItem[]
}

/**
 * `--workload conv --items 3x16x32:forward,...` or `--workload train|infer --model resnet [--mode bf16]`,
 * plus `--budget` and `--target` in seconds.
 */
export function peerArgs(): PeerArgs {
  const { values } = parseArgs({
    options: {
      workload: { type: 'string' },
      model: { type: 'string', default: '' },
      mode: { type: 'string', default: 'fp32' },
      items: { type: 'string', default: '' },
      budget: { type: 'string', default: '20' },
      target: { type: 'string', default: '3' },
    },
  })
  const workload = values.workload
  if (workload !== 'conv' && workload !== 'train' && workload !== 'infer') throw new Error(`--workload must be conv, train or infer, got ${workload}`)
  const convItems = values.items
    .split(',')
    .filter(Boolean)
    .map((item) => {
      const [shape, pass] = item.split(':')
      const [c, o, hw] = shape.split('x').map(Number)
      if (!CONV_PASSES.includes(pass as ConvPass)) throw new Error(`--items: unknown pass '${pass}' in '${item}'`)
      return { c, o, hw, pass: pass as ConvPass }
    })
  return { workload, model: values.model, mode: values.mode, convItems, budgetS: Number(values.budget), targetS: Number(values.target) }
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

/** Multiply-adds of one conv pass, times two: all three passes do the same N * O * H * W * C * 9. */
export function convFlops({ c, o, hw }: ConvShape): number {
  return 2 * BATCH * o * hw * hw * c * 9
}
