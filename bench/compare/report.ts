// The comparison's tables: each peer's figure and Ferrite's ratio to it, as Markdown for the
// terminal and bench/RESULTS.md alike.
import { BATCH, convFlops, type ConvShape, type LayerProfile, type OutputError, type Workload } from './peer'

export type PeerName = 'ferrite' | 'ort' | 'torch' | 'tfjs'
export const PEER_LABELS: Record<PeerName, string> = { ferrite: 'Ferrite', ort: 'onnxruntime', torch: 'PyTorch', tfjs: 'TF.js' }
/** Every peer, in column order: Ferrite, then onnxruntime (inference's headline ratio), PyTorch, TF.js. */
export const PEERS: PeerName[] = ['ferrite', 'ort', 'torch', 'tfjs']
/** The workloads each peer runs: onnxruntime is an inference runtime only. */
export const PEER_WORKLOADS: Record<PeerName, readonly Workload[]> = {
  ferrite: ['conv', 'train', 'infer'],
  ort: ['infer'],
  torch: ['conv', 'train', 'infer'],
  tfjs: ['conv', 'train', 'infer'],
}

/**
 * How each peer can run the training and inference workloads, its default first (conv passes run
 * in the default mode only). Ferrite: float32, or bf16 autocast. PyTorch: NCHW float32 eager (its
 * default), channels_last float32, and autocast bf16 with channels_last (its fastest CPU mode).
 */
export const PEER_MODES: Record<PeerName, readonly string[]> = {
  ferrite: ['fp32', 'bf16'],
  ort: ['fp32'],
  torch: ['nchw-fp32', 'cl-fp32', 'cl-bf16'],
  tfjs: ['fp32'],
}
const MODE_LABELS: Record<string, string> = {
  fp32: 'fp32',
  bf16: 'bf16',
  'nchw-fp32': 'NCHW fp32',
  'cl-fp32': 'channels_last fp32',
  'cl-bf16': 'bf16 + channels_last',
}

/** A peer run in one mode: a column of the model tables, keyed `peer:mode` in `ModelRow`. */
export interface Column {
  peer: PeerName
  mode: string
}

export function columnKey({ peer, mode }: Column): string {
  return `${peer}:${mode}`
}

/** "Ferrite bf16", "PyTorch channels_last fp32"; a peer with one mode is just its name. */
function columnLabel(r: Report, { peer, mode }: Column): string {
  return r.modes[peer].length > 1 || PEER_MODES[peer].length > 1 ? `${PEER_LABELS[peer]} ${MODE_LABELS[mode] ?? mode}` : PEER_LABELS[peer]
}

/** One peer's figure for one workload (GFLOP/s or images/s), or why there is none. */
export type Outcome =
  /** `value` is the best of `rounds`: each round's figure, by round, NaN where a round measured nothing. */
  | { kind: 'measured'; value: number; runs: number; seconds: number; backend: string; rounds: number[] }
  /** Stopped before one call finished; `bound` is the figure a call finishing right then would have given. */
  | { kind: 'timeout'; seconds: number; bound: number }
  | { kind: 'failed'; reason: string }
  | { kind: 'skipped'; reason: string }

export type Outcomes = Partial<Record<PeerName, Outcome>>

export interface Memory {
  peakKb: number
  /** Resident set once the peer had imported its library, before any tensor. */
  startKb?: number
}

export interface ConvRow extends ConvShape {
  pass: string
  threads: number
  outcomes: Outcomes
  /** The same layer and pass on the core crate, without the binding (bench/rust/conv.rs). */
  rust?: { gflops: number; medianMs: number }
  /** Ferrite's median ms from TypeScript, to set against `rust`. */
  ferriteMs?: number
}

export interface ModelRow {
  workload: 'train' | 'infer'
  model: string
  threads: number
  /** Images per step or call. */
  batch: number
  /** By column, `columnKey({ peer, mode })`. */
  outcomes: Record<string, Outcome>
  memory: Record<string, Memory>
  /** Outputs checked against Ferrite's eval forward: onnxruntime's on the exported graph (the worst of its runs), and `ft.inference.optimize`'s where it exists. */
  checks?: { ort?: OutputError; optimized?: OutputError }
  /** Where an inference call's time goes, by column (`--profile`, first round). */
  profiles?: Record<string, LayerProfile>
}

export interface PeerInfo {
  version: string
  /** The thread counts the peer reported running, one per `--threads` value it ran at. */
  threads: number[]
  /** What the peer itself detects for bf16 (PyTorch: its AVX512-BF16 and AMX checks, oneDNN's bf16 support). */
  features?: Record<string, boolean | string>
  /** How Ferrite's `infer` runs the model: through `ft.inference.optimize` where the build has it, else `model.forward`. */
  inference?: string
}

export interface Report {
  date: string
  command: string
  quick: boolean
  budgetS: number
  targetS: number
  /** How many times Ferrite, onnxruntime and PyTorch each ran every workload. */
  rounds: number
  /** The thread counts of the run: every workload runs at each. */
  threads: number[]
  /** The batch sizes of inference (training and conv passes run batch 100). */
  batches: number[]
  machine: {
    cpu: string
    cores: number
    simd: string
    /** The bf16 flags of /proc/cpuinfo (avx512_bf16, amx_bf16, amx_tile), each present or not; empty off Linux. */
    bf16: Record<string, boolean>
    os: string
    node: string
    ferrite: string
  }
  /**
   * Other work on the machine, before and after this run: the 1-minute load average, and the
   * share of all CPUs busy over a second while none of this benchmark ran.
   */
  load: { average: [number, number]; busy: [number | undefined, number | undefined] }
  /** The peers asked for, in column order; `peers` has those that started, `skipped` why others did not. */
  selected: PeerName[]
  /** The modes each peer ran the training and inference workloads in, in column order. */
  modes: Record<PeerName, string[]>
  peers: Partial<Record<PeerName, PeerInfo>>
  skipped: Partial<Record<PeerName, string>>
  /** The best of `measurements` runs of bench/rust/fma_peak.rs (at the start and at the end). */
  fma?: { peakGflops: number; peakGflopsOneThread: number; isa: string; threads: number; measurements: number }
  notes: string[]
  conv: ConvRow[]
  models: ModelRow[]
}

/** Share of the CPUs that other processes may keep busy before figures count as taken under load. */
export const BUSY = 0.1

export function percent(share: number | undefined): string {
  return share === undefined ? '?' : `${Math.round(100 * share)} %`
}

const MODEL_LABELS: Record<string, string> = { mycnn: 'MyCNN', resnet: 'ResNet [2,2,2]', 'se-resnet': 'SE-ResNet [2,2,2]', vgg11: 'VGG11' }

export function renderReport(r: Report): string {
  const sections = [
    [`# Ferrite against ${listed(compared(r).map((p) => FULL_NAMES[p]))} on the CPU`],
    [`${r.date}, \`${r.command}\`${r.quick ? ' (quick run: short timing, not final figures)' : ''}.`],
    underLoad(r),
    machineLines(r),
    ...r.threads.map((threads) => convSection(r, threads)),
    ...r.threads.map((threads) => modelSection(r, 'train', threads, BATCH)),
    ...r.threads.flatMap((threads) => r.batches.map((batch) => modelSection(r, 'infer', threads, batch))),
    memorySection(r),
    profileSection(r),
    standouts(r),
    methodLines(r),
  ]
  return `${sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n')}\n`
}

const FULL_NAMES: Record<PeerName, string> = { ferrite: 'Ferrite', ort: 'onnxruntime', torch: 'PyTorch', tfjs: 'TensorFlow.js' }

/** The peers the run set against Ferrite: onnxruntime only where inference ran. */
function compared(r: Report): PeerName[] {
  return others(r).filter((p) => p !== 'ort' || r.models.some((m) => m.workload === 'infer'))
}

/** "a", "a and b", "a, b and c". */
function listed(names: string[]): string {
  return names.length < 2 ? (names[0] ?? 'nothing') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}

function underLoad(r: Report): string[] {
  const [before, after] = r.load.busy
  if ((before ?? 0) <= BUSY && (after ?? 0) <= BUSY) return []
  return [
    `**Taken under load:** other processes kept ${percent(before)} of the CPUs busy just before this run and ${percent(after)} just after (1-minute load average ${r.load.average[0].toFixed(2)} and ${r.load.average[1].toFixed(2)} on ${r.machine.cores} cores), so these figures are not final. Shared cores hurt PyTorch and onnxruntime more than Ferrite: an OpenMP region waits for its slowest thread, so one the OS has parked stalls the rest, and onnxruntime's pool threads spin while they wait for work, taking cycles from the threads that have it, where rayon's work stealing hands the parked thread's work to the running ones. \`--threads 1\` compares the kernels more fairly on a busy machine.`,
  ]
}

/** The peers other than Ferrite that this run included (running `workload`, where given), each with a figure column and a ratio column. */
function others(r: Report, workload?: Workload): PeerName[] {
  return r.selected.filter((p) => p !== 'ferrite' && (workload === undefined || PEER_WORKLOADS[p].includes(workload)))
}

function peerHeaders(r: Report, workload: Workload): string[] {
  return others(r, workload).flatMap((p) => [PEER_LABELS[p], `Ferrite ÷ ${PEER_LABELS[p]}`])
}

/** ", 2 threads" after a section's title, where the run had more than one thread count. */
function threadsLabel(r: Report, threads: number): string {
  return r.threads.length > 1 ? `, ${threads} thread${threads === 1 ? '' : 's'}` : ''
}

function machineLines(r: Report): string[] {
  const peerThreads = PEERS.filter((p) => r.peers[p]).map((p) => `${PEER_LABELS[p]} ${r.peers[p]!.threads.join(', ')}`)
  const ort = r.selected.includes('ort') ? ', intraOpNumThreads for onnxruntime (interOpNumThreads 1, sequential execution)' : ''
  const lines = [
    `- **Machine:** ${r.machine.cpu}, ${r.machine.cores} logical cores, SIMD ${r.machine.simd}; ${r.machine.os}; Node ${r.machine.node}.`,
    `- **Threads:** ${r.threads.join(' and ')} for every multi-threaded peer${r.threads.length > 1 ? ', each workload at each' : ''} (RAYON_NUM_THREADS for Ferrite${ort}, torch.set_num_threads and OMP_NUM_THREADS for PyTorch); as reported by each: ${peerThreads.join('; ')}.${r.selected.includes('tfjs') ? ' TF.js is single-threaded: its cpu backend is plain JS and its wasm backend finds no thread support in Node.' : ''}`,
  ]
  if (r.fma) {
    const onOne = r.fma.threads > 1 ? ` on ${r.fma.threads} threads with ${r.fma.isa}, ${fmt(r.fma.peakGflopsOneThread)} on one` : ` on one thread with ${r.fma.isa}`
    const best = r.fma.measurements > 1 ? `, the best of ${r.fma.measurements} measurements (start and end of the run)` : ''
    lines.push(`- **fp32 FMA peak** (register-only FMA loop, bench/rust/fma_peak.rs): ${fmt(r.fma.peakGflops)} GFLOP/s${onOne}${best}.`)
  }
  lines.push(bf16Line(r))
  const versions = PEERS.filter((p) => p !== 'ferrite' && r.peers[p]).map((p) => r.peers[p]!.version)
  lines.push(`- **Versions:** ${[r.machine.ferrite, ...versions].join('; ')}.`)
  const inference = r.peers.ferrite?.inference
  if (inference && r.models.some((m) => m.workload === 'infer')) lines.push(`- **Ferrite's inference:** ${inference}${inference.includes('optimize') ? '' : ' (this build has no `ft.inference`)'}.`)
  for (const p of PEERS) if (r.skipped[p]) lines.push(`- **${PEER_LABELS[p]} skipped:** ${r.skipped[p]}`)
  for (const note of r.notes) lines.push(`- ${note}`)
  return lines
}

function convSection(r: Report, threads: number): string[] {
  const convRows = r.conv.filter((row) => row.threads === threads)
  if (convRows.length === 0) return []
  const rows = convRows.map((row) => {
    const ferrite = row.outcomes.ferrite
    const ffi = row.rust && row.ferriteMs !== undefined ? `${signed(row.ferriteMs - row.rust.medianMs)}` : ''
    // The FMA peak is measured on one thread and on the run's most threads.
    const peak = threads === 1 ? r.fma?.peakGflopsOneThread : threads === r.fma?.threads ? r.fma.peakGflops : undefined
    return [
      `${row.c}→${row.o} @ ${row.hw}×${row.hw}`,
      row.pass,
      cell(ferrite, 'call'),
      row.rust ? fmt(row.rust.gflops) : '',
      ffi,
      peak && ferrite?.kind === 'measured' ? `${Math.round((100 * ferrite.value) / peak)} %` : '',
      ...others(r, 'conv').flatMap((p) => [cell(row.outcomes[p], 'call', p === 'tfjs'), ratio(ferrite, row.outcomes[p])]),
    ]
  })
  return [
    `## conv2d, GFLOP/s (batch ${BATCH}, 3×3, padding 1, stride 1${threadsLabel(r, threads)}; higher is better)`,
    '',
    ...table(['layer', 'pass', 'Ferrite', 'Ferrite Rust', 'TS − Rust ms', '% of peak', ...peerHeaders(r, 'conv')], rows, 2),
    '',
    `"Ferrite" is called from TypeScript through the binding; "Ferrite Rust" is the same op on the core crate (bench/rust/conv.rs), and "TS − Rust ms" the difference of their median times: what the binding and the JS side cost per call (within noise it is zero or negative). % of peak is Ferrite (TS) against the FMA peak above${r.threads.length > 1 ? ' (its one-thread figure for one thread)' : ''}. GFLOP/s count the products of a direct convolution (kh × kw per output and input channel, padding included) for every peer alike; Ferrite runs 3×3 stride-1 layers of 128 channels and more by Winograd F(2×2, 3×3), 16 products where that count has 36, so on those layers the figure is an effective rate.`,
  ]
}

/** The CPU's bf16 instructions as /proc/cpuinfo lists them, and as each peer that reports them detects them. */
function bf16Line(r: Report): string {
  const yesNo = (features: Record<string, boolean | string>) =>
    Object.entries(features)
      .map(([name, present]) => `${name} ${typeof present === 'string' ? present : present ? 'yes' : 'no'}`)
      .join(', ')
  const cpu = Object.keys(r.machine.bf16).length > 0 ? `${yesNo(r.machine.bf16)} (/proc/cpuinfo)` : 'unknown (no /proc/cpuinfo)'
  const detected = PEERS.filter((p) => r.peers[p]?.features).map((p) => `${PEER_LABELS[p]} detects ${yesNo(r.peers[p]!.features!)}`)
  return `- **bf16 instructions:** ${cpu}${detected.length > 0 ? `; ${detected.join('; ')}` : ''}.`
}

/** The columns of the model tables: every selected peer that runs `workload`, in each of its modes, in the order of `selected`. */
function columns(r: Report, workload: Workload): Column[] {
  return r.selected.filter((peer) => PEER_WORKLOADS[peer].includes(workload)).flatMap((peer) => r.modes[peer].map((mode) => ({ peer, mode })))
}

/** Whether the run has both sides of the headline ratios against `peer` for `workload`. */
function compares(r: Report, peer: PeerName, workload: Workload): boolean {
  return r.selected.includes('ferrite') && r.selected.includes(peer) && PEER_WORKLOADS[peer].includes(workload) && r.modes.ferrite.length > 0 && r.modes[peer].length > 0
}

/**
 * A peer's fastest mode on one model row: its best measured figure over modes and rounds, and in each
 * round the fastest mode of that round (so that rounds pair across peers as single modes do).
 */
interface Fastest {
  outcome: Outcome | undefined
  /** The mode of `outcome`'s value, and of each round's figure. */
  mode?: string
  roundModes: (string | undefined)[]
}

function fastest(r: Report, row: ModelRow, peer: PeerName): Fastest {
  const entries = r.modes[peer].flatMap((mode) => {
    const o = row.outcomes[columnKey({ peer, mode })]
    return o ? [{ mode, o }] : []
  })
  const measured = entries.flatMap(({ mode, o }) => (o.kind === 'measured' ? [{ mode, o }] : []))
  if (measured.length === 0) {
    // Every mode stopped or failed: the least slow bound stands for the peer.
    const stopped = entries.flatMap(({ o }) => (o.kind === 'timeout' ? [o] : [])).sort((a, b) => b.bound - a.bound)
    return { outcome: stopped[0] ?? entries[0]?.o, roundModes: [] }
  }
  const best = measured.reduce((a, b) => (b.o.value > a.o.value ? b : a))
  const roundCount = Math.max(...measured.map(({ o }) => o.rounds.length))
  const rounds: number[] = []
  const roundModes: (string | undefined)[] = []
  for (let i = 0; i < roundCount; i++) {
    const inRound = measured.filter(({ o }) => Number.isFinite(o.rounds[i]))
    const top = inRound.length > 0 ? inRound.reduce((a, b) => (b.o.rounds[i] > a.o.rounds[i] ? b : a)) : undefined
    rounds.push(top ? top.o.rounds[i] : Number.NaN)
    roundModes.push(top?.mode)
  }
  return { outcome: { ...best.o, rounds }, mode: best.mode, roundModes }
}

/** The rows of one model table: a workload at one thread count and batch. */
function rowsOf(r: Report, workload: Workload, threads: number, batch: number): ModelRow[] {
  return r.models.filter((m) => m.workload === workload && m.threads === threads && m.batch === batch)
}

function modelSection(r: Report, workload: 'train' | 'infer', threads: number, batch: number): string[] {
  const rows = rowsOf(r, workload, threads, batch)
  if (rows.length === 0) return []
  const title =
    workload === 'train'
      ? `## Training step, images/s (forward, backward and Adam on a batch of ${batch} 32×32×3 images${threadsLabel(r, threads)}; higher is better)`
      : `## Inference, images/s (eval mode, no grad, batch ${batch}${threadsLabel(r, threads)}; higher is better)`
  const figures = columns(r, workload).filter((c) => c.peer !== 'tfjs')
  const ort = compares(r, 'ort', workload)
  const compare = compares(r, 'torch', workload)
  const sameFp32 = compare && r.modes.ferrite.includes('fp32') && r.modes.torch.includes('cl-fp32')
  const ferriteFp32 = { peer: 'ferrite', mode: 'fp32' } as const
  const ortColumn = { peer: 'ort', mode: PEER_MODES.ort[0] } as const
  const tfjs = r.selected.includes('tfjs')
  const tfjsRatio = tfjs && r.modes.ferrite.includes('fp32')
  const headers = [
    'model',
    ...figures.map((c) => columnLabel(r, c)),
    ...(ort ? ["Ferrite's fastest ÷ onnxruntime"] : []),
    ...(compare ? ["Ferrite's fastest ÷ PyTorch's fastest"] : []),
    ...(sameFp32 ? ['Ferrite fp32 ÷ PyTorch channels_last fp32'] : []),
    ...(tfjs ? ['TF.js'] : []),
    ...(tfjsRatio ? ['Ferrite fp32 ÷ TF.js'] : []),
  ]
  const tfjsOutcome = (m: ModelRow) => m.outcomes[columnKey({ peer: 'tfjs', mode: PEER_MODES.tfjs[0] })]
  const lines = [
    title,
    '',
    ...table(
      headers,
      rows.map((m) => [
        MODEL_LABELS[m.model] ?? m.model,
        ...figures.map((c) => cell(m.outcomes[columnKey(c)], 'step')),
        ...(ort ? [ratio(fastest(r, m, 'ferrite').outcome, m.outcomes[columnKey(ortColumn)])] : []),
        ...(compare ? [ratio(fastest(r, m, 'ferrite').outcome, fastest(r, m, 'torch').outcome)] : []),
        ...(sameFp32 ? [ratio(m.outcomes[columnKey(ferriteFp32)], m.outcomes[columnKey({ peer: 'torch', mode: 'cl-fp32' })])] : []),
        ...(tfjs ? [cell(tfjsOutcome(m), 'step', true)] : []),
        ...(tfjsRatio ? [ratio(m.outcomes[columnKey(ferriteFp32)], tfjsOutcome(m))] : []),
      ]),
      1,
    ),
  ]
  const checks = checkLines(rows)
  if (checks.length > 0) lines.push('', ...checks)
  if (r.rounds > 1) {
    for (const peer of ['ort', 'torch'] as const) if (compares(r, peer, workload)) lines.push('', ...perRound(r, rows, peer))
  }
  return lines
}

/** How far onnxruntime's output (and `ft.inference.optimize`'s) was from Ferrite's eval output on each model. */
function checkLines(rows: ModelRow[]): string[] {
  const described = (e: OutputError) => `${e.relative.toExponential(1)} (${e.maxAbsDiff.toExponential(1)} of ${fmt(e.magnitude)})`
  const ort = rows.flatMap((m) => (m.checks?.ort ? [`${MODEL_LABELS[m.model] ?? m.model} ${described(m.checks.ort)}`] : []))
  const optimized = rows.flatMap((m) => (m.checks?.optimized ? [`${MODEL_LABELS[m.model] ?? m.model} ${described(m.checks.optimized)}`] : []))
  const lines: string[] = []
  if (ort.length > 0) lines.push(`onnxruntime's output against Ferrite's eval output on the same batch, largest |difference| ÷ largest |output| (checked before timing; over 1e-4 fails the run): ${ort.join('; ')}.`)
  if (optimized.length > 0) lines.push(`\`ft.inference.optimize\`'s output against the plain eval forward, the same measure: ${optimized.join('; ')}.`)
  return lines
}

/** Each round's ratio of Ferrite's fastest mode to `peer`'s fastest mode in that round, and the lowest of them. */
function perRound(r: Report, rows: ModelRow[], peer: PeerName): string[] {
  const rounds = Array.from({ length: r.rounds }, (_, i) => i)
  const paired = rows.flatMap((m) => {
    const f = fastest(r, m, 'ferrite')
    const t = fastest(r, m, peer)
    const [fo, to] = [f.outcome, t.outcome]
    if (fo?.kind !== 'measured' || to?.kind !== 'measured') return []
    const ratios = rounds.map((i) => fo.rounds[i] / to.rounds[i])
    return [{ m, f, t, ratios, finite: ratios.filter(Number.isFinite) }]
  })
  if (paired.length === 0) return []
  // A peer with one mode needs no bracket naming it.
  const modesOf = (p: PeerName, mode: string | undefined) => (r.modes[p].length > 1 ? mode : undefined)
  return [
    `Ferrite's fastest ÷ ${PEER_LABELS[peer]}${r.modes[peer].length > 1 ? "'s fastest" : ''} in each round (each side's fastest mode in that round in brackets):`,
    '',
    ...table(
      ['model', ...rounds.map((i) => `round ${i + 1}`), 'lowest'],
      paired.map(({ m, f, t, ratios, finite }) => [
        MODEL_LABELS[m.model] ?? m.model,
        ...ratios.map((q, i) => {
          if (!Number.isFinite(q)) return ''
          const theirs = modesOf(peer, t.roundModes[i])
          return `${fmt(q)}× (${f.roundModes[i]}${theirs ? ` ÷ ${theirs}` : ''})`
        }),
        finite.length > 0 ? `${fmt(Math.min(...finite))}×` : '',
      ]),
      1,
    ),
  ]
}

/** "inference, batch 1, 2 threads": a row's workload, with its batch and threads where the run had several. */
function settingLabel(r: Report, m: ModelRow): string {
  const batch = m.workload === 'infer' && r.batches.length > 1 ? `, batch ${m.batch}` : ''
  return `${m.workload === 'train' ? 'training' : 'inference'}${batch}${threadsLabel(r, m.threads)}`
}

function memorySection(r: Report): string[] {
  if (r.models.length === 0) return []
  const mb = (m: Memory | undefined) => (m ? `${Math.round(m.peakKb / 1024)}${m.startKb ? ` (${Math.round(m.startKb / 1024)})` : ''}` : '')
  const cols = r.selected.flatMap((peer) => r.modes[peer].map((mode) => ({ peer, mode })))
  // Ferrite's first mode against each other peer's first (their defaults), and bf16 against PyTorch's bf16.
  const first = (p: PeerName): Column | undefined => (r.modes[p].length > 0 ? { peer: p, mode: r.modes[p][0] } : undefined)
  const pairs: [Column, Column][] = []
  const ferrite = first('ferrite')
  if (ferrite) for (const p of others(r)) if (first(p)) pairs.push([ferrite, first(p)!])
  if (r.selected.includes('torch') && r.modes.ferrite.includes('bf16') && r.modes.torch.includes('cl-bf16') && ferrite?.mode !== 'bf16') {
    pairs.push([{ peer: 'ferrite', mode: 'bf16' }, { peer: 'torch', mode: 'cl-bf16' }])
  }
  const rows = r.models.filter((m) => Object.keys(m.memory).length > 0).map((m) => [
    MODEL_LABELS[m.model] ?? m.model,
    settingLabel(r, m),
    ...cols.map((c) => mb(m.memory[columnKey(c)])),
    ...pairs.map(([a, b]) => memoryRatio(m.memory[columnKey(a)], m.memory[columnKey(b)])),
  ])
  return [
    '## Peak resident memory, MB (lower is better)',
    '',
    ...table(['model', 'workload', ...cols.map((c) => columnLabel(r, c)), ...pairs.map(([a, b]) => `${columnLabel(r, a)} ÷ ${columnLabel(r, b)}`)], rows, 2),
    '',
    "Each peer runs each workload in a process of its own; the figure is that process's peak RSS (VmHWM), in brackets the RSS once the library was imported, before any tensor existed (PyTorch's import is most of its figure). A process the time budget stopped reports its peak up to then.",
  ]
}

/**
 * Where an inference call's time goes, per model, thread count and batch: Ferrite's module types
 * beside onnxruntime's operator types, each side's costliest first, in ms per call.
 */
function profileSection(r: Report): string[] {
  const profiled = r.models.filter((m) => m.workload === 'infer' && m.profiles && Object.keys(m.profiles).length > 0)
  if (profiled.length === 0) return []
  const lines = [
    '## Where inference time goes, ms per call by layer type (profiling pass after the timed calls)',
    '',
    "Ferrite: every module's forward timed on the way, its own time (less its submodules') summed by module type; a container's own ops (a residual add, a reshape, anything its forward runs outside its submodules) show as \"Type (own ops)\". Where Ferrite's inference runs through `ft.inference.optimize`, its fused graph is one native call with no layers to time: the layers are then the unfused eval forward's (\"unfused layers\") and \"optimized call, as timed\" is the fused call's time in the same pass. onnxruntime: its profiler's kernel time per node, summed by operator type of the graph it runs after its optimisations (a Conv there includes the batch norm folded into its weights and any activation or residual add fused into it; ReorderInput/ReorderOutput convert to and from its blocked NCHWc layout). \"total\" is the profiled call's time, profiling included, so it sits above the timed figures; the gap under it is time outside the listed layers.",
  ]
  for (const m of profiled) {
    const sides = Object.entries(m.profiles!).map(([key, profile]) => {
      const [peer, mode] = key.split(':') as [PeerName, string]
      return { label: `${columnLabel(r, { peer, mode })}${profile.optimizedMs === undefined ? '' : ', unfused layers'}`, profile }
    })
    const depth = Math.max(...sides.map(({ profile }) => profile.layers.length))
    const rows = Array.from({ length: depth }, (_, i) =>
      sides.flatMap(({ profile }) => {
        const layer = profile.layers[i]
        const calls = Number.isInteger(layer?.calls) ? String(layer!.calls) : fmt(layer?.calls ?? 0)
        return layer ? [`${layer.name}${layer.calls !== 1 ? ` ×${calls}` : ''}`, fmt(layer.ms), `${Math.round((100 * layer.ms) / profile.totalMs)} %`] : ['', '', '']
      }),
    )
    rows.push(sides.flatMap(({ profile }) => [`total (${profile.runs} calls)`, fmt(profile.totalMs), '']))
    if (sides.some(({ profile }) => profile.optimizedMs !== undefined)) {
      rows.push(sides.flatMap(({ profile }) => (profile.optimizedMs === undefined ? ['', '', ''] : ['optimized call, as timed', fmt(profile.optimizedMs), ''])))
    }
    lines.push(
      '',
      `### ${MODEL_LABELS[m.model] ?? m.model}, batch ${m.batch}, ${m.threads} thread${m.threads === 1 ? '' : 's'}`,
      '',
      ...table(
        sides.flatMap(({ label }) => [label, 'ms', 'share']),
        rows,
        sides.flatMap(() => [true, false, false]),
      ),
    )
  }
  return lines
}

/** Where Ferrite is furthest behind PyTorch and onnxruntime: where the next optimisation should go. */
function standouts(r: Report): string[] {
  const ranked: [string, number][] = []
  for (const row of r.conv) {
    const q = ratioValue(row.outcomes.ferrite, row.outcomes.torch)
    if (q !== undefined) ranked.push([`conv ${row.c}→${row.o} @ ${row.hw}×${row.hw} ${row.pass}${threadsLabel(r, row.threads)}: ${fmt(q)}× PyTorch's speed`, q])
  }
  for (const m of r.models) {
    const f = fastest(r, m, 'ferrite')
    for (const peer of ['ort', 'torch'] as const) {
      if (!compares(r, peer, m.workload)) continue
      const t = fastest(r, m, peer)
      const q = ratioValue(f.outcome, t.outcome)
      const theirs = r.modes[peer].length > 1 ? ` ${t.mode}` : ''
      if (q !== undefined) ranked.push([`${MODEL_LABELS[m.model] ?? m.model} ${settingLabel(r, m)} (Ferrite ${f.mode}, ${PEER_LABELS[peer]}${theirs}): ${fmt(q)}× ${PEER_LABELS[peer]}'s speed`, q])
    }
  }
  if (ranked.length === 0) return []
  ranked.sort((a, b) => a[1] - b[1])
  return ['## Furthest behind', '', ...ranked.slice(0, 6).map(([what]) => `- ${what}`)]
}

function methodLines(r: Report): string[] {
  const ort = r.selected.includes('ort')
    ? ` onnxruntime-node runs inference only, on the ONNX file of the same Ferrite model (\`ft.onnx.toBuffer\`, batch fixed, seed 0, batch norm's weights and running statistics set away from their initial values on both sides alike), with graph optimisation level 'all', intraOpNumThreads the run's thread count, interOpNumThreads 1 and sequential execution; before timing, its output on the timed batch is checked against Ferrite's eval output for it.`
    : ''
  const batches = r.batches.length > 1 || r.batches[0] !== BATCH ? ` Inference runs at batch ${listed(r.batches.map(String))}.` : ''
  return [
    '## Method',
    '',
    `Every peer runs in its own process, one after another, never two at once.${roundsSentence(r)} Each measurement warms up (two calls, or one past a quarter of the budget), then times single calls until ${r.targetS} s have passed and at least 3 ran; the figure is the median. A measurement may take ${r.budgetS} s, warm-up included: a peer whose warm-up call alone takes longer reports that call ("1 step in N s"), and one silent for ${2 * r.budgetS + 10} s is stopped ("— none in N s"; Ferrite's ratio to it is then a lower bound, "> x"). A conv backward is timed alone: the forward output is made once with a retained graph, only the input (backward-input) or only the weight (backward-weight) requires grad, and its grad is cleared before each call. TF.js runs conv forward, backward-input and inference on its wasm backend and training and backward-weight on its cpu backend (wasm has no Conv2DBackpropFilter kernel), in NHWC; Ferrite and PyTorch run conv passes in NCHW float32. Training and inference run in each peer's modes: PyTorch in NCHW float32 (its default), channels_last float32 (model and input converted with \`memory_format=torch.channels_last\`) and bf16 + channels_last (forward and loss under \`torch.autocast('cpu', dtype=torch.bfloat16)\`), Ferrite in float32 and bf16 (forward and loss under \`ft.autocast({ dtype: 'bfloat16' }, ...)\`); backward and Adam run outside autocast, on float32 parameters.${ort}${batches} "Ferrite's fastest ÷ PyTorch's fastest" divides the best figure of either side over its modes; its brackets, and the per-round table, pair each round's fastest mode of one side with the other's. Inputs are random normal; the models are the tutorial's (bench/compare/torch_models.py, bench/compare/tfjs-models.ts, ts/models/), with Adam at lr 1e-3 and softmax cross-entropy.`,
  ]
}

function roundsSentence(r: Report): string {
  if (r.rounds < 2) return ''
  return ` Ferrite, onnxruntime and PyTorch run every workload in each of their modes ${r.rounds} times, in rounds that alternate which of them goes first (every other round runs the columns in reverse order; TF.js runs in the first round only); each figure is the best of its rounds, and the brackets after a ratio give the lowest and highest ratio within one round, a measure of this machine's noise.`
}

function cell(o: Outcome | undefined, unit: 'call' | 'step', showBackend = false): string {
  if (!o) return ''
  switch (o.kind) {
    case 'measured': {
      const backend = showBackend ? ` ${o.backend}` : ''
      return o.runs > 0 ? `${fmt(o.value)}${backend}` : `${fmt(o.value)}${backend} (1 ${unit} in ${o.seconds.toFixed(0)} s)`
    }
    case 'timeout':
      return `— (none in ${o.seconds.toFixed(0)} s)`
    case 'failed':
      return 'failed'
    case 'skipped':
      return 'skipped'
  }
}

function ratioValue(ferrite: Outcome | undefined, peer: Outcome | undefined): number | undefined {
  return ferrite?.kind === 'measured' && peer?.kind === 'measured' ? ferrite.value / peer.value : undefined
}

function ratio(ferrite: Outcome | undefined, peer: Outcome | undefined): string {
  const q = ratioValue(ferrite, peer)
  if (q !== undefined) return `${peer?.kind === 'measured' && peer.runs === 0 ? '≈ ' : ''}${fmt(q)}×${roundRange(ferrite, peer)}`
  // The peer was stopped: it is slower than its bound, so Ferrite's ratio is at least this.
  if (ferrite?.kind === 'measured' && peer?.kind === 'timeout') return `> ${fmt(ferrite.value / peer.bound)}×`
  return ''
}

/** The lowest and highest ratio of one round's pair of figures, where both peers ran more than one round. */
function roundRange(ferrite: Outcome | undefined, peer: Outcome | undefined): string {
  if (ferrite?.kind !== 'measured' || peer?.kind !== 'measured') return ''
  const paired = ferrite.rounds.map((f, i) => f / peer.rounds[i]).filter(Number.isFinite)
  if (paired.length < 2) return ''
  return ` (${fmt(Math.min(...paired))}–${fmt(Math.max(...paired))})`
}

function memoryRatio(ferrite: Memory | undefined, peer: Memory | undefined): string {
  return ferrite && peer ? `${fmt(ferrite.peakKb / peer.peakKb)}×` : ''
}

/** Three significant figures at most, no exponent: 1234, 123, 12.3, 1.23, 0.0123. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—'
  if (Math.abs(v) >= 100) return v.toFixed(0)
  if (Math.abs(v) >= 10) return v.toFixed(1)
  if (Math.abs(v) >= 1) return v.toFixed(2)
  return v.toPrecision(2)
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : ''}${v.toFixed(v > -10 && v < 10 ? 2 : 1)}`
}

/**
 * Upper bound of a peer's figure when it was stopped: what finishing one call right then would have
 * given (GFLOP/s of a conv pass, or images/s of a model step on `batch` images).
 */
export function boundAtTimeout(seconds: number, shape: ConvShape | undefined, batch = BATCH): number {
  return shape ? convFlops(shape) / seconds / 1e9 : batch / seconds
}

/**
 * A Markdown table whose label columns are left-aligned and the rest, figures, right-aligned: the
 * first `labels` columns, or those marked true.
 */
function table(headers: string[], rows: string[][], labels: number | boolean[]): string[] {
  const isLabel = (c: number) => (typeof labels === 'number' ? c < labels : labels[c])
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)))
  const line = (cells: string[]) => `| ${cells.map((s, c) => (isLabel(c) ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join(' | ')} |`
  const rule = `|${widths.map((w, c) => (isLabel(c) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(headers), rule, ...rows.map(line)]
}
