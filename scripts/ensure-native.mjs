// Run by `prepare` (npm install / npm ci in a clone of the repository; never in an install from
// the registry, whose binary comes from the platform package).
//
// If a loadable native addon already exists (a local native/ferrite.*.node, or an
// installed platform package ferrite-<platform>), do nothing. Otherwise build it
// from source with `npm run build:native` (needs Rust stable + the repo's crates/).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const platform = `${process.platform}-${process.arch}`;

function fail(lines) {
  console.error(['', ...lines.map((l) => `ferrite: ${l}`), ''].join('\n'));
  process.exit(1);
}

try {
  require(`${root}native/index.js`);
  process.exit(0); // A binary loads: nothing to do.
} catch (err) {
  console.log(`ferrite: no prebuilt native addon for ${platform}; building it from source.`);
  if (process.env.FERRITE_DEBUG_INSTALL) console.log(err);
}

if (!existsSync(`${root}crates/ferrite-node/Cargo.toml`)) {
  fail([
    `no prebuilt native addon is available for ${platform}, and this copy of ferrite`,
    'does not include the Rust sources needed to build one.',
    'Build ferrite from a clone of its git repository instead (requires Rust stable).',
  ]);
}

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (cargo.error || cargo.status !== 0) {
  fail([
    'building the native addon from source requires the Rust stable toolchain,',
    "but `cargo` was not found on PATH. Install Rust stable (e.g. with rustup), make",
    'sure `cargo` is on PATH, then re-run the install.',
  ]);
}

try {
  require.resolve('@napi-rs/cli/package.json');
} catch {
  fail(['building from source requires the dev dependency @napi-rs/cli; run `npm install` in the repository.']);
}

// Re-use the package.json `build:native` script so the napi flags live in one place.
const npmCli = process.env.npm_execpath;
const build = npmCli
  ? spawnSync(process.execPath, [npmCli, 'run', 'build:native'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build:native'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });

if (build.error || build.status !== 0) {
  fail([`native build failed (${build.error ?? `exit code ${build.status}`}).`]);
}
