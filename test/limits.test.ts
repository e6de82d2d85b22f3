// Sizes no machine can hold are typed errors, never aborts or silent wrap-around: shapes whose
// element count overflows, buffers over the allocation limit (by default the machine's memory),
// allocations the system refuses (a child process under `ulimit -v`), and images over the pixel
// limit, checked from their headers. After each error the process goes on working.
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { deflateSync } from 'node:zlib'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PHOTO = join(ROOT, 'examples', 'data', 'astronaut.jpg')
const dir = mkdtempSync(join(tmpdir(), 'ferrite-limits-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A small op whose answer is known: the process is still healthy. */
function expectStillWorking(): void {
  expect(ft.ones([3]).add(ft.ones([3])).sum().item()).toBe(6)
}

describe('shapes whose element count overflows', () => {
  it('are an InvalidArgumentError at creation', () => {
    for (const make of [
      () => ft.ones([2 ** 32, 2 ** 32, 2 ** 32]),
      // 2^64 elements: the product wraps to exactly 0 in 64 bits.
      () => ft.zeros([2 ** 32, 2 ** 32]),
      () => ft.full([2 ** 40, 2 ** 40], 1),
      () => ft.randn([2 ** 32, 2 ** 32, 3]),
      () => ft.tensor(new Float32Array(0), { shape: [0, 2 ** 40, 2 ** 40] }),
    ]) {
      const e = thrown(make)
      expect(e).toBeInstanceOf(ft.InvalidArgumentError)
      expect(e.code).toBe('InvalidArgument')
      expect(e.message).toMatch(/has more elements than can be counted/)
    }
    expectStillWorking()
  })

  it('never make a view of the wrong size', () => {
    const empty = ft.zeros([0])
    for (const make of [() => empty.view([2 ** 32, 2 ** 32]), () => empty.reshape([2 ** 32, 2 ** 32, -1]), () => ft.ones([1]).expand([2 ** 32, 2 ** 32, 2 ** 32])]) {
      expect(thrown(make).code).toBe('InvalidArgument')
    }
    const wide = ft.ones([1]).expand([2 ** 31, 2 ** 31])
    expect(wide.view([-1]).shape).toEqual([2 ** 62])
    // Broadcasting [2^31, 2^31, 1] against [2^31, 2^31] asks for 2^93 elements.
    expect(thrown(() => wide.unsqueeze(-1).add(wide)).code).toBe('InvalidArgument')
    expectStillWorking()
  })
})

describe('buffers over the allocation limit', () => {
  afterEach(() => ft.setAllocationLimit(null))

  it('are refused at once with an OutOfMemoryError, and the process goes on', () => {
    for (const [op, make] of [
      ['zeros', () => ft.zeros([1e6, 1e6])],
      ['zeros', () => ft.zeros([2 ** 40])],
      ['arange', () => ft.arange(0, 1e12)],
      ['randn', () => ft.randn([1e6, 1e6])],
      ['rand', () => ft.rand([1e6, 1e6])],
      ['randint', () => ft.randint(0, 9, [1e6, 1e6])],
      ['full', () => ft.full([1e6, 1e6], 7, { dtype: 'int64' })],
    ] as const) {
      const start = performance.now()
      const e = thrown(make)
      expect(performance.now() - start).toBeLessThan(1000)
      expect(e).toBeInstanceOf(ft.OutOfMemoryError)
      expect(e.code).toBe('OutOfMemory')
      expect(e.message).toMatch(new RegExp(`^${op}: cannot allocate \\d+ bytes \\(.+\\): that is more than the allocation limit`))
      expect(e.message).toContain('ft.setAllocationLimit(bytes) or the FERRITE_MAX_ALLOC_BYTES environment variable')
      expectStillWorking()
    }
  })

  it('cover the results of ops on huge broadcast views', () => {
    const column = ft.ones([1e6, 1])
    const row = ft.ones([1, 1e6])
    const f32 = '4000000000000 bytes (3.6 TiB)'
    for (const [op, bytes, make] of [
      ['add', f32, () => column.add(row)],
      ['matmul', f32, () => column.matmul(row)],
      ['clone', f32, () => column.expand([1e6, 1e6]).contiguous()],
      ['exp', f32, () => row.expand([1e6, 1e6]).exp()],
      ['to', '8000000000000 bytes (7.3 TiB)', () => row.expand([1e6, 1e6]).to('int64')],
      ['relu', f32, () => ft.functional.relu(row.expand([1e6, 1e6]))],
      // A [1, 1, 1e6 + 1, 1e6 + 1] output from padding alone.
      ['conv2d', '4000008000004 bytes (3.6 TiB)', () => ft.functional.conv2d(ft.ones([1, 1, 1, 1]), ft.ones([1, 1, 1, 1]), { padding: 5e5 })],
    ] as const) {
      const e = thrown(make)
      expect(e).toBeInstanceOf(ft.OutOfMemoryError)
      expect(e.message.startsWith(`${op}: cannot allocate ${bytes}: `), e.message).toBe(true)
    }
    expectStillWorking()
  })

  it('can be set and restored', () => {
    const machine = ft.getAllocationLimit()
    expect(machine).toBeGreaterThan(2 ** 26)
    ft.setAllocationLimit(2 ** 20)
    expect(ft.getAllocationLimit()).toBe(2 ** 20)
    expect(ft.zeros([2 ** 18]).numel()).toBe(2 ** 18)
    const e = thrown(() => ft.zeros([2 ** 18 + 1]))
    expect(e).toBeInstanceOf(ft.OutOfMemoryError)
    expect(e.message).toBe(
      'zeros: cannot allocate 1048580 bytes (1.0 MiB): that is more than the allocation limit (set by ft.setAllocationLimit) of 1048576 bytes (1.0 MiB); ' +
        'raise it with ft.setAllocationLimit(bytes) or the FERRITE_MAX_ALLOC_BYTES environment variable',
    )
    ft.setAllocationLimit(Infinity)
    expect(ft.getAllocationLimit()).toBe(Infinity)
    ft.setAllocationLimit(null)
    expect(ft.getAllocationLimit()).toBe(machine)
    expect(ft.zeros([2 ** 18 + 1]).numel()).toBe(2 ** 18 + 1)
    for (const bad of [-1, 1.5, NaN, '1' as unknown as number]) {
      expect(thrown(() => ft.setAllocationLimit(bad)).code).toBe('InvalidArgument')
    }
  })
})

describe.runIf(process.platform === 'linux')('under an address-space limit (ulimit -v)', () => {
  // What used to abort the process: the allocation limit is lifted so each request reaches the
  // allocator, which refuses it; the child must catch a typed error and exit cleanly.
  const script = `
    const ft = require(${JSON.stringify(join(ROOT, 'dist', 'cjs'))})
    const codes = []
    for (const make of [() => ft.zeros([2 ** 33]), () => ft.randn([2 ** 32]), () => ft.arange(0, 2 ** 33), () => ft.ones([2 ** 20, 1]).matmul(ft.ones([1, 2 ** 13]))]) {
      try { make(); codes.push('no error') } catch (e) { codes.push(e.code + ' ' + e.constructor.name + ' ' + /no memory left/.test(e.message)) }
    }
    console.log(JSON.stringify({ codes, sum: ft.ones([3]).sum().item() }))
  `

  it('a refused allocation is an OutOfMemoryError and the process exits normally', async () => {
    const run = promisify(execFile)
    const { stdout } = await run('bash', ['-c', 'ulimit -v 3000000 && exec "$0" -e "$1"', process.execPath, script], {
      env: { ...process.env, FERRITE_MAX_ALLOC_BYTES: String(2 ** 50) },
    })
    expect(JSON.parse(stdout)).toEqual({ codes: Array(4).fill('OutOfMemory OutOfMemoryError true'), sum: 3 })
  })
})

/** A PNG of `width` x `height` black gray pixels: a few hundred KB however large the image. */
function blackPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (bytes: Buffer): number => {
    let c = 0xffffffff
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const sum = Buffer.alloc(4)
    sum.writeUInt32BE(crc(body))
    return Buffer.concat([length, body, sum])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth; colour type 0 (gray) and the rest stay 0
  const rows = Buffer.alloc((width + 1) * height) // filter byte 0, then zeros, per row
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))])
}

describe('decoded images', () => {
  afterEach(() => ft.vision.setMaxImagePixels(null))

  it('over the pixel limit are refused from the header, naming the file and its size', () => {
    mkdirSync(join(dir, 'folder', 'cat'), { recursive: true })
    const path = join(dir, 'folder', 'cat', 'bomb.png')
    const png = blackPng(12000, 12000)
    expect(png.length).toBeLessThan(200_000)
    writeFileSync(path, png)
    const start = performance.now()
    const e = thrown(() => ft.vision.readImage(path))
    expect(performance.now() - start).toBeLessThan(1000)
    expect(e).toBeInstanceOf(ft.IoError)
    expect(e.message).toBe(
      `readImage: ${path}: a 12000x12000 image (144000000 pixels) is over the limit of 89478485 pixels; ` +
        'raise it with ft.vision.setMaxImagePixels(pixels) or the FERRITE_MAX_IMAGE_PIXELS environment variable',
    )
    // Image folders decode through the same check: up front, or when the image is loaded.
    const eager = thrown(() => new ft.data.ImageFolder(join(dir, 'folder'), { lazy: false }))
    const lazy = thrown(() => new ft.data.ImageFolder(join(dir, 'folder')).get(0))
    for (const folder of [eager, lazy]) {
      expect(folder).toBeInstanceOf(ft.IoError)
      expect(folder.message).toContain(`${path}: a 12000x12000 image (144000000 pixels) is over the limit`)
    }
    expectStillWorking()
  })

  it('have a limit that can be set and restored', () => {
    expect(ft.vision.getMaxImagePixels()).toBe(89_478_485)
    const path = join(dir, 'small.png')
    writeFileSync(path, blackPng(20, 10))
    ft.vision.setMaxImagePixels(199)
    expect(ft.vision.getMaxImagePixels()).toBe(199)
    expect(thrown(() => ft.vision.readImage(path)).message).toContain('a 20x10 image (200 pixels) is over the limit of 199 pixels')
    ft.vision.setMaxImagePixels(200)
    expect(ft.vision.readImage(path, { mode: 'L' }).shape).toEqual([1, 10, 20])
    ft.vision.setMaxImagePixels(Infinity)
    expect(ft.vision.getMaxImagePixels()).toBe(Infinity)
    ft.vision.setMaxImagePixels(null)
    expect(ft.vision.getMaxImagePixels()).toBe(89_478_485)
    expect(thrown(() => ft.vision.setMaxImagePixels(-3)).code).toBe('InvalidArgument')
  })

  it('a full-length JPEG with corrupt data is called corrupt, not truncated', () => {
    const photo = readFileSync(PHOTO)
    const scan = photo.indexOf(Buffer.from([0xff, 0xda]))
    const corrupt = Buffer.from(photo)
    // Garbage in the entropy-coded data that reads as a marker whose length runs past the end.
    for (let i = 0; i < 64; i++) corrupt[scan + 400 + i] = [0xff, 0xc4, 0xff, 0xff][i % 4]
    const path = join(dir, 'corrupt.jpg')
    writeFileSync(path, corrupt)
    const e = thrown(() => ft.vision.readImage(path))
    expect(e).toBeInstanceOf(ft.IoError)
    expect(e.message.startsWith(`readImage: ${path}: the image data is corrupt`)).toBe(true)
  })
})
