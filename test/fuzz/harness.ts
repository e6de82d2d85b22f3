// The loop a fuzz child process runs: make a case from its own seeded stream, name it on stdout,
// run it, and judge the outcome. A case passes when it returns (its own checks of the result
// held) or throws a FerriteError with a stable code; anything else is a finding, printed as a
// FAIL line. The line naming each case is written before it runs, so when the process dies (a
// crash, an abort, an AddressSanitizer report) the parent knows which case killed it.
import { writeSync } from 'node:fs'
import * as ft from 'ferrite-ml'
import { caseSeed, Random } from './random'

/** What a run is asked to do, from the environment the parent (test/fuzz/spawn.ts) sets. */
export interface FuzzSettings {
  seed: number
  seconds: number
  /** Replay this one case only (FERRITE_FUZZ_CASE). */
  only: number | undefined
  /** Also try sizes beyond any machine's memory (off with FERRITE_FUZZ_HUGE=0). */
  huge: boolean
}

/** One generated call: a description that reproduces it for a reader, and the call with its checks. */
export interface Case {
  description: string
  run(): void
}

export type CaseMaker = (rng: Random, settings: FuzzSettings) => Case

/** A result that breaks the op's contract (wrong shape, wrong values, accepted bad input). */
export class Finding extends Error {}

export function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Finding(message())
}

/** Stops a run after this many findings: one bug tends to show up in many cases. */
const MAX_FINDINGS = 10

/** The codes a bad input may be answered with: every FerriteError subclass ft exports, less the bug report. */
type ErrorClass = new (message: string) => ft.FerriteError
const acceptedCodes = new Set(
  (Object.values(ft) as unknown[])
    .filter((v): v is ErrorClass => typeof v === 'function' && v.prototype instanceof ft.FerriteError)
    .map((ErrorClass) => new ErrorClass('').code as string)
    .filter((code) => code !== 'Internal' && code !== 'NativeBinding'),
)

export function readSettings(): FuzzSettings {
  const env = process.env
  const number = (name: string, fallback: number) => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const n = Number(raw)
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`)
    return n
  }
  const only = env.FERRITE_FUZZ_CASE
  return {
    seed: number('FERRITE_FUZZ_SEED', 1) >>> 0,
    seconds: number('FERRITE_FUZZ_SECONDS', 20),
    only: only === undefined || only === '' ? undefined : number('FERRITE_FUZZ_CASE', 0),
    huge: env.FERRITE_FUZZ_HUGE !== '0',
  }
}

function emit(line: string): void {
  writeSync(1, `${line}\n`)
}

/** The verdict on an error a case threw: its accepted code, or why it is a finding. */
function judge(error: unknown): { code: string } | { finding: string } {
  if (error instanceof Finding) return { finding: error.message }
  if (error instanceof ft.FerriteError && acceptedCodes.has(error.code)) return { code: error.code }
  const e = error as { name?: string; code?: unknown; message?: string; stack?: string }
  const stack = (e?.stack ?? '').split('\n').slice(1, 6).join('\n')
  return { finding: `not a typed error: ${e?.name ?? typeof error} (code ${String(e?.code)}): ${e?.message ?? String(error)}\n${stack}` }
}

/** Runs cases of `target` until the time is up (or the one case asked for), then prints a summary. */
export function runFuzz(target: string, makeCase: CaseMaker): void {
  const settings = readSettings()
  const { seed, seconds, only } = settings
  emit(`fuzz ${target}: seed ${seed}, ${only === undefined ? `${seconds} s` : `case ${only} only`}${settings.huge ? '' : ', no huge sizes'}`)
  const deadline = performance.now() + seconds * 1000
  const outcomes: Record<string, number> = {}
  let findings = 0
  let slowest = { index: -1, ms: -1 }
  let index = only ?? 0
  for (;;) {
    const rng = new Random(caseSeed(seed, index))
    const c = makeCase(rng, settings)
    const description = c.description.length > 600 ? `${c.description.slice(0, 600)}...` : c.description
    emit(`case ${index}: ${description}`)
    let outcome: string
    const started = performance.now()
    try {
      // tidy releases each case's tensors at once, so a long run holds only one case's memory.
      ft.tidy(() => c.run())
      outcome = 'ok'
    } catch (error) {
      const verdict = judge(error)
      if ('code' in verdict) {
        outcome = verdict.code
      } else {
        outcome = 'FAIL'
        findings++
        emit(`FAIL case ${index}: ${description}\n  ${verdict.finding.replaceAll('\n', '\n  ')}`)
      }
    }
    if (only !== undefined) emit(`outcome: ${outcome}`)
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    const ms = Math.round(performance.now() - started)
    if (ms > slowest.ms) slowest = { index, ms }
    index++
    if (only !== undefined || findings >= MAX_FINDINGS || performance.now() > deadline) break
  }
  emit(`summary ${JSON.stringify({ target, seed, cases: index - (only ?? 0), outcomes, slowest })}`)
  process.exitCode = findings > 0 ? 1 : 0
}
