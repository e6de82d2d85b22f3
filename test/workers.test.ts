// The addon in worker threads: loaded by any number of workers, one after another and at once,
// with each worker's tensors freed when it exits. Pools that recycle threads load it over and over.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

/** Runs `script` in a fresh Node process from the repository root (where `require('ferrite-ml')` resolves). */
async function node(script: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['-e', script], { cwd: root, timeout: 120_000 })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const e = error as { code?: number; signal?: string; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, output: `${e.signal ?? ''} ${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

/** A worker's whole life: its `script` runs, its one message comes back, it exits. */
function inWorker<T>(script: string): Promise<{ message: T; exitCode: number }> {
  const worker = new Worker(script, { eval: true })
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  const message = new Promise<T>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return Promise.all([message, exited]).then(([m, exitCode]) => ({ message: m, exitCode }))
}

/** Trains a small MyCNN for a few steps on random data and reports each step's loss. */
const training = `
  const ft = require('ferrite-ml')
  const { parentPort } = require('node:worker_threads')
  const model = new ft.models.MyCNN(16)
  const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.01 })
  const x = ft.randn([8, 3, 16, 16])
  const y = ft.randint(0, 10, [8])
  const losses = []
  for (let step = 0; step < 5; step++) {
    const loss = ft.functional.crossEntropy(model.forward(x), y)
    optimizer.zeroGrad()
    loss.backward()
    optimizer.step()
    losses.push(loss.item())
  }
  parentPort.postMessage(losses)`

describe('worker threads', () => {
  it('load the addon one after another when the main thread never did', async () => {
    // The first worker to load the addon exits before the next one loads it (this crashed).
    const script = `
      const { Worker } = require('node:worker_threads')
      const body = "const ft = require('ferrite-ml'); const a = ft.randn([64, 64]); a.matmul(a).sum().item()"
      let left = 6
      const next = () => new Worker(body, { eval: true }).on('exit', (code) => {
        if (code !== 0) process.exit(10 + code)
        if (--left > 0) next()
        else console.log('all workers done')
      })
      next()`
    const { code, output } = await node(script)
    expect(output).toContain('all workers done')
    expect(code).toBe(0)
  })

  it('train in two workers at once, and again in two new ones', async () => {
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all([inWorker<number[]>(training), inWorker<number[]>(training)])
      for (const { message: losses, exitCode } of results) {
        expect(exitCode).toBe(0)
        expect(losses).toHaveLength(5)
        for (const loss of losses) expect(Number.isFinite(loss)).toBe(true)
        expect(losses[4]).toBeLessThan(losses[0])
      }
    }
  })

  it("free a worker's tensors when it exits, disposed or not", async () => {
    const before = ft.memory().bytes
    const { message, exitCode } = await inWorker<number>(`
      const ft = require('ferrite-ml')
      const kept = [ft.zeros([5_000_000]), ft.ones([1000, 1000])]
      require('node:worker_threads').parentPort.postMessage(ft.memory().bytes)`)
    expect(exitCode).toBe(0)
    expect(message - before).toBeGreaterThanOrEqual(24_000_000)
    expect(ft.memory().bytes).toBe(before)
  })
})
