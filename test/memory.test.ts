// Native memory is released deterministically by dispose()/using and otherwise by the garbage
// collector (a FinalizationRegistry); 100,000 temporary tensors in a loop keep live tensors and
// RSS bounded.
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite'
import { thrown } from './helpers'

const gc = globalThis.gc as () => void
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Collects garbage and lets the FinalizationRegistry callbacks that release tensors run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc()
    await tick()
  }
}

describe('memory', () => {
  it('dispose() and `using` free native memory at once', () => {
    const before = ft.memory()
    const t = ft.zeros([1000, 1000])
    expect(ft.memory().bytes - before.bytes).toBe(4_000_000)
    expect(ft.memory().devices.cpu.tensors - before.devices.cpu.tensors).toBe(1)
    t.dispose()
    expect(ft.memory().bytes).toBe(before.bytes)
    {
      using u = ft.ones([250, 1000], { dtype: 'int64' })
      expect(ft.memory().bytes - before.bytes).toBe(2_000_000)
      void u
    }
    expect(ft.memory()).toEqual(before)
  })

  it('views share storage: the bytes go when the last view goes', () => {
    const before = ft.memory().bytes
    const base = ft.zeros([100, 100])
    const view = base.transpose(0, 1)
    expect(ft.memory().bytes - before).toBe(40_000)
    base.dispose()
    expect(ft.memory().bytes - before).toBe(40_000)
    view.dispose()
    expect(ft.memory().bytes).toBe(before)
  })

  it('100,000 disposed temporaries leave nothing behind', () => {
    const before = ft.memory()
    const x = ft.ones([256])
    for (let i = 0; i < 100_000; i++) {
      using y = x.mul(2)
      using z = y.add(1)
      void z
    }
    x.dispose()
    expect(ft.memory()).toEqual(before)
  })

  it('tensors made inside tidy do not make V8 collect garbage; the same tensors outside it do', async () => {
    /** Major (mark-compact) collections while `run` makes 10 tensors of 100 MB, one at a time. */
    async function majorCollections(run: (make: () => ft.Tensor) => void): Promise<number> {
      await collect()
      const entries: PerformanceEntry[] = []
      const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()))
      observer.observe({ entryTypes: ['gc'] })
      run(() => ft.zeros([25_000_000]))
      await tick()
      await new Promise((resolve) => setTimeout(resolve, 50))
      observer.disconnect()
      return entries.filter((e) => (e as PerformanceEntry & { detail?: { kind: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR).length
    }
    const inTidy = await majorCollections((make) => {
      for (let i = 0; i < 10; i++) ft.tidy(() => void make())
    })
    const disposed = await majorCollections((make) => {
      for (let i = 0; i < 10; i++) make().dispose()
    })
    // Announced, each 100 MB tensor pushes V8's external memory past its 64 MB step.
    expect(disposed).toBeGreaterThan(0)
    expect(inTidy).toBe(0)
    // What escapes is still announced: kept and returned tensors can be freed by the GC alone.
    const kept = ft.tidy(() => ft.keep(ft.ones([2])).add(ft.zeros([2])))
    expect(kept.toArray()).toEqual([1, 1])
    kept.dispose()
  })

  it('a disposed tensor stays disposed when a new tensor reuses its slot, even once collected', async () => {
    await collect()
    const before = ft.memory()
    let x: ft.Tensor | null = ft.ones([3])
    x.dispose()
    const y = ft.zeros([3])
    // The last freed slot is reused first: y has x's slot, under a new generation.
    expect(y.handle % 2 ** 32).toBe(x.handle % 2 ** 32)
    expect(y.handle).not.toBe(x.handle)
    expect(x.isDisposed).toBe(true)
    expect(thrown(() => x!.add(1)).code).toBe('DisposedTensor')
    expect(thrown(() => y.add(x!)).code).toBe('DisposedTensor')
    x.dispose()
    expect(y.isDisposed).toBe(false)
    x = null
    await collect() // the collector releases x's handle again: still not y
    expect(y.toArray()).toEqual([0, 0, 0])
    y.dispose()
    expect(ft.memory()).toEqual(before)
  })

  it('the garbage collector releases tensors made outside tidy, returned from it or kept in it', async () => {
    await collect()
    const before = ft.memory()
    ;(() => {
      ft.ones([10])
      ft.tidy(() => ft.ones([20]))
      ft.tidy(() => {
        ft.keep(ft.ones([30]))
        ft.ones([40]) // disposed by tidy
      })
    })()
    expect(ft.memory().tensors - before.tensors).toBe(3)
    expect(ft.memory().bytes - before.bytes).toBe(4 * 60)
    await collect()
    expect(ft.memory()).toEqual(before)
  })

  it('a worker thread has its own tensors', async () => {
    const x = ft.tensor([1, 2, 3])
    const worker = new Worker(
      `const ft = require('ferrite')
       const { parentPort } = require('node:worker_threads')
       const a = ft.tensor([10, 20, 30])
       const doubled = a.mul(2)
       parentPort.postMessage({ handles: [a.handle, doubled.handle], values: doubled.toArray() })
       a.dispose()
       doubled.dispose()`,
      { eval: true },
    )
    // Listen for both at once: a worker that exits first has its message and its exit emitted in one go.
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    const reply = await new Promise<{ handles: number[]; values: number[] }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    await exited
    expect(reply.values).toEqual([20, 40, 60])
    // A table of its own: its first tensors took the first slots, generation 0, though ours are used.
    expect(reply.handles).toEqual([0, 1])
    expect(x.toArray()).toEqual([1, 2, 3])
    x.dispose()
  })

  it('100,000 temporaries left to the GC keep live tensors and RSS bounded', async () => {
    await collect()
    const before = ft.memory().tensors
    const rssBefore = process.memoryUsage().rss
    let peakTensors = 0
    let peakRss = 0
    const x = ft.ones([1024]) // 4 KB each: 400 MB if nothing were freed
    for (let i = 0; i < 100_000; i++) {
      x.mul(2)
      if (i % 1000 === 999) {
        await tick() // releases run between turns of the event loop, as in any async training loop
        peakTensors = Math.max(peakTensors, ft.memory().tensors - before)
        peakRss = Math.max(peakRss, process.memoryUsage().rss - rssBefore)
      }
    }
    x.dispose()
    await collect()
    expect(peakTensors).toBeLessThan(50_000)
    expect(peakRss).toBeLessThan(200 * 2 ** 20)
    expect(ft.memory().tensors - before).toBeLessThan(100)
  })
})
