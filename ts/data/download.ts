/**
 * Dataset downloads, like torchvision's `download_and_extract_archive`: an archive streamed to a
 * temporary file with its MD5 checked, then the wanted folder extracted and moved into place in
 * one rename, so that an interrupted download never leaves a half-written dataset behind.
 */
import { createHash } from 'node:crypto'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { get as httpGet, type IncomingMessage } from 'node:http'
import { get as httpsGet } from 'node:https'
import { basename, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { gunzip as gunzipCallback } from 'node:zlib'
import { FerriteError, InvalidArgumentError, IoError } from '../errors'

const gunzip = promisify(gunzipCallback)

export interface ArchiveOptions {
  /** Names the caller in errors, e.g. `CIFAR10`. */
  op: string
  /** An http(s) URL of a `.tar.gz` archive. */
  url: string
  /** The archive's MD5, hex. */
  md5: string
  /** Where `folder` is placed. */
  root: string
  /** The archive's top folder whose files are extracted; nested folders inside it are skipped. */
  folder: string
  /** Files that `folder` must hold for the archive to count as complete. */
  required: readonly string[]
}

/**
 * Downloads `url`, verifies it, and extracts the files of its `folder` into `root/folder`. The
 * archive and the partial extraction live in a temporary folder under `root`, removed at the end
 * whether or not anything failed.
 */
export async function downloadAndExtract({ op, url, md5, root, folder, required }: ArchiveOptions): Promise<void> {
  const name = basename(httpUrl(op, url).pathname) || 'archive.tar.gz'
  const target = join(root, folder)
  if (existsSync(target)) {
    const missing = required.filter((f) => !existsSync(join(target, f)))
    throw new IoError(`${op}: ${target} exists but lacks ${missing.join(', ')}; remove it to download the archive again`)
  }
  let work: string | undefined
  try {
    await mkdir(root, { recursive: true })
    work = await mkdtemp(join(root, `.${folder}-download-`))
    const archive = join(work, name)
    await downloadFile(op, url, md5, archive)
    const staged = join(work, folder)
    await extractFolder(`${op}: ${url}`, archive, folder, staged)
    const missing = required.filter((f) => !existsSync(join(staged, f)))
    if (missing.length > 0) throw new IoError(`${op}: ${url}: the archive lacks ${missing.map((f) => `${folder}/${f}`).join(', ')}`)
    await rename(staged, target).catch((error) => {
      // Another process may have finished the same download first.
      if (!required.every((f) => existsSync(join(target, f)))) throw error
    })
  } catch (error) {
    throw error instanceof FerriteError ? error : new IoError(`${op}: ${root}: ${(error as Error).message}`, { cause: error })
  } finally {
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  }
}

/** Streams `url` into `dest` while hashing it; a failed or corrupt download is deleted. */
async function downloadFile(op: string, url: string, md5: string, dest: string): Promise<void> {
  let received = 0
  let progress: DownloadProgress | undefined
  try {
    const response = await get(op, url)
    const length = Number(response.headers['content-length'])
    const total = Number.isFinite(length) && length > 0 ? length : undefined
    progress = new DownloadProgress(url, total)
    const hash = createHash('md5')
    await pipeline(
      response,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk)
          received += chunk.length
          progress!.update(received)
          yield chunk
        }
      },
      createWriteStream(dest),
    )
    progress.finish(received)
    if (total !== undefined && received !== total) {
      throw new IoError(`${op}: ${url}: the download is truncated: got ${received} of ${total} bytes`)
    }
    const got = hash.digest('hex')
    if (got !== md5.toLowerCase()) {
      throw new IoError(`${op}: ${url}: checksum mismatch: expected MD5 ${md5.toLowerCase()}, got ${got}; the download was deleted`)
    }
  } catch (error) {
    progress?.abandon()
    await rm(dest, { force: true })
    if (error instanceof FerriteError) throw error
    throw new IoError(`${op}: ${url}: the download failed after ${formatBytes(received)}: ${(error as Error).message}`, { cause: error })
  }
}

/** An http(s) GET that follows up to five redirects and rejects any status but 200. */
function get(op: string, url: string, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // No content decoding: the MD5 covers the bytes of the archive as stored.
    const request = (httpUrl(op, url).protocol === 'https:' ? httpsGet : httpGet)(url, (response) => {
      const status = response.statusCode ?? 0
      const location = response.headers.location
      if (status >= 300 && status < 400 && location !== undefined && redirects > 0) {
        response.resume()
        get(op, new URL(location, url).href, redirects - 1).then(resolve, reject)
      } else if (status !== 200) {
        response.resume()
        reject(new IoError(`${op}: ${url}: the download failed: HTTP ${status} ${response.statusMessage ?? ''}`.trimEnd()))
      } else {
        resolve(response)
      }
    })
    request.setTimeout(60_000, () => request.destroy(new Error('no data for 60 s')))
    request.on('error', reject)
  })
}

function httpUrl(op: string, url: string): URL {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new InvalidArgumentError(`${op}: url must be an http or https URL, got '${url}'`)
  }
  return parsed
}

/**
 * Extracts the regular files directly inside `folder` of a `.tar.gz` into `dest`; errors begin
 * with `source`. The tar format is walked header by header: 512-byte headers, each followed by
 * its file padded to 512 bytes.
 */
async function extractFolder(source: string, archive: string, folder: string, dest: string): Promise<void> {
  let tar: Buffer
  try {
    tar = await gunzip(await readFile(archive))
  } catch (error) {
    throw new IoError(`${source}: not a gzip archive: ${(error as Error).message}`, { cause: error })
  }
  await mkdir(dest)
  for (const [path, contents] of tarFiles(tar, source)) {
    const name = path.replace(/^\.\//, '')
    if (!name.startsWith(`${folder}/`)) continue
    const file = name.slice(folder.length + 1)
    if (file === '' || file === '.' || file === '..' || file.includes('/')) continue
    await writeFile(join(dest, file), contents)
  }
}

/** `[path, contents]` of each regular file in a ustar, GNU or pax tar archive (contents are views, not copies). */
function* tarFiles(tar: Buffer, source: string): Generator<[string, Buffer]> {
  let nextName: string | undefined
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512)
    if (header[0] === 0) return // the end-of-archive zero blocks
    const size = parseInt(text(header, 124, 12).trim(), 8)
    if (!Number.isSafeInteger(size) || size < 0) throw new IoError(`${source}: not a tar archive (bad size field at byte ${at})`)
    const contents = tar.subarray(at + 512, at + 512 + size)
    if (contents.length < size) throw new IoError(`${source}: the tar archive is truncated`)
    at += 512 + Math.ceil(size / 512) * 512
    const type = String.fromCharCode(header[156])
    if (type === 'L') {
      // GNU long name: the next header's name is this entry's contents.
      nextName = text(contents, 0, size)
      continue
    }
    if (type === 'x') {
      // POSIX extended header: `<length> path=<name>\n` records for the next entry.
      nextName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(contents.toString('utf8'))?.[1]
      continue
    }
    const prefix = text(header, 257, 6) === 'ustar' ? text(header, 345, 155) : ''
    const path = nextName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100))
    nextName = undefined
    if (type === '0' || type === '\0') yield [path, contents]
  }
}

/** A NUL-terminated string field. */
function text(bytes: Buffer, start: number, length: number): string {
  const field = bytes.subarray(start, start + length)
  const end = field.indexOf(0)
  return field.toString('utf8', 0, end === -1 ? field.length : end)
}

/** Download progress on stderr: a line redrawn at most ten times a second on a terminal, else a line per quarter. */
class DownloadProgress {
  readonly #stream = process.stderr
  readonly #start = performance.now()
  readonly #total: number | undefined
  readonly #name: string
  #drawnAt = 0
  #quarter = 1
  #finished = false

  constructor(url: string, total: number | undefined) {
    this.#total = total
    this.#name = basename(new URL(url).pathname) || url
    if (!this.#stream.isTTY) this.#stream.write(`Downloading ${url}${total === undefined ? '' : ` (${formatBytes(total)})`}\n`)
  }

  update(received: number): void {
    const now = performance.now()
    if (this.#stream.isTTY) {
      if (now - this.#drawnAt < 100) return
      this.#drawnAt = now
      const total = this.#total
      const bar = total === undefined ? '' : ` [${'='.repeat(Math.round((received / total) * 30)).padEnd(30)}]`
      this.#stream.write(`\r${this.#name}${bar} ${this.#amount(received)}  ${this.#speed(received, now)}\x1b[K`)
    } else if (this.#total !== undefined && received < this.#total && received >= (this.#total * this.#quarter) / 4) {
      // The last quarter is the closing line.
      const percent = Math.floor((received / this.#total) * 100)
      this.#stream.write(`  ${percent}%  ${this.#amount(received)}  ${this.#speed(received, now)}\n`)
      while (received >= (this.#total * this.#quarter) / 4) this.#quarter++
    }
  }

  finish(received: number): void {
    this.#finished = true
    const now = performance.now()
    const seconds = ((now - this.#start) / 1000).toFixed(1)
    const line = `Downloaded ${this.#name}: ${this.#amount(received)} in ${seconds} s (${this.#speed(received, now)})`
    this.#stream.write(this.#stream.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`)
  }

  /** Ends the display after a failure, which the error then reports. */
  abandon(): void {
    if (this.#stream.isTTY && !this.#finished) this.#stream.write('\r\x1b[K')
    this.#finished = true
  }

  #amount(received: number): string {
    return this.#total === undefined ? formatBytes(received) : `${formatBytes(received)} / ${formatBytes(this.#total)}`
  }

  #speed(received: number, now: number): string {
    return `${formatBytes(received / Math.max((now - this.#start) / 1000, 1e-3))}/s`
  }
}

function formatBytes(n: number): string {
  if (n < 1e3) return `${Math.round(n)} B`
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`
  return `${(n / 1e9).toFixed(2)} GB`
}
