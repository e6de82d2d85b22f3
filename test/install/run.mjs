// `npm run test:install`: installs ferrite the way a user does, from packed tarballs, on a PATH
// without cargo or rustc, then trains from plain CommonJS and ESM scripts, runs the CLI and
// type-checks a TypeScript user file against the shipped declarations. Also checks what the main
// package ships, and that without the platform package the import fails with advice.
// Needs a built tree (`npm run build`). Prints the package sizes.
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { npmCommand, packRelease } from '../../scripts/pack.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const here = fileURLToPath(new URL('.', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
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
  const [node, cli] = npmCommand()
  return run(node, [cli, ...args], options)
}

/** PATH with every folder holding cargo or rustc removed, plus a folder holding only `node`. */
function pathWithoutRust() {
  const nodeOnly = join(work, 'node-bin')
  mkdirSync(nodeOnly)
  const node = join(nodeOnly, process.platform === 'win32' ? 'node.exe' : 'node')
  // A link, not a copy of the ~100 MB binary; Windows without link rights gets the copy.
  try {
    symlinkSync(process.execPath, node)
  } catch {
    copyFileSync(process.execPath, node)
  }
  const hasRust = (dir) => ['cargo', 'rustc', 'cargo.exe', 'rustc.exe'].some((f) => existsSync(join(dir, f)))
  return [nodeOnly, ...(process.env.PATH ?? '').split(delimiter).filter((d) => d && !hasRust(d))].join(delimiter)
}

let main, platformPackage, platform
step(`pack ${pkg.name} and its platform package (npm run pack)`, () => {
  ;({ main, platformPackage, platform } = packRelease(join(work, 'tarballs')))
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

step('install both tarballs into a fresh project, with no cargo or rustc on PATH', () => {
  const cargo = spawnSync('cargo', ['--version'], { env })
  if (!cargo.error) throw new Error('cargo is still reachable on the stripped PATH')
  cpSync(join(here, 'project'), project, { recursive: true })
  npm(['install', '--offline', main.tarball, platformPackage.tarball], { cwd: project, env })
})

const sample = join(root, 'data', 'cifar10-sample')
step('train from CommonJS (require)', () => run(process.execPath, ['train.cjs', sample], { cwd: project, env }))
step('train from ESM (import)', () => run(process.execPath, ['train.mjs', sample], { cwd: project, env }))
step('the ferrite CLI from node_modules/.bin', () => {
  const out = run(join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'ferrite.cmd' : 'ferrite'), ['summary', '--model', 'mycnn'], { cwd: project, env, echo: false, shell: process.platform === 'win32' })
  if (!/Total parameters: 25,674/.test(out)) throw new Error(`unexpected summary output:\n${out}`)
  console.log(out.trimEnd().split('\n').slice(-3).join('\n'))
})
step('type-check a TypeScript user file against the shipped .d.ts (tsc --noEmit)', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  run(process.execPath, [tsc, '--noEmit', '-p', project, '--typeRoots', join(root, 'node_modules', '@types')], { cwd: project, env })
})

step('without the platform package, importing ferrite names the platform, the package and the fix', () => {
  const bare = join(work, 'bare')
  cpSync(join(here, 'project'), bare, { recursive: true })
  npm(['install', '--offline', '--no-optional', main.tarball], { cwd: bare, env, echo: false })
  const probe = spawnSync(process.execPath, ['-e', "try { require('ferrite') } catch (e) { console.log(e.name + ': ' + e.message); process.exit(3) }"], { cwd: bare, env, encoding: 'utf8' })
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
