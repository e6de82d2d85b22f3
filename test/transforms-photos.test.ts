// The image transforms against torchvision 0.29's uint8 tensor path (test/fixtures/gen_transforms.py):
// fixed small images of several sizes, random transforms with their draw given.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const T = ft.transforms
const fixtures = join(__dirname, 'fixtures', 'transforms')

interface Case {
  group: string
  name: string
  index: number
  spec: Record<string, unknown> & { kind: string }
  shape: number[]
  data: string
}
const { cases, grayNormalized } = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8')) as {
  cases: Case[]
  grayNormalized: { index: number; shape: number[]; data: string }
}
const photos = new ft.data.ImageFolder(join(fixtures, 'images'))

/** Runs one transform spec as the pipeline receives it and returns the `[C, H, W]` bytes as floats. */
function run(spec: Case['spec'], index: number): ft.Tensor {
  photos.transform = T.compose([{ ...spec, toString: () => spec.kind } as unknown as ft.transforms.Transform])
  return photos.get(index)[0]
}

/** How many values differ from torchvision's, and by at most how much. */
function compare(c: Case) {
  using out = run(c.spec, c.index)
  expect(out.shape, c.name).toEqual(c.shape)
  const got = out.toTypedArray() as Float32Array
  const want = Buffer.from(c.data, 'base64')
  let differ = 0
  let worst = 0
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i])
    if (d !== 0) differ++
    worst = Math.max(worst, d)
  }
  return { differ, worst, total: want.length }
}

function agreement(group: string) {
  const results = cases.filter((c) => c.group === group).map((c) => ({ name: c.name, ...compare(c) }))
  const total = results.reduce((s, r) => s + r.total, 0)
  const differ = results.reduce((s, r) => s + r.differ, 0)
  const worst = Math.max(...results.map((r) => r.worst))
  console.log(`${group}: ${results.length} cases, ${total - differ}/${total} values exact (${((100 * (total - differ)) / total).toFixed(3)}%), worst difference ${worst}`)
  return { results, differ, worst, total }
}

describe('transforms against torchvision', () => {
  // The fixtures come from torchvision's native uint8 resize (x86 with AVX2, or ARM): 16-bit
  // fixed-point weights, as Ferrite computes them, so every value agrees. (Elsewhere torchvision
  // resizes in float32 and rounds, which differs by at most 1 on some values.)
  for (const group of ['resize', 'centerCrop', 'resizedCrop', 'randomResizedCrop', 'adjustColor', 'colorJitter', 'rotate', 'randomRotation', 'grayscale']) {
    it(`${group} is exact`, () => {
      const { results } = agreement(group)
      for (const r of results) expect(r.differ, r.name).toBe(0)
    })
  }

  it('a 1-channel image flows through toTensor and normalize', () => {
    photos.transform = T.compose([T.grayscale(), T.toTensor(), T.normalize([0.449], [0.226])])
    using out = photos.get(grayNormalized.index)[0]
    expect(out.shape).toEqual(grayNormalized.shape)
    const want = new Float32Array(new Uint8Array(Buffer.from(grayNormalized.data, 'base64')).buffer)
    const got = out.toTypedArray() as Float32Array
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5)
  })
})

describe('batches of photos of different sizes', () => {
  it('come out at one size after resize + centerCrop or randomResizedCrop', async () => {
    for (const tf of [[T.resize(24), T.centerCrop(20)], [T.resize([24]), T.centerCrop([20])], [T.randomResizedCrop(20)], [T.resize([20, 20])]]) {
      photos.transform = T.compose([...tf, T.randomHorizontalFlip(), T.toTensor(), T.normalize(T.IMAGENET_MEAN, T.IMAGENET_STD)])
      const [x, y] = await photos.getBatch([0, 1, 2, 3], 7)
      expect(x.shape).toEqual([4, 3, 20, 20])
      x.dispose()
      y.dispose()
    }
  })

  it("train through the issue's pipeline: a DataLoader of 224x224 batches from photos of four sizes", async () => {
    const { IMAGENET_MEAN, IMAGENET_STD } = T
    const tf = T.compose([T.randomResizedCrop(224), T.randomHorizontalFlip(), T.colorJitter({ brightness: 0.2, contrast: 0.2 }), T.toTensor(), T.normalize(IMAGENET_MEAN, IMAGENET_STD)])
    const train = new ft.data.ImageFolder(join(fixtures, 'images'), { transform: tf })
    const loader = new ft.data.DataLoader(train, { batchSize: 3, shuffle: true, seed: 1 })
    const shapes: number[][] = []
    for await (const [x, y] of loader) {
      shapes.push(x.shape)
      const v = x.toTypedArray() as Float32Array
      // Normalized bytes lie within [(0 - mean) / std, (1 - mean) / std] of some channel.
      expect(v.every((e) => e >= -0.485 / 0.229 - 1e-5 && e <= (1 - 0.406) / 0.225 + 1e-5)).toBe(true)
      x.dispose()
      y.dispose()
    }
    expect(shapes).toEqual([
      [3, 3, 224, 224],
      [1, 3, 224, 224],
    ])
  })

  it('that keep their sizes are a typed error naming the sizes', async () => {
    photos.transform = T.compose([T.resize(24), T.toTensor()])
    const err = await photos.getBatch([0, 1], 0).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ft.ShapeMismatchError)
    expect(String(err)).toMatch(/image 1 is 32x24 with 3 channels and image 0 is 24x34 with 3 channels/)
  })

  it('random transforms draw per image and repeat for a seed', async () => {
    photos.transform = T.compose([T.randomResizedCrop(16), T.colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 }), T.randomRotation(20)])
    const batch = async (seed: number) => {
      const [x, y] = await photos.getBatch([0, 0, 0], seed)
      y.dispose()
      const v = Array.from(x.toTypedArray() as Float32Array)
      x.dispose()
      return v
    }
    const a = await batch(3)
    expect(await batch(3)).toEqual(a)
    const n = a.length / 3
    expect(a.slice(0, n)).not.toEqual(a.slice(n, 2 * n))
    expect(await batch(4)).not.toEqual(a)
  })
})

describe('transform options', () => {
  it('print as torchvision', () => {
    expect(String(T.resize(256))).toBe('Resize(size=256, interpolation=bilinear, max_size=None, antialias=True)')
    expect(String(T.resize([224, 200], { antialias: false }))).toBe('Resize(size=(224, 200), interpolation=bilinear, max_size=None, antialias=False)')
    expect(String(T.resize([256]))).toBe('Resize(size=[256], interpolation=bilinear, max_size=None, antialias=True)')
    expect(String(T.centerCrop(224))).toBe('CenterCrop(size=(224, 224))')
    expect(String(T.centerCrop([224]))).toBe('CenterCrop(size=(224, 224))')
    expect(String(T.randomResizedCrop(224))).toBe(
      'RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 1.3333), interpolation=bilinear, antialias=True)',
    )
    expect(String(T.colorJitter({ brightness: 0.2, contrast: 0.2 }))).toBe('ColorJitter(brightness=(0.8, 1.2), contrast=(0.8, 1.2), saturation=None, hue=None)')
    expect(String(T.colorJitter({ brightness: 0.1, contrast: 0.2, saturation: 0.3, hue: 0.1 }))).toBe(
      'ColorJitter(brightness=(0.9, 1.1), contrast=(0.8, 1.2), saturation=(0.7, 1.3), hue=(-0.1, 0.1))',
    )
    expect(String(T.randomRotation(30))).toBe('RandomRotation(degrees=[-30.0, 30.0], interpolation=nearest, expand=False, fill=0)')
    expect(String(T.randomRotation([-10, 20], { expand: true, fill: 5 }))).toBe(
      'RandomRotation(degrees=[-10.0, 20.0], interpolation=nearest, expand=True, fill=5)',
    )
    expect(String(T.grayscale())).toBe('Grayscale(num_output_channels=1)')
    expect(String(T.grayscale({ numOutputChannels: 3 }))).toBe('Grayscale(num_output_channels=3)')
    expect(String(T.normalize(T.IMAGENET_MEAN, T.IMAGENET_STD))).toBe('Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])')
  })

  it('are checked as torchvision checks them', () => {
    expect(() => T.colorJitter({ hue: 0.7 })).toThrow(ft.InvalidArgumentError)
    expect(() => T.colorJitter({ brightness: -1 })).toThrow(ft.InvalidArgumentError)
    expect(() => T.colorJitter({ contrast: [1.5, 0.5] })).toThrow(ft.InvalidArgumentError)
    expect(() => T.grayscale({ numOutputChannels: 2 as 1 })).toThrow(ft.InvalidArgumentError)
    expect(() => T.resize(0)).toThrow(ft.InvalidArgumentError)
    expect(() => T.resize(256, { maxSize: 200 })).toThrow(ft.InvalidArgumentError)
    expect(() => T.randomResizedCrop(224, { scale: [1, 0.5] })).toThrow(ft.InvalidArgumentError)
    expect(() => T.randomRotation(-5)).toThrow(ft.InvalidArgumentError)
    expect(() => T.randomRotation(Infinity)).toThrow(ft.InvalidArgumentError)
    expect(() => T.randomRotation(10, { fill: 256 })).toThrow(/fill must be a byte value 0-255, got 256/)
    expect(() => T.pad(2, { fill: -1 })).toThrow(ft.InvalidArgumentError)
    expect(() => T.randomCrop(8, { fill: 1.5 })).toThrow(ft.InvalidArgumentError)
    expect(() => T.centerCrop([0, 4])).toThrow(/centerCrop: size must be a positive integer or \[height, width\], got \[0, 4\]/)
    expect(() => T.randomResizedCrop(224, { ratio: [0, 1] })).toThrow(ft.InvalidArgumentError)
    expect(() => T.normalize([0.5, NaN], [0.2, 0.2])).toThrow(ft.InvalidArgumentError)
    expect(() => T.resize([24, 20], { maxSize: 30 })).toThrow(/maxSize works with a single size/)
    // A contrast factor of 1 changes nothing: left out, as torchvision leaves it out.
    expect(String(T.colorJitter({ contrast: 0 }))).toBe('ColorJitter(brightness=None, contrast=None, saturation=None, hue=None)')
  })
})
