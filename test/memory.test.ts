// Native memory is released deterministically by dispose()/using and by GC finalizers otherwise;
// 100,000 temporary tensors in a loop keep live tensors and RSS bounded.
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite'

const gc = globalThis.gc as () => void
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Collects garbage and lets the deferred native finalizers run. */
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
        await tick() // finalizers run between turns of the event loop, as in any async training loop
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
