// Builds the CPU shim (test only): every kernel in crates/ferrite-core/src/**/*.cu, compiled by the
// system C++ compiler under ASan and UBSan into .cache/cuda-shim/libferrite_shim.so, with a
// generated registry so that ferrite_shim_launch finds a kernel by name (README.md here).
//
//   node test/cuda-shim/build.mjs [--selftest] [--json] [--jobs N] [--force]
//
// --selftest builds test/cuda-shim/selftest/*.cu into .cache/cuda-shim/selftest/ instead. Each
// `.cu` is its own translation unit, wrapped in a namespace of its own (NVRTC compiles each module
// separately, so two files may both define a helper of the same name), and is recompiled only when
// it, the headers, the flags or the compiler change. Prints the library and the ASan runtime that
// a host process which is not itself instrumented must LD_PRELOAD; exits 1 with the compiler's
// message on failure. Also importable: `buildShim({ selftest, jobs, force })`.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const root = join(here, '..', '..')
const cuh = join(root, 'crates', 'ferrite-core', 'src', 'cuda', 'ferrite.cuh')
const shimHeader = join(here, 'shim.hpp')
const shimSource = join(here, 'shim.cpp')
const exportsMap = join(here, 'exports.map')

export class BuildError extends Error {}

function sha(...parts) {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part).update('\0')
  return hash.digest('hex').slice(0, 16)
}

function cuFiles(dir) {
  if (!existsSync(dir)) return []
  const out = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...cuFiles(path))
    else if (entry.isFile() && entry.name.endsWith('.cu')) out.push(path)
  }
  return out.sort()
}

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '')
}

const launchBounds = String.raw`(?:__launch_bounds__\s*\([^)]*\)\s*)?`
const kernelPattern = new RegExp(String.raw`extern\s+"C"\s+__global__\s+${launchBounds}void\s+${launchBounds}(\w+)\s*\(`, 'g')

/**
 * The kernels in a `.cu`'s text (after the preprocessor, so that kernels a macro defines count):
 * every `__global__` must be an `extern "C" __global__ void NAME(`.
 */
export function kernelsOf(path, text) {
  const code = stripComments(text)
  const names = [...code.matchAll(kernelPattern)].map((m) => m[1])
  const globals = (code.match(/\b__global__\b/g) ?? []).length
  if (globals !== names.length) {
    throw new BuildError(
      `${relative(root, path)}: ${globals} __global__ but ${names.length} of the form extern "C" __global__ void NAME( (every kernel must be, for launch by name)`,
    )
  }
  return names
}

function compilerInfo() {
  const cxx = process.env.CXX || 'g++'
  const version = spawnSync(cxx, ['--version'], { encoding: 'utf8' })
  if (version.status !== 0) throw new BuildError(`cannot run the C++ compiler ${cxx} (set CXX): ${version.error ?? version.stderr}`)
  const clang = /clang/i.test(version.stdout)
  const sanitize = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all']
  const compile = [
    '-std=c++17', '-O1', '-g', '-fPIC', '-fvisibility=hidden', ...sanitize, '-fno-omit-frame-pointer',
    // -Wall's sign-compare flags `threadIdx.x < half` (unsigned against int), which is everywhere
    // in CUDA code and harmless for the sizes involved; NVRTC does not warn about it either.
    '-Wall', '-Werror', '-Wno-unknown-pragmas', '-Wno-sign-compare',
    // GCC leaves globals in a named section unsanitized unless told (shim.hpp's __shared__).
    ...(clang ? ['-shared-libasan'] : ['-fsanitize-sections=ferrite_shim.shared']),
  ]
  const link = ['-shared', `-Wl,--version-script=${exportsMap}`, ...sanitize, ...(clang ? ['-shared-libasan'] : [])]
  return { cxx, clang, version: version.stdout, compile, link }
}

/** The ASan runtime to LD_PRELOAD into a host process that is not instrumented itself. */
export function asanRuntime(cc = compilerInfo()) {
  const names = cc.clang ? ['libclang_rt.asan-x86_64.so', 'libclang_rt.asan.so'] : ['libasan.so']
  for (const name of names) {
    const r = spawnSync(cc.cxx, [`-print-file-name=${name}`], { encoding: 'utf8' })
    const path = r.stdout?.trim()
    if (r.status === 0 && path && path !== name && existsSync(path)) return path
  }
  throw new BuildError(`${cc.cxx} has no shared ASan runtime (${names.join(', ')}); on Debian: apt-get install libasan8`)
}

function run(cxx, args) {
  return new Promise((resolve) => {
    const child = spawn(cxx, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', (e) => resolve({ ok: false, output: String(e) }))
    child.on('close', (code) => resolve({ ok: code === 0, output }))
  })
}

async function pool(tasks, jobs) {
  const results = []
  let next = 0
  async function worker() {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker))
  return results
}

function writeIfChanged(path, text) {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return
  writeFileSync(path, text)
}

/** A marker that starts or ends the section of static __shared__ variables (shim.hpp, shim.cpp). */
function sharedMarker(name) {
  return [
    `// Generated by test/cuda-shim/build.mjs, linked ${name === 'begin' ? 'first' : 'last'}; do not edit.`,
    `extern "C" {`,
    `__attribute__((visibility("hidden"), used, section("ferrite_shim.shared"))) char ferrite_shim_shared_${name}[8] = {};`,
    `}`,
  ].join('\n') + '\n'
}

/** The generated translation unit of one `.cu`: the file in a namespace, then its registrations. */
function wrapper(source, id, names) {
  const ns = `ferrite_shim_${id}`
  const lines = [
    `// Generated by test/cuda-shim/build.mjs from ${relative(root, source)}; do not edit.`,
    `namespace ${ns} {`,
    `#include ${JSON.stringify(source)}`,
    `}  // namespace ${ns}`,
    ...names.map(
      (name, i) =>
        `static ferrite_shim::Register register_${i}(${JSON.stringify(name)}, &ferrite_shim::invoke<&${ns}::${name}>, ferrite_shim::param_sizes(&${ns}::${name}));`,
    ),
  ]
  return lines.join('\n') + '\n'
}

/** The `.cu` after the preprocessor, with ferrite.cuh but not shim.hpp, so `__global__` stays. */
function preprocess(cc, source) {
  const r = spawnSync(cc.cxx, ['-E', '-P', '-std=c++17', '-x', 'c++', '-include', cuh, source], { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new BuildError(`${relative(root, source)}: the preprocessor failed:\n${r.stderr || r.error}`)
  return r.stdout
}

function plan(cc, selftest) {
  if (!existsSync(cuh)) throw new BuildError(`${relative(root, cuh)} is missing (the shim force-includes it before every kernel)`)
  const sources = selftest ? cuFiles(join(here, 'selftest')) : cuFiles(join(root, 'crates', 'ferrite-core', 'src'))
  const seen = new Map()
  const units = sources.map((source) => {
    const names = kernelsOf(source, preprocess(cc, source))
    for (const name of names) {
      if (seen.has(name)) throw new BuildError(`kernel ${name} is defined in both ${seen.get(name)} and ${relative(root, source)}`)
      seen.set(name, relative(root, source))
    }
    const id = relative(root, source).replace(/\.cu$/, '').replace(/[^A-Za-z0-9]/g, '_')
    return { source, id, names }
  })
  return { units, kernels: [...seen.keys()].sort() }
}

/** Builds (or finds up to date) the library; resolves to { library, libasan, kernels, rebuilt }. */
export async function buildShim({ selftest = false, jobs = Math.min(2, availableParallelism()), force = false } = {}) {
  const cc = compilerInfo()
  const { units, kernels } = plan(cc, selftest)
  const out = join(root, '.cache', 'cuda-shim', ...(selftest ? ['selftest'] : []))
  const library = join(out, selftest ? 'libferrite_shim_selftest.so' : 'libferrite_shim.so')
  for (const dir of ['gen', 'obj']) mkdirSync(join(out, dir), { recursive: true })
  const headers = readFileSync(shimHeader, 'utf8') + readFileSync(cuh, 'utf8')
  const key = sha(cc.cxx, cc.version, cc.compile.join(' '), headers)

  const objects = []
  const tasks = []
  const addObject = (name, hash, args) => {
    const object = join(out, 'obj', `${name}-${hash}.o`)
    objects.push(object)
    if (existsSync(object) && !force) return
    tasks.push(async () => {
      // A name of this process's own, then a rename: another build may be writing the same object.
      const tmp = `${object}.${process.pid}.tmp`
      const r = await run(cc.cxx, [...cc.compile, ...args, '-o', tmp])
      if (r.ok) renameSync(tmp, object)
      else rmSync(tmp, { force: true })
      return r
    })
  }
  const addGenerated = (name, text, args) => {
    const gen = join(out, 'gen', `${name}.cpp`)
    writeIfChanged(gen, text)
    addObject(name, sha(key, text), [...args, '-c', gen])
  }
  addGenerated('shared_begin', sharedMarker('begin'), [])
  addObject('shim', sha(key, readFileSync(shimSource, 'utf8')), ['-c', shimSource])
  for (const unit of units) {
    const gen = join(out, 'gen', `${unit.id}.cpp`)
    const text = wrapper(unit.source, unit.id, unit.names)
    writeIfChanged(gen, text)
    const hash = sha(key, text, readFileSync(unit.source, 'utf8'))
    addObject(unit.id, hash, ['-include', shimHeader, '-include', cuh, '-c', gen])
  }
  addGenerated('shared_end', sharedMarker('end'), [])
  const failures = (await pool(tasks, jobs)).filter((r) => !r.ok)
  if (failures.length > 0) throw new BuildError(failures.map((r) => r.output).join('\n'))

  // What a removed or changed `.cu` left behind.
  for (const file of readdirSync(join(out, 'obj'))) {
    if (!file.endsWith('.tmp') && !objects.includes(join(out, 'obj', file))) rmSync(join(out, 'obj', file))
  }
  const sources = new Set(['shared_begin', 'shared_end', ...units.map((u) => u.id)].map((id) => `${id}.cpp`))
  for (const file of readdirSync(join(out, 'gen'))) {
    if (!sources.has(file)) rmSync(join(out, 'gen', file))
  }
  const stamp = `${library}.stamp`
  const linkKey = sha(cc.link.join(' '), readFileSync(exportsMap, 'utf8'), ...objects)
  const upToDate = !force && tasks.length === 0 && existsSync(library) && existsSync(stamp) && readFileSync(stamp, 'utf8') === linkKey
  if (!upToDate) {
    const tmp = `${library}.${process.pid}.tmp`
    const r = await run(cc.cxx, [...cc.link, '-o', tmp, ...objects])
    if (!r.ok) throw new BuildError(r.output)
    renameSync(tmp, library)
    writeFileSync(stamp, linkKey)
  }
  return { library, libasan: asanRuntime(cc), kernels, rebuilt: !upToDate }
}

async function main() {
  const args = process.argv.slice(2)
  const jobsAt = args.indexOf('--jobs')
  const options = { selftest: args.includes('--selftest'), force: args.includes('--force') }
  if (jobsAt >= 0) options.jobs = Number(args[jobsAt + 1])
  try {
    const result = await buildShim(options)
    if (args.includes('--json')) {
      console.log(JSON.stringify(result))
    } else {
      console.log(`cuda-shim: ${result.kernels.length} kernels, ${result.rebuilt ? 'built' : 'up to date'}`)
      console.log(`library: ${result.library}`)
      console.log(`LD_PRELOAD: ${result.libasan}`)
    }
  } catch (e) {
    if (!(e instanceof BuildError)) throw e
    console.error(`cuda-shim build failed:\n${e.message}`)
    process.exit(1)
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
