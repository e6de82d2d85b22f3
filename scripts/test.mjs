// `npm test`: runs the Rust tests, the JS tests and the install test (packed tarballs installed
// into a fresh project). All always run; exits non-zero if any fails. Extra arguments (`npm test -- -t name`) are passed to vitest.
import { spawnSync } from 'node:child_process';
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

const rust = npmRun('test:rust');
const js = npmRun('test:js', extra);
const install = npmRun('test:install');
if (!rust || !js || !install) {
  const failed = [!rust && 'test:rust (cargo test)', !js && 'test:js (vitest)', !install && 'test:install (npm pack + install)'];
  console.error(`\nFAILED: ${failed.filter(Boolean).join(', ')}`);
  process.exit(1);
}
