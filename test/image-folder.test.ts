// ImageFolder on cifar10-mini's PNG folders, checked against the same images read from the
// binary records (the two paths share no decoding code), and on small folders made here.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const T = ft.transforms
const mini = join(__dirname, '..', '..', 'shared', 'data', 'cifar10-mini')

/**
 * A 3x2 RGB JPEG (quality 95, no chroma subsampling) and its pixels as Pillow 13 decodes them:
 *
 * ```python
 * img = Image.new('RGB', (3, 2)); img.putdata([(200, 50, 20), (20, 100, 200), (50, 200, 100), (255, 255, 255), (0, 0, 0), (128, 128, 128)])
 * img.save(buf, 'JPEG', quality=95, subsampling=0)
 * list(Image.open(buf).convert('RGB').getdata())
 * ```
 */
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/wAARCAACAAMDAREAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwBZXfQviR8TvDuiObPT9L+OHj6w0yxtT5cNpaweKtUhggiRcLHHHGiRoigKqoqgAACuerhMLXkpVacZNKMVdJ2jGKjGKv0jFKMVsopJaJHkY7h/IczxlTF4zCUqtWpJynOdOEpSlJ3cpSkm5Sb1bbbb1Z//2Q==',
  'base64',
)
const JPEG_PIXELS = [[198, 50, 14], [20, 102, 204], [45, 199, 101], [255, 255, 255], [2, 2, 2], [128, 126, 129]]

/** Writes an 8-bit PNG from nested pixel values: `[H, W]` gray or `[3, H, W]` RGB. */
function writePng(path: string, values: number[][] | number[][][]): void {
  const t = ft.tensor(values)
  ft.vision.writeImage(t, path)
  t.dispose()
}

/** `[3, H, W]` planes from `[H][W]` RGB triples. */
function planes(rows: number[][][]): number[][][] {
  return [0, 1, 2].map((c) => rows.map((row) => row.map((px) => px[c])))
}

describe('ImageFolder', () => {
  it('reads cifar10-mini/test exactly as CIFAR10 reads test.bin', async () => {
    const folder = new ft.data.ImageFolder(join(mini, 'test'))
    const records = new ft.data.CIFAR10({ root: mini, train: false })
    expect(folder.length).toBe(5000)
    expect(folder.classes).toEqual(ft.data.CIFAR10_CLASSES)
    expect(folder.classToIdx.cat).toBe(3)
    expect(folder.samples[0]).toEqual([join(mini, 'test', 'airplane', '00000.png'), 0])
    expect(folder.samples[4999]).toEqual([join(mini, 'test', 'truck', '00499.png'), 9])
    expect(folder.targets).toEqual(records.targets)
    // Every image, as raw bytes (no transform) and through toTensor and normalize.
    const order = Array.from({ length: 5000 }, (_, i) => i)
    for (let start = 0; start < 5000; start += 1000) {
      const indices = order.slice(start, start + 1000)
      const [a, aLabels] = await folder.getBatch(indices, 0)
      const [b, bLabels] = await records.getBatch(indices, 0)
      expect(a.shape).toEqual([1000, 3, 32, 32])
      expect(ft.allClose(a, b, { rtol: 0, atol: 0 })).toBe(true)
      expect(ft.allClose(aLabels, bLabels, { rtol: 0, atol: 0 })).toBe(true)
      for (const t of [a, b, aLabels, bLabels]) t.dispose()
    }
    const normalize = T.compose([T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])
    folder.transform = normalize
    records.transform = normalize
    const picked = [0, 1, 499, 500, 2345, 4999]
    const [a, b] = [await folder.getBatch(picked, 7), await records.getBatch(picked, 7)]
    expect(ft.allClose(a[0], b[0], { rtol: 0, atol: 0 })).toBe(true)
  })

  it('reads cifar10-mini/train with the labels and pixels of train.bin', async () => {
    const folder = new ft.data.ImageFolder(join(mini, 'train'), { transform: T.compose([T.toTensor()]) })
    const records = new ft.data.CIFAR10({ root: mini, transform: T.compose([T.toTensor()]) })
    expect(folder.length).toBe(10000)
    expect(folder.targets).toEqual(records.targets)
    const picked = [0, 999, 1000, 3333, 5000, 7777, 9999]
    const [[a], [b]] = [await folder.getBatch(picked, 0), await records.getBatch(picked, 0)]
    expect(ft.allClose(a, b, { rtol: 0, atol: 0 })).toBe(true)
  })

  it('finds images recursively in torchvision order, converts them to RGB and ignores other files', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-folder-'))
    mkdirSync(join(root, 'dog', 'a', 'deeper'), { recursive: true })
    mkdirSync(join(root, 'cat'))
    writePng(join(root, 'dog', 'z.png'), planes([[[1, 2, 3], [4, 5, 6]]]))
    writePng(join(root, 'dog', 'a', 'y.png'), [[10, 20], [30, 40]])
    writeFileSync(join(root, 'dog', 'a', 'deeper', 'x.JPG'), JPEG)
    writeFileSync(join(root, 'dog', 'notes.txt'), 'not an image')
    writeFileSync(join(root, 'dog', 'a', 'Thumbs.db'), 'not an image')
    writePng(join(root, 'cat', 'only.png'), [[0]])
    writeFileSync(join(root, 'README.md'), 'a file beside the class folders is not a class')
    const data = new ft.data.ImageFolder(root)
    expect(data.classes).toEqual(['cat', 'dog'])
    // Python: folders of sorted(os.walk('dog')) are dog, dog/a, dog/a/deeper; files sorted within each.
    expect(data.samples).toEqual([
      [join(root, 'cat', 'only.png'), 0],
      [join(root, 'dog', 'z.png'), 1],
      [join(root, 'dog', 'a', 'y.png'), 1],
      [join(root, 'dog', 'a', 'deeper', 'x.JPG'), 1],
    ])
    expect(data.targets).toEqual([0, 1, 1, 1])
    const [rgb] = data.get(1)
    expect(rgb.toArray()).toEqual(planes([[[1, 2, 3], [4, 5, 6]]]))
    // A gray PNG becomes three equal planes, as PIL's convert('RGB') makes them.
    const [gray] = data.get(2)
    expect(gray.toArray()).toEqual([0, 1, 2].map(() => [[10, 20], [30, 40]]))
    const [jpeg, label] = data.get(3)
    expect(label).toBe(1)
    expect(jpeg.shape).toEqual([3, 2, 3])
    // JPEG decoders may round differently from libjpeg-turbo (Pillow's) by one level.
    const expected = ft.tensor(planes([JPEG_PIXELS.slice(0, 3), JPEG_PIXELS.slice(3)]))
    expect(ft.allClose(jpeg, expected, { atol: 1, rtol: 0 })).toBe(true)
    expect(new ft.data.ImageFolder(root, { extensions: ['.PNG'] }).length).toBe(3)
  })

  it('sorts class names by code point, as Python does', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-folder-'))
    // UTF-16 order would put the emoji (a surrogate pair, 0xD83D...) before U+FF01.
    const names = ['b', '\u{1F600}', 'B', '\uFF01', 'a', '\u00E9']
    for (const name of names) {
      mkdirSync(join(root, name))
      writePng(join(root, name, 'i.png'), [[0]])
    }
    const data = new ft.data.ImageFolder(root)
    expect(data.classes).toEqual(['B', 'a', 'b', '\u00E9', '\uFF01', '\u{1F600}'])
    expect(data.classToIdx['\u{1F600}']).toBe(5)
  })

  it('follows links to folders without looping', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-folder-'))
    const outside = mkdtempSync(join(tmpdir(), 'ferrite-folder-outside-'))
    writePng(join(outside, 'linked.png'), [[7]])
    mkdirSync(join(root, 'cat'))
    writePng(join(root, 'cat', 'own.png'), [[1]])
    symlinkSync(outside, join(root, 'cat', 'elsewhere'))
    symlinkSync(join(root, 'cat'), join(root, 'cat', 'loop'))
    symlinkSync(outside, join(root, 'dog'))
    const data = new ft.data.ImageFolder(root)
    expect(data.classes).toEqual(['cat', 'dog'])
    expect(data.samples.map(([p]) => p)).toEqual([join(root, 'cat', 'own.png'), join(root, 'cat', 'elsewhere', 'linked.png'), join(root, 'dog', 'linked.png')])
  })

  it('names what is missing, empty or corrupt', () => {
    const missing = join(tmpdir(), 'ferrite-no-such-folder')
    expect(() => new ft.data.ImageFolder(missing)).toThrow(ft.IoError)
    expect(() => new ft.data.ImageFolder(missing)).toThrow(`ImageFolder: ${missing}: no such folder`)

    const flat = mkdtempSync(join(tmpdir(), 'ferrite-folder-'))
    writePng(join(flat, 'loose.png'), [[0]])
    expect(() => new ft.data.ImageFolder(flat)).toThrow(`ImageFolder: Couldn't find any class folder in ${flat}.`)
    expect(() => new ft.data.ImageFolder(join(flat, 'loose.png'))).toThrow(/loose\.png: not a folder/)

    const root = mkdtempSync(join(tmpdir(), 'ferrite-folder-'))
    for (const name of ['cat', 'empty', 'also-empty']) mkdirSync(join(root, name))
    writePng(join(root, 'cat', 'ok.png'), [[0]])
    writeFileSync(join(root, 'empty', 'notes.txt'), 'no images here')
    const err = (() => {
      try {
        new ft.data.ImageFolder(root)
      } catch (e) {
        return e as ft.FerriteError
      }
    })()
    expect(err?.code).toBe('Io')
    expect(err?.message).toBe(`ImageFolder: ${root}: Found no valid file for the classes also-empty, empty. Supported extensions are: .jpg, .jpeg, .png, .webp`)

    const corrupt = mkdtempSync(join(tmpdir(), 'ferrite-folder-'))
    mkdirSync(join(corrupt, 'cat'))
    writePng(join(corrupt, 'cat', 'a.png'), [[0]])
    writeFileSync(join(corrupt, 'cat', 'b.png'), 'not a png')
    writeFileSync(join(corrupt, 'cat', 'c.jpg'), JPEG.subarray(0, 400))
    // Decoded up front (lazy: false), a corrupt file fails the constructor.
    const eager = { lazy: false }
    expect(() => new ft.data.ImageFolder(corrupt, eager)).toThrow(ft.IoError)
    expect(() => new ft.data.ImageFolder(corrupt, eager)).toThrow(`ImageFolder: ${join(corrupt, 'cat', 'b.png')}: not a PNG, JPEG or WebP image`)
    writeFileSync(join(corrupt, 'cat', 'b.png'), JPEG)
    expect(() => new ft.data.ImageFolder(corrupt, eager)).toThrow(`ImageFolder: ${join(corrupt, 'cat', 'c.jpg')}: the file is truncated`)

    expect(() => new ft.data.ImageFolder(root, { extensions: [] })).toThrow(ft.InvalidArgumentError)
  })
})
