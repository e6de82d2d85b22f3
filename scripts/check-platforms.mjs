// `node scripts/check-platforms.mjs [platform...]`: the static check of each cross-built addon in
// npm/<platform>/ (run by `npm run build:all-platforms` after each build), for what cannot be
// run here: its file format and architecture, the napi entry point Node looks up, and the shared
// libraries it needs, against an allow-list of what every machine of that platform has; for
// glibc, the newest symbol version it needs must be within the floor TARGETS names. CUDA's
// libraries must not be among them: cudarc loads them at run time, so that one binary serves
// machines without a GPU. The binaries are read with LLVM's tools (rustup's llvm-tools).
import { existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'

const root = fileURLToPath(new URL('..', import.meta.url))

/** llvm-readobj, llvm-nm and llvm-objdump from rustup's llvm-tools component, added if missing. */
export function llvmTools() {
  const sysroot = capture('rustc', ['--print', 'sysroot']).trim()
  const host = /^host: (.+)$/m.exec(capture('rustc', ['-vV']))[1]
  const bin = join(sysroot, 'lib', 'rustlib', host, 'bin')
  if (!existsSync(join(bin, 'llvm-readobj'))) capture('rustup', ['component', 'add', 'llvm-tools'])
  const tool = (name) => (args) => capture(join(bin, name), args)
  return { readobj: tool('llvm-readobj'), nm: tool('llvm-nm'), objdump: tool('llvm-objdump') }
}

function capture(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (r.error) throw new Error(`${command}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`\`${command} ${args.join(' ')}\` exited with ${r.status}: ${r.stderr.trim()}`)
  return r.stdout
}

/** What llvm-readobj calls each architecture of a Rust triple. */
const ARCH = { x86_64: 'x86_64', aarch64: 'aarch64' }
/** Libraries each C library's platform has on every machine (the loader, libc and its parts). */
const GLIBC_LIBRARIES = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libgcc_s.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1']
// musl's loader answers for every name of libc's parts itself (libc.so, libc.musl-x86_64.so.1,
// libm.so...); libgcc_s (the unwinder) is Alpine's `libgcc`, which its Node package depends on.
const MUSL_LIBRARY = /^(lib(c|m|dl|pthread|rt)\.so(\.\d+)?|libc\.musl-[\w-]+\.so\.1|ld-musl-[\w-]+\.so\.1|libgcc_s\.so\.1)$/
// Rust's standard library links libiconv (which re-exports libcharset) on macOS: both are in /usr/lib.
const MACOS_LIBRARIES = ['/usr/lib/libSystem.B.dylib', '/usr/lib/libiconv.2.dylib', '/usr/lib/libcharset.1.dylib']
const CUDA = /cuda|cublas|cudnn|nvrtc|nvidia-ml|nvml/i

/** Compares dotted version numbers: negative, zero or positive. */
const compareVersions = (a, b) => a.localeCompare(b, 'en', { numeric: true })

/**
 * Checks the addon `file` built for `target` ({ triple, glibc, macos } of TARGETS); a one-line summary,
 * or throws saying what is wrong.
 */
export function checkAddon(file, { triple, glibc, macos }, tools = llvmTools()) {
  const [arch, , os, abi] = triple.split('-')
  if (os !== 'linux' && os !== 'darwin') return `no static check here for ${os} (ELF and Mach-O only)`
  const name = relative(root, file)
  const headers = tools.readobj(['--file-headers', '--needed-libs', file])
  const format = /^Format: (.+)$/m.exec(headers)?.[1] ?? 'unknown'
  const fileArch = /^Arch: (.+)$/m.exec(headers)?.[1]
  const macho = os === 'darwin'
  // A Mach-O file's own install name (LC_ID_DYLIB) is listed with the libraries it needs.
  const own = macho ? tools.objdump(['--macho', '--dylib-id', file]).trim().split('\n').pop() : undefined
  const needed = (/NeededLibraries \[\n([^\]]*)\]/.exec(headers)?.[1].split('\n') ?? []).map((l) => l.trim()).filter((l) => l && l !== own)
  if (macho ? !format.startsWith('Mach-O') : !format.startsWith('elf64-')) throw new Error(`${name} is ${format}, not ${macho ? 'Mach-O' : 'a 64-bit ELF file'}`)
  if (fileArch !== ARCH[arch]) throw new Error(`${name} is built for ${fileArch}, not ${ARCH[arch]}`)

  const entry = macho ? '_napi_register_module_v1' : 'napi_register_module_v1'
  const exported = tools.nm([macho ? '--extern-only' : '--dynamic', '--defined-only', file])
  if (!new RegExp(`^[0-9a-f]+ T ${entry}$`, 'm').test(exported)) throw new Error(`${name} does not export ${entry}`)

  const cuda = needed.filter((lib) => CUDA.test(lib))
  if (cuda.length) throw new Error(`${name} links CUDA's ${cuda.join(', ')}: cudarc must load them at run time`)
  const allowed = (lib) => (macho ? MACOS_LIBRARIES.includes(lib) : abi === 'musl' ? MUSL_LIBRARY.test(lib) : GLIBC_LIBRARIES.includes(lib))
  const unexpected = needed.filter((lib) => !allowed(lib))
  if (unexpected.length) throw new Error(`${name} needs ${unexpected.join(', ')}, which ${os}-${abi ?? arch} machines need not have`)

  const notes = [`${format}`, `exports ${entry}`, `needs ${needed.join(' ')}`]
  // musl's dlopen refuses a library with initial-exec thread-locals (the ELF flag STATIC_TLS):
  // Node would fail to load it on Alpine with "initial-exec TLS resolves to dynamic definition".
  if (abi === 'musl' && /^\s*0x\w+ FLAGS\s.*\bSTATIC_TLS\b/m.test(tools.readobj(['--dynamic-table', file]))) {
    throw new Error(`${name} has initial-exec thread-locals (STATIC_TLS), which musl cannot load after start-up`)
  }
  if (abi === 'gnu') {
    const versions = [...tools.readobj(['--version-info', file]).matchAll(/Name: GLIBC_([\d.]+)$/gm)].map((m) => m[1])
    const newest = versions.sort(compareVersions).pop()
    if (glibc && newest && compareVersions(newest, glibc) > 0) throw new Error(`${name} needs glibc ${newest}, newer than the floor ${glibc}`)
    notes.push(`glibc >= ${newest}`)
  }
  if (macho) notes.push(...checkMachO(file, name, macos, tools))
  return notes.join(', ')
}

/**
 * A napi addon for macOS is linked with `-undefined dynamic_lookup`: Node's napi_* functions are
 * found in the process that loads it. Any other symbol left to be found that way would be one
 * whose library (a framework, say) was not linked, and would fail only on a Mac, when loaded.
 * The oldest macOS the file says it runs on must be within `macos`.
 */
function checkMachO(file, name, macos, tools) {
  const bindings = tools.objdump(['--macho', '--bind', '--lazy-bind', file])
  const flat = [...bindings.matchAll(/ flat-namespace\s+(\S+)$/gm)].map((m) => m[1])
  const napi = flat.filter((symbol) => symbol.startsWith('_napi_'))
  const others = flat.filter((symbol) => !symbol.startsWith('_napi_'))
  if (!napi.length) throw new Error(`${name} looks up no napi_* function in the loading process: it is not linked as a napi addon`)
  if (others.length) throw new Error(`${name} leaves ${others.slice(0, 5).join(', ')}${others.length > 5 ? '...' : ''} to the loading process: their library was not linked`)
  const headers = tools.objdump(['--macho', '--private-headers', file])
  const minimum = /cmd LC_BUILD_VERSION[\s\S]*?minos ([\d.]+)/.exec(headers)?.[1] ?? /cmd LC_VERSION_MIN_MACOSX[\s\S]*?version ([\d.]+)/.exec(headers)?.[1]
  if (!minimum) throw new Error(`${name} names no minimum macOS version`)
  if (macos && compareVersions(minimum, macos) > 0) throw new Error(`${name} needs macOS ${minimum}, newer than ${macos}`)
  return [`${napi.length} napi_* functions looked up in the loading process`, `macOS >= ${minimum}`]
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain) {
  const { addonPath, TARGETS } = await import('./build-platforms.mjs')
  const wanted = process.argv.slice(2)
  const tools = llvmTools()
  let failed = 0
  for (const platform of wanted.length ? wanted : Object.keys(TARGETS)) {
    try {
      if (!(platform in TARGETS)) throw new Error(`unknown platform; known: ${Object.keys(TARGETS).join(', ')}`)
      const file = addonPath(platform)
      if (!existsSync(file)) throw new Error(`${relative(root, file)} is not built: npm run build:all-platforms -- ${platform}`)
      console.log(`check-platforms: PASS ${platform}: ${checkAddon(file, TARGETS[platform], tools)}`)
    } catch (e) {
      failed++
      console.log(`check-platforms: FAIL ${platform}: ${e.message}`)
    }
  }
  if (failed) process.exitCode = 1
}
