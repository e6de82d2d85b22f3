// `npm run bench:compare`: Ferrite against onnxruntime-node (inference), PyTorch (CPU) and
// TensorFlow.js, in one run on one machine at each of the given thread counts: conv2d passes in
// GFLOP/s, training steps and inference (at each batch size) in images/s, where inference's time
// goes by layer type, and peak memory, each peer in processes of its own. Also the machine's FMA
// peak and the Rust-only conv figures. Training and inference run in each peer's modes (report.ts's
// PEER_MODES): Ferrite fp32 and bf16 autocast; PyTorch NCHW fp32, channels_last fp32 and bf16
// autocast + channels_last; onnxruntime fp32 on the ONNX export of Ferrite's model. Prints the
// tables and writes bench/RESULTS.md.
//
//   npm run bench:compare -- [--quick] [--threads N[,M...]] [--batches 100,1] [--budget S] [--target S]
//                            [--rounds N] [--system-python] [--peers ferrite,ort,torch,tfjs]
//                            [--workloads conv,train,infer] [--models mycnn,resnet,se-resnet,vgg11]
//                            [--modes fp32,bf16] [--torch-modes nchw-fp32,cl-fp32,cl-bf16] [--no-profile]
//                            [--no-rust] [--out FILE]
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import * as os from 'node:os'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { BATCH, CONV_PASSES, type ConvPass, type ConvShape, type LayerProfile, type OutputError } from './peer'
import {
  boundAtTimeout,
  BUSY,
  columnKey,
  fmt,
  PEER_LABELS,
  PEER_MODES,
  PEER_WORKLOADS,
  PEERS,
  percent,
  renderReport,
  type Column,
  type ConvRow,
  type Memory,
  type ModelRow,
  type Outcome,
  type PeerName,
  type Report,
} from './report'
import { runPeer, type PeerEvent } from './spawn'

const ROOT = join(import.meta.dirname, '..', '..')
/** The conv layers of the tutorial's models: in channels, out channels, height = width. */
const CONV_SHAPES: ConvShape[] = [
  { c: 3, o: 16, hw: 32 },
  { c: 16, o: 32, hw: 16 },
  { c: 64, o: 64, hw: 8 },
  { c: 128, o: 256, hw: 8 },
  { c: 256, o: 256, hw: 8 },
  { c: 512, o: 512, hw: 4 },
]
const MODELS = ['mycnn', 'resnet', 'se-resnet', 'vgg11']
const STARTUP_S = 120

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    batches: { type: 'string', default: `${BATCH},1` },
    budget: { type: 'string' },
    target: { type: 'string' },
    rounds: { type: 'string' },
    'system-python': { type: 'boolean', default: false },
    peers: { type: 'string', default: PEERS.join(',') },
    workloads: { type: 'string', default: 'conv,train,infer' },
    models: { type: 'string', default: MODELS.join(',') },
    modes: { type: 'string', default: PEER_MODES.ferrite.join(',') },
    'torch-modes': { type: 'string', default: PEER_MODES.torch.join(',') },
    'no-profile': { type: 'boolean', default: false },
    'no-rust': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench', 'RESULTS.md') },
  },
})
const threadCounts = positiveIntegers('--threads', opts.threads)
const batches = positiveIntegers('--batches', opts.batches)
const budgetS = Number(opts.budget ?? (opts.quick ? 5 : 20))
const targetS = Number(opts.target ?? (opts.quick ? 0.5 : 3))
const rounds = Number(opts.rounds ?? (opts.quick ? 1 : 3))
const workloads = new Set(opts.workloads.split(','))
const models = opts.models.split(',').filter(Boolean)
const unknown = models.filter((m) => !MODELS.includes(m))
if (unknown.length > 0) {
  log(`--models: unknown ${unknown.join(', ')}; expected some of ${MODELS.join(', ')}`)
  process.exit(2)
}
const unknownPeers = opts.peers.split(',').filter((p) => p && !PEERS.includes(p as PeerName))
if (unknownPeers.length > 0) {
  log(`--peers: unknown ${unknownPeers.join(', ')}; expected some of ${PEERS.join(', ')}`)
  process.exit(2)
}
const modes: Record<PeerName, string[]> = {
  ferrite: chosenModes('--modes', opts.modes, 'ferrite'),
  ort: [...PEER_MODES.ort],
  torch: chosenModes('--torch-modes', opts['torch-modes'], 'torch'),
  tfjs: [...PEER_MODES.tfjs],
}
/** The ONNX files that ort.mts runs, written by ferrite.mts's `export`; removed at exit. */
const exportDir = mkdtempSync(join(os.tmpdir(), 'ferrite-bench-onnx-'))
process.on('exit', () => rmSync(exportDir, { recursive: true, force: true }))

const report: Report = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  command: ['npm run bench:compare', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  quick: opts.quick,
  budgetS,
  targetS,
  rounds,
  threads: threadCounts,
  batches,
  machine: describeMachine(),
  load: { average: [os.loadavg()[0], 0], busy: [await busyFraction(), undefined] },
  selected: PEERS.filter((p) => opts.peers.split(',').includes(p)),
  modes,
  peers: {},
  skipped: {},
  notes: [],
  conv: [],
  models: [],
}
log(`Ferrite vs ${report.selected.filter((p) => p !== 'ferrite').map((p) => PEER_LABELS[p]).join(' vs ')}: ${report.machine.cpu}, ${report.machine.cores} cores, SIMD ${report.machine.simd}, ${threadCounts.join(' and ')} threads, budget ${budgetS} s per measurement`)
log(`modes: ${report.selected.map((p) => `${PEER_LABELS[p]} ${modes[p].join(', ')}`).join('; ')}`)
if ((report.load.busy[0] ?? 0) > BUSY) log(`note: other processes keep ${percent(report.load.busy[0])} of the CPUs busy; figures taken under load are not final`)

const commands = peerCommands()
/** Ferrite's peer, which also writes the ONNX files, whether or not Ferrite is among the peers. */
const exportCommand = tsPeer('ferrite.mts')
/** Each model's ONNX export by batch (`model:batch`): its path, or why there is none. */
const exports = new Map<string, Exported>()
if (!opts['no-rust']) measureFmaPeak()
for (const threads of threadCounts) {
  if (!opts['no-rust'] && workloads.has('conv')) rustConv(threads)
  if (workloads.has('conv')) await convWorkloads(threads)
  for (const model of models) {
    if (workloads.has('train')) await modelWorkload('train', model, threads, BATCH)
    if (workloads.has('infer')) for (const batch of batches) await modelWorkload('infer', model, threads, batch)
  }
}
if (!opts['no-rust']) measureFmaPeak()
report.load.average[1] = os.loadavg()[0]
report.load.busy[1] = await busyFraction()

const markdown = renderReport(report)
console.log(`\n${markdown}`)
writeFileSync(opts.out, markdown)
mkdirSync(join(ROOT, 'bench', '.results'), { recursive: true })
writeFileSync(join(ROOT, 'bench', '.results', 'compare.json'), JSON.stringify(report, null, 2))
log(`wrote ${relative(process.cwd(), opts.out)} and bench/.results/compare.json`)

/** A model's ONNX export for one batch size, with `ft.inference.optimize`'s check where it ran; or why there is none. */
type Exported = { onnx: string; optimized?: OutputError } | { failure: string }

/** A comma-separated list of distinct positive integers, in the order given. */
function positiveIntegers(flag: string, list: string): number[] {
  const values = [...new Set(list.split(',').filter(Boolean).map(Number))]
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    log(`${flag}: expected a comma-separated list of positive integers, got '${list}'`)
    process.exit(2)
  }
  return values
}

/** The environment of a peer at `threads` threads: every peer gets every pin; PYTHONDONTWRITEBYTECODE keeps __pycache__ out of bench/compare. */
function envFor(threads: number): NodeJS.ProcessEnv {
  const pinned = String(threads)
  return { ...process.env, RAYON_NUM_THREADS: pinned, OMP_NUM_THREADS: pinned, MKL_NUM_THREADS: pinned, PYTHONDONTWRITEBYTECODE: '1' }
}

function tsPeer(file: string): string[] {
  return [process.execPath, '--import', 'tsx', join(ROOT, 'bench', 'compare', file)]
}

/** The command line that starts each selected peer; PyTorch's python comes from the setup step. */
function peerCommands(): Partial<Record<PeerName, string[]>> {
  const wanted = new Set(report.selected)
  const commands: Partial<Record<PeerName, string[]>> = {}
  if (wanted.has('ferrite')) commands.ferrite = tsPeer('ferrite.mts')
  if (wanted.has('tfjs')) commands.tfjs = tsPeer('tfjs.mts')
  if (wanted.has('ort')) commands.ort = tsPeer('ort.mts')
  if (wanted.has('torch')) {
    const python = pythonWithTorch()
    if ('python' in python) commands.torch = [python.python, join(ROOT, 'bench', 'compare', 'torch_bench.py')]
    else {
      report.skipped.torch = python.skipped
      log(`PyTorch skipped: ${python.skipped}`)
    }
  }
  return commands
}

function pythonWithTorch(): { python: string } | { skipped: string } {
  if (opts['system-python']) {
    const probe = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' })
    return probe.status === 0 ? { python: 'python3' } : { skipped: `--system-python: python3 cannot import torch (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()})` }
  }
  log('PyTorch: bench/compare/setup.sh (creates or reuses bench/.venv)')
  const setup = spawnSync('bash', [join(ROOT, 'bench', 'compare', 'setup.sh')], { stdio: 'inherit' })
  if (setup.status !== 0) {
    return { skipped: `torch could not be installed into bench/.venv (bench/compare/setup.sh exit ${setup.status ?? setup.error?.message}); run \`npm run bench:compare:setup\` to see why, or pass --system-python to use python3's torch` }
  }
  return { python: join(ROOT, 'bench', '.venv', 'bin', 'python') }
}

/** The binding-free conv figures at `threads` threads, from the core crate's own benchmark. */
function rustConv(threads: number) {
  // The Rust benchmark's default list has more layers (ResNet's stride-2 ones); these peers run these.
  const shapes = ['--shapes', CONV_SHAPES.map(({ c, o, hw }) => `${c}x${o}x${hw}`).join(',')]
  const conv = cargoBench('conv', [...shapes, ...(opts.quick ? ['--quick'] : [])], threads)
  for (const row of conv?.rows ?? []) convRow(row, row.pass, threads).rust = { gflops: row.gflops, medianMs: row.medianMs }
}

/**
 * Measures the FMA peak, keeping the best of this and earlier measurements: it runs at the start and
 * again at the end, so that a neighbour's load during one of them does not halve the peak that the
 * conv figures are set against.
 */
function measureFmaPeak() {
  // It measures one thread and the pool's threads: the most threads of the run.
  const fma = cargoBench('fma_peak', [], Math.max(...threadCounts))
  if (!fma) return
  const previous = report.fma
  report.fma = {
    ...fma,
    peakGflops: Math.max(fma.peakGflops, previous?.peakGflops ?? 0),
    peakGflopsOneThread: Math.max(fma.peakGflopsOneThread, previous?.peakGflopsOneThread ?? 0),
    measurements: (previous?.measurements ?? 0) + 1,
  }
}

function cargoBench(name: string, args: string[], threads: number): any {
  log(`Rust: cargo bench -p ferrite-core --bench ${name} (${threads} threads)`)
  const run = spawnSync('cargo', ['bench', '-p', 'ferrite-core', '--bench', name, '--', '--json', ...args], { cwd: ROOT, env: envFor(threads), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const line = run.stdout?.split('\n').find((l) => l.startsWith('{'))
  if (run.status !== 0 || !line) {
    report.notes.push(`The Rust benchmark \`${name}\` did not run (cargo exit ${run.status ?? run.error?.message}).`)
    return undefined
  }
  return JSON.parse(line)
}

function convRow(shape: ConvShape, pass: string, threads: number): ConvRow {
  let row = report.conv.find((r) => r.c === shape.c && r.o === shape.o && r.hw === shape.hw && r.pass === pass && r.threads === threads)
  if (!row) {
    row = { c: shape.c, o: shape.o, hw: shape.hw, pass, threads, outcomes: {} }
    report.conv.push(row)
  }
  return row
}

/** All conv layers and passes, a process per peer and round; a peer stopped on one item starts again after it. */
async function convWorkloads(threads: number) {
  const items = CONV_SHAPES.flatMap((shape) => CONV_PASSES.map((pass) => ({ ...shape, pass })))
  for (const shape of CONV_SHAPES) for (const pass of CONV_PASSES) convRow(shape, pass, threads)
  for (let round = 0; round < rounds; round++) {
    for (const peer of peersInRound(round)) {
      let remaining = items
      while (remaining.length > 0) {
        const spec = remaining.map(({ c, o, hw, pass }) => `${c}x${o}x${hw}:${pass}`).join(',')
        const run = await startPeer(peer, ['--workload', 'conv', '--items', spec], `conv (${remaining.length} layer passes)${settingLabel(threads)}${roundLabel(round)}`, threads)
        const done = new Set<string>()
        for (const e of run.events.filter((e) => e.event === 'conv')) {
          const row = convRow(e as unknown as ConvShape, e.pass, threads)
          row.outcomes[peer] = best(row.outcomes[peer], measured(e), round)
          if (peer === 'ferrite' && row.outcomes[peer].kind === 'measured' && row.outcomes[peer].value === e.gflops) row.ferriteMs = e.medianMs
          done.add(`${e.c}x${e.o}x${e.hw}:${e.pass}`)
        }
        remaining = remaining.filter(({ c, o, hw, pass }) => !done.has(`${c}x${o}x${hw}:${pass}`))
        if (remaining.length === 0) break
        const [stuck, ...rest] = remaining
        if (run.killedAfterS !== undefined) {
          const row = convRow(stuck, stuck.pass, threads)
          row.outcomes[peer] = best(row.outcomes[peer], { kind: 'timeout', seconds: run.killedAfterS, bound: boundAtTimeout(run.killedAfterS, stuck) }, round)
          log(`  ${PEER_LABELS[peer]} conv ${describeItem(stuck)}: nothing in ${run.killedAfterS.toFixed(0)} s, stopped`)
          remaining = rest
        } else {
          for (const item of remaining) {
            const row = convRow(item, item.pass, threads)
            row.outcomes[peer] = best(row.outcomes[peer], failedOutcome(peer, `conv ${describeItem(item)}`, run.failure), round)
          }
          remaining = []
        }
      }
    }
  }
}

async function modelWorkload(workload: 'train' | 'infer', model: string, threads: number, batch: number) {
  const row: ModelRow = { workload, model, threads, batch, outcomes: {}, memory: {} }
  report.models.push(row)
  const setting = `${workload} ${model}${workload === 'infer' ? `, batch ${batch}` : ''}${settingLabel(threads)}`
  for (let round = 0; round < rounds; round++) {
    for (const column of columnsInRound(round, workload)) {
      const { peer, mode } = column
      const key = columnKey(column)
      const label = PEER_MODES[peer].length > 1 ? ` ${mode}` : ''
      const what = `${setting}${label}${roundLabel(round)}`
      let extra: string[] = []
      if (peer === 'ort') {
        const exported = exportFor(model, batch)
        if ('failure' in exported) {
          row.outcomes[key] = best(row.outcomes[key], failedOutcome(peer, setting, `the ONNX export failed: ${exported.failure}`), round)
          continue
        }
        extra = ['--onnx', exported.onnx]
      }
      if (workload === 'infer' && round === 0 && profiled(column)) extra.push('--profile')
      let startKb: number | undefined
      const run = await startPeer(peer, ['--workload', workload, '--model', model, '--mode', mode, '--batch', String(batch), ...extra], what, threads, (e) => {
        if (e.event === 'ready') startKb = e.rssKb
      })
      for (const e of run.events) {
        if (e.event === 'check') row.checks = { ...row.checks, ort: worse(row.checks?.ort, e as unknown as OutputError) }
        if (e.event === 'profile') {
          const profile: LayerProfile = { runs: e.runs, totalMs: e.totalMs, layers: e.layers, ...(e.optimizedMs === undefined ? {} : { optimizedMs: e.optimizedMs }) }
          row.profiles = { ...row.profiles, [key]: profile }
        }
      }
      const result = run.events.find((e) => e.event === 'model')
      let outcome: Outcome
      if (result) outcome = measured(result)
      else if (run.killedAfterS !== undefined) outcome = { kind: 'timeout', seconds: run.killedAfterS, bound: boundAtTimeout(run.killedAfterS, undefined, batch) }
      else outcome = failedOutcome(peer, what, run.failure)
      row.outcomes[key] = best(row.outcomes[key], outcome, round)
      const peak = row.memory[key]?.peakKb ?? 0
      if (run.peakRssKb && run.peakRssKb > peak) row.memory[key] = { peakKb: run.peakRssKb, startKb } satisfies Memory
    }
  }
  const exported = exports.get(`${model}:${batch}`)
  if (exported && 'onnx' in exported && exported.optimized) row.checks = { ...row.checks, optimized: exported.optimized }
}

/** Whether a column gets a profiling pass: onnxruntime, and Ferrite in float32 (onnxruntime's precision), else its first mode. */
function profiled({ peer, mode }: Column): boolean {
  if (opts['no-profile']) return false
  if (peer === 'ort') return true
  return peer === 'ferrite' && mode === (modes.ferrite.includes('fp32') ? 'fp32' : modes.ferrite[0])
}

/** The larger of two output errors, NaN (a NaN in an output) the largest. */
function worse(a: OutputError | undefined, b: OutputError): OutputError {
  if (!a || Number.isNaN(b.relative)) return b
  return b.relative > a.relative ? b : a
}

/**
 * The ONNX file of `model` for `batch` images, with its input and Ferrite's output beside it, written
 * once by ferrite.mts's `export` (the same model as its `infer`) and reused by every ort.mts run.
 */
function exportFor(model: string, batch: number): Exported {
  const key = `${model}:${batch}`
  const known = exports.get(key)
  if (known) return known
  const onnx = join(exportDir, `${model}-${batch}.onnx`)
  log(`Ferrite: ONNX export of ${model} for batch ${batch}`)
  const threads = Math.max(...threadCounts)
  const run = spawnSync(exportCommand[0], [...exportCommand.slice(1), '--workload', 'export', '--model', model, '--batch', String(batch), '--onnx', onnx], {
    cwd: ROOT,
    env: envFor(threads),
    encoding: 'utf8',
    timeout: STARTUP_S * 1000 + 2 * budgetS * 1000,
  })
  const exported = run.stdout
    ?.split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as PeerEvent)
    .find((e) => e.event === 'export')
  let result: Exported
  if (run.status === 0 && exported) {
    result = { onnx, ...(exported.optimized ? { optimized: exported.optimized as OutputError } : {}) }
    log(`  ${fmt(exported.bytes / 1024)} KiB${exported.optimized ? `; ft.inference.optimize against the eval forward: ${exported.optimized.relative.toExponential(1)} relative` : ''}`)
  } else {
    const reason = `exit ${run.status ?? run.signal ?? run.error?.message}: ${(run.stderr ?? '').trim().split('\n').slice(-5).join('\n')}`
    result = { failure: reason }
    log(`  export failed: ${reason}`)
  }
  exports.set(key, result)
  return result
}

/**
 * The peers of one round that run conv passes. Ferrite and PyTorch run every round, taking turns at
 * going first so that a busy minute on this shared machine does not always land on the same one;
 * TF.js, orders of magnitude behind and slow to measure, runs in the first round only.
 */
function peersInRound(round: number): PeerName[] {
  const conv = selectedPeers().filter((p) => PEER_WORKLOADS[p].includes('conv'))
  const repeated = conv.filter((p) => p !== 'tfjs')
  return [...(round % 2 === 0 ? repeated : repeated.reverse()), ...(round === 0 ? conv.filter((p) => p === 'tfjs') : [])]
}

/** The peers of one round that run `workload`, each in every one of its modes: every other round runs them in reverse order, TF.js last. */
function columnsInRound(round: number, workload: 'train' | 'infer'): Column[] {
  const inOrder = selectedPeers()
    .filter((p) => p !== 'tfjs' && PEER_WORKLOADS[p].includes(workload))
    .flatMap((peer) => modes[peer].map((mode) => ({ peer, mode })))
  const tfjs = round === 0 && commands.tfjs ? modes.tfjs.map((mode) => ({ peer: 'tfjs' as const, mode })) : []
  return [...(round % 2 === 0 ? inOrder : inOrder.reverse()), ...tfjs]
}

/** A comma-separated list of a peer's modes (at least one), checked against PEER_MODES and kept in its order. */
function chosenModes(flag: string, list: string, peer: PeerName): string[] {
  const asked = list.split(',').filter(Boolean)
  const unknownModes = asked.filter((m) => !PEER_MODES[peer].includes(m))
  if (unknownModes.length > 0 || asked.length === 0) {
    log(`${flag}: ${asked.length === 0 ? 'no mode given' : `unknown ${unknownModes.join(', ')}`}; expected some of ${PEER_MODES[peer].join(', ')}`)
    process.exit(2)
  }
  return PEER_MODES[peer].filter((m) => asked.includes(m))
}

function roundLabel(round: number): string {
  return rounds > 1 ? `, round ${round + 1} of ${rounds}` : ''
}

/** ", 2 threads" in the log, where the run has more than one thread count. */
function settingLabel(threads: number): string {
  return threadCounts.length > 1 ? `, ${threads} thread${threads === 1 ? '' : 's'}` : ''
}

/**
 * A peer's figure over rounds: the best measured one, with each round's figure kept beside it by
 * round (NaN where that round measured nothing), so rounds can be paired across peers.
 */
function best(previous: Outcome | undefined, next: Outcome, round: number): Outcome {
  const values = Array.from({ length: round + 1 }, (_, i) => (previous?.kind === 'measured' ? (previous.rounds[i] ?? Number.NaN) : Number.NaN))
  values[round] = next.kind === 'measured' ? next.value : Number.NaN
  if (next.kind === 'measured' && (previous?.kind !== 'measured' || next.value > previous.value)) return { ...next, rounds: values }
  if (previous?.kind === 'measured') return { ...previous, rounds: values }
  return previous ?? next
}

function selectedPeers(): PeerName[] {
  return PEERS.filter((p) => commands[p])
}

async function startPeer(peer: PeerName, args: string[], what: string, threads: number, onEvent: (e: PeerEvent) => void = () => {}) {
  log(`${PEER_LABELS[peer]}: ${what}`)
  // PyTorch and onnxruntime take their thread count as an argument; Ferrite reads RAYON_NUM_THREADS.
  const threadArgs = peer === 'torch' || peer === 'ort' ? ['--threads', String(threads)] : []
  const command = [...commands[peer]!, ...args, ...threadArgs, '--budget', String(budgetS), '--target', String(targetS)]
  return runPeer(command, { env: envFor(threads), cwd: ROOT, silenceS: 2 * budgetS + 10, startupS: STARTUP_S }, (e) => {
    if (e.event === 'ready') {
      const info = (report.peers[peer] ??= { version: e.version, threads: [] as number[], ...(e.features ? { features: e.features } : {}), ...(e.inference ? { inference: e.inference } : {}) })
      if (!info.threads.includes(e.threads)) info.threads.push(e.threads)
      const note = `${PEER_LABELS[peer]} runs ${e.threads} threads, not the ${threads} asked for.`
      if (peer !== 'tfjs' && e.threads !== threads && !report.notes.includes(note)) report.notes.push(note)
    }
    if (e.event === 'check') log(`  output against Ferrite's eval output: ${e.relative.toExponential(1)} relative (largest |difference| ${e.maxAbsDiff.toExponential(1)})`)
    if (e.event === 'profile') log(`  profile: ${e.layers.slice(0, 4).map((l: { name: string; ms: number }) => `${l.name} ${fmt(l.ms)} ms`).join(', ')} of ${fmt(e.totalMs)} ms`)
    if (e.event === 'conv') log(`  ${describeItem(e as unknown as ConvShape & { pass: string })}: ${fmt(e.gflops)} GFLOP/s (${e.backend}, ${e.runs} runs)`)
    if (e.event === 'model') log(`  ${fmt(e.imagesPerSecond)} images/s (${e.backend}, ${e.runs} runs)`)
    onEvent(e)
  })
}

function measured(e: PeerEvent): Outcome {
  const value = e.event === 'conv' ? e.gflops : e.imagesPerSecond
  return { kind: 'measured', value, runs: e.runs, seconds: e.seconds, backend: e.backend, rounds: [value] }
}

function failedOutcome(peer: PeerName, what: string, failure: string | undefined): Outcome {
  const reason = failure ?? 'ended without reporting'
  // Node ends a crash with its version line and Python with the error; take the last `...Error` line.
  const lines = reason.split('\n').map((l) => l.trim())
  const summary = [...lines].reverse().find((l) => /^\w*Error\b/.test(l)) ?? lines[lines.length - 1]
  const note = `${PEER_LABELS[peer]} ${what} failed: ${summary.trim()}`
  // A failed export fails onnxruntime's column in every round alike: one note says it.
  if (!report.notes.includes(note)) report.notes.push(note)
  log(`  ${PEER_LABELS[peer]} ${what} failed:\n${reason}`)
  return { kind: 'failed', reason }
}

function describeItem({ c, o, hw, pass }: ConvShape & { pass: ConvPass | string }): string {
  return `${c}->${o} @ ${hw}x${hw} ${pass}`
}

function describeMachine(): Report['machine'] {
  const cpuinfo = readText('/proc/cpuinfo')
  const flags = new Set((/^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/))
  const simd = ['avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'avx2', 'fma', 'asimd', 'sve'].filter((f) => flags.has(f))
  const bf16 = cpuinfo ? Object.fromEntries(['avx512_bf16', 'amx_bf16', 'amx_tile'].map((f) => [f, flags.has(f)])) : {}
  return {
    cpu: os.cpus()[0]?.model.trim() || 'unknown CPU',
    cores: os.availableParallelism(),
    simd: simd.length > 0 ? `${simd.join(' ')} (/proc/cpuinfo)` : 'unknown',
    bf16,
    os: `${os.type()} ${os.release()} ${process.arch}`,
    node: process.version,
    ferrite: ferriteRevision(),
  }
}

function ferriteRevision(): string {
  const { version } = JSON.parse(readText(join(ROOT, 'package.json')))
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()
    return `ferrite ${version} at ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' with uncommitted changes' : ''}`
  } catch {
    return `ferrite ${version}`
  }
}

/** Share of all CPUs busy over one second, from /proc/stat (undefined where there is none). */
async function busyFraction(): Promise<number | undefined> {
  // user nice system idle iowait irq softirq steal: the first eight fields of the `cpu` line.
  const sample = () => /^cpu\s+(.*)$/m.exec(readText('/proc/stat'))?.[1].split(/\s+/).slice(0, 8).map(Number)
  const before = sample()
  await sleep(1000)
  const after = sample()
  if (!before || !after) return undefined
  const delta = after.map((v, i) => v - before[i])
  const total = delta.reduce((a, b) => a + b, 0)
  return total > 0 ? 1 - (delta[3] + delta[4]) / total : undefined
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function log(message: string) {
  console.error(`[bench:compare] ${message}`)
}
