// CIFAR10.create({ download: true }) against a local server that serves a tiny archive in the
// official layout, built here byte by byte: ustar headers, gzip, MD5.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

/** One ustar header block followed by `contents` padded to whole 512-byte blocks. */
function tarEntry(name: string, contents: Buffer, type: '0' | '5' = '0'): Buffer {
  const header = Buffer.alloc(512)
  header.write(name, 0, 100, 'utf8')
  header.write('0000644\0', 100)
  header.write('0000000\0', 108)
  header.write('0000000\0', 116)
  header.write(`${contents.length.toString(8).padStart(11, '0')}\0`, 124)
  header.write('14712345670\0', 136)
  header.write(type, 156)
  header.write('ustar\0' + '00', 257)
  // The checksum is the sum of the header's bytes with its own field read as spaces.
  header.write('        ', 148)
  const sum = header.reduce((s, b) => s + b, 0)
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
  return Buffer.concat([header, contents, Buffer.alloc((512 - (contents.length % 512)) % 512)])
}

/** CIFAR-10 records with these labels; record r's pixel bytes are (seed + r * 3 + i) % 256. */
function records(labels: number[], seed: number): Buffer {
  const bytes = Buffer.alloc(labels.length * 3073)
  labels.forEach((label, r) => {
    bytes[r * 3073] = label
    for (let i = 0; i < 3072; i++) bytes[r * 3073 + 1 + i] = (seed + r * 3 + i) % 256
  })
  return bytes
}

const TRAIN_LABELS = [[0, 1], [2], [3, 4, 5], [6], [7, 8, 9]]
const TEST_LABELS = [9, 8, 7]
const CLASSES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']

const archive = gzipSync(
  Buffer.concat([
    tarEntry('cifar-10-batches-bin/', Buffer.alloc(0), '5'),
    ...TRAIN_LABELS.map((labels, i) => tarEntry(`cifar-10-batches-bin/data_batch_${i + 1}.bin`, records(labels, i * 10))),
    tarEntry('cifar-10-batches-bin/test_batch.bin', records(TEST_LABELS, 100)),
    tarEntry('cifar-10-batches-bin/batches.meta.txt', Buffer.from(`${CLASSES.join('\n')}\n\n`)),
    tarEntry('cifar-10-batches-bin/readme.html', Buffer.from('<html></html>')),
    tarEntry('elsewhere.txt', Buffer.from('outside the folder: not extracted')),
    Buffer.alloc(1024),
  ]),
)
const md5 = createHash('md5').update(archive).digest('hex')
const GARBAGE = Buffer.from('not a gzip file')
const lacking = gzipSync(Buffer.concat([tarEntry('cifar-10-batches-bin/test_batch.bin', records([1], 0)), Buffer.alloc(1024)]))

let server: Server
let base: string
const requests: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url!)
    if (req.url === '/cifar.tar.gz') {
      res.writeHead(200, { 'Content-Length': archive.length, 'Content-Type': 'application/gzip' })
      res.end(archive)
    } else if (req.url === '/moved') {
      res.writeHead(302, { Location: '/cifar.tar.gz' })
      res.end()
    } else if (req.url === '/lacking.tar.gz') {
      res.writeHead(200, { 'Content-Length': lacking.length })
      res.end(lacking)
    } else if (req.url === '/garbage.tar.gz') {
      res.end(GARBAGE)
    } else if (req.url === '/truncated.tar.gz') {
      // Promises the whole archive, sends half of it, then hangs up.
      res.writeHead(200, { 'Content-Length': archive.length })
      res.write(archive.subarray(0, archive.length >> 1), () => res.destroy())
    } else {
      res.writeHead(404, 'Not Found')
      res.end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function emptyRoot(): string {
  return mkdtempSync(join(tmpdir(), 'ferrite-cifar-download-'))
}

async function rejection(promise: Promise<unknown>): Promise<ft.FerriteError> {
  try {
    await promise
  } catch (error) {
    return error as ft.FerriteError
  }
  throw new Error('expected the promise to reject')
}

describe('CIFAR10 download', () => {
  it('downloads, verifies and extracts the archive, then loads either split', async () => {
    const root = join(emptyRoot(), 'not', 'yet', 'there')
    const train = await ft.data.CIFAR10.create({ root, download: true, url: `${base}/cifar.tar.gz`, md5 })
    expect(train.targets).toEqual(TRAIN_LABELS.flat())
    expect(train.classes).toEqual(CLASSES)
    // Record 1 of data_batch_3.bin (seed 20): red byte i is (20 + 3 + i) % 256, green starts 1024 later.
    const [image, label] = train.get(4)
    expect(label).toBe(4)
    const pixels = image.toArray() as number[][][]
    expect(pixels[0][0][0]).toBe(23)
    expect(pixels[1][0][0]).toBe((23 + 1024) % 256)
    expect(pixels[2][31][31]).toBe((23 + 3071) % 256)
    expect(readdirSync(root)).toEqual(['cifar-10-batches-bin'])
    expect(readdirSync(join(root, 'cifar-10-batches-bin')).sort()).toEqual([
      'batches.meta.txt',
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
      'readme.html',
      'test_batch.bin',
    ])
    // Present now: neither split downloads again, and the constructor loads it.
    const before = requests.length
    const test = await ft.data.CIFAR10.create({ root, train: false, download: true, url: `${base}/cifar.tar.gz`, md5 })
    expect(test.targets).toEqual(TEST_LABELS)
    expect(new ft.data.CIFAR10({ root, download: true }).length).toBe(10)
    expect(requests.length).toBe(before)
  })

  it('follows redirects and accepts an upper-case checksum', async () => {
    const root = emptyRoot()
    const test = await ft.data.CIFAR10.create({ root, train: false, download: true, url: `${base}/moved`, md5: md5.toUpperCase() })
    expect(test.length).toBe(3)
  })

  it('tells the constructor to await create() instead', () => {
    const root = emptyRoot()
    expect(() => new ft.data.CIFAR10({ root, download: true })).toThrow(ft.IoError)
    expect(() => new ft.data.CIFAR10({ root, download: true })).toThrow(/await ft\.data\.CIFAR10\.create\(\{ root, download: true \}\)/)
    expect(readdirSync(root)).toEqual([])
  })

  it('deletes a download whose checksum does not match', async () => {
    const root = emptyRoot()
    const wrong = '0123456789abcdef0123456789abcdef'
    const err = await rejection(ft.data.CIFAR10.create({ root, download: true, url: `${base}/cifar.tar.gz`, md5: wrong }))
    expect(err).toBeInstanceOf(ft.IoError)
    expect(err.code).toBe('Io')
    expect(err.message).toContain(`checksum mismatch: expected MD5 ${wrong}, got ${md5}`)
    expect(readdirSync(root)).toEqual([])
  })

  it('reports an HTTP error, a truncated response and an incomplete archive, leaving nothing behind', async () => {
    const root = emptyRoot()
    const missing = await rejection(ft.data.CIFAR10.create({ root, download: true, url: `${base}/nothing.tar.gz`, md5 }))
    expect(missing).toBeInstanceOf(ft.IoError)
    expect(missing.message).toBe(`CIFAR10: ${base}/nothing.tar.gz: the download failed: HTTP 404 Not Found`)
    const truncated = await rejection(ft.data.CIFAR10.create({ root, download: true, url: `${base}/truncated.tar.gz`, md5 }))
    expect(truncated).toBeInstanceOf(ft.IoError)
    expect(truncated.message).toMatch(/truncated\.tar\.gz: the download (failed after|is truncated)/)
    const lackingMd5 = createHash('md5').update(lacking).digest('hex')
    const incomplete = await rejection(ft.data.CIFAR10.create({ root, download: true, url: `${base}/lacking.tar.gz`, md5: lackingMd5 }))
    expect(incomplete.message).toContain('the archive lacks cifar-10-batches-bin/data_batch_1.bin')
    const garbageMd5 = createHash('md5').update(GARBAGE).digest('hex')
    const garbage = await rejection(ft.data.CIFAR10.create({ root, download: true, url: `${base}/garbage.tar.gz`, md5: garbageMd5 }))
    expect(garbage.message).toMatch(new RegExp(`^CIFAR10: ${base}/garbage\\.tar\\.gz: not a gzip archive`))
    expect(readdirSync(root)).toEqual([])
    const refused = await rejection(ft.data.CIFAR10.create({ root, download: true, url: 'ftp://127.0.0.1/cifar.tar.gz', md5 }))
    expect(refused).toBeInstanceOf(ft.InvalidArgumentError)
  })

  it('refuses to overwrite an incomplete batches folder', async () => {
    const root = emptyRoot()
    mkdirSync(join(root, 'cifar-10-batches-bin'))
    const before = requests.length
    const err = await rejection(ft.data.CIFAR10.create({ root, download: true, url: `${base}/cifar.tar.gz`, md5 }))
    expect(err.message).toMatch(/cifar-10-batches-bin exists but lacks data_batch_1\.bin, .*test_batch\.bin; remove it/)
    expect(requests.length).toBe(before)
    expect(existsSync(join(root, 'cifar-10-batches-bin'))).toBe(true)
  })
})
