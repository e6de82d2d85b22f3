// `npm run test:cuda`: the CUDA backend's verification on a machine without a GPU (issue 20).
//   (a) NVRTC: installs the pinned NVRTC wheel into .cache/nvrtc and compiles every kernel module
//       for sm_80 and sm_90 (crates/ferrite-core/src/cuda/nvrtc_check.rs; the report it checks is
//       bench/gpu/KERNEL_RESOURCES.md, rewritten with FERRITE_UPDATE_KERNEL_REPORT=1).
//   (b) CPU shim: builds every .cu kernel for the CPU under ASan/UBSan (test/cuda-shim), runs the
//       `cuda` tests against it in forward and reverse thread order, and fails if a kernel never ran.
//   (c) Fake drivers: a libcuda.so.1 without GPUs, one missing a symbol, and a corrupt file; the
//       Rust entry points and (when the package is built) the Node one give typed reasons.
// Every step runs and prints one line; the summary counts them; the exit code is non-zero if any
// failed. The Rust test binary is built once (a no-op after `npm run test:rust`) and reused.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Skip, stepRunner } from './steps.mjs'
import { ensureNvrtc } from './cuda/ensure-nvrtc.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const cache = join(root, '.cache')
const { step, summarize } = stepRunner('test:cuda')

/** Runs a command; its stdout (and stderr with `both`), or throws with its output's tail. */
function run(command, args, { env = {}, both = false } = {}) {
  const r = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  })
  if (r.error) throw new Error(`${command}: ${r.error.message}`)
  const output = `${r.stdout}${r.stderr}`
  if (r.status !== 0) {
    const tail = failureText(output).trim().split('\n').slice(-80).join('\n')
    const shown = args.map((a) => (a.includes('\n') ? '<script>' : a)).join(' ')
    throw new Error(`\`${command} ${shown}\` exited with ${r.status ?? r.signal}\n${tail}`)
  }
  return both ? { stdout: r.stdout, stderr: r.stderr } : r.stdout
}

/** libtest's failure reports without backtraces (from `---- name stdout ----`), else all output. */
function failureText(output) {
  const start = output.indexOf('\n---- ')
  if (start < 0) return output
  const lines = output.slice(start).split('\n')
  const kept = []
  let inBacktrace = false
  for (const line of lines) {
    if (line.startsWith('stack backtrace:')) inBacktrace = true
    else if (inBacktrace && !/^\s+(\d+:|at )|^note: /.test(line)) inBacktrace = false
    if (!inBacktrace) kept.push(line)
  }
  return kept.join('\n')
}

function withPath(variable, folder) {
  return [folder, process.env[variable]].filter(Boolean).join(delimiter)
}

// ---- the Rust test binary, built once --------------------------------------------------------

/** The ferrite-core unit-test executable; `--workspace` so that it is test:rust's own build. */
function testBinary() {
  const out = run('cargo', ['test', '--workspace', '--no-run', '--message-format=json-render-diagnostics'])
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue
    const m = JSON.parse(line)
    if (m.reason === 'compiler-artifact' && m.profile?.test && m.target?.name === 'ferrite_core' && m.target.kind.includes('lib') && m.executable) {
      return m.executable
    }
  }
  throw new Error('cargo built no ferrite-core unit-test executable')
}

/** Runs Rust tests of the binary; the note is libtest's `test result:` line. */
function rustTests(binary, args, env) {
  // The panic message is what matters in this log; a backtrace only when asked for.
  const out = run(binary, ['--ignored', ...args], { env: { RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '0', ...env } })
  const summary = out.split('\n').find((l) => l.startsWith('test result:')) ?? ''
  const passed = Number(/(\d+) passed/.exec(summary)?.[1] ?? 0)
  if (passed === 0) throw new Error(`no test ran (${args.join(' ')})`)
  return summary.replace('test result: ', '')
}

// ---- (a) NVRTC ---------------------------------------------------------------------------------

function nvrtcCheck(binary, nvrtc) {
  const test = 'cuda::nvrtc_check::cuda_kernels_compile_with_nvrtc_without_warnings_or_spills'
  return rustTests(binary, ['--exact', test], { LD_LIBRARY_PATH: withPath('LD_LIBRARY_PATH', nvrtc) })
}

// ---- (b) the CPU shim --------------------------------------------------------------------------

const shimDir = join(root, 'test', 'cuda-shim')

/** Builds the shim: { library, libasan, kernels } as its build script reports them. */
function buildShim() {
  if (!existsSync(join(shimDir, 'build.mjs'))) throw new Error('test/cuda-shim/build.mjs is missing')
  const out = run(process.execPath, [join(shimDir, 'build.mjs'), '--json'])
  const shim = JSON.parse(out.trim().split('\n').pop())
  for (const path of [shim.library, shim.libasan]) {
    if (!path || !existsSync(path)) throw new Error(`test/cuda-shim/build.mjs reported a missing file: ${out}`)
  }
  return shim
}

function shimRun(binary, shim, order) {
  const coverage = join(cache, 'cuda-shim', `coverage-${order}.txt`)
  rmSync(coverage, { force: true })
  const env = {
    FERRITE_CUDA_SHIM: shim.library,
    FERRITE_SHIM_ORDER: order,
    FERRITE_SHIM_COVERAGE: coverage,
    LD_PRELOAD: shim.libasan,
    // LeakSanitizer would report the uninstrumented test harness's own allocations at exit.
    ASAN_OPTIONS: 'detect_leaks=0',
    // Where a report came from; the shim is built without recovery, so any report ends the run.
    UBSAN_OPTIONS: 'print_stacktrace=1',
  }
  // The NVRTC check and the fake-driver tests need their own environments: steps (a) and (c).
  const skip = ['--skip', 'cuda::nvrtc_check::', '--skip', 'cuda::fake_driver_tests::']
  // One test at a time: a kernel's bad-input report (the device's error word) surfaces at the
  // next read from the device, which in parallel could be another test's.
  return rustTests(binary, ['cuda', ...skip, '--test-threads=1'], env)
}

/** Fails naming the shim's kernels that no run launched (the coverage files list launched names). */
function coverageCheck(kernels) {
  const launched = new Set()
  for (const order of ['forward', 'reverse']) {
    const file = join(cache, 'cuda-shim', `coverage-${order}.txt`)
    if (!existsSync(file)) throw new Error(`the ${order} run wrote no coverage file ${relative(root, file)}`)
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const name = line.trim().split(/\s+/)[0]
      if (name) launched.add(name)
    }
  }
  const never = kernels.filter((k) => !launched.has(k))
  if (never.length) throw new Error(`${never.length} of ${kernels.length} kernels never ran on the shim: ${never.join(', ')}`)
  return `all ${kernels.length} kernels ran`
}

// ---- (c) the fake drivers ----------------------------------------------------------------------

const fakeDir = join(cache, 'cuda-fake')
/**
 * Each variant (test/cuda-fake/libcuda.c): its compiler flags (none: a corrupt file), what its
 * reason must name, and whether cudarc panics inside Ferrite's guards (printed by the panic hook).
 */
const FAKES = {
  nodevice: { flags: [], reason: ['no GPU'], panics: false },
  nosymbol: { flags: ['-DFERRITE_FAKE_NO_DEVICE_COUNT'], reason: ['lacks cuDeviceGetCount'], panics: false },
  partial: { flags: ['-DFERRITE_FAKE_PARTIAL'], reason: ['cuBLAS', 'NVRTC', 'incompatible'], panics: true },
  corrupt: { flags: null, reason: ['failed to load'], panics: false },
}

function buildFakes() {
  const source = join(root, 'test', 'cuda-fake', 'libcuda.c')
  for (const [variant, { flags }] of Object.entries(FAKES)) {
    const dir = join(fakeDir, variant)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const library = join(dir, 'libcuda.so.1')
    if (flags === null) writeFileSync(library, 'not a shared library\n')
    else run('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Werror', '-Wl,-soname,libcuda.so.1', ...flags, '-o', library, source])
    // cudarc asks for libcuda.so before libcuda.so.1.
    symlinkSync('libcuda.so.1', join(dir, 'libcuda.so'))
  }
  return `${Object.keys(FAKES).join(', ')} in ${relative(root, fakeDir)}`
}

/** The environment that makes `variant` the only CUDA driver a process can find. */
function fakeEnv(variant) {
  const dir = join(fakeDir, variant)
  return {
    LD_LIBRARY_PATH: withPath('LD_LIBRARY_PATH', dir),
    // A file the loader rejects is reported only when found by path.
    FERRITE_CUDA_PATH: dir,
    FERRITE_FAKE_DRIVER: variant,
    // Unset: the shim, when named, stands in for the driver in test builds.
    FERRITE_CUDA_SHIM: undefined,
  }
}

function fakeRustTests(binary, variant) {
  const test = 'cuda::fake_driver_tests::cuda_fake_driver_errors_are_typed_reasons'
  return rustTests(binary, ['--exact', test], fakeEnv(variant))
}

/** The built package under the fake: isAvailable() false with the reason, cuda:0 a typed error. */
const NODE_CHECK = `
const ft = require('./dist/cjs/index.js')
const expected = JSON.parse(process.argv[1])
const fail = (m) => { console.error(m); process.exit(1) }
if (ft.cuda.isAvailable() !== false) fail('ft.cuda.isAvailable() is not false')
const reason = ft.cuda.info().unavailableReason
if (!reason || !expected.some((p) => reason.includes(p))) fail('unavailableReason ' + JSON.stringify(reason) + ' names none of ' + expected)
let error
try { ft.zeros([2], { device: 'cuda:0' }) } catch (e) { error = e }
if (!(error instanceof ft.FerriteError) || error.code !== 'DeviceUnavailable') fail('cuda:0 gave ' + (error && error.stack || 'no error'))
if (!error.message.includes(reason)) fail('the error ' + JSON.stringify(error.message) + ' does not name the reason')
try { ft.cuda.devices() } catch (e) { if (!(e instanceof ft.FerriteError)) fail('cuda.devices() threw ' + e.stack) }
console.log(reason)
`

function nodeCheck(variant) {
  const built = existsSync(join(root, 'dist', 'cjs', 'index.js')) && readdirSync(join(root, 'native')).some((f) => f.endsWith('.node'))
  if (!built) throw new Skip('the package is not built (dist/ and native/*.node): run `npm run build` to include this check')
  const { reason, panics } = FAKES[variant]
  const { stdout, stderr } = run(process.execPath, ['-e', NODE_CHECK, JSON.stringify(reason)], { env: fakeEnv(variant), both: true })
  if (!panics && /panicked/.test(stderr)) throw new Error(`a panic message reached stderr:\n${stderr}`)
  return stdout.trim()
}

// ---- the run -----------------------------------------------------------------------------------

function preconditions() {
  const missing = []
  // cc builds the fake drivers, the C++ compiler the shim (as test/cuda-shim/build.mjs picks it).
  const tools = [['cc', ['--version']], [process.env.CXX || 'g++', ['--version']], ['python3', ['-m', 'pip', '--version']]]
  for (const [tool, args] of tools) {
    const r = spawnSync(tool, args, { stdio: 'ignore' })
    if (r.error || r.status !== 0) missing.push(`\`${tool} ${args.join(' ')}\``)
  }
  if (missing.length) throw new Error(`this machine lacks ${missing.join(', ')}; CI has them (apt-get install build-essential python3-pip)`)
}

// The NVRTC wheel, the fake libcuda.so.1 and the shim's fibers are Linux x64 things; CI is that.
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(`test:cuda: skipped: it runs on Linux x64 (as CI does), this is ${process.platform}-${process.arch}`)
  process.exit(0)
}
if (!step('tools (cc, g++, python3 -m pip)', preconditions)) {
  console.error('test:cuda: FAILED: cannot run without them')
  process.exit(1)
}
let binary
step('build the Rust test binary', () => relative(root, (binary = testBinary())))
let nvrtc
step('(a) NVRTC 13.0.88 wheel', () => relative(root, (nvrtc = ensureNvrtc())))
step('(a) NVRTC compiles every kernel for sm_80 and sm_90', () => {
  if (!binary || !nvrtc) throw new Error('needs the test binary and NVRTC')
  return nvrtcCheck(binary, nvrtc)
})
let shim
step('(b) build the CPU shim (ASan/UBSan)', () => {
  shim = buildShim()
  return `${shim.kernels.length} kernels in ${relative(root, shim.library)}, LD_PRELOAD=${shim.libasan}`
})
step('(b) shim self-test', () => run(process.execPath, [join(shimDir, 'selftest.mjs')]).trim().split('\n').pop())
for (const order of ['forward', 'reverse']) {
  step(`(b) cuda tests on the shim, ${order} thread order`, () => {
    if (!binary || !shim) throw new Error('needs the test binary and the shim')
    return shimRun(binary, shim, order)
  })
}
step('(b) every kernel ran on the shim', () => {
  if (!shim) throw new Error('needs the shim')
  return coverageCheck(shim.kernels)
})
const fakes = step('(c) build the fake drivers', buildFakes)
for (const variant of Object.keys(FAKES)) {
  step(`(c) fake driver "${variant}": Rust`, () => {
    if (!binary || !fakes) throw new Error('needs the test binary and the fake drivers')
    return fakeRustTests(binary, variant)
  })
  step(`(c) fake driver "${variant}": Node`, () => {
    if (!fakes) throw new Error('needs the fake drivers')
    return nodeCheck(variant)
  })
}

summarize()
