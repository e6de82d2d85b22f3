// Datasets, transforms and the data loader, on the shared cifar10-mini (its PNGs are the
// independent reference for the binary records) and on files made here.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const T = ft.transforms
const mini = join(__dirname, '..', '..', 'shared', 'data', 'cifar10-mini')

/** A CIFAR-10 file of `labels.length` records whose pixels encode (record, channel, index). */
function writeRecords(dir: string, name: string, labels: number[]): string {
  const bytes = new Uint8Array(labels.length * 3073)
  labels.forEach((label, r) => {
    bytes[r * 3073] = label
    for (let i = 0; i < 3072; i++) bytes[r * 3073 + 1 + i] = (r * 7 + Math.floor(i / 1024) * 50 + (i % 1024)) % 256
  })
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

describe('CIFAR10', () => {
  it('reads single-file splits and the official batch layout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-cifar-'))
    writeRecords(dir, 'train.bin', [3, 1, 4])
    writeRecords(dir, 'test.bin', [9])
    const train = new ft.data.CIFAR10({ root: dir })
    expect(train.length).toBe(3)
    expect(train.targets).toEqual([3, 1, 4])
    expect(train.classes[3]).toBe('cat')
    expect(train.classToIdx.truck).toBe(9)
    const [image, label] = train.get(1)
    expect(label).toBe(1)
    expect(image.shape).toEqual([3, 32, 32])
    // Without toTensor the raw byte values come through, channel planes as in the record.
    expect(image.toArray()).toEqual(
      [0, 1, 2].map((c) => Array.from({ length: 32 }, (_, y) => Array.from({ length: 32 }, (_, x) => (7 + c * 50 + y * 32 + x) % 256))),
    )
    const official = mkdtempSync(join(tmpdir(), 'ferrite-cifar-'))
    for (let i = 1; i <= 5; i++) writeRecords(official, `data_batch_${i}.bin`, [i])
    writeRecords(official, 'test_batch.bin', [0, 0])
    expect(new ft.data.CIFAR10({ root: official }).targets).toEqual([1, 2, 3, 4, 5])
    expect(new ft.data.CIFAR10({ root: official, train: false }).length).toBe(2)
  })

  it('names the file when it is missing, truncated or mislabelled', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-cifar-'))
    expect(() => new ft.data.CIFAR10({ root: dir })).toThrow(ft.IoError)
    const path = writeRecords(dir, 'train.bin', [1, 2])
    writeFileSync(path, readFileSync(path).subarray(0, 5000))
    expect(() => new ft.data.CIFAR10({ root: dir })).toThrow(ft.IoError)
    expect(() => new ft.data.CIFAR10({ root: dir })).toThrow(/train\.bin: 5000 bytes is not a whole number of 3073-byte CIFAR-10 records/)
    const bad = readFileSync(writeRecords(dir, 'train.bin', [1]))
    bad[0] = 42
    writeFileSync(path, bad)
    expect(() => new ft.data.CIFAR10({ root: dir })).toThrow(/record 0 has label 42/)
  })

  it('matches the PNG files of cifar10-mini through toTensor and normalize', async () => {
    const test = new ft.data.CIFAR10({ root: mini, train: false, transform: T.compose([T.toTensor(), T.normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])]) })
    expect(test.length).toBe(5000)
    const loader = new ft.data.DataLoader(test, { batchSize: 100 })
    let n = 0
    for await (const [images, targets] of loader) {
      expect(images.shape).toEqual([100, 3, 32, 32])
      expect(targets.dtype).toBe('int64')
      if (n === 0) {
        // Record 0 is test/airplane/00000.png; its first pixel, read independently with vision.readImage.
        const png = ft.vision.readImage(join(mini, 'test', 'airplane', '00000.png'))
        const expected = png.div(255).sub(0.5).div(0.25)
        expect(ft.allClose(images.select(0, 0), expected, { atol: 1e-6 })).toBe(true)
        const last = ft.vision.readImage(join(mini, 'test', 'airplane', '00099.png'))
        expect(ft.allClose(images.select(0, 99), last.div(255).sub(0.5).div(0.25), { atol: 1e-6 })).toBe(true)
      }
      n += 1
    }
    expect(n).toBe(50)
  })
})

describe('custom datasets and subsets', () => {
  class Squares extends ft.data.Dataset {
    get length(): number {
      return 5
    }
    get(index: number): ft.data.Item {
      return [ft.full([1, 2, 2], index * index), index % 2]
    }
  }

  it('a Dataset subclass is batched by stacking its items', async () => {
    const loader = new ft.data.DataLoader(new Squares(), { batchSize: 2 })
    expect(loader.length).toBe(3)
    const batches: [number[], number[]][] = []
    for await (const [inputs, targets] of loader) {
      expect(inputs.shape.slice(1)).toEqual([1, 2, 2])
      expect(targets.dtype).toBe('int64')
      batches.push([inputs.mean([1, 2, 3]).toArray() as number[], targets.toArray() as number[]])
    }
    expect(batches).toEqual([[[0, 1], [0, 1]], [[4, 9], [0, 1]], [[16], [0]]])
    expect(new ft.data.DataLoader(new Squares(), { batchSize: 2, dropLast: true }).length).toBe(2)
  })

  it('random transforms differ between batches and epochs for any seed, and repeat for the same seed', async () => {
    // Four copies of one image: only the augmentation tells the batches apart.
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-cifar-'))
    const one = readFileSync(writeRecords(dir, 'one.bin', [3]))
    writeFileSync(join(dir, 'train.bin'), Buffer.concat([one, one, one, one]))
    const set = new ft.data.CIFAR10({ root: dir, transform: T.compose([T.pad(4), T.randomCrop(32), T.toTensor()]) })
    const epoch = async (loader: ft.data.DataLoader) => {
      const batches: number[][] = []
      for await (const [images, targets] of loader) {
        batches.push((images.toArray() as number[][][][]).flat(3))
        images.dispose()
        targets.dispose()
      }
      return batches
    }
    for (const seed of [0, 1e9, Number.MAX_SAFE_INTEGER]) {
      const loader = new ft.data.DataLoader(set, { batchSize: 2, seed })
      const [first, second] = [await epoch(loader), await epoch(loader)]
      expect(first[0]).not.toEqual(first[1])
      expect(first).not.toEqual(second)
      expect(await epoch(new ft.data.DataLoader(set, { batchSize: 2, seed }))).toEqual(first)
    }
    for (const seed of [-1, 1.5, 2 ** 53]) {
      expect(() => new ft.data.DataLoader(set, { seed })).toThrow(ft.InvalidArgumentError)
    }
  })

  it('a loop left early releases the batch prepared ahead', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-cifar-'))
    writeRecords(dir, 'train.bin', [0, 1, 2, 3, 4, 5])
    const loader = new ft.data.DataLoader(new ft.data.CIFAR10({ root: dir, transform: T.compose([T.toTensor()]) }), { batchSize: 2 })
    const before = ft.memory().tensors
    for await (const [images, targets] of loader) {
      images.dispose()
      targets.dispose()
      break
    }
    // Leaving the loop waits for the batch loading ahead and disposes it: nothing is left, nor appears later.
    expect(ft.memory().tensors).toBe(before)
    await new Promise((r) => setTimeout(r, 100))
    expect(ft.memory().tensors).toBe(before)
    // A slow batch too: the loop's exit waits for it.
    class Slow extends Squares {
      loaded = 0
      override async getBatch(indices: number[], seed: number): Promise<ft.data.Batch> {
        await new Promise((r) => setTimeout(r, 50))
        this.loaded++
        return super.getBatch(indices, seed)
      }
    }
    const slow = new Slow()
    for await (const batch of new ft.data.DataLoader(slow, { batchSize: 2 })) {
      batch.forEach((t) => t.dispose())
      break
    }
    expect(slow.loaded).toBe(2)
    expect(ft.memory().tensors).toBe(before)
  })

  it('Subset picks items by index and keeps native batching', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-cifar-'))
    writeRecords(dir, 'train.bin', [0, 1, 2, 3, 4, 5])
    const subset = new ft.data.Subset(new ft.data.CIFAR10({ root: dir, transform: T.compose([T.toTensor()]) }), [5, 1, 3])
    expect(subset.length).toBe(3)
    expect(subset.get(0)[1]).toBe(5)
    const [images, targets] = await subset.getBatch([0, 2], 0)
    expect(targets.toArray()).toEqual([5, 3])
    expect(images.shape).toEqual([2, 3, 32, 32])
    expect(() => new ft.data.Subset(subset, [3])).toThrow(ft.IndexOutOfRangeError)
    expect(() => new ft.data.DataLoader([] as never)).toThrow(ft.InvalidArgumentError)
  })
})
