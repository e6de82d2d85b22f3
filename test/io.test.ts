// ft.save / ft.load: safetensors round trips for every dtype, files written by PyTorch
// (test/fixtures/gen_module_fixtures.py), atomic replacement of an existing file, and typed
// `Io` errors that name the file for missing, truncated, corrupt and unsupported files.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown, valuesOf } from './helpers'

const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'ferrite-io-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The JSON header of a safetensors file (8-byte little-endian length, then the JSON). */
function header(path: string): Record<string, unknown> {
  const bytes = readFileSync(path)
  const length = Number(bytes.readBigUInt64LE(0))
  return JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'))
}

describe('save and load', () => {
  it('round-trips float32, int64 and bool tensors, 0-d, empty and non-contiguous ones included', () => {
    const path = join(dir, 'all.safetensors')
    const original: Record<string, ft.Tensor> = {
      'b.weight': ft.tensor([[1.5, -2, 0.25], [3, NaN, -Infinity]]),
      'a.steps': ft.tensor(2 ** 53 - 1, { dtype: 'int64' }),
      mask: ft.tensor([true, false, true]),
      empty: ft.zeros([0, 4]),
      transposed: ft.arange(6).reshape([2, 3]).transpose(0, 1),
    }
    ft.save(original, path, { metadata: { format: 'pt', note: 'ferrite' } })
    const loaded = ft.load(path)
    // safetensors keeps tensors sorted by name; ft.load returns them in that order.
    expect(Object.keys(loaded)).toEqual(['a.steps', 'b.weight', 'empty', 'mask', 'transposed'])
    for (const [key, t] of Object.entries(original)) {
      expect([loaded[key].shape, loaded[key].dtype], key).toEqual([t.shape, t.dtype])
      expect(valuesOf(loaded[key]), key).toEqual(valuesOf(t))
    }
    expect(loaded['a.steps'].toTypedArray()).toEqual(new BigInt64Array([2n ** 53n - 1n]))
    expect(header(path).__metadata__).toEqual({ format: 'pt', note: 'ferrite' })
    expect(readdirSync(dir)).toEqual(['all.safetensors'])
  })

  it("saves a model's state dict that another model loads", () => {
    const path = join(dir, 'model.safetensors')
    const net = () => new ft.nn.Sequential(new ft.nn.Conv2d(3, 4, 3), new ft.nn.BatchNorm2d(4), new ft.nn.Flatten(), new ft.nn.Linear(4, 2))
    const a = net()
    const b = net()
    ft.save(a.stateDict(), path)
    expect(b.loadStateDict(ft.load(path))).toEqual({ missingKeys: [], unexpectedKeys: [] })
    const sa = a.stateDict()
    for (const [key, t] of Object.entries(b.stateDict())) expect(valuesOf(t), key).toEqual(valuesOf(sa[key]))
    expect(header(path)['1.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data_offsets: expect.any(Array) })
  })

  it("reads PyTorch's file exactly", () => {
    const loaded = ft.load(fixturePath('io_dtypes.safetensors'))
    expect(Object.keys(loaded)).toEqual(['empty', 'labels', 'mask', 'steps', 'weight'])
    expect(loaded.weight.toArray()).toEqual([[1.5, -2, 0.25], [3, Infinity, -0]])
    expect(Object.is((loaded.weight.toArray() as number[][])[1][2], -0)).toBe(true)
    expect(loaded.steps.toTypedArray()).toEqual(new BigInt64Array([9007199254740991n]))
    expect([loaded.steps.shape, loaded.steps.dtype]).toEqual([[], 'int64'])
    expect(loaded.labels.toArray()).toEqual([-3, 0, 7])
    expect(loaded.mask.toArray()).toEqual([true, false, true, true])
    expect([loaded.empty.shape, loaded.empty.dtype]).toEqual([[0, 4], 'float32'])
  })

  it('rejects values that are not tensors', () => {
    const e = thrown(() => ft.save({ w: [1, 2] as unknown as ft.Tensor }, join(dir, 'bad.safetensors')))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe("save: the value of 'w' is an array, not a Tensor")
  })

  it("refuses the header's reserved key as a tensor name before writing anything", () => {
    const sub = mkdtempSync(join(dir, 'reserved-'))
    const e = thrown(() => ft.save({ w: ft.ones([1]), __metadata__: ft.ones([2]) }, join(sub, 'm.safetensors')))
    expect(e).toBeInstanceOf(ft.InvalidArgumentError)
    expect(e.message).toContain("'__metadata__' cannot name a tensor")
    expect(readdirSync(sub)).toEqual([])
  })
})

describe('atomic writes', () => {
  it('a save that fails leaves the existing file intact and no temporary file behind', () => {
    const sub = mkdtempSync(join(dir, 'atomic-'))
    const path = join(sub, 'weights.safetensors')
    ft.save({ w: ft.ones([3]) }, path)
    const good = readFileSync(path)
    const gone = ft.zeros([2])
    gone.dispose()
    const e = thrown(() => ft.save({ a: ft.ones([1000]), z: gone }, path))
    expect(e.code).toBe('DisposedTensor')
    expect(readFileSync(path)).toEqual(good)
    expect(readdirSync(sub)).toEqual(['weights.safetensors'])
  })

  it.skipIf(process.platform === 'win32')('a process that cannot finish writing leaves the existing file intact', () => {
    const sub = mkdtempSync(join(dir, 'limit-'))
    const path = join(sub, 'weights.safetensors')
    ft.save({ w: ft.ones([3]) }, path)
    const good = readFileSync(path)
    // A child process limited to 64 KiB files tries to write ~4 MB over it: the write fails (or
    // the process is killed by SIGXFSZ) part-way through the temporary file.
    const entry = fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url))
    const script = `
      const ft = require(${JSON.stringify(entry)})
      try { ft.save({ big: ft.ones([1000, 1000]) }, ${JSON.stringify(path)}); console.log('saved') }
      catch (e) { console.log(e.code + ': ' + e.message) }`
    let output = ''
    try {
      output = execFileSync('sh', ['-c', `ulimit -f 64 && exec "${process.execPath}" -e '${script.replaceAll("'", "'\\''")}'`], { encoding: 'utf8' })
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? '') // killed by the signal
    }
    expect(output).not.toContain('saved')
    expect(readFileSync(path)).toEqual(good)
    if (output !== '') {
      expect(output).toContain(`Io: save: ${path}: `)
      expect(readdirSync(sub)).toEqual(['weights.safetensors'])
    }
  })
})

describe('file errors name the file', () => {
  it('missing file', () => {
    const path = join(dir, 'nope.safetensors')
    const e = thrown(() => ft.load(path))
    expect(e).toBeInstanceOf(ft.IoError)
    expect(e.code).toBe('Io')
    expect(e.message.startsWith(`load: ${path}: `)).toBe(true)
    const into = join(dir, 'no-such-dir', 'w.safetensors')
    const s = thrown(() => ft.save({ w: ft.ones([1]) }, into))
    expect(s.code).toBe('Io')
    expect(s.message.startsWith(`save: ${into}: `)).toBe(true)
  })

  it('truncated and garbage files', () => {
    const bytes = readFileSync(fixturePath('module_small.safetensors'))
    for (const [name, content] of [
      ['truncated-data.safetensors', bytes.subarray(0, bytes.length - 10)],
      ['truncated-header.safetensors', bytes.subarray(0, 40)],
      ['tiny.safetensors', bytes.subarray(0, 3)],
      ['garbage.safetensors', Buffer.from('definitely not a safetensors file, just some text')],
    ] as const) {
      const path = join(dir, name)
      writeFileSync(path, content)
      const e = thrown(() => ft.load(path))
      expect(e.code, name).toBe('Io')
      expect(e.message, name).toContain(`load: ${path}: not a valid safetensors file`)
    }
  })

  it('a dtype changed without its data names the tensor and the sizes that disagree', () => {
    const path = join(dir, 'edited-dtype.safetensors')
    ft.save({ 'fc.bias': ft.zeros([2]), 'fc.weight': ft.ones([2, 3]) }, path)
    const bytes = readFileSync(path)
    const at = bytes.indexOf('"fc.weight":{"dtype":"F32"') + '"fc.weight":{"dtype":"'.length
    bytes.write('I64', at)
    writeFileSync(path, bytes)
    const e = thrown(() => ft.load(path))
    expect(e.code).toBe('Io')
    expect(e.message).toBe(
      `load: ${path}: tensor 'fc.weight' does not match its data: dtype I64 and shape [2, 3] take 48 bytes, ` +
        'but its data_offsets [8, 32] hold 24 (was its dtype or shape changed without its data?)',
    )
    expect(thrown(() => ft.loadMetadata(path)).message).toBe(e.message)
  })

  it('float16 loads as float32; dtypes Ferrite cannot hold name the key and the dtype', () => {
    const half = ft.load(fixturePath('io_float16.safetensors'))['fc.weight']
    expect([half.dtype, half.toArray()]).toEqual(['float32', [[1, 1], [1, 1]]])
    const path = fixturePath('safetensors_float8.safetensors')
    const e = thrown(() => ft.load(path))
    expect(e.code).toBe('Io')
    expect(e.message).toBe(
      `load: ${path}: tensor 'fc.weight' has dtype F8_E4M3; Ferrite loads F32, F16 and F64 (as float32), BF16, integer (as int64) and BOOL tensors (convert it, e.g. with \`.float()\`, before saving)`,
    )
  })
})
