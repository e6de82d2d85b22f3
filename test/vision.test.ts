// ft.vision: readImage against PIL's pixels (test/fixtures/vision, made by gen_vision_fixtures.py),
// writeImage round trips, saveImageGrid's layout checked pixel by pixel, typed errors, and
// examples/02-image-filters.ts end to end against a naive float64 convolution.
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FIXTURES = join(ROOT, 'test', 'fixtures', 'vision')
const PHOTO = join(ROOT, 'examples', 'data', 'astronaut.jpg')
const dir = mkdtempSync(join(tmpdir(), 'ferrite-vision-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface PngFixture {
  file: string
  pilMode: string
  shape: [number, number]
  rgb: number[]
  l: number[]
}

interface VisionFixture {
  generator: string
  pngs: PngFixture[]
  photo: {
    shape: [number, number]
    mean: { RGB: number; L: number }
    crop: { box: [number, number, number, number]; l: number[] }
  }
}

const fixture = JSON.parse(readFileSync(join(FIXTURES, 'vision.json'), 'utf8')) as VisionFixture

function values(t: ft.Tensor): number[] {
  return Array.from(t.toTypedArray() as Float32Array)
}

/** Width, height and PNG colour type (0 gray, 2 RGB), read from the IHDR chunk's bytes. */
function pngHeader(path: string): { width: number; height: number; colorType: number } {
  const bytes = readFileSync(path)
  expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR')
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), colorType: bytes[25] }
}

/** matplotlib's imshow autoscale through its 256-level gray colormap. */
function autoscale(xs: ArrayLike<number>): number[] {
  const list = Array.from(xs)
  const lo = Math.min(...list)
  const hi = Math.max(...list)
  return list.map((v) => Math.min(255, Math.floor(((v - lo) / (hi - lo)) * 256)))
}

/** Rows top..top+h, columns left..left+w of channel c of a [C, H, W] page, row-major. */
function region(page: ft.Tensor, c: number, top: number, left: number, h: number, w: number): number[] {
  const [, height, width] = page.shape
  const data = page.toTypedArray() as Float32Array
  const out: number[] = []
  for (let y = top; y < top + h; y++) for (let x = left; x < left + w; x++) out.push(data[(c * height + y) * width + x])
  return out
}

describe('readImage', () => {
  it.each(fixture.pngs.map((p) => [p.file, p] as const))('%s matches PIL in RGB and L', (_, png) => {
    const path = join(FIXTURES, png.file)
    const [h, w] = png.shape
    const rgb = ft.vision.readImage(path)
    expect(rgb.shape).toEqual([3, h, w])
    expect(rgb.dtype).toBe('float32')
    expect(values(rgb)).toEqual(png.rgb)
    const l = ft.vision.readImage(path, { mode: 'L' })
    expect(l.shape).toEqual([1, h, w])
    expect(values(l)).toEqual(png.l)
  })

  it('uses PIL rounded luma, not the truncated 299/587/114 formula', () => {
    const [rgba] = fixture.pngs
    const rgb = ft.vision.readImage(join(FIXTURES, rgba.file)).toTypedArray() as Float32Array
    const n = rgba.shape[0] * rgba.shape[1]
    const truncated = Array.from({ length: n }, (_, i) => Math.floor((rgb[i] * 299 + rgb[n + i] * 587 + rgb[2 * n + i] * 114) / 1000))
    expect(truncated).not.toEqual(rgba.l) // the fixture holds pixels where the two disagree
  })

  it('decodes the JPEG photo close to PIL', () => {
    const { shape, mean, crop } = fixture.photo
    const rgb = ft.vision.readImage(PHOTO)
    expect(rgb.shape).toEqual([3, ...shape])
    expect(Math.abs(rgb.mean().item() - mean.RGB)).toBeLessThan(0.5)
    const l = ft.vision.readImage(PHOTO, { mode: 'L' })
    expect(l.shape).toEqual([1, ...shape])
    expect(Math.abs(l.mean().item() - mean.L)).toBeLessThan(0.5)
    const [left, top, right, bottom] = crop.box
    const got = region(l, 0, top, left, bottom - top, right - left)
    // JPEG decoders may round differently from libjpeg; allow one or two levels.
    expect(Math.max(...got.map((v, i) => Math.abs(v - crop.l[i])))).toBeLessThanOrEqual(2)
  })

  it('accepts file URLs', () => {
    const url = new URL('./fixtures/vision/l.png', import.meta.url)
    expect(values(ft.vision.readImage(url, { mode: 'L' }))).toEqual(fixture.pngs.find((p) => p.file === 'l.png')!.l)
  })
})

describe('writeImage', () => {
  it('round trips RGB with clamping and rounding, atomically', () => {
    const path = join(dir, 'round-trip.png')
    writeFileSync(path, 'an older file to replace')
    const data = [0, 0.4, 254.6, 300, -5, NaN, 10, 20.5, 30, 40, 50, 60]
    ft.vision.writeImage(ft.tensor(data).reshape([3, 2, 2]), path)
    expect(pngHeader(path)).toEqual({ width: 2, height: 2, colorType: 2 })
    expect(values(ft.vision.readImage(path))).toEqual([0, 0, 255, 255, 0, 0, 10, 21, 30, 40, 50, 60])
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('writes [H, W] and [1, H, W] as gray', () => {
    const image = ft.arange(0, 240, 20).reshape([3, 4])
    for (const [name, t] of [['hw.png', image], ['chw.png', image.unsqueeze(0)]] as const) {
      const path = join(dir, name)
      ft.vision.writeImage(t, path)
      expect(pngHeader(path)).toEqual({ width: 4, height: 3, colorType: 0 })
      const back = ft.vision.readImage(path, { mode: 'L' })
      expect(back.shape).toEqual([1, 3, 4])
      expect(values(back)).toEqual(values(image))
    }
  })
})

describe('writeImage as JPEG', () => {
  // A smooth colour gradient, which JPEG keeps closely at high quality.
  const gradient = ft
    .arange(0, 40)
    .mul(4)
    .reshape([1, 1, 40])
    .add(ft.arange(0, 24).mul(2).reshape([1, 24, 1]))
    .add(ft.arange(0, 3).mul(25).reshape([3, 1, 1]))

  it('writes baseline JPEG files picked by extension, close to the pixels, smaller at lower quality', () => {
    const fine = join(dir, 'fine.jpg')
    const coarse = join(dir, 'coarse.JPEG')
    ft.vision.writeImage(gradient, fine, { quality: 95 })
    ft.vision.writeImage(gradient, coarse, { quality: 10 })
    const bytes = readFileSync(fine)
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8])
    expect(statSync(coarse).size).toBeLessThan(bytes.length)
    const back = values(ft.vision.readImage(fine))
    const want = values(gradient)
    expect(Math.max(...back.map((v, i) => Math.abs(v - want[i])))).toBeLessThanOrEqual(6)
    ft.vision.writeImage(gradient.select(0, 0), join(dir, 'gray.jpeg'))
    expect(ft.vision.readImage(join(dir, 'gray.jpeg'), { mode: 'L' }).shape).toEqual([1, 24, 40])
  })

  it('refuses unknown extensions and bad qualities with typed errors', () => {
    const image = ft.zeros([4, 4])
    const cases: [string, number | undefined, string][] = [
      ['x.bmp', undefined, 'expected a .png, .jpg or .jpeg file name'],
      ['x.png', 90, 'quality applies to JPEG files only'],
      ['x.jpg', 0, 'quality must be 1 to 100'],
      ['x.jpg', 101, 'quality must be 1 to 100'],
      ['x.jpg', 2.5, 'quality must be an integer'],
    ]
    for (const [name, quality, message] of cases) {
      const e = thrown(() => ft.vision.writeImage(image, join(dir, name), { quality }))
      expect(e.code).toBe('InvalidArgument')
      expect(e.message).toContain(message)
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('x.'))).toEqual([])
  })
})

describe('saveImageGrid', () => {
  // A 10x20 gray ramp titled 'a' (8 px) and a 12x16 colour image under a 120 px title.
  const ramp = ft.arange(0, 200).reshape([1, 10, 20])
  const colour = ft.rand([3, 12, 16]).mul(50).sub(20)

  it('lays pictures out under centred titles', () => {
    const path = join(dir, 'grid.png')
    ft.vision.saveImageGrid([ramp, colour], path, { titles: ['a', 'long title here'] })
    // Columns are max(picture, title) wide: 20 and 120, with 8 px margins; rows add a 12 px title band.
    expect(pngHeader(path)).toEqual({ width: 8 + 20 + 8 + 120 + 8, height: 8 + 12 + 12 + 8, colorType: 2 })
    const page = ft.vision.readImage(path)
    const rampBytes = autoscale(values(ramp))
    const colourBytes = autoscale(values(colour))
    for (let c = 0; c < 3; c++) {
      expect(region(page, c, 20, 8, 10, 20)).toEqual(rampBytes)
      expect(region(page, c, 20, 36 + 52, 12, 16)).toEqual(colourBytes.slice(c * 192, (c + 1) * 192))
      expect(new Set(region(page, c, 0, 0, 8, 164))).toEqual(new Set([255])) // top margin
      expect(new Set(region(page, c, 16, 0, 4, 164))).toEqual(new Set([255])) // gap under the titles
    }
    // 'a' is centred over its 20 px column; 'long title here' fills its own.
    const title = (left: number, width: number) => region(page, 0, 8, left, 8, width)
    expect(title(14, 8).filter((v) => v === 0).length).toBeGreaterThan(8)
    expect(new Set([...title(8, 6), ...title(22, 6)])).toEqual(new Set([255]))
    expect(title(36, 120).filter((v) => v === 0).length).toBeGreaterThan(100)
  })

  it('wraps after columns, scales, and leaves out the title band without titles', () => {
    const gray = ft.zeros([5, 6])
    const path = join(dir, 'wrap.png')
    ft.vision.saveImageGrid([gray, gray, gray], path, { columns: 2 })
    expect(pngHeader(path)).toEqual({ width: 8 + 6 + 8 + 6 + 8, height: 8 + 5 + 8 + 5 + 8, colorType: 0 })
    ft.vision.saveImageGrid([gray, gray, gray], path, { columns: 2, scale: 3 })
    expect(pngHeader(path)).toEqual({ width: 3 * 36, height: 3 * 34, colorType: 0 })
    ft.vision.saveImageGrid([gray], path, { titles: ['x'], scale: 2 })
    expect(pngHeader(path)).toEqual({ width: 2 * (8 + 8 + 8), height: 2 * (8 + 12 + 5 + 8), colorType: 0 })
  })

  it('clamps instead of autoscaling with normalize: false', () => {
    const path = join(dir, 'clamped.png')
    ft.vision.saveImageGrid([ft.tensor([[-10, 0.4, 127.5, 300]])], path, { normalize: false })
    expect(region(ft.vision.readImage(path, { mode: 'L' }), 0, 8, 8, 1, 4)).toEqual([0, 0, 128, 255])
    // A flat picture autoscales to black, as in matplotlib.
    ft.vision.saveImageGrid([ft.full([1, 2], 7)], path)
    expect(region(ft.vision.readImage(path, { mode: 'L' }), 0, 8, 8, 1, 2)).toEqual([0, 0])
  })
})

describe('errors', () => {
  it('name the file and carry the Io code', () => {
    const missing = join(dir, 'missing.png')
    let e = thrown(() => ft.vision.readImage(missing))
    expect(e.code).toBe('Io')
    expect(e).toBeInstanceOf(ft.IoError)
    expect(e.message).toContain(`readImage: ${missing}: `)

    const text = join(dir, 'text.png')
    writeFileSync(text, 'not an image at all')
    e = thrown(() => ft.vision.readImage(text))
    expect(e.code).toBe('Io')
    expect(e.message).toBe(`readImage: ${text}: not a PNG, JPEG or WebP image`)

    const photo = readFileSync(PHOTO)
    const png = readFileSync(join(FIXTURES, 'rgb.png'))
    for (const [name, bytes] of [['cut.jpg', photo.subarray(0, photo.length >> 1)], ['no-eoi.jpg', photo.subarray(0, -2)], ['cut.png', png.subarray(0, 60)]] as const) {
      const path = join(dir, name)
      writeFileSync(path, bytes)
      e = thrown(() => ft.vision.readImage(path))
      expect(e.code).toBe('Io')
      expect(e.message).toBe(`readImage: ${path}: the file is truncated`)
    }

    e = thrown(() => ft.vision.readImage(join(FIXTURES, 'gray16.png')))
    expect(e.code).toBe('Io')
    expect(e.message).toContain('only 8-bit images can be read')

    e = thrown(() => ft.vision.writeImage(ft.zeros([2, 2]), join(dir, 'no-such-dir', 'x.png')))
    expect(e.code).toBe('Io')
    expect(e.message).toContain(join(dir, 'no-such-dir', 'x.png'))
  })

  it('reject bad arguments by code', () => {
    const image = ft.zeros([1, 4, 4])
    const out = join(dir, 'bad.png')
    expect(thrown(() => ft.vision.readImage(PHOTO, { mode: 'RGBA' as never })).code).toBe('InvalidArgument')
    expect(thrown(() => ft.vision.writeImage(ft.zeros([2, 4, 4]), out)).code).toBe('ShapeMismatch')
    expect(thrown(() => ft.vision.writeImage(ft.zeros([1, 1, 4, 4]), out)).code).toBe('ShapeMismatch')
    expect(thrown(() => ft.vision.writeImage(ft.zeros([0, 4]), out)).code).toBe('ShapeMismatch')
    expect(thrown(() => ft.vision.writeImage([[1]] as never, out)).code).toBe('InvalidArgument')
    expect(thrown(() => ft.vision.saveImageGrid([], out)).message).toBe('saveImageGrid: needs at least one image')
    const titles = thrown(() => ft.vision.saveImageGrid([image, image], out, { titles: ['one'] }))
    expect(titles.code).toBe('InvalidArgument')
    expect(titles.message).toBe('saveImageGrid: got 1 titles for 2 images')
    const rank = thrown(() => ft.vision.saveImageGrid([image, ft.zeros([4])], out))
    expect(rank.code).toBe('ShapeMismatch')
    expect(rank.message).toBe('saveImageGrid: image 1 must have shape [C, H, W] with C = 1 or 3, or [H, W]; got [4]')
    expect(thrown(() => ft.vision.saveImageGrid([image], out, { columns: 0 })).code).toBe('InvalidArgument')
    expect(thrown(() => ft.vision.saveImageGrid([image], out, { scale: -1 })).code).toBe('InvalidArgument')
    expect(thrown(() => ft.vision.saveImageGrid([image], out, { scale: 100_000 })).code).toBe('InvalidArgument')
    expect(thrown(() => ft.vision.saveImageGrid([image, 'x' as never], out)).code).toBe('InvalidArgument')
    const disposed = ft.zeros([2, 2])
    disposed.dispose()
    expect(thrown(() => ft.vision.saveImageGrid([disposed], out)).code).toBe('DisposedTensor')
  })
})

describe('examples/02-image-filters.ts', () => {
  /** Zero-padded 2-D cross-correlation (what conv2d computes) in float64. */
  function naiveConv(image: Float32Array, h: number, w: number, kernel: number[][], padding: number): Float64Array {
    const k = kernel.length
    const out = new Float64Array(h * w)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const [sy, sx] = [y + i - padding, x + j - padding]
            if (sy >= 0 && sy < h && sx >= 0 && sx < w) sum += image[sy * w + sx] * kernel[i][j]
          }
        }
        out[y * w + x] = sum
      }
    }
    return out
  }

  const scaled = (rows: number[][], s: number) => rows.map((r) => r.map((v) => v * s))
  const kernels = [
    { title: 'laplace', padding: 1, kernel: [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]] },
    { title: 'gauss kernel_size=3', padding: 1, kernel: scaled([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16) },
    {
      title: 'gauss kernel_size=5',
      padding: 2,
      kernel: scaled([[1, 2, 3, 2, 1], [2, 5, 6, 5, 2], [3, 6, 8, 6, 3], [2, 5, 6, 5, 2], [1, 2, 3, 2, 1]], 1 / 84),
    },
  ]

  it('prints the shapes and ranges and draws the filtered photo', async () => {
    const outDir = join(dir, 'example-02')
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'examples/02-image-filters.ts', outDir], { cwd: ROOT, timeout: 180_000 })
    const lines = stdout.trim().split('\n')
    expect(lines[0]).toBe('input: shape [1, 1, 256, 256], min 0, max 255')
    expect(lines[4]).toBe(`wrote ${join(outDir, 'filters.png')}`)

    const gray = ft.vision.readImage(PHOTO, { mode: 'L' }).toTypedArray() as Float32Array
    const file = join(outDir, 'filters.png')
    // Four 256 px pictures in one row: 8 px margins, titles (at most 152 px) in a 12 px band.
    expect(pngHeader(file)).toEqual({ width: 8 + 4 * (256 + 8), height: 8 + 12 + 256 + 8, colorType: 0 })
    const page = ft.vision.readImage(file, { mode: 'L' })
    expect(region(page, 0, 20, 8, 256, 256)).toEqual(autoscale(gray))

    kernels.forEach(({ title, padding, kernel }, i) => {
      const expected = naiveConv(gray, 256, 256, kernel, padding)
      const match = /^(.+): shape \[(.+)\], min (\S+), max (\S+)$/.exec(lines[i + 1])
      expect(match, lines[i + 1]).not.toBeNull()
      const [, name, shape, min, max] = match!
      expect(name).toBe(title)
      expect(shape).toBe('1, 1, 256, 256')
      expect(Number(min)).toBeCloseTo(Math.min(...expected), 2)
      expect(Number(max)).toBeCloseTo(Math.max(...expected), 2)
      // float32 sums may land one colormap level away from the float64 reference at a boundary.
      const drawn = region(page, 0, 20, 8 + (i + 1) * 264, 256, 256)
      const want = autoscale(expected)
      const off = drawn.filter((v, k) => v !== want[k])
      expect(Math.max(0, ...drawn.map((v, k) => Math.abs(v - want[k])))).toBeLessThanOrEqual(1)
      expect(off.length).toBeLessThan(0.01 * want.length)
      expect(region(page, 0, 8, 8 + (i + 1) * 264, 8, 256).filter((v) => v === 0).length, `${title} title`).toBeGreaterThan(50)
    })
  })

  it('conv2d matches the naive loop on a corner crop of the photo', () => {
    // The top-left 12x12 corner, so that zero padding is exercised too.
    const photo = ft.vision.readImage(PHOTO, { mode: 'L' })
    const pixels = Float32Array.from(region(photo, 0, 0, 0, 12, 12))
    const corner = ft.tensor(Array.from({ length: 12 }, (_, y) => Array.from(pixels.subarray(12 * y, 12 * y + 12))))
    for (const { title, padding, kernel } of kernels) {
      const got = values(ft.functional.conv2d(corner.reshape([1, 1, 12, 12]), ft.tensor([[kernel]]), { padding }))
      const want = naiveConv(pixels, 12, 12, kernel, padding)
      got.forEach((v, k) => expect(Math.abs(v - want[k]), `${title} at ${k}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[k]))))
    }
  })
})
