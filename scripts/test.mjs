// `npm test`: runs the Rust tests and the JS tests. Both always run; exits non-zero
// if either fails. Extra arguments (`npm test -- -t name`) are passed to vitest.
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
if (!rust || !js) {
  console.error(`\nFAILED: ${[!rust && 'test:rust (cargo test)', !js && 'test:js (vitest)'].filter(Boolean).join(', ')}`);
  process.exit(1);
}
