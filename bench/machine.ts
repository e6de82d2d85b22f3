// Shared helpers of the TypeScript benchmarks: machine description, timing and table printing.
import { spawnSync } from 'node:child_process'
import * as os from 'node:os'
import { performance } from 'node:perf_hooks'
import * as ft from 'ferrite-ml'

/** What a reader needs to compare figures between runs. */
export function machineInfo(): [string, string][] {
  const cpus = os.cpus()
  return [
    ['CPU', cpus[0]?.model.trim() ?? 'unknown'],
    // availableParallelism honours affinity masks, which cpus().length does not.
    ['logical cores', `${os.availableParallelism()} (os.cpus: ${cpus.length})`],
    ['os/arch', `${os.type()} ${os.release()} ${process.arch}`],
    ['Node', process.version],
    ['Ferrite threads', String(ft.getNumThreads())],
  ]
}

export function printMachine(title: string): void {
  console.log(title)
  const width = Math.max(...machineInfo().map(([k]) => k.length)) + 2
  for (const [key, value] of machineInfo()) console.log(`${(key + ':').padEnd(width)}${value}`)
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export interface Timing {
  /** Median and best milliseconds per call over the timed batches. */
  medianMs: number
  bestMs: number
  batches: number
  callsPerBatch: number
}

export interface TimeOptions {
  /** Calls per batch; each batch is timed as a whole so that timer cost does not show. */
  callsPerBatch: number
  batches?: number
  warmUpBatches?: number
}

/** Runs `fn` in batches after a warm-up (which lets V8 optimise the call site) and times each batch. */
export function timeBatches(fn: () => void, { callsPerBatch, batches = 7, warmUpBatches = 2 }: TimeOptions): Timing {
  const perCall: number[] = []
  for (let b = 0; b < warmUpBatches + batches; b++) {
    const start = performance.now()
    for (let i = 0; i < callsPerBatch; i++) fn()
    const ms = (performance.now() - start) / callsPerBatch
    if (b >= warmUpBatches) perCall.push(ms)
  }
  return { medianMs: median(perCall), bestMs: Math.min(...perCall), batches, callsPerBatch }
}

/** Calls per batch so that `batches` batches take about `totalMs`, judged from a few trial calls. */
export function sizeBatches(fn: () => void, totalMs: number, batches: number): number {
  fn()
  let calls = 0
  const start = performance.now()
  while (performance.now() - start < 50 || calls < 3) {
    fn()
    calls++
  }
  const ms = (performance.now() - start) / calls
  return Math.max(1, Math.round(totalMs / batches / ms))
}

/** A Markdown table with right-aligned numeric columns, so that it pastes into the README as is. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)))
  const numeric = headers.map((_, c) => rows.every((r) => /^[-+\d.,x× ]*$/.test(r[c]) && /\d/.test(r[c])))
  const line = (cells: string[]) => `| ${cells.map((s, c) => (numeric[c] ? s.padStart(widths[c]) : s.padEnd(widths[c]))).join(' | ')} |`
  console.log(line(headers))
  console.log(`|${widths.map((w, c) => (numeric[c] ? '-'.repeat(w + 1) + ':' : ':' + '-'.repeat(w + 1))).join('|')}|`)
  for (const row of rows) console.log(line(row))
}

/**
 * Runs this benchmark's script again in a fresh process with `args` (and Node flags `nodeFlags`),
 * and parses the JSON its last line of output holds: for measurements that need a process of
 * their own, such as RSS.
 */
export function runInChild<T>(args: string[], nodeFlags: string[] = []): T {
  const child = spawnSync(process.execPath, [...nodeFlags, ...process.execArgv, process.argv[1], ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (child.status !== 0) throw new Error(`${args.join(' ')} failed (status ${child.status}, signal ${child.signal}):\n${child.stderr}`)
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as T
}

/**
 * One training step as a PyTorch user writes it, on a fresh random batch (as a data loader hands
 * them out): forward, cross-entropy, zeroGrad, backward, step. Returns the loss.
 */
export function randomBatchStep(model: ft.nn.Module, optimizer: { zeroGrad(): void; step(): void }, batch: number): number {
  const x = ft.randn([batch, 3, 32, 32])
  const y = ft.randint(0, 10, [batch])
  const loss = ft.functional.crossEntropy(model.forward(x), y)
  optimizer.zeroGrad()
  loss.backward()
  optimizer.step()
  return loss.item()
}
