// `npm run pack [-- --out DIR] [--platform P ...]`: the release tarballs, as `npm publish` uploads
// them: the main package and one package per platform in npm/ (all of them unless --platform
// names some). The main package gets an optional dependency on every platform package here, at
// packing time, and not in package.json: `npm ci` cannot lock packages before they are published.
// A platform's addon is taken from npm/<platform>/, where `npm run build:all-platforms` puts its
// release builds, else from native/, where `npm run build` puts this machine's. Needs dist/.
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))

/** `[node, npm-cli.js]`: npm run by this Node, whatever PATH holds later. */
export function npmCommand() {
  if (process.env.npm_execpath) return [process.execPath, process.env.npm_execpath]
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const npm = join(dir, 'npm')
    if (existsSync(npm)) return [process.execPath, join(dirname(realpathSync(npm)), 'npm-cli.js')]
  }
  throw new Error('npm not found on PATH')
}

function npmPack(dir, destination) {
  const [node, cli] = npmCommand()
  const r = spawnSync(node, [cli, 'pack', '--json', '--ignore-scripts', '--pack-destination', destination], { cwd: dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm pack in ${dir} failed:\n${r.stdout}${r.stderr}`)
  const [info] = JSON.parse(r.stdout)
  return { ...info, tarball: join(destination, info.filename), paths: info.files.map((f) => f.path) }
}

/** napi-rs's platform name of this process (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`...). */
export function hostPlatform() {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'win32') return `${base}-msvc`
  if (process.platform !== 'linux') return base
  return `${base}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`
}

/** Where the addon of `platform` is: its release build in npm/<platform>/, else a local build in native/; null if neither. */
export function addonFor(platform) {
  const { napi } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const file = `${napi.binaryName}.${platform}.node`
  return [join(root, 'npm', platform, file), join(root, 'native', file)].find((f) => existsSync(f)) ?? null
}

/** The newest modification time among the Rust sources the addons are built from. */
function newestRustSource() {
  const times = [statSync(join(root, 'Cargo.lock')).mtimeMs]
  for (const entry of readdirSync(join(root, 'crates'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.(rs|toml|cu|h)$/.test(entry.name)) times.push(statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return Math.max(...times)
}

/**
 * Packs the main package and the platform packages of `platforms` (default: every one in npm/)
 * into `destination`; `{ main, platforms: { [platform]: { ...npm pack's info, addon } } }`.
 */
export function packRelease(destination, { platforms } = {}) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const all = readdirSync(join(root, 'npm'))
  const wanted = platforms ?? all
  const unknown = wanted.filter((p) => !all.includes(p))
  if (unknown.length) throw new Error(`no platform package npm/${unknown[0]}; the platforms are ${all.join(', ')}`)
  const missing = wanted.filter((p) => !addonFor(p))
  if (missing.length) {
    throw new Error(
      `no built addon for ${missing.join(', ')}: run \`npm run build:all-platforms\` (cross builds) or ` +
        '`npm run build` (this machine\'s), or pack fewer platforms with --platform',
    )
  }
  // npm/<platform>/ keeps a release build until the next build:all-platforms: never ship an old one.
  const sources = newestRustSource()
  const stale = wanted.filter((p) => statSync(addonFor(p)).mtimeMs < sources)
  if (stale.length) {
    throw new Error(`the addon of ${stale.join(', ')} is older than the Rust sources: rebuild it (${stale.map((p) => relative(root, addonFor(p))).join(', ')})`)
  }
  if (!existsSync(join(root, 'dist', 'cjs', 'index.js'))) throw new Error('dist/ is missing; run `npm run build` first')
  for (const platform of wanted) {
    const { version } = JSON.parse(readFileSync(join(root, 'npm', platform, 'package.json'), 'utf8'))
    if (version !== pkg.version) throw new Error(`npm/${platform} is at version ${version}, the main package at ${pkg.version}; run \`napi version\``)
  }

  const stage = mkdtempSync(join(tmpdir(), 'ferrite-pack-'))
  try {
    const mainDir = join(stage, 'main')
    for (const entry of [...pkg.files, 'README.md', 'LICENSE']) {
      if (existsSync(join(root, entry))) cpSync(join(root, entry), join(mainDir, entry), { recursive: true })
    }
    const { scripts: _scripts, devDependencies: _devDependencies, ...published } = pkg
    published.optionalDependencies = Object.fromEntries(all.map((p) => [`${pkg.name}-${p}`, pkg.version]))
    writeFileSync(join(mainDir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
    mkdirSync(destination, { recursive: true })
    const main = npmPack(mainDir, destination)

    const packed = {}
    for (const platform of wanted) {
      const platformDir = join(stage, platform)
      const addon = addonFor(platform)
      cpSync(join(root, 'npm', platform), platformDir, { recursive: true, filter: (f) => !f.endsWith('.node') })
      copyFileSync(addon, join(platformDir, `${pkg.napi.binaryName}.${platform}.node`))
      packed[platform] = { ...npmPack(platformDir, destination), addon }
    }
    return { main, platforms: packed }
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: root }, platform: { type: 'string', multiple: true } } })
  try {
    const { main, platforms } = packRelease(resolve(values.out), { platforms: values.platform })
    for (const info of [main, ...Object.values(platforms)]) {
      const from = info.addon ? ` (addon from ${relative(root, info.addon)})` : ''
      console.log(`${info.tarball}: ${(info.size / 1e6).toFixed(2)} MB packed, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${info.entryCount} files${from}`)
    }
  } catch (e) {
    console.error(`pack: ${e.message}`)
    process.exitCode = 1
  }
}
