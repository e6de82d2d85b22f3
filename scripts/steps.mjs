// The one-line-per-step reporting of the verification scripts (`test:cuda`, `test:arm64`).

/** Thrown by a step that cannot run here; it is reported as SKIP, not FAIL. */
export class Skip extends Error {}

/**
 * A step runner for the script named `label`: `step(name, fn)` runs `fn` (which returns a
 * one-line note or throws) and prints the result; `summarize()` prints the totals and sets a
 * non-zero exit code if any step failed.
 */
export function stepRunner(label) {
  const started = Date.now()
  const results = []

  function step(name, fn) {
    const t0 = Date.now()
    let status = 'PASS'
    let note
    try {
      note = fn()
    } catch (e) {
      status = e instanceof Skip ? 'SKIP' : 'FAIL'
      note = e.message
    }
    const seconds = ((Date.now() - t0) / 1000).toFixed(1)
    results.push({ name, status })
    const [first, ...rest] = String(note ?? '').split('\n')
    console.log(`${label}: ${status} ${name} (${seconds} s)${first ? `: ${first}` : ''}`)
    if (rest.length) console.log(rest.map((l) => `    ${l}`).join('\n'))
    return status === 'PASS'
  }

  function summarize() {
    const count = (status) => results.filter((r) => r.status === status).length
    const seconds = ((Date.now() - started) / 1000).toFixed(0)
    console.log(`${label}: ${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped in ${seconds} s`)
    if (count('FAIL')) {
      console.error(`${label}: FAILED: ${results.filter((r) => r.status === 'FAIL').map((r) => r.name).join('; ')}`)
      process.exitCode = 1
    }
  }

  return { step, summarize }
}
