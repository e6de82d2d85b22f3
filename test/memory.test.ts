// Native memory is released deterministically by dispose()/using, by the end of a tidy scope or
// of a module's forward, and otherwise by the garbage collector, also in synchronous loops that
// never let the event loop turn; a plain training loop holds flat memory. Live tensors and bytes
// are counted with ft.memory() where nothing is left to the collector, or after an explicit
// global.gc() (and an event-loop turn where napi finalizers matter), so that no count depends on
// when V8 would have collected on its own.
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const gc = globalThis.gc as () => void
// The binding's count of bytes announced to V8, not public API (crates/ferrite-node/src/handle.rs).
const { native } = createRequire(import.meta.url)(join(__dirname, '..', 'dist', 'cjs', 'native.js')) as {
  native: { externalMemoryAnnounced(): number }
}
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Collects garbage and lets the event loop turn, where napi runs the finalizers of what the
 * collector took; `ft.memory()` then releases the tensors the collector took. Three rounds, for
 * objects that only the previous round's finalizers let go.
 */
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

  it('tidy frees its tensors when it ends, with no collection; what escapes it is left to the collector', async () => {
    await collect()
    const before = ft.memory()
    const escaped: ft.Tensor[] = []
    for (let i = 0; i < 10; i++) {
      escaped.push(
        ft.tidy(() => {
          ft.zeros([1000]) // 4000 bytes, freed when the scope ends
          escaped.push(ft.keep(ft.ones([10])))
          return ft.ones([20]).add(1)
        }),
      )
      // Nothing but the kept and the returned tensor outlives each scope, collection or none.
      expect(ft.memory().tensors - before.tensors).toBe(escaped.length)
      expect(ft.memory().bytes - before.bytes).toBe(4 * 30 * (i + 1))
    }
    expect(escaped.map((t) => t.isDisposed)).toEqual(Array(20).fill(false))
    expect(escaped[1].toArray()).toEqual(Array(20).fill(2))
    // Dropped, the escaped tensors are the collector's to free.
    escaped.length = 0
    await collect()
    expect(ft.memory()).toEqual(before)
  })

  it("tidy's tensors are never announced to V8's collector; those that outlive it are, once, and taken back when freed", () => {
    // Announced bytes make V8 collect sooner: a tidy loop must not drive collections it does not need.
    const announced = () => native.externalMemoryAnnounced()
    const before = announced()
    const kept = ft.tidy(() => {
      for (let i = 0; i < 100; i++) ft.ones([1000]).add(1)
      expect(announced()).toBe(before)
      return ft.ones([1000])
    })
    const keptBytes = announced() - before
    expect(keptBytes).toBeGreaterThanOrEqual(4000)
    const outside = ft.ones([1000])
    expect(announced() - before).toBe(2 * keptBytes)
    kept.dispose()
    outside.dispose()
    expect(announced()).toBe(before)
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
    // Held until counted: a collection in between must not change the count.
    const held: ft.Tensor[] = [ft.ones([10]), ft.tidy(() => ft.ones([20]))]
    ft.tidy(() => {
      held.push(ft.keep(ft.ones([30])))
      ft.ones([40]) // disposed by tidy
    })
    expect(ft.memory().tensors - before.tensors).toBe(3)
    expect(ft.memory().bytes - before.bytes).toBe(4 * 60)
    expect(held.map((t) => t.isDisposed)).toEqual([false, false, false])
    held.length = 0
    await collect()
    expect(ft.memory()).toEqual(before)
  })

  it("tidy keeps the tensors its result holds in arrays and plain objects, and hands a nested tidy's result to the outer scope", () => {
    const outer = ft.ones([1])
    let dropped!: ft.Tensor
    let inMap!: ft.Tensor
    let handedOn!: ft.Tensor
    const result = ft.tidy(() => {
      dropped = ft.zeros([1])
      inMap = ft.zeros([1])
      handedOn = ft.tidy(() => ft.zeros([1]))
      return { a: ft.ones([1]), list: [ft.ones([2]), [outer]] as const, nested: { b: ft.ones([3]) }, map: new Map([['c', inMap]]), inner: ft.tidy(() => [ft.ones([4])]) }
    })
    const kept = [result.a, result.list[0], result.nested.b, result.inner[0], outer]
    for (const t of kept) expect(t.isDisposed).toBe(false)
    // Only arrays and plain objects are searched: a tensor in a Map is not part of the result.
    expect([dropped, inMap, handedOn].map((t) => t.isDisposed)).toEqual([true, true, true])
    for (const t of kept) t.dispose()
  })

  it('a worker thread has its own tensors', async () => {
    const x = ft.tensor([1, 2, 3])
    const worker = new Worker(
      `const ft = require('ferrite-ml')
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

  it('tensors left to the collector are released by the next collection, in synchronous code too', async () => {
    await collect()
    const before = ft.memory()
    const x = ft.ones([1024])
    for (let i = 0; i < 100_000; i++) {
      x.mul(2)
      if (i % 10_000 === 9_999) {
        // No await: the table notices the collection without the event loop turning.
        gc()
        expect(ft.memory().tensors - before.tensors, `live tensors after ${i + 1} products and a collection`).toBe(1)
      }
    }
    x.dispose()
    expect(ft.memory()).toEqual(before)
  })

  it('100,000 temporaries left to the GC in a synchronous loop keep RSS bounded', () => {
    const rssBefore = process.memoryUsage().rss
    let peakRss = 0
    for (let i = 0; i < 2000; i++) {
      ft.zeros([250_000]) // 1 MB each: 2 GB if nothing were freed before the loop ends
      if (i % 100 === 99) peakRss = Math.max(peakRss, process.memoryUsage().rss - rssBefore)
    }
    for (let i = 0; i < 100_000; i++) ft.ones([4]).mul(2)
    peakRss = Math.max(peakRss, process.memoryUsage().rss - rssBefore)
    expect(peakRss).toBeLessThan(400 * 2 ** 20)
  })

  it("a module's forward frees the intermediates it does not return", async () => {
    const model = new ft.models.MyCNN(16)
    model.eval()
    using x = ft.randn([2, 3, 16, 16])
    // The first call traces the model and folds its batch norms into the convolutions (see
    // ft.inference), which later calls reuse.
    ft.noGrad(() => model.forward(x).dispose())
    // Earlier tests' garbage, collected during the forward, would be released inside the count.
    await collect()
    const before = ft.memory().tensors
    ft.noGrad(() => {
      using out = model.forward(x)
      // Only the output is left: no graph holds anything under noGrad.
      expect(ft.memory().tensors - before).toBe(1)
      expect(out.shape).toEqual([2, 10])
    })
    expect(ft.memory().tensors).toBe(before)
  })

  it("a module's forward keeps what it returns, stores as its own buffers, or passes to keep", () => {
    class Recorder extends ft.nn.Module {
      last = new ft.nn.Buffer(ft.zeros([2]))
      seen: ft.Tensor | null = null
      kept: ft.Tensor | null = null
      forward(x: ft.Tensor): { y: ft.Tensor; parts: ft.Tensor[] } {
        const doubled = x.mul(2)
        this.last = new ft.nn.Buffer(doubled.add(1))
        this.seen = doubled.sub(1) // neither returned nor registered: freed on return
        this.kept = ft.keep(doubled.sub(2))
        return { y: doubled.mul(3), parts: [doubled] }
      }
    }
    const m = new Recorder()
    using x = ft.tensor([1, 2])
    const { y, parts } = m.forward(x)
    expect(y.toArray()).toEqual([6, 12])
    expect(parts[0].toArray()).toEqual([2, 4])
    expect(m.last.toArray()).toEqual([3, 5])
    expect(m.stateDict().last.toArray()).toEqual([3, 5])
    expect(m.kept!.toArray()).toEqual([0, 2])
    expect(m.seen!.isDisposed).toBe(true)
    // Gradients flow through intermediates that were freed on return.
    const w = ft.tensor([1, 2]).requiresGrad_()
    const out = new Recorder().forward(w).y
    out.sum().backward()
    expect(w.grad!.toArray()).toEqual([6, 6])
  })

  it('a synchronous training loop without tidy, dispose or await holds flat memory', async () => {
    // In a process of its own, so that RSS is the loop's alone. Live tensors are counted after a
    // collection every 100 steps (the counts cannot depend on when V8 would have collected).
    const script = `
      const ft = require('ferrite-ml')
      const model = new ft.models.MyCNN()
      const optimizer = new ft.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
      const samples = []
      const live = []
      for (let step = 1; step <= 300; step++) {
        const x = ft.randn([16, 3, 32, 32])
        const y = ft.randint(0, 10, [16])
        const loss = ft.functional.crossEntropy(model.forward(x), y)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
        loss.item()
        if (step % 25 === 0) samples.push({ step, rss: process.memoryUsage().rss })
        if (step % 100 === 0) {
          gc()
          live.push(ft.memory().tensors)
        }
      }
      console.log(JSON.stringify({ samples, live }))`
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)) })
    const { samples, live } = JSON.parse(stdout) as { samples: { step: number; rss: number }[]; live: number[] }
    // Parameters, gradients, momentum and the current step's tensors: the same after every 100 steps.
    expect(live, 'live tensors after a collection at steps 100, 200 and 300').toEqual([live[0], live[0], live[0]])
    expect(live[0]).toBeLessThan(100)
    const atStep50 = samples.find((s) => s.step === 50)!.rss
    // Each step's activations are about 6 MB: 1.5 GB over the loop if a step's memory stayed.
    for (const { step, rss } of samples.filter((s) => s.step > 50)) expect(rss, `RSS at step ${step}`).toBeLessThan(1.5 * atStep50)
  })
})
