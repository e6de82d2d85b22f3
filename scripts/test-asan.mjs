// `npm run test:asan`: builds the addon under AddressSanitizer with the nightly toolchain and
// runs the fuzz suite (test/fuzz) against it, so out-of-bounds reads and writes, use after free
// and double frees in the Rust code fail a test instead of passing silently. Not part of CI: it
// needs nightly Rust (`rustup toolchain install nightly`) and Linux x64.
//
// The build goes to target/asan (the release addon in native/ is left alone), with the `asan`
// feature, which swaps mimalloc for the system allocator that ASan watches. Node itself is not
// instrumented, so ASan's runtime is preloaded into it: nightly's shared runtime when the
// toolchain ships one, else GCC's libasan. Extra arguments go to vitest; FERRITE_FUZZ_SECONDS
// and FERRITE_FUZZ_SEED work as in `npm test` (test/fuzz/spawn.ts).
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const target = 'x86_64-unknown-linux-gnu'
const targetDir = join(root, 'target', 'asan')

function fail(message) {
  console.error(`test:asan: ${message}`)
  process.exit(1)
}

function output(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`needs Linux x64, this is ${process.platform}-${process.arch}`)
const sysroot = output('rustc', ['+nightly', '--print', 'sysroot'])
if (sysroot === undefined) fail('needs the nightly toolchain: rustup toolchain install nightly')

/** A shared ASan runtime to preload into node. */
function asanRuntime() {
  const nightly = join(sysroot, 'lib', 'rustlib', target, 'lib', 'librustc-nightly_rt.asan.so')
  if (existsSync(nightly)) return nightly
  const gcc = output('gcc', ['-print-file-name=libasan.so'])
  if (gcc && gcc !== 'libasan.so' && existsSync(gcc)) return gcc
  fail(`no shared ASan runtime: neither ${nightly} nor GCC's libasan.so (apt-get install libasan8)`)
}

const runtime = asanRuntime()
console.log(`test:asan: building the addon with -Zsanitizer=address into ${targetDir}`)
const build = spawnSync(
  'cargo',
  ['+nightly', 'build', '-p', 'ferrite-node', '--release', '--features', 'asan', '--target', target, '--target-dir', targetDir],
  {
    cwd: root,
    stdio: 'inherit',
    // --target keeps build scripts and proc macros, which run in cargo, uninstrumented.
    env: { ...process.env, RUSTFLAGS: '-Zsanitizer=address', CARGO_PROFILE_RELEASE_DEBUG: 'line-tables-only' },
  },
)
if (build.status !== 0) fail('the ASan build failed')
// Node loads addons by their .node extension.
const addon = join(targetDir, 'ferrite-asan.node')
copyFileSync(join(targetDir, target, 'release', 'libferrite_node.so'), addon)

console.log(`test:asan: running test/fuzz with ${addon}, ASan runtime ${runtime}`)
const run = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/fuzz', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    // For the fuzz children only (test/fuzz/spawn.ts): vitest's own napi-rs packages would load
    // an addon named by NAPI_RS_NATIVE_LIBRARY_PATH too.
    FERRITE_FUZZ_NATIVE: addon,
    FERRITE_FUZZ_PRELOAD: runtime,
    // Node's own allocations are never freed at exit; a failed allocation returns null, as
    // malloc does, so the addon's fallible allocations see it.
    ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? 'detect_leaks=0:allocator_may_return_null=1:print_summary=1',
  },
})
process.exit(run.status ?? 1)
