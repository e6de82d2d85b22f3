// Every op's forward and gradients on a device against Ferrite's CPU backend, with TF32 off:
// the cases of ops-cases.mjs, then every case of test/fixtures/nn_ops.json (PyTorch's values,
// so each of those is also compared with PyTorch). Prints the max relative error per op,
//   max_i |device_i - cpu_i| / max(|cpu_i|, 1e-3 * max_j |cpu_j|),
// and whether it is within 1e-4. Part of bench/gpu/run.sh; exits 1 when an op is off or fails.
//
//   node bench/gpu/ops.mjs [--device cuda:0] [--json results.json] [--only conv2d,matmul]
// `--device cpu` compares the CPU with itself: a smoke test of this script on a machine without a GPU.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'
import { opCases } from './ops-cases.mjs'

const TOLERANCE = 1e-4
const REL_FLOOR = 1e-3
const F = ft.functional

const { values: args } = parseArgs({ options: { device: { type: 'string', default: 'cuda:0' }, json: { type: 'string' }, only: { type: 'string' } } })
const device = args.device
const only = args.only ? new Set(args.only.split(',')) : null

/** Deterministic uniform values (mulberry32), so both devices get the same inputs. */
function uniform(n, seed, lo, hi) {
  let s = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = lo + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo)
  }
  return out
}

const numel = (shape) => shape.reduce((a, b) => a * b, 1)

/** The spec's values as a tensor on `dev`: a leaf (requiring grad if asked), then its view. */
function makeInput(spec, seed, dev) {
  const values = uniform(numel(spec.shape), seed, spec.lo, spec.hi)
  const data = spec.dtype === 'int64' ? BigInt64Array.from(values, (v) => BigInt(Math.floor(v))) : values
  const leaf = ft.tensor(data, { shape: spec.shape }).to(dev)
  if (spec.grad) leaf.requiresGrad = true
  return { leaf, used: spec.view ? spec.view(leaf) : leaf }
}

function outputsOf(result) {
  if (result instanceof ft.Tensor) return [result]
  if (Array.isArray(result)) return result
  return [result.values, result.indices]
}

const hostValues = (t) => Array.from(t.to('cpu').toTypedArray(), Number)

/** Runs one case on `dev`: outputs' values, then the inputs' gradients of sum(out_k * R_k). */
function runCase(c, seed, dev) {
  const inputs = c.inputs.map((spec, i) => makeInput(spec, seed + 7919 * i, dev))
  const outs = outputsOf(c.run(...inputs.map((x) => x.used)))
  const result = { outputs: outs.map((t) => ({ shape: t.shape, values: hostValues(t) })), grads: [] }
  const differentiable = c.noBackward ? [] : outs.filter((t) => t.requiresGrad)
  if (differentiable.length > 0) {
    let loss = null
    differentiable.forEach((t, k) => {
      const r = ft.tensor(uniform(t.numel(), seed + 104729 * (k + 1), -1, 1), { shape: t.shape }).to(dev)
      const term = t.mul(r).sum()
      loss = loss === null ? term : loss.add(term)
    })
    loss.backward()
    for (const x of inputs) if (x.leaf.requiresGrad) result.grads.push({ shape: x.leaf.shape, values: x.leaf.grad ? hostValues(x.leaf.grad) : null })
  }
  return result
}

/** max |a - e| / max(|e|, REL_FLOOR * max|E|); NaN where e is NaN counts as equal, Infinity on a shape mismatch. */
function relativeError(got, want) {
  if (got === null || want === null) return got === want ? 0 : Infinity
  if (got.values.length !== want.values.length || String(got.shape) !== String(want.shape)) return Infinity
  let scale = 0
  for (const w of want.values) if (Number.isFinite(w)) scale = Math.max(scale, Math.abs(w))
  let worst = 0
  for (let i = 0; i < want.values.length; i++) {
    const g = got.values[i]
    const w = want.values[i]
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) return Infinity
      continue
    }
    if (g === w) continue
    const denom = Math.max(Math.abs(w), REL_FLOOR * scale)
    worst = Math.max(worst, denom > 0 ? Math.abs(g - w) / denom : Infinity)
  }
  return worst
}

const worstOf = (gots, wants) => gots.reduce((m, g, i) => Math.max(m, relativeError(g, wants[i] ?? null)), gots.length === wants.length ? 0 : Infinity)

/** Per-op rows: cases, worst forward and gradient error with the case, failures. */
const rows = new Map()
let lastOp = null
/** One line per op row as soon as its cases are done, so a crash shows where it happened. */
function progress(op) {
  if (lastOp !== null && lastOp !== op) {
    const r = rows.get(lastOp)
    console.log(`  ${lastOp}: ${r.cases} cases, forward ${format(r.forward)}, gradients ${format(r.gradient)}${r.failures.length ? `, ${r.failures.length} failed` : ''}`)
  }
  lastOp = op
}

function record(op, name, forward, gradient, error) {
  progress(op)
  const row = rows.get(op) ?? { op, cases: 0, forward: 0, gradient: null, worstCase: '', failures: [] }
  row.cases += 1
  if (error) {
    row.failures.push(`${name}: ${error}`)
    console.log(`  FAILED ${name}: ${error}`)
  }
  else {
    if (forward >= row.forward) row.worstCase = forward > row.forward || !row.worstCase ? name : row.worstCase
    row.forward = Math.max(row.forward, forward)
    if (gradient !== null) row.gradient = Math.max(row.gradient ?? 0, gradient)
  }
  rows.set(op, row)
}

function runOpCases() {
  opCases().forEach((c, index) => {
    if (only && !only.has(c.op)) return
    const seed = 1000 + 31 * index
    try {
      const cpu = runCase(c, seed, 'cpu')
      const dev = runCase(c, seed, device)
      record(c.op, c.name, worstOf(dev.outputs, cpu.outputs), cpu.grads.length ? worstOf(dev.grads, cpu.grads) : null)
    } catch (e) {
      record(c.op, c.name, 0, null, e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e))
    }
  })
}

// --- test/fixtures/nn_ops.json, as test/nn-ops.test.ts replays it on each device ---

function decodeFixture(v) {
  return v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v)
}

function fixtureTensor(spec, dev) {
  const values = spec.data.map(decodeFixture)
  const data = spec.dtype === 'int64' ? BigInt64Array.from(values, BigInt) : spec.dtype === 'bool' ? Uint8Array.from(values) : Float32Array.from(values)
  let t = numel(spec.shape) === 0 ? ft.zeros(spec.shape, { dtype: spec.dtype }) : ft.tensor(data, { shape: spec.shape, dtype: spec.dtype })
  return t.to(dev)
}

function runFixtureOp(c, x) {
  const a = c.args
  const bias = x.bias ? { bias: x.bias } : {}
  switch (c.op) {
    case 'conv2d': return F.conv2d(x.input, x.weight, { ...a, ...bias })
    case 'maxPool2d': return F.maxPool2d(x.input, a)
    case 'avgPool2d': return F.avgPool2d(x.input, a)
    case 'adaptiveAvgPool2d': return F.adaptiveAvgPool2d(x.input, a.outputSize)
    case 'batchNorm': return F.batchNorm(x.input, x.runningMean ?? null, x.runningVar ?? null, { ...a, weight: x.weight ?? null, ...bias })
    case 'relu': return F.relu(x.input)
    case 'sigmoid': return F.sigmoid(x.input)
    case 'tanh': return F.tanh(x.input)
    case 'softmax': return F.softmax(x.input, a.dim)
    case 'logSoftmax': return F.logSoftmax(x.input, a.dim)
    case 'crossEntropy': return F.crossEntropy(x.input, x.target, a)
    case 'nllLoss': return F.nllLoss(x.input, x.target, a)
    case 'linear': return x.bias ? F.linear(x.input, x.weight, x.bias) : F.linear(x.input, x.weight)
    default: throw new Error(`no runner for fixture op '${c.op}'`)
  }
}

/** One fixture case on `dev`: the output, the running statistics it updated, the gradients PyTorch recorded. */
function runFixture(c, dev) {
  const used = {}
  const leaves = {}
  for (const [key, spec] of Object.entries(c.inputs)) {
    const leaf = fixtureTensor(spec, dev)
    if (c.grads && key in c.grads) leaf.requiresGrad = true
    leaves[key] = leaf
    used[key] = (spec.transform ?? []).reduce((t, tr) => t.transpose(tr.dim0, tr.dim1), leaf)
  }
  const out = runFixtureOp(c, used)
  const host = (t) => ({ shape: t.shape, values: hostValues(t) })
  const outputs = [host(out), ...Object.keys(c.state ?? {}).map((key) => host(used[key]))]
  const grads = []
  if (c.grads) {
    out.mul(fixtureTensor(c.upstream, dev)).sum().backward()
    for (const key of Object.keys(c.grads)) grads.push(leaves[key].grad ? host(leaves[key].grad) : null)
  }
  return { outputs, grads }
}

const fromFixture = (spec) => ({ shape: spec.shape, values: spec.data.map(decodeFixture).map(Math.fround) })

function runFixtures() {
  const file = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'nn_ops.json')
  const fixture = JSON.parse(readFileSync(file, 'utf8'))
  let vsTorch = 0
  for (const c of fixture.cases) {
    if (c.error !== undefined || (only && !only.has(`fixture ${c.op}`) && !only.has('fixtures'))) continue
    const op = `fixture ${c.op}`
    try {
      const cpu = runFixture(c, 'cpu')
      const dev = runFixture(c, device)
      record(op, c.name, worstOf(dev.outputs, cpu.outputs), c.grads ? worstOf(dev.grads, cpu.grads) : null)
      const torch = [fromFixture(c.expected), ...Object.values(c.state ?? {}).map(fromFixture)]
      vsTorch = Math.max(vsTorch, worstOf(dev.outputs, torch), c.grads ? worstOf(dev.grads, Object.values(c.grads).map(fromFixture)) : 0)
    } catch (e) {
      record(op, c.name, 0, null, e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e))
    }
  }
  return { generator: fixture.generator, vsTorch }
}

function format(x) {
  return x === null ? '-' : x === 0 ? '0' : x.toExponential(2)
}

function main() {
  if (ft.backends) {
    ft.backends.cudnn.allowTf32 = false
    ft.backends.cuda.matmul.allowTf32 = false
  }
  const started = performance.now()
  runOpCases()
  const fixtures = runFixtures()
  progress(null)
  const table = [...rows.values()].map((r) => ({ ...r, pass: r.failures.length === 0 && r.forward <= TOLERANCE && (r.gradient ?? 0) <= TOLERANCE }))
  console.log(`${device} against the CPU, TF32 off: max relative error per op (|d - c| / max(|c|, ${REL_FLOOR} * max|C|)), tolerance ${TOLERANCE}`)
  console.log(`${'op'.padEnd(26)} ${'cases'.padStart(5)}  ${'forward'.padEnd(9)} ${'gradients'.padEnd(9)}  result  worst forward case`)
  for (const r of table) {
    console.log(`${r.op.padEnd(26)} ${String(r.cases).padStart(5)}  ${format(r.forward).padEnd(9)} ${format(r.gradient).padEnd(9)}  ${(r.pass ? 'ok' : 'FAIL').padEnd(6)}  ${r.worstCase}`)
    for (const failure of r.failures) console.log(`    error: ${failure}`)
  }
  const failed = table.filter((r) => !r.pass)
  const seconds = (performance.now() - started) / 1000
  console.log(`${table.reduce((n, r) => n + r.cases, 0)} cases in ${table.length} op rows, ${failed.length} off or failing; ` +
    `fixture outputs and gradients on ${device} vs PyTorch (${fixtures.generator}): max relative error ${format(fixtures.vsTorch)}; ${seconds.toFixed(1)} s`)
  if (args.json) writeFileSync(args.json, JSON.stringify({ device, tolerance: TOLERANCE, rows: table, vsTorch: fixtures.vsTorch, seconds }, null, 1))
  process.exitCode = failed.length > 0 ? 1 : 0
}

main()
