/** A one-line progress bar for terminals: `Epoch 3/10 [=======>      ] 45/100  812.3 img/s  ETA 7s`. */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream
  readonly #total: number
  readonly #label: string
  readonly #start = performance.now()
  #shown = false

  constructor(total: number, label: string, stream: NodeJS.WriteStream = process.stdout) {
    this.#total = total
    this.#label = label
    this.#stream = stream
  }

  /** Redraws the bar after `done` steps covering `items` items in all. */
  update(done: number, items: number): void {
    const seconds = (performance.now() - this.#start) / 1000
    const rate = items / Math.max(seconds, 1e-9)
    const eta = done > 0 ? (seconds / done) * (this.#total - done) : 0
    const width = 30
    const filled = Math.round((done / this.#total) * width)
    const bar = '='.repeat(Math.max(filled - 1, 0)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled)
    this.#stream.write(`\r${this.#label} [${bar}] ${done}/${this.#total}  ${rate.toFixed(1)} img/s  ETA ${formatSeconds(eta)}\x1b[K`)
    this.#shown = true
  }

  /** Removes the bar so that a log line can be printed in its place. */
  clear(): void {
    if (this.#shown) this.#stream.write('\r\x1b[K')
    this.#shown = false
  }
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/**
 * The training pass's output: `Step [i/n] Train Loss: x` every `logEvery` steps (and at the end
 * of an epoch shorter than that), with the progress bar between lines when `progress` is set.
 */
export class StepLogger {
  readonly #steps: number
  readonly #log: (line: string) => void
  readonly #logEvery: number
  readonly #bar: ProgressBar | undefined
  #images = 0

  constructor(steps: number, label: string, { log, logEvery, progress }: { log: (line: string) => void; logEvery: number; progress: boolean }) {
    this.#steps = steps
    this.#log = log
    this.#logEvery = logEvery
    this.#bar = progress ? new ProgressBar(steps, label) : undefined
  }

  /** Reports step `step` (from 1), its loss and its batch's image count; the bar goes once the last step is shown. */
  update(step: number, loss: number, images: number): void {
    this.#images += images
    if (step % this.#logEvery === 0 || (step === this.#steps && this.#steps < this.#logEvery)) {
      this.#bar?.clear()
      this.#log(`Step [${step}/${this.#steps}] Train Loss: ${loss.toFixed(4)}`)
    }
    this.#bar?.update(step, this.#images)
    if (step === this.#steps) this.#bar?.clear()
  }

  /** Removes the bar, if shown. */
  clear(): void {
    this.#bar?.clear()
  }
}
