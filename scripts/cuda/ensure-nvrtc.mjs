// Installs the pinned NVRTC wheel into .cache/nvrtc (git-ignored) unless it is already there, and
// prints the folder holding libnvrtc.so.13. The version is pinned because NVRTC 13.0 emits PTX
// 9.0, which the CUDA 13.0 drivers of the project's GPU machines load; newer NVRTC emits PTX
// versions those drivers reject. The wheel's libnvrtc.so.13 has no RPATH and loads
// libnvrtc-builtins.so.13.0 from beside it by name, so that folder must be on LD_LIBRARY_PATH
// of the process that loads NVRTC (set before it starts: the loader reads it once).
//
// Usage: node scripts/cuda/ensure-nvrtc.mjs   (or import { ensureNvrtc } from it)
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const NVRTC_PACKAGE = 'nvidia-cuda-nvrtc'
export const NVRTC_VERSION = '13.0.88'
const root = fileURLToPath(new URL('../..', import.meta.url))
const target = join(root, '.cache', 'nvrtc')
const LIBRARY = 'libnvrtc.so.13'
const BUILTINS = 'libnvrtc-builtins.so.13.0'

/** The folder under `dir` (searched depth first) that holds `name`, if any. */
function folderOf(dir, name) {
  if (!existsSync(dir)) return undefined
  const entries = readdirSync(dir, { withFileTypes: true })
  if (entries.some((e) => e.isFile() && e.name === name)) return dir
  for (const e of entries) {
    if (!e.isDirectory()) continue
    const found = folderOf(join(dir, e.name), name)
    if (found) return found
  }
  return undefined
}

/** Whether .cache/nvrtc holds the pinned version (pip leaves its dist-info folder there). */
function pinnedInstalled() {
  const distInfo = `${NVRTC_PACKAGE.replaceAll('-', '_')}-${NVRTC_VERSION}.dist-info`
  return existsSync(join(target, distInfo)) && folderOf(target, LIBRARY) !== undefined
}

function install() {
  const pip = spawnSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' })
  if (pip.error || pip.status !== 0) {
    throw new Error(`NVRTC is not installed in ${target} and \`python3 -m pip\` is unavailable: install Python 3 with pip`)
  }
  // --upgrade replaces another version left in the folder; --no-deps: the wheel needs nothing else.
  const args = ['-m', 'pip', 'install', '--quiet', '--no-deps', '--upgrade', '--target', target, `${NVRTC_PACKAGE}==${NVRTC_VERSION}`]
  const r = spawnSync('python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.status !== 0) {
    throw new Error(`\`python3 ${args.join(' ')}\` failed (no access to the package index?):\n${r.stderr || r.stdout}`)
  }
}

/** Installs the pinned wheel if needed; returns the folder holding libnvrtc.so.13. */
export function ensureNvrtc() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the NVRTC check needs Linux x64 (the wheel's platform); this is ${process.platform}-${process.arch}`)
  }
  if (!pinnedInstalled()) install()
  const folder = folderOf(target, LIBRARY)
  if (!folder) throw new Error(`${NVRTC_PACKAGE}==${NVRTC_VERSION} installed into ${target}, but it has no ${LIBRARY}`)
  if (!existsSync(join(folder, BUILTINS))) throw new Error(`${folder} has ${LIBRARY} but not ${BUILTINS}, which NVRTC loads`)
  return folder
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(ensureNvrtc())
  } catch (e) {
    console.error(`ensure-nvrtc: ${e.message}`)
    process.exit(1)
  }
}
