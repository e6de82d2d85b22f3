// onnxruntime-node's side of `npm run bench:compare`: inference only, on the ONNX file that
// ferrite.mts's `export` wrote for the model and batch (the same weights and batch-norm statistics
// as Ferrite's `infer`). Checks its output against Ferrite's eval output before timing, so that a
// wrong graph cannot win. Threads: `--threads` as intraOpNumThreads, one inter-op thread, sequential.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { byLayerType, CHECK_TOLERANCE, measure, onnxFiles, peakRssKb, peerArgs, profileRuns, relativeError, report, rssKb, type LayerProfile, type OnnxMeta } from './peer'

const args = peerArgs()
if (args.workload !== 'infer') throw new Error(`ort: only the infer workload runs on onnxruntime, got ${args.workload}`)
if (args.mode !== 'fp32') throw new Error(`ort: unknown mode '${args.mode}'; expected fp32`)
if (!args.onnx) throw new Error('ort: --onnx FILE (written by ferrite.mts --workload export) is required')
const threads = args.threads
if (threads === undefined || !Number.isInteger(threads) || threads < 1) throw new Error(`ort: --threads must be a positive integer, got ${threads}`)
const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'))
report({ event: 'ready', version: `onnxruntime-node ${version} (graph optimisation 'all', sequential execution, ${ort.env.versions.common} runtime)`, threads, rssKb: rssKb() })

const files = onnxFiles(args.onnx)
const meta = JSON.parse(readFileSync(files.meta, 'utf8')) as OnnxMeta
const model = readFileSync(files.onnx)
const options: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
}
const session = await ort.InferenceSession.create(model, options)
const input = new ort.Tensor('float32', readFloats(files.input), meta.inputShape)
if (input.dims[0] !== args.batch) throw new Error(`ort: ${files.onnx} was exported for batch ${input.dims[0]}, not ${args.batch}`)
const feeds = { [session.inputNames[0]]: input }
const run = () => session.run(feeds)

const output = (await run())[session.outputNames[0]]
const check = relativeError(output.data as Float32Array, readFloats(files.output))
report({ event: 'check', model: args.model, batch: args.batch, ...check })
if (!(check.relative <= CHECK_TOLERANCE)) {
  throw new Error(`ort: ${args.model}'s output differs from Ferrite's eval output by ${check.relative} of its magnitude (largest |difference| ${check.maxAbsDiff}, tolerance ${CHECK_TOLERANCE}); the exported graph is not the model`)
}

const m = await measure(run, args)
report({ event: 'model', workload: 'infer', model: args.model, mode: args.mode, batch: args.batch, backend: 'cpu', ...m, imagesPerSecond: (args.batch * 1000) / m.medianMs })
await session.release()
if (args.profile) report({ event: 'profile', model: args.model, mode: args.mode, batch: args.batch, ...(await profileSession(profileRuns(m.medianMs, args))) })
report({ event: 'done', peakRssKb: peakRssKb() })

function readFloats(path: string): Float32Array {
  const bytes = readFileSync(path)
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
}

/** One event of onnxruntime's profile (Chrome trace format): `dur` and `ts` in µs. */
interface TraceEvent {
  cat: string
  name: string
  ts: number
  dur: number
  args?: { op_name?: string }
}

/**
 * `runs` calls on a second session with onnxruntime's profiler on (its JSON trace of every node's
 * kernel time), after one call left out: node times summed by operator type, as onnxruntime runs
 * them after its graph optimisations (a Conv there may carry the batch norm folded into it and a
 * fused activation; Reorder* convert to and from its blocked NCHWc layout). `totalMs` is its
 * `model_run` time per call.
 */
async function profileSession(runs: number): Promise<LayerProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-ort-profile-'))
  try {
    const profiled = await ort.InferenceSession.create(model, { ...options, enableProfiling: true, profileFilePrefix: join(dir, 'ort') })
    for (let i = 0; i <= runs; i++) await profiled.run(feeds)
    profiled.endProfiling()
    await profiled.release()
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.json'))
    if (!file) throw new Error(`ort: the profiler wrote no trace into ${dir}`)
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[]
    const calls = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts)
    if (calls.length !== runs + 1) throw new Error(`ort: the profile has ${calls.length} model_run events, expected ${runs + 1}`)
    const timed = calls.slice(1)
    const nodes = events.filter((e) => e.cat === 'Node' && e.ts >= timed[0].ts && e.name.endsWith('_kernel_time'))
    return {
      runs,
      totalMs: timed.reduce((sum, e) => sum + e.dur, 0) / 1000 / runs,
      layers: byLayerType(
        nodes.map((e) => ({ name: e.args?.op_name ?? e.name, ms: e.dur / 1000 })),
        runs,
      ),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
