// The CPU shim's self-test: builds test/cuda-shim/selftest/*.cu into their own library, drives it
// from selftest/driver.cpp (a host program that is not instrumented, like the Rust tests, so
// libasan is preloaded), and checks that right kernels give right answers in both thread orders,
// that a missing __syncthreads shows as a difference between the orders, and that each bug the
// shim exists to catch aborts the process with the expected report. Exits 0 when all pass.
//
//   node test/cuda-shim/selftest.mjs
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BuildError, buildShim, kernelsOf } from './build.mjs'

const here = dirname(fileURLToPath(import.meta.url))
let passed = 0
const failures = []

function check(name, ok, detail = '') {
  if (ok) passed += 1
  else failures.push(`${name}${detail ? `: ${detail}` : ''}`)
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? `\n     ${detail.split('\n').slice(0, 12).join('\n     ')}` : ''}`)
}

/** The driver, compiled without sanitizers (it stands in for the Rust test binary). */
function buildDriver(outDir) {
  const cxx = process.env.CXX || 'g++'
  const source = join(here, 'selftest', 'driver.cpp')
  const version = spawnSync(cxx, ['--version'], { encoding: 'utf8' }).stdout
  const hash = createHash('sha256').update(readFileSync(source)).update(version).digest('hex').slice(0, 16)
  const driver = join(outDir, `driver-${hash}`)
  if (existsSync(driver)) return driver
  for (const old of readdirSync(outDir).filter((f) => f.startsWith('driver-'))) rmSync(join(outDir, old))
  const r = spawnSync(cxx, ['-std=c++17', '-O1', '-g', '-Wall', '-Werror', '-pthread', source, '-ldl', '-o', `${driver}.tmp`], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new BuildError(`driver: ${r.stderr}`)
  renameSync(`${driver}.tmp`, driver)
  return driver
}

function runDriver(ctx, args, env = {}) {
  const r = spawnSync(ctx.driver, [ctx.library, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: {
      ...process.env,
      LD_PRELOAD: ctx.libasan,
      ASAN_OPTIONS: 'detect_leaks=0',
      UBSAN_OPTIONS: 'print_stacktrace=1',
      FERRITE_SHIM_ORDER: '',
      ...env,
    },
  })
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error }
}

// The checks inside the driver, one line each.
function inProcessChecks(ctx) {
  const coverage = join(ctx.tmp, 'coverage.txt')
  const r = runDriver(ctx, ['all', String(ctx.kernels.length)], { FERRITE_SHIM_COVERAGE: coverage })
  for (const line of r.stdout.split('\n')) {
    const m = /^(ok|FAIL) (\w+)(?:: (.*))?$/.exec(line)
    if (m) check(`driver: ${m[2]}`, m[1] === 'ok', m[3])
  }
  check('driver: exits 0', r.status === 0, `${r.status ?? r.signal} ${r.error ?? ''}\n${r.stderr}`)
  const launched = existsSync(coverage) ? readFileSync(coverage, 'utf8').split('\n').filter(Boolean).sort() : []
  const expected = ['atomics', 'block_sum', 'dynamic_reverse', 'fill_index', 'fill_one', 'missing_sync', 'strided_scale', 'transpose', 'unwritten_shared', 'warp_ops', 'warp_sum']
  check('FERRITE_SHIM_COVERAGE lists the launched kernels', JSON.stringify(launched) === JSON.stringify(expected.map((k) => `selftest_${k}`)), launched.join(' '))
}

function envOrderChecks(ctx) {
  const rightCount = (order) => /right (\d+)/.exec(runDriver(ctx, ['env_order'], { FERRITE_SHIM_ORDER: order }).stdout)?.[1]
  const [unset, forward, reverse] = ['', 'forward', 'reverse'].map(rightCount)
  check('FERRITE_SHIM_ORDER=reverse reverses the order', forward !== undefined && reverse !== undefined && forward !== reverse, `${forward} ${reverse}`)
  check('the order is forward by default', unset === forward, `${unset} ${forward}`)
  const bad = runDriver(ctx, ['env_order'], { FERRITE_SHIM_ORDER: 'sideways' })
  check('FERRITE_SHIM_ORDER=sideways fails the launch', bad.status !== 0 && /FERRITE_SHIM_ORDER must be forward or reverse/.test(bad.stderr), bad.stderr)
}

// with-asan.sh sets up what a host that is not instrumented needs, from a bare environment.
function runnerCheck(ctx) {
  const env = { ...process.env, FERRITE_SHIM_ORDER: '' }
  for (const name of ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS']) delete env[name]
  const r = spawnSync('sh', [join(here, 'with-asan.sh'), ctx.driver, ctx.library, 'env_order'], { encoding: 'utf8', env, timeout: 60_000 })
  check('with-asan.sh runs the driver', r.status === 0 && /right \d+/.test(r.stdout), `${r.status ?? r.signal}\n${r.stdout}${r.stderr}`)
}

// Each must end the process, with its report on stderr.
const fatalCases = [
  ['divergent_barrier', true, [/ferrite-shim: divergent __syncthreads .* in kernel selftest_divergent_barrier, block \(0, 0, 0\)/, /threads 16-63: finished the kernel/, /threads 0-15: wait at __syncthreads \(\S*bugs\.cu:\d+\)/]],
  ['split_barrier', true, [/ferrite-shim: divergent __syncthreads \(threads wait at different barriers\)/, /threads 0-31: wait at __syncthreads \(\S*bugs\.cu:\d+\)/, /threads 32-63: wait at __syncthreads \(\S*bugs\.cu:\d+\)/]],
  ['divergent_shuffle', true, [/ferrite-shim: divergent warp op/, /threads 0-15: wait at __shfl_xor_sync \(\S*bugs\.cu:\d+\)/, /threads 16-31: finished the kernel/]],
  ['shuffle_vs_barrier', true, [/ferrite-shim: divergent warp op/, /threads 0-15: wait at __shfl_xor_sync/, /threads 16-31: wait at __syncthreads/]],
  ['partial_mask', true, [/ferrite-shim: warp op with a partial mask/]],
  ['oob_write', false, [/AddressSanitizer: heap-buffer-overflow/, /WRITE of size 4/, /in selftest_oob_write .*bugs\.cu/]],
  ['dynamic_overrun', false, [/AddressSanitizer: heap-buffer-overflow/, /in selftest_dynamic_overrun/]],
  ['static_overrun', false, [/AddressSanitizer: global-buffer-overflow/, /in selftest_static_overrun/]],
  ['local_overrun', false, [/AddressSanitizer: stack-buffer-overflow/, /in selftest_local_overrun/]],
  ['stack_overflow', false, [/AddressSanitizer: stack-overflow/, /in \S*deep\(float\*, int\) \S*bugs\.cu/]],
  ['misaligned_arg', false, [/shim\.hpp:\d+:\d+: runtime error: load of misaligned address .* which requires 8 byte alignment/, /ferrite_shim::invoke<&\(?selftest_oob_write\)?>/]],
  ['int_overflow', false, [/bugs\.cu:\d+:\d+: runtime error: signed integer overflow/]],
]

function fatalChecks(ctx) {
  for (const [name, aborts, patterns] of fatalCases) {
    const r = runDriver(ctx, [name])
    const ended = aborts ? r.signal === 'SIGABRT' : r.status !== 0 && r.status !== null
    const missing = patterns.filter((p) => !p.test(r.stderr))
    check(`${name} is caught`, ended && missing.length === 0, `exit ${r.status ?? r.signal}; missing ${missing.join(', ')}\n${r.stdout}${r.stderr}`)
  }
}

function exportChecks(ctx) {
  const nm = spawnSync('nm', ['-D', '--defined-only', ctx.library], { encoding: 'utf8' })
  if (nm.status !== 0) return check('nm lists the exports', false, nm.stderr || String(nm.error))
  const names = nm.stdout.split('\n').map((l) => l.split(' ')[2]).filter(Boolean).sort()
  const abi = ['kernel_count', 'kernel_name', 'kernel_params', 'last_error', 'launch', 'launch_count', 'set_reverse_order', 'sgemm_strided_batched']
  check('exports exactly the C ABI', JSON.stringify(names) === JSON.stringify(abi.map((n) => `ferrite_shim_${n}`)), names.join(' '))
}

// The registry's scan of the sources.
function scanChecks() {
  const found = (text) => {
    try {
      return kernelsOf('x.cu', text).join(',')
    } catch (e) {
      return `error: ${e.message}`
    }
  }
  check('scan: plain and __launch_bounds__ kernels', found('extern "C" __global__ void a(int x) {}\nextern "C" __global__ __launch_bounds__(256) void b(\n) {}') === 'a,b')
  check('scan: commented-out kernels are not registered', found('// extern "C" __global__ void a() {}\n/* extern "C" __global__ void b() {} */') === '')
  check('scan: a kernel without extern "C" is an error', found('__global__ void a() {}').startsWith('error: x.cu: 1 __global__ but 0'))
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'cuda-shim-selftest-'))
  try {
    const built = await buildShim({ selftest: true })
    const again = await buildShim({ selftest: true })
    check('a second build with nothing changed is skipped', !again.rebuilt)
    const ctx = { ...built, tmp, driver: buildDriver(dirname(built.library)) }
    scanChecks()
    exportChecks(ctx)
    inProcessChecks(ctx)
    envOrderChecks(ctx)
    runnerCheck(ctx)
    fatalChecks(ctx)
  } catch (e) {
    if (!(e instanceof BuildError)) throw e
    check('build', false, e.message)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`cuda-shim selftest: ${passed} passed, ${failures.length} failed`)
  if (failures.length > 0) process.exit(1)
}

await main()
