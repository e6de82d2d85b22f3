// `npm run build:all-platforms [-- platform...]`: cross-builds the native addon for the platforms
// in TARGETS from this machine (Linux x64), as a release would, into npm/<platform>/ (where the
// platform package's files sit; *.node is git-ignored). The tools each route needs are set up
// here, once, into .cache/ (git-ignored): the Rust target's standard library (rustup), Zig (the
// PyPI `ziglang` wheel) and cargo-zigbuild, through which `napi build --cross-compile` links.
// Each addon built is then checked statically (scripts/check-platforms.mjs): format, architecture,
// entry point, the libraries it needs. Each platform prints one line; the exit code is non-zero
// if any failed.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const cache = join(root, '.cache')
const ZIG_VERSION = '0.17.1'
const CARGO_ZIGBUILD_VERSION = '0.24.1'

/**
 * Each platform package in npm/ that is built here: its Rust target, how it is built and the
 * oldest system it runs on: for glibc, the glibc version (Zig links against that version's
 * symbols, so the addon loads on distributions that old, not only on ones as new as this
 * machine); for macOS, the macOS version (MACOSX_DEPLOYMENT_TARGET; Node 20's own minimum).
 */
export const TARGETS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', glibc: '2.17', route: 'zig' },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', glibc: '2.17', route: 'zig' },
  'linux-x64-musl': { triple: 'x86_64-unknown-linux-musl', route: 'zig' },
  'darwin-x64': { triple: 'x86_64-apple-darwin', macos: '10.15', route: 'zig' },
  'darwin-arm64': { triple: 'aarch64-apple-darwin', macos: '11.0', route: 'zig' },
}

/** Runs a command in the repository root; its stdout, or throws with the output's tail. */
export function run(command, args, { env = {}, quiet = true, cwd = root } = {}) {
  const r = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'],
    maxBuffer: 256 * 1024 * 1024,
  })
  if (r.error) throw new Error(`${command}: ${r.error.message}`)
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n')
    throw new Error(`\`${command} ${args.join(' ')}\` exited with ${r.status ?? r.signal}\n${tail}`)
  }
  return r.stdout ?? ''
}

function succeeds(command, args) {
  const r = spawnSync(command, args, { stdio: 'ignore' })
  return !r.error && r.status === 0
}

function ensureRustTarget(triple) {
  if (run('rustup', ['target', 'list', '--installed']).split('\n').includes(triple)) return
  run('rustup', ['target', 'add', triple])
}

/** Zig from the PyPI wheel: the folder holding the `zig` executable. */
function ensureZig() {
  const target = join(cache, 'zig')
  const folder = join(target, 'ziglang')
  if (!existsSync(join(target, `ziglang-${ZIG_VERSION}.dist-info`)) || !existsSync(join(folder, 'zig'))) {
    if (!succeeds('python3', ['-m', 'pip', '--version'])) throw new Error('Zig comes from PyPI, and `python3 -m pip` is unavailable: install Python 3 with pip')
    run('python3', ['-m', 'pip', 'install', '--quiet', '--no-deps', '--upgrade', '--target', target, `ziglang==${ZIG_VERSION}`])
  }
  return folder
}

/** cargo-zigbuild installed under .cache, so that napi finds it and does not install its own globally. */
function ensureCargoZigbuild() {
  const rootDir = join(cache, 'cargo-zigbuild')
  const bin = join(rootDir, 'bin')
  const installed = existsSync(join(bin, 'cargo-zigbuild')) && run(join(bin, 'cargo-zigbuild'), ['--version']).includes(CARGO_ZIGBUILD_VERSION)
  if (!installed) run('cargo', ['install', '--locked', '--root', rootDir, '--version', CARGO_ZIGBUILD_VERSION, 'cargo-zigbuild'])
  return bin
}

/** Sets up what `platform`'s route needs; the environment its build runs with. */
export function setUp(platform) {
  const { triple, route } = TARGETS[platform]
  ensureRustTarget(triple)
  if (route === 'zig') return { PATH: [ensureZig(), ensureCargoZigbuild(), process.env.PATH].join(delimiter) }
  throw new Error(`no build route "${route}"`)
}

/** The built addon of `platform`: npm/<platform>/<binaryName>.<platform>.node. */
export function addonPath(platform) {
  const { napi } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  return join(root, 'npm', platform, `${napi.binaryName}.${platform}.node`)
}

/** Builds `platform` with napi's own cross-compilation (`quiet`: output only on failure); the addon's path. */
export function build(platform, env, { quiet = false } = {}) {
  const { triple, glibc, macos } = TARGETS[platform]
  // napi also writes the JS loader and typings there: native/ keeps the committed ones.
  const out = join(cache, 'platforms', 'build', platform)
  mkdirSync(out, { recursive: true })
  const napi = join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  const args = [napi, 'build', '--platform', '--release', '--no-const-enum', '--manifest-path', 'crates/ferrite-node/Cargo.toml']
  // cargo-zigbuild reads a glibc version after the triple (`aarch64-unknown-linux-gnu.2.17`), and
  // napi passes it through: Cargo builds the plain triple, Zig links against that glibc.
  const target = glibc ? `${triple}.${glibc}` : triple
  const deployment = macos ? { MACOSX_DEPLOYMENT_TARGET: macos } : {}
  run(process.execPath, [...args, '--target', target, '--cross-compile', '--output-dir', out], { env: { ...env, ...deployment }, quiet })
  const addon = addonPath(platform)
  copyFileSync(join(out, addon.split(/[\\/]/).pop()), addon)
  return addon
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain) {
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((p) => !(p in TARGETS))
  if (unknown.length) {
    console.error(`build:all-platforms: unknown platform ${unknown.join(', ')}; known: ${Object.keys(TARGETS).join(', ')}`)
    process.exit(2)
  }
  // Imported here: check-platforms.mjs imports this module when run by itself.
  const { checkAddon } = await import('./check-platforms.mjs')
  let failed = 0
  for (const platform of wanted.length ? wanted : Object.keys(TARGETS)) {
    const t0 = Date.now()
    try {
      const addon = build(platform, setUp(platform))
      const mib = (statSync(addon).size / 2 ** 20).toFixed(1)
      const checked = checkAddon(addon, TARGETS[platform])
      console.log(`build:all-platforms: PASS ${platform} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${relative(root, addon)}, ${mib} MiB: ${checked}`)
    } catch (e) {
      failed++
      console.log(`build:all-platforms: FAIL ${platform} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${e.message}`)
    }
  }
  if (failed) process.exitCode = 1
}
