// Crash safety of saves: a child process that saves a model (`ft.save` of a state dict) and a
// training checkpoint over and over is SIGKILLed at random (seeded) moments. After every kill
// both files load whole, from one save each (every parameter holds the same step number), and
// the next save removes the temporary files the killed writer left behind.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const dir = mkdtempSync(join(tmpdir(), 'ferrite-crash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const entry = fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url))
const modelPath = join(dir, 'model.safetensors')
const checkpointPath = join(dir, 'checkpoint.safetensors')

// The child: one Adam step (so the checkpoint holds optimizer tensors), then saves forever,
// with every parameter set to the step number (also saved as the loader's epoch) first; it says 'ready' after its first saves.
// Its model has ~4 MB of parameters, so that a kill often lands mid-write.
const childScript = `
const ft = require(${JSON.stringify(entry)})
const model = new ft.nn.Sequential(new ft.nn.Linear(1000, 1000), new ft.nn.Linear(1000, 10))
const optimizer = new ft.optim.Adam(model.parameters(), { lr: 1e-3 })
model.forward(ft.ones([2, 1000])).sum().backward()
optimizer.step()
const history = { trainLoss: [1], testAccuracy: [0.5], epochSeconds: [1], imagesPerSecond: [1] }
for (let step = Number(process.argv[2]); ; step++) {
  ft.noGrad(() => { for (const p of model.parameters()) p.copy_(ft.tensor(step)) })
  ft.save(model.stateDict(), ${JSON.stringify(modelPath)})
  ft.saveCheckpoint(${JSON.stringify(checkpointPath)}, { model, optimizer, epoch: 1, history, loader: { epoch: step, seed: 0 } })
  if (step === Number(process.argv[2])) process.stdout.write('ready\\n')
}
`
const childPath = join(dir, 'saver.cjs')
writeFileSync(childPath, childScript)

/** mulberry32: the kill moments are the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const tempFiles = () => readdirSync(dir).filter((name) => name.endsWith('.tmp'))

/** The one value every tensor of `tensors` holds (and fails if they differ). */
function commonValue(tensors: ft.Tensor[]): number {
  const values = new Set(tensors.flatMap((t) => [t.min().item(), t.max().item()]))
  expect(values.size).toBe(1)
  return [...values][0]
}

/** Starts a saver at `step`, waits for its first saves, then kills it after `delayMs`. */
async function saveAndKill(step: number, delayMs: number): Promise<{ pid: number; tempsAtReady: string[] }> {
  const child = spawn(process.execPath, [childPath, String(step)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const closed = new Promise((resolve) => child.on('close', resolve))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())
    child.on('close', (code) => reject(new Error(`the saver exited (${code}) before its first saves`)))
  })
  const tempsAtReady = tempFiles()
  await new Promise((resolve) => setTimeout(resolve, delayMs))
  child.kill('SIGKILL')
  await closed // reaped: its pid no longer exists
  return { pid: child.pid!, tempsAtReady }
}

describe('a saving process killed at random moments', () => {
  it('always leaves loadable files, and the next save removes its temporary files', async () => {
    const next = random(18)
    // The child's model and optimizer, to load its checkpoints into.
    const model = new ft.nn.Sequential(new ft.nn.Linear(1000, 1000), new ft.nn.Linear(1000, 10))
    const optimizer = new ft.optim.Adam(model.parameters(), { lr: 1e-3 })
    let killsMidWrite = 0
    for (let kill = 0; kill < 20; kill++) {
      const { pid, tempsAtReady } = await saveAndKill(1000 * kill, next() * 150)
      // By its first saves, the saver removed what the one killed before left; only its own
      // write in progress may remain.
      expect(tempsAtReady.filter((name) => !name.includes(`.${pid}-`)), `kill ${kill}`).toEqual([])
      if (tempFiles().length > 0) killsMidWrite++

      const saved = Object.values(ft.load(modelPath))
      expect(commonValue(saved), `kill ${kill}`).toBeGreaterThanOrEqual(1000 * kill)
      for (const t of saved) t.dispose()
      const restored = ft.loadCheckpoint(checkpointPath, model, optimizer)
      expect(commonValue(model.parameters()), `kill ${kill}`).toBe(restored.loader.epoch)
      expect(restored.loader.epoch).toBeGreaterThanOrEqual(1000 * kill)
    }
    // Otherwise this test would not have tested the clean-up.
    expect(killsMidWrite).toBeGreaterThan(0)

    ft.save(model.stateDict(), modelPath)
    ft.saveCheckpoint(checkpointPath, { model, optimizer, epoch: 0, history: { trainLoss: [], testAccuracy: [], epochSeconds: [], imagesPerSecond: [] }, loader: { epoch: 0, seed: 0 } })
    expect(tempFiles()).toEqual([])
  })
})
