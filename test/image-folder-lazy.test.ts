// The lazy ImageFolder: files decoded batch by batch on the native threads. Checked against the
// in-memory mode (which decodes through the same codec, all at once), against Pillow's decoding
// of the WebP and EXIF fixtures (test/fixtures/gen_photos.py), and for bounded memory.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as ft from 'ferrite-ml'

const T = ft.transforms
const photos = join(__dirname, 'fixtures', 'photos')
const sample = join(__dirname, '..', 'data', 'cifar10-sample')

/** Writes `count` PNGs per class, cut from cifar10-sample's images to sizes from 20x20 to 32x32. */
function mixedFolder(count: number): string {
  const root = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
  const cifar = new ft.data.CIFAR10({ root: sample, train: false })
  for (const name of ['cat', 'dog']) mkdirSync(join(root, name))
  for (let i = 0; i < 2 * count; i++) {
    const [image] = cifar.get(i % cifar.length)
    const [h, w] = [20 + ((i * 5) % 13), 20 + ((i * 7) % 13)]
    const cut = image.narrow(1, 0, h).narrow(2, 32 - w, w)
    ft.vision.writeImage(cut, join(root, i % 2 ? 'dog' : 'cat', `${String(i).padStart(4, '0')}.png`))
    cut.dispose()
    image.dispose()
  }
  // The fixture photos join the set: JPEG and WebP among the PNGs, under any extension's case.
  copyFileSync(join(photos, 'oriented6.jpg'), join(root, 'cat', 'photo.JPG'))
  copyFileSync(join(photos, 'lossless.webp'), join(root, 'dog', 'lossless.webp'))
  copyFileSync(join(photos, 'lossy.webp'), join(root, 'dog', 'lossy.webp'))
  return root
}

/** Every batch of one epoch, as nested arrays. */
async function epoch(loader: ft.data.DataLoader): Promise<[unknown, unknown][]> {
  const batches: [unknown, unknown][] = []
  for await (const [images, targets] of loader) {
    batches.push([images.toArray(), targets.toArray()])
    images.dispose()
    targets.dispose()
  }
  return batches
}

function readPng(path: string): ft.Tensor {
  return ft.vision.readImage(path)
}

type Planes = number[][][]

/** `[C, H, W]` planes turned 90 degrees clockwise (`clockwise`) or counter-clockwise. */
function turn(planes: Planes, clockwise: boolean): Planes {
  return planes.map((plane) => {
    const [h, w] = [plane.length, plane[0].length]
    return Array.from({ length: w }, (_, y) => Array.from({ length: h }, (_, x) => (clockwise ? plane[h - 1 - x][y] : plane[x][w - 1 - y])))
  })
}

function maxAbsDiff(a: ft.Tensor, b: ft.Tensor): number {
  using d = a.sub(b).abs().max()
  return d.item()
}

function meanAbsDiff(a: ft.Tensor, b: ft.Tensor): number {
  using d = a.sub(b).abs().mean()
  return d.item()
}

afterEach(() => vi.restoreAllMocks())

describe('ImageFolder (lazy)', () => {
  it('is lazy by default and gives the batches of the in-memory mode, mixed sizes and formats', async () => {
    const root = mixedFolder(20)
    const transform = T.compose([T.randomCrop(12), T.randomHorizontalFlip(), T.toTensor(), T.normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])])
    const lazy = new ft.data.ImageFolder(root, { transform })
    const eager = new ft.data.ImageFolder(root, { transform, lazy: false })
    expect(lazy.lazy).toBe(true)
    expect(eager.lazy).toBe(false)
    expect(lazy.length).toBe(43)
    expect(lazy.samples).toEqual(eager.samples)
    expect(lazy.targets).toEqual(eager.targets)
    const options = { batchSize: 8, shuffle: true, seed: 11 }
    const [a, b] = [new ft.data.DataLoader(lazy, options), new ft.data.DataLoader(eager, options)]
    for (let e = 0; e < 2; e++) {
      const [fromFiles, fromMemory] = [await epoch(a), await epoch(b)]
      expect(fromFiles.length).toBe(6)
      expect(fromFiles).toEqual(fromMemory)
    }
    const [image, label] = lazy.get(42, 3)
    expect(image.shape).toEqual([3, 12, 12])
    expect(label).toBe(1)
    image.dispose()
  })

  it('decodes WebP like Pillow: lossless exactly, lossy within rounding', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
    mkdirSync(join(root, 'a'))
    for (const name of ['lossless.webp', 'lossy.webp']) copyFileSync(join(photos, name), join(root, 'a', name))
    const folder = new ft.data.ImageFolder(root)
    const [lossless] = folder.get(0)
    using png = readPng(join(photos, 'lossless.png'))
    expect(lossless.shape).toEqual([3, 14, 20])
    expect(maxAbsDiff(lossless, png)).toBe(0)
    const [lossy] = folder.get(1)
    using pillow = readPng(join(photos, 'lossy_pillow.png'))
    expect(lossy.shape).toEqual([3, 12, 18])
    expect(maxAbsDiff(lossy, pillow)).toBeLessThanOrEqual(1)
    lossless.dispose()
    lossy.dispose()
  })

  it('turns photos upright by their EXIF orientation like ImageOps.exif_transpose, when asked', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
    mkdirSync(join(root, 'a'))
    copyFileSync(join(photos, 'oriented6.jpg'), join(root, 'a', 'oriented6.jpg'))
    using upright = readPng(join(photos, 'oriented6_upright.png'))
    for (const lazy of [true, false]) {
      const [turned] = new ft.data.ImageFolder(root, { exifOrientation: true, lazy }).get(0)
      const [stored] = new ft.data.ImageFolder(root, { lazy }).get(0)
      expect(stored.shape).toEqual([3, 16, 24])
      expect(turned.shape).toEqual([3, 24, 16])
      // Orientation 6: the stored image turned 90 degrees clockwise, exactly.
      expect(turned.toArray()).toEqual(turn(stored.toArray() as Planes, true))
      // JPEG decoders round chroma upsampling differently from libjpeg-turbo (Pillow's).
      expect(meanAbsDiff(turned, upright)).toBeLessThan(1)
      expect(maxAbsDiff(turned, upright)).toBeLessThanOrEqual(3)
      using counterClockwise = ft.tensor(turn(stored.toArray() as Planes, false))
      expect(meanAbsDiff(counterClockwise, upright)).toBeGreaterThan(10)
      turned.dispose()
      stored.dispose()
    }
  })

  it('applies every EXIF orientation, 1 to 8, exactly as ImageOps.exif_transpose does, from WebP and PNG', () => {
    const oriented = join(photos, 'orientations')
    for (const ext of ['webp', 'png']) {
      const root = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
      mkdirSync(join(root, 'a'))
      for (let n = 1; n <= 8; n++) copyFileSync(join(oriented, `${n}.${ext}`), join(root, 'a', `${n}.${ext}`))
      for (const lazy of [true, false]) {
        const turned = new ft.data.ImageFolder(root, { exifOrientation: true, lazy })
        const stored = new ft.data.ImageFolder(root, { lazy })
        for (let n = 1; n <= 8; n++) {
          const [image] = turned.get(n - 1)
          const [asStored] = stored.get(n - 1)
          using upright = readPng(join(oriented, 'upright', `${n}.png`))
          expect(asStored.shape).toEqual([3, 3, 5])
          expect(image.shape, `orientation ${n} (${ext})`).toEqual(upright.shape)
          expect(maxAbsDiff(image, upright), `orientation ${n} (${ext})`).toBe(0)
          image.dispose()
          asStored.dispose()
        }
      }
    }
  })

  it('names a corrupt file in a typed error, and the loader goes on working', async () => {
    const root = mixedFolder(3)
    const bad = join(root, 'dog', '0003.png')
    writeFileSync(bad, 'not a png')
    const folder = new ft.data.ImageFolder(root, { transform: T.compose([T.centerCrop(8), T.toTensor()]) })
    const loader = new ft.data.DataLoader(folder, { batchSize: 3 })
    const err = await epoch(loader).catch((e: unknown) => e as ft.FerriteError)
    expect(err).toBeInstanceOf(ft.IoError)
    expect((err as ft.FerriteError).code).toBe('Io')
    expect((err as ft.FerriteError).message).toContain(`${bad}: not a PNG, JPEG or WebP image`)
    expect(() => folder.get(folder.samples.findIndex(([path]) => path === bad))).toThrow(ft.IoError)
    // A WebP cut short is called truncated, as a JPEG is.
    const webp = join(root, 'dog', 'lossless.webp')
    writeFileSync(webp, readFileSync(join(photos, 'lossless.webp')).subarray(0, 300))
    expect(() => folder.get(folder.samples.findIndex(([path]) => path === webp))).toThrow(`ImageFolder: ${webp}: the file is truncated`)
    copyFileSync(join(photos, 'lossless.webp'), webp)
    copyFileSync(join(root, 'dog', '0001.png'), bad)
    expect((await epoch(loader)).length).toBe(3)
    writeFileSync(bad, 'not a png')
    expect(() => new ft.data.ImageFolder(root, { lazy: false })).toThrow(`ImageFolder: ${bad}: not a PNG, JPEG or WebP image`)
  })

  it("skips and counts unreadable files with onError: 'skip'", async () => {
    const root = mixedFolder(4)
    const [bad, truncated] = [join(root, 'cat', '0002.png'), join(root, 'cat', 'photo.JPG')]
    writeFileSync(bad, Buffer.alloc(64, 7))
    writeFileSync(truncated, Buffer.from([0xff, 0xd8, 0xff, 0xe0]))
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const transform = T.compose([T.centerCrop(8), T.toTensor()])
    const folder = new ft.data.ImageFolder(root, { transform, onError: 'skip' })
    expect(folder.length).toBe(11)
    expect(folder.skipped).toEqual([])
    const loader = new ft.data.DataLoader(folder, { batchSize: 4 })
    for (let e = 0; e < 2; e++) {
      const batches = await epoch(loader)
      expect(batches.map(([images]) => (images as unknown[]).length)).toEqual([3, 3, 3])
      expect(batches.map(([, targets]) => targets)).toEqual([[0, 0, 0], [1, 1, 1], [1, 1, 1]])
    }
    expect(folder.skipped).toEqual([bad, truncated])
    expect(warn).toHaveBeenCalledTimes(1)
    expect(String(warn.mock.calls[0][0])).toContain(bad)
    expect(() => folder.get(1)).toThrow(ft.IoError)

    const eager = new ft.data.ImageFolder(root, { transform, onError: 'skip', lazy: false })
    expect(eager.length).toBe(9)
    expect(eager.skipped).toEqual([bad, truncated])
    expect(eager.samples.map(([path]) => path)).not.toContain(bad)
  })

  it("counts only torchvision's image extensions, WebP included", () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
    mkdirSync(join(root, 'a'))
    copyFileSync(join(photos, 'lossy.webp'), join(root, 'a', 'x.WebP'))
    copyFileSync(join(photos, 'lossless.png'), join(root, 'a', 'y.png'))
    writeFileSync(join(root, 'a', 'notes.txt'), 'not an image')
    writeFileSync(join(root, 'a', '.DS_Store'), 'not an image')
    writeFileSync(join(root, 'a', 'movie.mp4'), 'not an image')
    const folder = new ft.data.ImageFolder(root, { onError: 'skip' })
    expect(folder.samples.map(([path]) => path)).toEqual([join(root, 'a', 'x.WebP'), join(root, 'a', 'y.png')])
    expect(ft.data.IMG_EXTENSIONS).toContain('.webp')
  })

  it('keeps memory bounded by the batches in flight, not the data set', async () => {
    // 300 images of 256x256: 59 MB decoded, as much as an in-memory set would hold.
    const root = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
    mkdirSync(join(root, 'a'))
    using noise = ft.rand([3, 256, 256]).mul(255)
    for (let i = 0; i < 300; i++) ft.vision.writeImage(noise, join(root, 'a', `${String(i).padStart(3, '0')}.png`))
    const transform = T.compose([T.randomCrop(64), T.toTensor()])
    const options = { batchSize: 10, shuffle: true, seed: 1 }
    const drain = async (loader: ft.data.DataLoader, each: () => void) => {
      for await (const [images, targets] of loader) {
        images.dispose()
        targets.dispose()
        each()
      }
    }
    // The threads' allocator caches fill on the first batches of any size; a small folder of the
    // same images warms them, so that what follows measures the data set alone.
    const small = mkdtempSync(join(tmpdir(), 'ferrite-lazy-'))
    mkdirSync(join(small, 'a'))
    for (let i = 0; i < 30; i++) copyFileSync(join(root, 'a', `${String(i).padStart(3, '0')}.png`), join(small, 'a', `${i}.png`))
    const warmUp = new ft.data.DataLoader(new ft.data.ImageFolder(small, { transform }), options)
    for (let e = 0; e < 4; e++) await drain(warmUp, () => {})
    const before = process.memoryUsage().rss
    const loader = new ft.data.DataLoader(new ft.data.ImageFolder(root, { transform }), options)
    const rss: number[] = []
    for (let e = 0; e < 3; e++) await drain(loader, () => rss.push(process.memoryUsage().rss))
    expect(rss.length).toBe(90)
    const MB = 2 ** 20
    // Two batches in flight hold 4 MB of decoded pixels; three epochs decode 177 MB.
    expect(Math.max(...rss) - before).toBeLessThan(12 * MB)
    // The in-memory mode, for contrast, holds every decoded image.
    const eager = new ft.data.ImageFolder(root, { lazy: false })
    expect(process.memoryUsage().rss - before).toBeGreaterThan(50 * MB)
    expect(eager.length).toBe(300)
  })
})
