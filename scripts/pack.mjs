// `npm run pack [-- --out DIR]`: the release tarballs, as `npm publish` uploads them. The main
// package gets an optional dependency on every platform package in npm/ here, at packing time, and
// not in package.json: `npm ci` cannot lock packages before they are published. The platform
// package is this machine's, with its built .node file. Needs a built tree (`npm run build`).
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
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

/** Packs the main package and this machine's platform package into `destination`. */
export function packRelease(destination) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const platforms = readdirSync(join(root, 'npm'))
  const addon = (platform) => join(root, 'native', `${pkg.napi.binaryName}.${platform}.node`)
  const platform = platforms.find((p) => existsSync(addon(p)))
  if (!platform) throw new Error('no built addon in native/ for a platform in npm/; run `npm run build` first')
  if (!existsSync(join(root, 'dist', 'cjs', 'index.js'))) throw new Error('dist/ is missing; run `npm run build` first')
  const platformPkg = JSON.parse(readFileSync(join(root, 'npm', platform, 'package.json'), 'utf8'))
  if (platformPkg.version !== pkg.version) {
    throw new Error(`npm/${platform} is at version ${platformPkg.version}, the main package at ${pkg.version}; run \`napi version\``)
  }

  const stage = mkdtempSync(join(tmpdir(), 'ferrite-pack-'))
  try {
    const mainDir = join(stage, 'main')
    for (const entry of [...pkg.files, 'README.md', 'LICENSE']) {
      if (existsSync(join(root, entry))) cpSync(join(root, entry), join(mainDir, entry), { recursive: true })
    }
    const { scripts: _scripts, devDependencies: _devDependencies, ...published } = pkg
    published.optionalDependencies = Object.fromEntries(platforms.map((p) => [`${pkg.name}-${p}`, pkg.version]))
    writeFileSync(join(mainDir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)

    const platformDir = join(stage, platform)
    cpSync(join(root, 'npm', platform), platformDir, { recursive: true })
    copyFileSync(addon(platform), join(platformDir, `${pkg.napi.binaryName}.${platform}.node`))

    mkdirSync(destination, { recursive: true })
    return { platform, main: npmPack(mainDir, destination), platformPackage: npmPack(platformDir, destination) }
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: root } } })
  const { main, platformPackage } = packRelease(resolve(values.out))
  for (const info of [main, platformPackage]) {
    console.log(`${info.tarball}: ${(info.size / 1e6).toFixed(2)} MB packed, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${info.entryCount} files`)
  }
}
