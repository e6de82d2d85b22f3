// What the tests of the cross-built platforms share (`test:arm64`, `test:musl`, `test:win`): the
// addon's set-up, build and static check as steps, npm tarballs unpacked without installing, the
// node_modules their foreign Node loads, and vitest's summary line. Each script adds its runner
// (an emulator or a foreign C library) and its checks.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, run, setUp, TARGETS } from './build-platforms.mjs'
import { checkAddon } from './check-platforms.mjs'
import { Skip } from './steps.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Where a platform's test keeps what it sets up (git-ignored). */
export const workFolder = (platform) => join(root, '.cache', 'platforms', platform)

/** Skips a step whose prerequisites did not pass. */
export function needs(...done) {
  if (done.some((d) => !d)) throw new Skip('needs the steps before it')
}

/** Ends the script with a skip line unless this is Linux x64, from which the platforms are built. */
export function requireLinuxX64(label) {
  if (process.platform === 'linux' && process.arch === 'x64') return
  console.log(`${label}: skipped: it cross-builds from Linux x64, this is ${process.platform}-${process.arch}`)
  process.exit(0)
}

/**
 * The steps every platform test starts with: set up `platform`'s build route, build the addon,
 * check it statically. `{ tools, built, checked }` say which passed; `env` is the build's.
 */
export function addonSteps(step, platform) {
  if (!(platform in TARGETS)) throw new Error(`scripts/build-platforms.mjs has no ${platform}`)
  const { triple, route } = TARGETS[platform]
  let env, addon
  const tools = step(`set up the ${platform} build (rustup target, ${route === 'zig' ? 'Zig, cargo-zigbuild' : 'MinGW'})`, () => {
    env = setUp(platform)
    return relative(root, join(root, '.cache'))
  })
  const built = step(`build ${platform} (napi build --target ${triple})`, () => {
    needs(tools)
    addon = build(platform, env, { quiet: true })
    return `${relative(root, addon)}, ${(statSync(addon).size / 2 ** 20).toFixed(1)} MiB`
  })
  const checked = step('static check of the addon', () => {
    needs(built)
    return checkAddon(addon, TARGETS[platform])
  })
  return { tools, built, checked, env }
}

/** The host's tsc and ESM wrapper (which loads this machine's addon to list the exports). */
export function buildDist() {
  run('npm', ['run', 'build:ts'])
  return 'dist/'
}

/** Unpacks the npm tarball of `spec` into `folder` (npm pack, then tar); `only` limits the paths taken. */
export function unpack(platform, spec, folder, only = []) {
  const downloads = join(workFolder(platform), 'downloads')
  mkdirSync(downloads, { recursive: true })
  const tarball = join(downloads, JSON.parse(run('npm', ['pack', '--json', '--pack-destination', downloads, spec]))[0].filename)
  rmSync(folder, { recursive: true, force: true })
  mkdirSync(folder, { recursive: true })
  run('tar', ['-xzf', tarball, '-C', folder, '--strip-components=1', ...only.map((p) => `package/${p}`)])
  rmSync(tarball)
}

/**
 * node_modules for the foreign Node (its NODE_PATH): the addon's platform package (a link to
 * npm/<platform>/, where the build put it), and that platform's builds of the native packages
 * the tests load besides ferrite, at the versions installed for this machine.
 */
export function ensureModules(platform) {
  const modules = join(workFolder(platform), 'node_modules')
  mkdirSync(modules, { recursive: true })
  const ours = JSON.parse(readFileSync(join(root, 'npm', platform, 'package.json'), 'utf8')).name
  rmSync(join(modules, ours), { recursive: true, force: true })
  symlinkSync(join(root, 'npm', platform), join(modules, ours))
  const installed = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  const foreign = [
    [`@rolldown/binding-${platform}`, installed('rolldown')], // vite's bundler, for vitest
    [`@node-rs/crc32-${platform}`, installed('@node-rs/crc32')], // ferrite's TensorBoard writer
  ]
  for (const [name, version] of foreign) {
    const folder = join(modules, name)
    const have = existsSync(join(folder, 'package.json')) && JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).version
    if (have !== version) unpack(platform, `${name}@${version}`, folder)
  }
  return [ours, ...foreign.map(([n, v]) => `${n}@${v}`)].join(', ')
}

/** vitest's "Tests" line in `out`, or throws with the output's tail. */
export function vitestSummary(out) {
  const tests = out.split('\n').find((l) => /^\s*Tests\s/.test(l))
  if (!tests) throw new Error(`vitest printed no "Tests" line:\n${out.split('\n').slice(-20).join('\n')}`)
  return tests.trim().replace(/\s+/g, ' ')
}
