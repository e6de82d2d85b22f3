// The vitest side of the fuzz suite: runs a fuzz child (test/fuzz/*.child.ts) in its own
// process, so that a crash, an abort or an AddressSanitizer report fails one test, naming the
// seed and the case, instead of killing vitest. A child that prints no new case for
// FERRITE_FUZZ_HANG_SECONDS (default 60) is killed and its last case reported as a hang.
//
// Settings, all optional: FERRITE_FUZZ_SEED (default: a new seed each run, printed; in CI a
// fixed one, so that a submission's run does not depend on its draw),
// FERRITE_FUZZ_SECONDS (per child, default 20), FERRITE_FUZZ_CASE (replay one case),
// FERRITE_FUZZ_HUGE=0 (leave out sizes beyond any machine's memory, which must give an
// OutOfMemoryError; the children run with a 64 MiB FERRITE_MAX_ALLOC_BYTES). `npm run test:asan` sets
// FERRITE_FUZZ_NATIVE, an addon for the children to load instead of native/'s, and
// FERRITE_FUZZ_PRELOAD, a library to preload into them (ASan's runtime). Only the children get
// them: vitest's own napi-rs packages would load that addon too.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const env = process.env
const seconds = Number(env.FERRITE_FUZZ_SECONDS || 20)
const hangSeconds = Number(env.FERRITE_FUZZ_HANG_SECONDS || 60)

/** CI's seed when FERRITE_FUZZ_SEED names none. */
const CI_SEED = 18

/** The run's seed: FERRITE_FUZZ_SEED, CI's, or a fresh one. */
export const seed = env.FERRITE_FUZZ_SEED
  ? Number(env.FERRITE_FUZZ_SEED) >>> 0
  : env.CI
    ? CI_SEED
    : Math.floor(Math.random() * 2 ** 32)

/** How long a test may wait for its child: the run, a hang's detection, and start-up. */
export const timeoutMs = (seconds + hangSeconds + 60) * 1000

/** What went wrong in a child's run (empty when nothing did), and its summary line. */
export interface FuzzReport {
  problems: string[]
  summary: string
}

/** Runs `test/fuzz/<child>` with the run's seed and reports its findings, crash or hang. */
export function runChild(child: string): Promise<FuzzReport> {
  const script = `test/fuzz/${child}`
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: {
      ...env,
      FERRITE_FUZZ_SEED: String(seed),
      FERRITE_FUZZ_SECONDS: String(seconds),
      // Nothing a case makes needs more; a bug that asks for more gets a typed error, not the machine.
      FERRITE_MAX_ALLOC_BYTES: env.FERRITE_MAX_ALLOC_BYTES ?? String(2 ** 26),
      ...(env.FERRITE_FUZZ_NATIVE ? { NAPI_RS_NATIVE_LIBRARY_PATH: env.FERRITE_FUZZ_NATIVE } : {}),
      ...(env.FERRITE_FUZZ_PRELOAD ? { LD_PRELOAD: env.FERRITE_FUZZ_PRELOAD } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let pending = ''
  let lastCase = ''
  let summary = ''
  const failures: string[] = []
  let stderr = ''
  let hung = false
  let watchdog = setTimeout(() => undefined, 0)
  const armWatchdog = () => {
    clearTimeout(watchdog)
    watchdog = setTimeout(() => {
      hung = true
      proc.kill('SIGKILL')
    }, hangSeconds * 1000)
  }
  armWatchdog()
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    armWatchdog()
    const lines = (pending + chunk).split('\n')
    pending = lines.pop()!
    for (const line of lines) {
      if (line.startsWith('case ')) lastCase = line
      else if (line.startsWith('FAIL ')) failures.push(line)
      else if (line.startsWith('  ') && failures.length > 0) failures[failures.length - 1] += `\n${line}`
      else if (line.startsWith('summary ')) summary = line
    }
  })
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    // Keep the start (an ASan report's first frames) and the end.
    stderr = stderr.length < 20_000 ? stderr + chunk : stderr.slice(0, 10_000) + '\n...\n' + (stderr + chunk).slice(-10_000)
  })
  return new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(watchdog)
      const problems = [...failures]
      // A child that ran to its end printed its summary (and exits 1 after findings).
      const died = summary === '' || signal !== null
      if (hung) problems.push(`hang: no progress for ${hangSeconds} s during ${lastCase}`)
      else if (died) problems.push(`the process died (exit ${code}, signal ${signal}) during ${lastCase}`)
      if (died || /AddressSanitizer/.test(stderr)) problems.push(`stderr:\n${stderr.trim()}`)
      if (problems.length > 0) {
        const index = /^(?:FAIL )?case (\d+)/.exec(failures[0] ?? lastCase)?.[1]
        problems.push(`reproduce: FERRITE_FUZZ_SEED=${seed} FERRITE_FUZZ_CASE=${index} node --import tsx ${script}`)
      }
      resolve({ problems, summary })
    })
  })
}
