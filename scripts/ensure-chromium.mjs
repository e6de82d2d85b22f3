// Makes sure a Chromium the browser-page test (test/web.test.ts) can drive is installed, and
// prints its path on stdout:
//
//   node scripts/ensure-chromium.mjs
//
// FERRITE_CHROMIUM names the executable (default /usr/bin/chromium, Debian's `chromium`
// package). When the default is missing on a machine with apt-get, it installs the package:
// directly as root, else through `sudo -n` when that needs no password. Exits 1 with what to do
// when Chromium is missing and cannot be installed.
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'

const DEFAULT_CHROMIUM = '/usr/bin/chromium'

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function fail(reason) {
  console.error(
    [
      `ensure-chromium: ${reason}`,
      'The browser page test (test/web.test.ts) drives Chromium headless. Either:',
      '  - install it: sudo apt-get install -y chromium   (Debian; other systems: any Chromium or Chrome build)',
      '  - or point FERRITE_CHROMIUM at a Chromium or Chrome executable',
      '  - or set FERRITE_SKIP_BROWSER_TEST=1 to skip that test on purpose.',
    ].join('\n'),
  )
  process.exit(1)
}

/** Runs `command` as root (directly, or through a sudo that asks no password); false if it cannot. */
function runAsRoot(command) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const [file, args] = process.getuid?.() === 0 ? [command[0], command.slice(1)] : ['sudo', ['-n', ...command]]
  console.error(`ensure-chromium: ${[file, ...args].join(' ')}`)
  // apt's progress goes to stderr, so stdout keeps only the path this script prints.
  const result = spawnSync(file, args, { env, stdio: ['ignore', 2, 2] })
  return result.status === 0
}

function canRunAsRoot() {
  if (process.getuid?.() === 0) return true
  return spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0
}

const requested = process.env.FERRITE_CHROMIUM
if (requested) {
  if (!isExecutable(requested)) fail(`FERRITE_CHROMIUM=${requested} is not an executable file.`)
  console.log(requested)
  process.exit(0)
}
if (isExecutable(DEFAULT_CHROMIUM)) {
  console.log(DEFAULT_CHROMIUM)
  process.exit(0)
}
if (process.platform !== 'linux' || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
  fail(`${DEFAULT_CHROMIUM} is missing and this machine has no apt-get to install it with.`)
}
if (!canRunAsRoot()) fail(`${DEFAULT_CHROMIUM} is missing, and installing it needs root (or sudo without a password).`)
const install = ['apt-get', 'install', '-y', 'chromium']
// A fresh container has no package lists yet: fetch them only when the first try needs them.
const installed = runAsRoot(install) || (runAsRoot(['apt-get', 'update']) && runAsRoot(install))
if (!installed || !isExecutable(DEFAULT_CHROMIUM)) fail(`installing Debian's chromium package did not give ${DEFAULT_CHROMIUM}.`)
console.log(DEFAULT_CHROMIUM)
