/** `SummaryWriter`: scalars and images in TensorBoard's event files, like `torch.utils.tensorboard`. */
import { appendFileSync, mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, IoError } from '../errors'
import { describe } from '../validate'
import { tensorboard } from './proto'
import { encodeRecord } from './record'

/** Options of {@link SummaryWriter}. */
export interface SummaryWriterOptions {
  /** Write pending events to disk once this many are queued (default 10, as PyTorch's `max_queue`). */
  maxQueue?: number
  /** Write pending events to disk when the last write is older than this many seconds (default 120, as PyTorch's `flush_secs`). */
  flushSecs?: number
}

/** Distinguishes writers that one process opens in the same second on the same folder. */
let writersOpened = 0

/**
 * Writes events to a new file `events.out.tfevents.<time>.<host>.<pid>.<n>` in `logDir`, which
 * `tensorboard --logdir` reads, as PyTorch's `SummaryWriter` does:
 *
 * ```ts
 * const writer = new ft.tensorboard.SummaryWriter('runs/exp1')
 * writer.addScalar('loss/train', 0.7, 100)
 * writer.close()
 * ```
 *
 * Events are queued and appended to the file in batches (see {@link SummaryWriterOptions}) and by
 * `flush()` and `close()`; no file stays open between writes.
 */
export class SummaryWriter {
  /** The folder given to the constructor. */
  readonly logDir: string
  /** The event file this writer appends to. */
  readonly path: string
  readonly #maxQueue: number
  readonly #flushMillis: number
  #pending: Buffer[] = []
  #lastFlush = Date.now()
  #closed = false

  constructor(logDir: string, { maxQueue = 10, flushSecs = 120 }: SummaryWriterOptions = {}) {
    if (typeof logDir !== 'string' || logDir === '') throw new InvalidArgumentError(`SummaryWriter: logDir must be a non-empty string, got ${describe(logDir)}`)
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new InvalidArgumentError(`SummaryWriter: maxQueue must be a positive integer, got ${describe(maxQueue)}`)
    if (typeof flushSecs !== 'number' || !(flushSecs >= 0)) throw new InvalidArgumentError(`SummaryWriter: flushSecs must be a non-negative number, got ${describe(flushSecs)}`)
    this.logDir = logDir
    this.#maxQueue = maxQueue
    this.#flushMillis = flushSecs * 1000
    try {
      mkdirSync(logDir, { recursive: true })
    } catch (error) {
      throw new IoError(`SummaryWriter: cannot create the log folder ${logDir}: ${(error as Error).message}`, { cause: error })
    }
    const seconds = String(Math.floor(Date.now() / 1000)).padStart(10, '0')
    this.path = join(logDir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${writersOpened++}`)
    this.#add({ wallTime: Date.now() / 1000, fileVersion: 'brain.Event:2', sourceMetadata: { writer: 'ferrite' } })
    this.flush()
  }

  /** Records `value` under `tag` (e.g. `'loss/train'`) at `step`, like `add_scalar`; stored as a float32. */
  addScalar(tag: string, value: number, step?: number, wallTime?: number): void {
    if (typeof value !== 'number') throw new InvalidArgumentError(`SummaryWriter.addScalar: value must be a number, got ${describe(value)}`)
    this.#addSummary('addScalar', { tag, simpleValue: value }, step, wallTime)
  }

  /** Records a PNG image (its encoded bytes) under `tag` at `step`, like `add_image`; TensorBoard's Images tab shows it. */
  addImage(tag: string, png: Uint8Array, step?: number, wallTime?: number): void {
    this.#addSummary('addImage', { tag, image: { ...pngHeader(png), encodedImageString: png } }, step, wallTime)
  }

  /** Appends the queued events to the file. */
  flush(): void {
    if (this.#pending.length === 0) return
    try {
      appendFileSync(this.path, Buffer.concat(this.#pending))
    } catch (error) {
      throw new IoError(`SummaryWriter: cannot write ${this.path}: ${(error as Error).message}`, { cause: error })
    }
    this.#pending = []
    this.#lastFlush = Date.now()
  }

  /** Flushes; adding to a closed writer throws. */
  close(): void {
    if (this.#closed) return
    this.flush()
    this.#closed = true
  }

  /** Same as `close()`; lets `using writer = new SummaryWriter(dir)` close it at the end of its block. */
  [Symbol.dispose](): void {
    this.close()
  }

  #addSummary(op: string, value: tensorboard.Summary.Value.$Properties, step: number | undefined, wallTime = Date.now() / 1000): void {
    if (this.#closed) throw new InvalidArgumentError(`SummaryWriter.${op}: the writer of ${this.path} is closed`)
    if (typeof value.tag !== 'string' || value.tag === '') throw new InvalidArgumentError(`SummaryWriter.${op}: tag must be a non-empty string, got ${describe(value.tag)}`)
    if (step !== undefined && (!Number.isSafeInteger(step) || step < 0)) throw new InvalidArgumentError(`SummaryWriter.${op}: step must be a non-negative integer, got ${describe(step)}`)
    if (typeof wallTime !== 'number' || !Number.isFinite(wallTime)) throw new InvalidArgumentError(`SummaryWriter.${op}: wallTime must be a finite number of seconds, got ${describe(wallTime)}`)
    this.#add({ wallTime, step, summary: { value: [value] } })
    if (this.#pending.length >= this.#maxQueue || Date.now() - this.#lastFlush >= this.#flushMillis) this.flush()
  }

  #add(event: tensorboard.Event.$Properties): void {
    this.#pending.push(encodeRecord(tensorboard.Event.encode(event).finish()))
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
/** TensorBoard's colorspace (channels) for each PNG colour type: grey, RGB, palette (shown as RGB), grey + alpha, RGBA. */
const COLORSPACES: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 }

/** The size and colorspace in a PNG's header chunk, which TensorBoard's image summary stores beside the bytes. */
function pngHeader(png: Uint8Array): { width: number; height: number; colorspace: number } {
  if (!(png instanceof Uint8Array)) throw new InvalidArgumentError(`SummaryWriter.addImage: png must be the bytes of a PNG file (a Uint8Array), got ${describe(png)}`)
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength)
  if (bytes.length < 33 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR' || COLORSPACES[bytes[25]] === undefined) {
    throw new InvalidArgumentError(`SummaryWriter.addImage: png must be the bytes of a PNG file (signature, then an IHDR chunk), got ${bytes.length} bytes that are not`)
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), colorspace: COLORSPACES[bytes[25]] }
}
