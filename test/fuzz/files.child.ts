// A fuzz child process (started by files.test.ts): valid safetensors, PNG, JPEG and CIFAR-10
// files, damaged (test/fuzz/mutate.ts), then loaded through the public API. A load must give
// well-formed tensors or throw a typed FerriteError.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ft from 'ferrite-ml'
import { check, runFuzz, type Case, type FuzzSettings } from './harness'
import * as mutate from './mutate'
import type { Random } from './random'
import { numel, show } from './reference'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'ferrite-fuzz-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

/** Valid files to damage, by format. */
function samples() {
  ft.manualSeed(0)
  const saved = join(work, 'sample.safetensors')
  ft.save(
    {
      weight: ft.randn([3, 4]),
      labels: ft.tensor([1, -2, 3, 2 ** 40, 5], { dtype: 'int64' }),
      mask: ft.tensor([[true, false], [false, true]]),
      scalar: ft.tensor(2.5),
      empty: ft.zeros([0, 3]),
    },
    saved,
    { metadata: { format: 'pt', note: 'fuzz' } },
  )
  const png = join(work, 'sample.png')
  ft.vision.writeImage(ft.rand([3, 9, 13]).mul(255), png)
  const read = (path: string) => readFileSync(join(ROOT, path))
  const cifar = read('data/cifar10-sample/test.bin')
  return {
    safetensors: [readFileSync(saved), read('test/fixtures/io_dtypes.safetensors'), read('test/fixtures/module_small.safetensors')],
    png: [readFileSync(png), ...['gray16', 'l', 'la', 'palette', 'rgb', 'rgba'].map((name) => read(`test/fixtures/vision/${name}.png`))],
    jpeg: [read('examples/data/astronaut.jpg')],
    cifar: [1, 2, 3].map((records) => cifar.subarray(0, records * 3073)),
  }
}

const SAMPLES = samples()

function damage(rng: Random, format: keyof typeof SAMPLES, huge: boolean): mutate.Mutation & { sample: number } {
  const sample = rng.int(0, SAMPLES[format].length - 1)
  const bytes = SAMPLES[format][sample]
  if (rng.chance(0.05)) return { bytes, what: 'unchanged', sample }
  const aware = rng.chance(0.5)
  const edit = () => {
    if (!aware) return mutate.blind(rng, bytes)
    if (format === 'safetensors') return mutate.safetensorsHeader(rng, bytes, huge)
    if (format === 'png') return mutate.pngChunk(rng, bytes, huge)
    if (format === 'jpeg') return mutate.jpegSegment(rng, bytes, huge)
    return mutate.cifarRecords(rng, bytes)
  }
  const first = edit()
  // Now and then a second edit on top of the first.
  if (!rng.chance(0.2)) return { ...first, sample }
  const second = mutate.blind(rng, first.bytes)
  return { bytes: second.bytes, what: `${first.what}; ${second.what}`, sample }
}

/** Reads every element, so a reader that kept a bad length or offset touches it. */
function readAll(name: string, t: ft.Tensor): void {
  const values = t.toTypedArray()
  check(values.length === numel(t.shape), () => `${name}: ${values.length} values for shape ${show(t.shape)}`)
  check(typeof t.toString() === 'string', () => `${name}: no printed form`)
}

function checkImage(name: string, image: ft.Tensor, channels: number): void {
  const shape = image.shape
  check(shape.length === 3 && shape[0] === channels && shape[1] > 0 && shape[2] > 0, () => `${name}: image of shape ${show(shape)}`)
  check(image.dtype === 'float32', () => `${name}: image of dtype ${image.dtype}`)
  const values = image.toTypedArray()
  check(values.every((v) => Number.isInteger(v) && v >= 0 && v <= 255), () => `${name}: pixel values outside 0..255`)
}

/** A fresh folder per case (a reader must not see the previous case's file), removed after it. */
function inFolder(run: (dir: string) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(work, 'case-'))
    try {
      run(dir)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

function write(dir: string, name: string, bytes: Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

const FORMATS = ['safetensors', 'png', 'jpeg', 'cifar', 'imageFolder'] as const

function makeCase(rng: Random, { huge }: FuzzSettings): Case {
  const format = rng.pick(FORMATS)
  if (format === 'imageFolder') {
    const files = Array.from({ length: rng.int(1, 3) }, () => {
      const kind = rng.pick(['png', 'jpeg'] as const)
      return { kind, class: rng.pick(['cat', 'dog']), ...damage(rng, kind, huge) }
    })
    return {
      description: `ImageFolder of ${files.map((f) => `${f.class}/${f.kind}#${f.sample} (${f.what})`).join(', ')}`,
      run: inFolder((root) => {
        files.forEach((f, i) => {
          mkdirSync(join(root, f.class), { recursive: true })
          writeFileSync(join(root, f.class, `${i}.${f.kind === 'png' ? 'png' : 'jpg'}`), f.bytes)
        })
        const set = new ft.data.ImageFolder(root)
        check(set.length === files.length, () => `ImageFolder: ${set.length} images from ${files.length} files`)
        for (let i = 0; i < set.length; i++) {
          const [image, label] = set.get(i)
          checkImage(`ImageFolder item ${i}`, image, 3)
          check(label >= 0 && label < set.classes.length, () => `ImageFolder item ${i}: label ${label}`)
        }
      }),
    }
  }
  const { bytes, what, sample } = damage(rng, format, huge)
  const description = `${format}#${sample}: ${what}`
  if (format === 'safetensors') {
    return {
      description,
      run: inFolder((dir) => {
        const path = write(dir, 'model.safetensors', bytes)
        const metadata = ft.loadMetadata(path)
        check(Object.values(metadata).every((v) => typeof v === 'string'), () => `loadMetadata gave ${JSON.stringify(metadata)}`)
        for (const [name, t] of Object.entries(ft.load(path))) readAll(name, t)
      }),
    }
  }
  if (format === 'cifar') {
    return {
      description,
      run: inFolder((dir) => {
        write(dir, 'train.bin', bytes)
        const set = new ft.data.CIFAR10({ root: dir })
        check(set.length === bytes.length / 3073, () => `CIFAR10: ${set.length} images from ${bytes.length} bytes`)
        for (const i of [0, set.length - 1]) {
          const [image, label] = set.get(i)
          check(label >= 0 && label < 10, () => `CIFAR10 item ${i}: label ${label}`)
          checkImage(`CIFAR10 item ${i}`, image, 3)
          check(image.shape[1] === 32 && image.shape[2] === 32, () => `CIFAR10 item ${i}: shape ${show(image.shape)}`)
        }
      }),
    }
  }
  const mode = rng.pick(['RGB', 'L'] as const)
  return {
    description: `${description}; readImage mode ${mode}`,
    run: inFolder((dir) => {
      const image = ft.vision.readImage(write(dir, `image.${format === 'png' ? 'png' : 'jpg'}`, bytes), { mode })
      checkImage('readImage', image, mode === 'RGB' ? 3 : 1)
    }),
  }
}

runFuzz('files', makeCase)
