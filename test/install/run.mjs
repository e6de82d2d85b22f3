// `npm run test:install [-- --platform P --node N]`: installs ferrite-ml the way a user does, from
// packed tarballs, on a PATH without cargo or rustc, then trains from plain CommonJS and ESM
// scripts, runs the CLI and type-checks a TypeScript user file against the shipped declarations.
// Also checks what the main package ships, and that without the platform package the import fails
// with advice. By default for this machine's platform; with --platform, for another one, whose
// Node (an emulator's launcher: scripts/test-arm64.mjs passes one) is the node command N, which
// runs npm too, so that npm resolves the optional dependencies as it does on that platform.
// Needs a built tree (`npm run build`). Prints the package sizes.
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { hostPlatform, npmCommand, packRelease } from '../../scripts/pack.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const here = fileURLToPath(new URL('.', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const { values: options } = parseArgs({ options: { platform: { type: 'string', default: hostPlatform() }, node: { type: 'string', default: process.execPath } } })
const platform = options.platform
const node = options.node
const work = mkdtempSync(join(tmpdir(), 'ferrite-install-'))

/** Runs one step; each builds on the ones before, so the first failure ends the test. */
function step(title, fn) {
  console.log(`\n== ${title}`)
  try {
    fn()
  } catch (error) {
    console.error(`FAILED: ${error.message}\n\ntest:install FAILED (work folder kept: ${work})`)
    process.exit(1)
  }
  console.log('ok')
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options })
  if (result.error) throw result.error
  if (options.echo !== false && result.stdout.trim()) console.log(result.stdout.trimEnd())
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}${result.stderr}`)
  return result.stdout
}

function npm(args, options) {
  const [, cli] = npmCommand()
  return run(node, [cli, ...args], options)
}

/** PATH with every folder holding cargo or rustc removed, plus a folder holding only `node` (the chosen one). */
function pathWithoutRust() {
  const nodeOnly = join(work, 'node-bin')
  mkdirSync(nodeOnly)
  const link = join(nodeOnly, process.platform === 'win32' ? 'node.exe' : 'node')
  // A link, not a copy of the ~100 MB binary; Windows without link rights gets the copy.
  try {
    symlinkSync(node, link)
  } catch {
    copyFileSync(node, link)
  }
  const hasRust = (dir) => ['cargo', 'rustc', 'cargo.exe', 'rustc.exe'].some((f) => existsSync(join(dir, f)))
  return [nodeOnly, ...(process.env.PATH ?? '').split(delimiter).filter((d) => d && !hasRust(d))].join(delimiter)
}

let main, platformPackage
step(`pack ${pkg.name} and ${pkg.name}-${platform} (npm run pack)`, () => {
  let platforms
  ;({ main, platforms } = packRelease(join(work, 'tarballs'), { platforms: [platform] }))
  platformPackage = platforms[platform]
  console.log(`the addon packed: ${relative(root, platformPackage.addon)}`)
  const unwanted = main.paths.filter((f) => /^(crates|ts|test|bench|data|examples|scripts|npm|target)\//.test(f) || f.endsWith('.node') || f.endsWith('.rs'))
  if (unwanted.length > 0) throw new Error(`the main package ships files users do not need: ${unwanted.join(', ')}`)
  for (const needed of ['dist/cjs/index.js', 'dist/esm/index.mjs', 'dist/types/index.d.ts', 'native/index.js', 'bin/ferrite.js', 'README.md', 'LICENSE']) {
    if (!main.paths.includes(needed)) throw new Error(`the main package lacks ${needed}`)
  }
  if (!platformPackage.paths.includes(`${pkg.napi.binaryName}.${platform}.node`)) throw new Error('the platform package lacks its .node file')
})

const PATH = pathWithoutRust()
const env = { ...process.env, PATH, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }
const project = join(work, 'project')

// The cache first, the registry only for what it lacks: `npm ci` caches the dependencies'
// tarballs but not their registry metadata, which an install of a tarball resolves ranges
// against, so on a machine whose npm cache is fresh `--offline` failed (ENOTCACHED); another
// platform's builds of the dependencies' native parts may not be cached either.
const cacheFlag = '--prefer-offline'

step(`install both tarballs into a fresh project for ${platform}, with no cargo or rustc on PATH`, () => {
  const cargo = spawnSync('cargo', ['--version'], { env })
  if (!cargo.error) throw new Error('cargo is still reachable on the stripped PATH')
  cpSync(join(here, 'project'), project, { recursive: true })
  npm(['install', cacheFlag, main.tarball, platformPackage.tarball], { cwd: project, env })
})

const sample = join(root, 'data', 'cifar10-sample')
step('train from CommonJS (require)', () => run(node, ['train.cjs', sample], { cwd: project, env }))
step('train from ESM (import)', () => run(node, ['train.mjs', sample], { cwd: project, env }))
step('the ferrite CLI from node_modules/.bin', () => {
  const bin = join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'ferrite.cmd' : 'ferrite')
  const args = ['summary', '--model', 'mycnn']
  // npm for Windows (test:win, under Wine) writes its sh launcher without the executable bit.
  const viaSh = platform.startsWith('win32') && process.platform !== 'win32'
  const out = run(viaSh ? 'sh' : bin, viaSh ? [bin, ...args] : args, { cwd: project, env, echo: false, shell: process.platform === 'win32' })
  if (!/Total parameters: 25,674/.test(out)) throw new Error(`unexpected summary output:\n${out}`)
  console.log(out.trimEnd().split('\n').slice(-3).join('\n'))
})
step('type-check a TypeScript user file against the shipped .d.ts (tsc --noEmit)', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  run(process.execPath, [tsc, '--noEmit', '-p', project, '--typeRoots', join(root, 'node_modules', '@types')], { cwd: project, env })
})

step('without the platform package, importing ferrite-ml names the platform, the package and the fix', () => {
  const bare = join(work, 'bare')
  cpSync(join(here, 'project'), bare, { recursive: true })
  npm(['install', cacheFlag, '--omit=optional', main.tarball], { cwd: bare, env, echo: false })
  const probe = spawnSync(node, ['-e', "try { require('ferrite-ml') } catch (e) { console.log(e.name + ': ' + e.message); process.exit(3) }"], { cwd: bare, env, encoding: 'utf8' })
  if (probe.status !== 3) throw new Error(`expected the import to fail, got exit ${probe.status}: ${probe.stdout}${probe.stderr}`)
  console.log(probe.stdout.trimEnd())
  for (const expected of ['NativeBindingError', platform, `${pkg.name}-${platform}`, 'npm/cli/issues/4828', 'package-lock.json']) {
    if (!probe.stdout.includes(expected)) throw new Error(`the error does not mention '${expected}'`)
  }
})

console.log('\n== package sizes')
for (const info of [main, platformPackage]) {
  console.log(`${info.filename}: ${(info.size / 1e6).toFixed(2)} MB packed, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${info.entryCount} files`)
}
rmSync(work, { recursive: true, force: true })
console.log('\ntest:install passed')
