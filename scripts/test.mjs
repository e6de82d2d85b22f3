// `npm test`: runs the Rust tests (and, where bench/.venv holds NVIDIA's wheels, the ignored test
// that finds libraries in them), the JS tests, the install test (packed tarballs installed
// into a fresh project) and the CUDA backend's checks without a GPU (scripts/test-cuda.mjs). All
// always run; exits non-zero if any fails, and then repeats the failed JS tests last, where a log
// cut to its tail still shows them. Extra arguments (`npm test -- -t name`) are passed to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npmCli = process.env.npm_execpath;
const extra = process.argv.slice(2);

function npmRun(script, args = []) {
  const argv = ['run', script, ...(args.length ? ['--', ...args] : [])];
  const r = npmCli
    ? spawnSync(process.execPath, [npmCli, ...argv], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', argv, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.error) console.error(r.error);
  return r.status === 0;
}

/** The failed files and tests of a vitest JSON report, each with the start of its message. */
function failuresIn(report) {
  const lines = [];
  const firstLines = (message) => message.split('\n').slice(0, 4).map((l) => `      ${l}`).join('\n');
  for (const file of report.testResults) {
    const name = relative(root, file.name);
    const failed = file.assertionResults.filter((t) => t.status === 'failed');
    if (file.status === 'failed' && failed.length === 0) lines.push(`  ${name}\n${firstLines(file.message ?? '')}`);
    for (const t of failed) lines.push(`  ${name} > ${t.fullName}\n${firstLines(t.failureMessages[0] ?? '')}`);
  }
  return lines;
}

const reportDir = mkdtempSync(join(tmpdir(), 'ferrite-test-'));
const report = join(reportDir, 'vitest.json');
/** Whether bench/.venv holds NVIDIA's wheels, which crates/ferrite-core/tests/cuda_libraries.rs reads. */
function benchVenvHasNvidiaWheels() {
  const lib = join(root, 'bench', '.venv', 'lib');
  return existsSync(lib) && readdirSync(lib).some((python) => existsSync(join(lib, python, 'site-packages', 'nvidia')));
}

/** The wheel-finding test, ignored by `cargo test` because it needs bench/.venv; true where it cannot run. */
function cudaLibrariesTest() {
  if (!benchVenvHasNvidiaWheels()) {
    console.log('cuda_libraries: not run (no bench/.venv with NVIDIA wheels; `npm run bench:compare:setup` makes one)');
    return true;
  }
  const args = ['test', '--workspace', '--test', 'cuda_libraries', '--', '--ignored'];
  const r = spawnSync('cargo', args, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

const rustUnits = npmRun('test:rust');
const rust = cudaLibrariesTest() && rustUnits;
const js = npmRun('test:js', ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra]);
const install = npmRun('test:install');
// Last: it reuses test:rust's test binary and checks the package test:js built.
const cuda = npmRun('test:cuda');
if (!rust || !js || !install || !cuda) {
  const failed = [
    !rust && 'test:rust (cargo test, with tests/cuda_libraries.rs where bench/.venv has the wheels)',
    !js && 'test:js (vitest)',
    !install && 'test:install (npm pack + install)',
    !cuda && 'test:cuda (NVRTC, CPU shim, fake drivers)',
  ];
  if (!js && existsSync(report)) {
    const lines = failuresIn(JSON.parse(readFileSync(report, 'utf8')));
    if (lines.length) console.error(`\nFailed JS tests:\n${lines.join('\n')}`);
  }
  console.error(`\nFAILED: ${failed.filter(Boolean).join(', ')}`);
  process.exitCode = 1;
}
rmSync(reportDir, { recursive: true, force: true });
