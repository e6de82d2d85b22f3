// Starting a peer in its own process, reading its JSON lines, and stopping one that overruns.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/** A line a peer printed: `ready`, `conv`, `model` or `done` (see peer.ts). */
export type PeerEvent = Record<string, any> & { event: string }

export interface PeerRun {
  events: PeerEvent[]
  /** Set when the watchdog stopped the process: seconds since its last report. */
  killedAfterS?: number
  /** Peak RSS in KiB, from the peer's `done` line or read from /proc just before a kill. */
  peakRssKb?: number
  /** Exit code and the end of stderr when the peer failed on its own. */
  failure?: string
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv
  cwd: string
  /** Seconds allowed between two reports once the peer said `ready`. */
  silenceS: number
  /** Seconds allowed before `ready`: imports and start-up. */
  startupS: number
}

/**
 * Runs `command` to the end, or until it stays silent too long; resolves either way. A kill
 * reads the process's VmHWM first, so that a peer stopped mid-step still reports its memory.
 */
export function runPeer(command: string[], { env, cwd, silenceS, startupS }: SpawnOptions, onEvent: (e: PeerEvent) => void = () => {}): Promise<PeerRun> {
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const run: PeerRun = { events: [] }
    let stderr = ''
    let buffered = ''
    let lastReport = performance.now()
    let timer: NodeJS.Timeout | undefined
    const arm = (seconds: number) => {
      clearTimeout(timer)
      lastReport = performance.now()
      timer = setTimeout(() => {
        run.killedAfterS = (performance.now() - lastReport) / 1000
        run.peakRssKb = vmHwmKb(child.pid)
        child.kill('SIGKILL')
      }, seconds * 1000)
    }
    arm(startupS)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        // Peers' libraries print banners too; only JSON objects are reports.
        if (!line.startsWith('{')) continue
        const event = JSON.parse(line) as PeerEvent
        run.events.push(event)
        if (event.event === 'done') run.peakRssKb = event.peakRssKb
        onEvent(event)
        arm(silenceS)
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      // Generous: a stack through tsx has lines of kilobytes (inlined modules), and the error line is above them.
      stderr = (stderr + chunk).slice(-65536)
    })
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({ ...run, failure: error.message })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (run.killedAfterS === undefined && code !== 0) run.failure = `exit ${code ?? signal}:\n${lastLines(stderr, 20)}`
      resolve(run)
    })
  })
}

function vmHwmKb(pid: number | undefined): number | undefined {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return hwm ? Number(hwm[1]) : undefined
  } catch {
    return undefined
  }
}

function lastLines(text: string, count: number): string {
  return text
    .trim()
    .split('\n')
    .slice(-count)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
    .join('\n')
}
