// Cost of calling Ferrite from TypeScript: per-op overhead on tiny tensors, and the throughput of
// an elementwise add on 1M floats next to a plain JS loop over Float32Array in the same run.
// Run with `npm run bench:ts` (needs the native addon: `npm run build:native`).
import { performance } from 'node:perf_hooks'
import { setImmediate as tick } from 'node:timers/promises'
import * as ft from 'ferrite-ml'
import { median, printMachine, printTable, sizeBatches, timeBatches, type Timing } from '../machine'

const CALLS = 100_000
const BATCHES = 7
const WARM_UP_BATCHES = 2
/** Calls between two turns of the event loop in (a)'s async loop, as in an async training loop. */
const YIELD_EVERY = 1000
const N = 1_000_000
// Each add reads two float32 inputs and writes one output.
const BYTES_PER_ADD = 3 * 4 * N
/** Rough wall time of each contender in (b). */
const ADD_MS = 1000
const ADD_BATCHES = 9

let sink = 0

/** (a) One trivial op: nearly all of its time is the JS -> napi -> Rust round trip. */
async function overhead() {
  const a = ft.tensor([1])
  const b = ft.tensor([2])
  const options = { callsPerBatch: CALLS, batches: BATCHES, warmUpBatches: WARM_UP_BATCHES }
  const dtype = timeBatches(() => {
    sink += a.dtype.length
  }, options)
  const disposed = timeBatches(() => a.add(b).dispose(), options)
  const gc = await leftToGc(() => {
    sink += a.add(b).ndim
  })
  const rows: [string, Timing][] = [
    ['t.dtype (native getter)', dtype],
    ['a.add(b) + dispose()', disposed],
    ['a.add(b), left to GC: sync loop', gc.sync],
    [`a.add(b), left to GC: yielding every ${YIELD_EVERY.toLocaleString('en')}`, gc.yielding],
  ]
  return { rows, peakSync: gc.peakSync, peakYielding: gc.peakYielding }
}

/**
 * A tensor left to the GC is released by the first op after a collection took its JS object (the
 * addon holds a weak reference to it; V8 collects as the external memory announced for tensors
 * grows), in synchronous code as well. Timed as synchronous loops (each followed by a few untimed
 * turns of the event loop), then as async loops that yield regularly; live tensors are sampled at
 * the end of each synchronous batch and at each yield.
 */
async function leftToGc(fn: () => void) {
  const base = ft.memory().tensors
  let peakSync = 0
  let peakYielding = 0
  const sync = await timeBatchesAsync(
    async () => {
      for (let i = 0; i < CALLS; i++) fn()
      peakSync = Math.max(peakSync, ft.memory().tensors - base)
    },
    async () => {
      for (let turn = 0; turn < 100 && ft.memory().tensors > base; turn++) await tick()
    },
  )
  const yielding = await timeBatchesAsync(async () => {
    for (let i = 0; i < CALLS; i++) {
      fn()
      if (i % YIELD_EVERY === YIELD_EVERY - 1) {
        await tick()
        peakYielding = Math.max(peakYielding, ft.memory().tensors - base)
      }
    }
  })
  return { sync, yielding, peakSync, peakYielding }
}

/** Like `timeBatches`, for batches of CALLS calls that may yield; `settle` runs untimed after each. */
async function timeBatchesAsync(batch: () => Promise<void>, settle = async () => {}): Promise<Timing> {
  const perCall: number[] = []
  for (let b = 0; b < WARM_UP_BATCHES + BATCHES; b++) {
    const start = performance.now()
    await batch()
    if (b >= WARM_UP_BATCHES) perCall.push((performance.now() - start) / CALLS)
    await settle()
  }
  return { medianMs: median(perCall), bestMs: Math.min(...perCall), batches: BATCHES, callsPerBatch: CALLS }
}

function jsAdd(p: Float32Array, q: Float32Array, out = new Float32Array(p.length)): Float32Array {
  for (let i = 0; i < p.length; i++) out[i] = p[i] + q[i]
  return out
}

/** (b) 1M-element add, Ferrite and plain JS; milliseconds per op of each contender. */
function elementwise(): [string, number[]][] {
  const xs = Float32Array.from({ length: N }, (_, i) => Math.sin(i))
  const ys = Float32Array.from({ length: N }, (_, i) => Math.cos(i))
  const x = ft.tensor(xs)
  const y = ft.tensor(ys)
  {
    // Same answer, or the speed-up means nothing.
    using sum = x.add(y)
    const got = sum.toTypedArray() as Float32Array
    const want = jsAdd(xs, ys)
    for (let i = 0; i < N; i++) {
      if (got[i] !== want[i]) throw new Error(`add mismatch at ${i}: ${got[i]} vs ${want[i]}`)
    }
  }
  // Ferrite returns a new tensor, so the like-for-like JS peer allocates its output too; the
  // reused-output loop shows what that allocation (and zero-fill) costs.
  const reused = new Float32Array(N)
  const contenders: [string, () => void][] = [
    ['Ferrite x.add(y) + dispose()', () => x.add(y).dispose()],
    ['JS loop, new Float32Array out', () => void jsAdd(xs, ys)],
    ['JS loop, reused out', () => void jsAdd(xs, ys, reused)],
  ]
  const calls = contenders.map(([, fn]) => sizeBatches(fn, ADD_MS, ADD_BATCHES))
  const perOp: number[][] = contenders.map(() => [])
  // Interleaved rounds, so that a burst of load from elsewhere hits every contender alike.
  for (let round = 0; round < ADD_BATCHES; round++) {
    contenders.forEach(([, fn], c) => {
      perOp[c].push(timeBatches(fn, { callsPerBatch: calls[c], batches: 1, warmUpBatches: round === 0 ? 1 : 0 }).medianMs)
    })
  }
  x.dispose()
  y.dispose()
  return contenders.map(([name], c) => [name, perOp[c]])
}

async function main() {
  printMachine('Ferrite TypeScript op benchmark')
  const add = elementwise()
  // After (b): the garbage the GC runs leave behind would otherwise be collected while (b) is timed.
  const calls = await overhead()

  const us = (ms: number) => (ms * 1e3).toFixed(3)
  console.log()
  console.log(`(a) per-call overhead, 1-element float32 tensors (${CALLS.toLocaleString('en')} calls per batch, median of ${BATCHES} batches after ${WARM_UP_BATCHES} warm-up)`)
  printTable(
    ['call', 'median µs/call', 'best µs/call', 'calls/s (median)'],
    calls.rows.map(([name, t]) => [name, us(t.medianMs), us(t.bestMs), Math.round(1e3 / t.medianMs).toLocaleString('en')]),
  )
  console.log(
    `Left to GC, up to ${calls.peakSync.toLocaleString('en')} tensors were alive at the end of a synchronous batch, and up to ` +
      `${calls.peakYielding.toLocaleString('en')} at a yield: each is released by the first op after a collection took its JS object.`,
  )

  const ferriteMs = median(add[0][1])
  console.log()
  console.log(`(b) elementwise add, ${N.toLocaleString('en')} float32 (3 x 4 MB moved per op), median of ${ADD_BATCHES} interleaved batches`)
  printTable(
    ['implementation', 'ms/op', 'best ms/op', 'GB/s', 'Ferrite speed-up'],
    add.map(([name, perOp]) => {
      const ms = median(perOp)
      return [name, ms.toFixed(3), Math.min(...perOp).toFixed(3), (BYTES_PER_ADD / (ms * 1e6)).toFixed(2), `${(ms / ferriteMs).toFixed(2)}x`]
    }),
  )
  console.log("GB/s = 12e6 bytes / median time. Speed-up = that row's median time / Ferrite's.")
  // Keeps `sink` observable so the timed loops cannot be optimised away.
  if (sink < 0) console.log(sink)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
