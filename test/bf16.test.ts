// The bfloat16 dtype as a PyTorch user meets it: casts (round to nearest even), printing, factories,
// arithmetic's dtype rules, safetensors BF16 both ways with PyTorch's files, autograd through casts,
// module dtype moves, and typed errors where bfloat16 is not accepted. The golden values come from
// PyTorch (test/fixtures/gen_bf16.py, bf16.json and bf16_torch.safetensors), compared bit for bit.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { loadFixture, thrown } from './helpers'

interface Bf16Tensor {
  shape: number[]
  bits: number[]
}
interface F32Tensor {
  shape: number[]
  float32_bits: number[]
}
interface OtherTensor {
  shape: number[]
  values: (number | boolean)[]
}
interface Bf16Fixture {
  generator: string
  casts: {
    f32_to_bf16: { input_bits: number[]; output: Bf16Tensor }
    bf16_to_others: { input: Bf16Tensor; float32_bits: number[]; int64_in_range: number[]; bool: boolean[] }
    f64_to_bf16: { input: number[]; output: Bf16Tensor }
    i64_to_bf16: { input: number[]; output: Bf16Tensor }
  }
  printing: { name: string; tensor: Bf16Tensor; str: string; from_float32_leaf?: boolean; requires_grad?: boolean }[]
  factories: { name: string; op: 'arange' | 'full' | 'zeros' | 'ones'; args: unknown[]; output: Bf16Tensor }[]
  arithmetic: {
    name: string
    op: string
    a: Bf16Tensor
    b?: Bf16Tensor | F32Tensor
    scalar?: number
    dtype: ft.DType
    output: Bf16Tensor | F32Tensor | OtherTensor
    exact: boolean
  }[]
  autograd: { x_float32_bits: number[]; loss: Bf16Tensor; grad_float32_bits: number[]; grad_dtype: ft.DType }
  safetensors: { file: string; tensors: Record<string, { dtype: ft.DType } & (Bf16Tensor | F32Tensor | OtherTensor)> }
}

const fixture = loadFixture('bf16') as unknown as Bf16Fixture
const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'ferrite-bf16-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** float32 values from their bit patterns. */
function f32FromBits(bits: readonly number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer)
}

/** A bfloat16 tensor holding exactly these bit patterns (NaN-free: built through its float32 values). */
function bf16FromBits(spec: Bf16Tensor): ft.Tensor {
  return ft.tensor(
    f32FromBits(spec.bits.map((b) => b << 16 >>> 0)),
    { shape: spec.shape, dtype: 'bfloat16' },
  )
}

/** The bit patterns of a bfloat16 tensor, read from its exact float32 widening (no JS number in between). */
function bitsOf(t: ft.Tensor): number[] {
  expect(t.dtype).toBe('bfloat16')
  const wide = t.toTypedArray() as Float32Array
  return Array.from(new Uint32Array(wide.buffer, wide.byteOffset, wide.length), (b) => b >>> 16)
}

function float32BitsOf(t: ft.Tensor): number[] {
  expect(t.dtype).toBe('float32')
  const v = t.toTypedArray() as Float32Array
  return Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length))
}

const isNaNBits = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0

/**
 * Bit-for-bit equality (or within `ulps` bfloat16 ulps), except that any NaN equals any NaN:
 * PyTorch's NaN bits depend on its code path (see gen_bf16.py).
 */
function expectBits(actual: number[], expected: number[], ulps = 0): void {
  expect(actual.length).toBe(expected.length)
  const bad: string[] = []
  actual.forEach((a, i) => {
    const e = expected[i]
    if (isNaNBits(a) || isNaNBits(e)) {
      if (!(isNaNBits(a) && isNaNBits(e))) bad.push(`[${i}] ${a.toString(16)} vs ${e.toString(16)}`)
      return
    }
    // Same sign: the distance between the patterns counts ulps; across zero, -0 and +0 are one apart.
    const distance = (a & 0x8000) === (e & 0x8000) ? Math.abs(a - e) : (a & 0x7fff) + (e & 0x7fff) + 1
    if (distance > ulps) bad.push(`[${i}] ${a.toString(16)} vs ${e.toString(16)}`)
  })
  expect(bad, `${bad.length} elements differ`).toEqual([])
}

describe('casts', () => {
  it('float32 -> bfloat16 rounds to nearest even as PyTorch: ties, overflow to inf, subnormals, -0, NaN', () => {
    const { input_bits, output } = fixture.casts.f32_to_bf16
    const x = ft.tensor(f32FromBits(input_bits))
    const h = x.to('bfloat16')
    expect(h.dtype).toBe('bfloat16')
    expect(h.shape).toEqual(output.shape)
    expectBits(bitsOf(h), output.bits)
    // NaNs stay NaN (the signalling 0x7f800001 and all-ones payload 0x7fffffff too), -0 stays -0.
    const nans = input_bits.map((b, i) => [b, i] as const).filter(([b]) => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0)
    expect(nans.length).toBe(4)
    const got = bitsOf(h)
    for (const [, i] of nans) expect(isNaNBits(got[i]), `input ${i}`).toBe(true)
    expect(got[1]).toBe(0x8000)
    // The same casts with the other spellings.
    expectBits(bitsOf(x.to({ dtype: 'bfloat16' })), output.bits)
    expectBits(bitsOf(x.bfloat16()), output.bits)
  })

  it('bfloat16 -> float32 widens exactly; -> int64 truncates toward zero; -> bool is "not zero"', () => {
    const { input, float32_bits, int64_in_range, bool } = fixture.casts.bf16_to_others
    // 0x7fc0 (NaN) is the last input: built from a float32 NaN, which casts to a NaN.
    const h = ft.tensor(f32FromBits(input.bits.map((b) => b << 16 >>> 0))).to('bfloat16')
    expectBits(bitsOf(h), input.bits)
    const wide = h.float()
    expect(wide.dtype).toBe('float32')
    expect(float32BitsOf(wide)).toEqual(float32_bits)
    const inRange = (wide.toArray() as number[]).map((v) => Math.abs(v) < 2 ** 63)
    expect((h.long().toArray() as number[]).filter((_, i) => inRange[i])).toEqual(int64_in_range)
    expect(h.to('bool').toArray()).toEqual(bool)
    // toArray gives the exact values as JS numbers; toTypedArray the same as a Float32Array.
    expect(h.toArray()).toEqual(Array.from(wide.toTypedArray() as Float32Array))
    expect(h.toTypedArray()).toBeInstanceOf(Float32Array)
  })

  it('JS numbers -> bfloat16 go through float32, as torch.tensor(data, dtype=torch.bfloat16) does', () => {
    const { input, output } = fixture.casts.f64_to_bf16
    expectBits(bitsOf(ft.tensor(input, { dtype: 'bfloat16' })), output.bits)
    expectBits(bitsOf(ft.tensor(Float64Array.from(input), { dtype: 'bfloat16' })), output.bits)
    // 1 + 2^-8 + 2^-30 is above the halfway point, but float32 drops the 2^-30 first: 1.
    expect(ft.tensor(1 + 2 ** -8 + 2 ** -30, { dtype: 'bfloat16' }).item()).toBe(1)
    expect(Object.is(ft.tensor(-0, { dtype: 'bfloat16' }).item(), -0)).toBe(true)
  })

  it('int64 -> bfloat16 goes through float32 as PyTorch', () => {
    const { input, output } = fixture.casts.i64_to_bf16
    const i = ft.tensor(BigInt64Array.from(input, BigInt))
    expectBits(bitsOf(i.to('bfloat16')), output.bits)
    expectBits(bitsOf(ft.tensor(BigInt64Array.from(input, BigInt), { dtype: 'bfloat16' })), output.bits)
  })

  it('a cast to the dtype a tensor already has returns it, sharing storage', () => {
    const h = ft.ones([3], { dtype: 'bfloat16' })
    const same = h.to('bfloat16')
    h.copy_(ft.tensor([2, 3, 4]))
    expect(same.toArray()).toEqual([2, 3, 4])
  })
})

describe('printing', () => {
  it.each(fixture.printing.map((c) => [c.name, c] as const))('%s prints as PyTorch prints it', (_, c) => {
    let t = bf16FromBits(c.tensor)
    if (c.from_float32_leaf) t = t.float().requiresGrad_().to('bfloat16')
    if (c.requires_grad) t.requiresGrad = true
    expect(t.toString()).toBe(c.str)
  })
})

describe('factories', () => {
  it.each(fixture.factories.map((c) => [c.name, c] as const))('%s matches PyTorch', (_, c) => {
    const options = { dtype: 'bfloat16' as const }
    const args = c.args as never[]
    const t =
      c.op === 'arange'
        ? ft.arange(args[0], args[1], args[2], options)
        : c.op === 'full'
          ? ft.full(args[0], args[1], options)
          : c.op === 'zeros'
            ? ft.zeros(args[0], options)
            : ft.ones(args[0], options)
    expect(t.dtype).toBe('bfloat16')
    expect(t.shape).toEqual(c.output.shape)
    expectBits(bitsOf(t), c.output.bits)
  })

  it('the *Like factories keep bfloat16; tensor() takes it for nested arrays and typed arrays', () => {
    const h = ft.tensor([[1, 2], [3, 4]], { dtype: 'bfloat16' })
    expect([ft.zerosLike(h).dtype, ft.onesLike(h).dtype, ft.fullLike(h, 1 / 3).dtype]).toEqual(['bfloat16', 'bfloat16', 'bfloat16'])
    expect(ft.fullLike(h, 1 / 3).toArray()).toEqual([[0.333984375, 0.333984375], [0.333984375, 0.333984375]])
    expect(ft.tensor(new Float32Array([0.1, 3]), { dtype: 'bfloat16', shape: [2, 1] }).toArray()).toEqual([[0.10009765625], [3]])
    expect(ft.tensor([true, false], { dtype: 'bfloat16' }).toArray()).toEqual([1, 0])
  })
})

describe('arithmetic', () => {
  function operand(spec: Bf16Tensor | F32Tensor): ft.Tensor {
    return 'bits' in spec ? bf16FromBits(spec) : ft.tensor(f32FromBits(spec.float32_bits), { shape: spec.shape })
  }

  it.each(fixture.arithmetic.map((c) => [c.name, c] as const))('%s: dtype and values as PyTorch', (_, c) => {
    const a = bf16FromBits(c.a)
    const other: ft.Tensor | number | undefined = c.b !== undefined ? operand(c.b) : c.scalar
    const ops: Record<string, () => ft.Tensor> = {
      add: () => a.add(other!),
      sub: () => a.sub(other!),
      mul: () => a.mul(other!),
      div: () => a.div(other!),
      pow: () => a.pow(other!),
      maximum: () => a.maximum(other as ft.Tensor),
      lt: () => a.lt(other!),
      eq: () => a.eq(other!),
      ge: () => a.ge(other!),
      neg: () => a.neg(),
      abs: () => a.abs(),
      sqrt: () => a.sqrt(),
      exp: () => a.exp(),
      log: () => a.log(),
      sum: () => a.sum(),
      mean: () => a.mean(),
    }
    const out = ops[c.op]()
    expect(out.dtype).toBe(c.dtype)
    expect(out.shape).toEqual(c.output.shape)
    if ('bits' in c.output) expectBits(bitsOf(out), c.output.bits, c.exact ? 0 : 1)
    else if ('float32_bits' in c.output) expect(float32BitsOf(out)).toEqual(c.output.float32_bits)
    else expect((out.toArray() as unknown[]).flat()).toEqual(c.output.values)
  })

  it('promotes as PyTorch: bf16 with bf16 stays bf16, with float32 gives float32, with int64 or bool stays bf16', () => {
    const h = ft.tensor([1.5, 2], { dtype: 'bfloat16' })
    const f = ft.tensor([1, 1])
    const i = ft.tensor([1, 2], { dtype: 'int64' })
    const b = ft.tensor([true, false])
    expect(h.add(h).dtype).toBe('bfloat16')
    expect(h.add(f).dtype).toBe('float32')
    expect(f.mul(h).dtype).toBe('float32')
    expect(h.mul(i).dtype).toBe('bfloat16')
    expect(i.mul(h).dtype).toBe('bfloat16')
    expect(h.add(b).dtype).toBe('bfloat16')
    expect(h.mul(3).dtype).toBe('bfloat16')
    expect(h.gt(f).dtype).toBe('bool')
  })
})

describe('autograd through casts', () => {
  it('a float32 leaf cast to bfloat16 gets a float32 gradient, as PyTorch computes it', () => {
    const { x_float32_bits, loss, grad_float32_bits, grad_dtype } = fixture.autograd
    const x = ft.tensor(f32FromBits(x_float32_bits), { requiresGrad: true })
    const y = x.to('bfloat16')
    expect(y.gradFn).toBe('ToCopyBackward0')
    const l = y.mul(y).mul(0.1).sum()
    expect(l.dtype).toBe('bfloat16')
    expectBits(bitsOf(l), loss.bits)
    l.backward()
    expect(x.grad!.dtype).toBe(grad_dtype)
    expect(float32BitsOf(x.grad!)).toEqual(grad_float32_bits)
  })

  it('a bfloat16 leaf gets a bfloat16 gradient', () => {
    const h = ft.tensor([1, 2, 3], { dtype: 'bfloat16', requiresGrad: true })
    h.mul(h).sum().backward()
    expect(h.grad!.dtype).toBe('bfloat16')
    expect(h.grad!.toArray()).toEqual([2, 4, 6])
  })

  it('int64 and bool tensors still cannot require gradients', () => {
    const e = thrown(() => ft.tensor([1], { dtype: 'int64', requiresGrad: true }))
    expect(e).toBeInstanceOf(ft.DTypeMismatchError)
    expect(e.message).toContain('float32 or bfloat16')
  })
})

describe('safetensors BF16', () => {
  const path = fixturePath(fixture.safetensors.file)
  const expected = fixture.safetensors.tensors

  function rebuild(spec: (typeof expected)[string]): ft.Tensor {
    if ('bits' in spec) return bf16FromBits(spec)
    if ('float32_bits' in spec) return ft.tensor(f32FromBits(spec.float32_bits), { shape: spec.shape })
    return ft.tensor(BigInt64Array.from(spec.values as number[], BigInt), { shape: spec.shape })
  }

  it("loads PyTorch's file bit for bit", () => {
    const loaded = ft.load(path)
    expect(Object.keys(loaded)).toEqual(Object.keys(expected).sort())
    for (const [name, spec] of Object.entries(expected)) {
      const t = loaded[name]
      expect([t.dtype, t.shape], name).toEqual([spec.dtype, spec.shape])
      if ('bits' in spec) expect(bitsOf(t), name).toEqual(spec.bits)
      else if ('float32_bits' in spec) expect(float32BitsOf(t), name).toEqual(spec.float32_bits)
      else expect(t.toArray(), name).toEqual(spec.values)
    }
  })

  it("writes the same bytes as PyTorch's safetensors.torch.save_file for the same tensors", () => {
    const out = join(dir, 'ferrite.safetensors')
    const tensors = Object.fromEntries(Object.entries(expected).map(([name, spec]) => [name, rebuild(spec)]))
    ft.save(tensors, out)
    expect(readFileSync(out).equals(readFileSync(path))).toBe(true)
    // A loaded file saved again is the same file too.
    const again = join(dir, 'again.safetensors')
    ft.save(ft.load(path), again)
    expect(readFileSync(again).equals(readFileSync(path))).toBe(true)
  })

  it('round-trips bfloat16 views, NaN bits included', () => {
    const out = join(dir, 'views.safetensors')
    const x = ft.tensor(new Float32Array([1, NaN, -Infinity, 1e-40, -0, 3.5]), { shape: [2, 3] }).to('bfloat16')
    const t = x.transpose(0, 1)
    ft.save({ t }, out)
    const back = ft.load(out).t
    expect([back.dtype, back.shape]).toEqual(['bfloat16', [3, 2]])
    expect(bitsOf(back)).toEqual(bitsOf(t.contiguous()))
  })
})

describe('modules', () => {
  it('module.to({ dtype }) / bfloat16() / float() cast floating parameters and buffers, not integer buffers', () => {
    ft.manualSeed(0)
    const model = new ft.nn.Sequential(new ft.nn.Linear(3, 2), new ft.nn.BatchNorm2d(2))
    const before = model.stateDict()
    const weight = (before['0.weight'].toTypedArray() as Float32Array).slice()
    model.bfloat16()
    const after = model.stateDict()
    expect(Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v.dtype]))).toEqual({
      '0.weight': 'bfloat16',
      '0.bias': 'bfloat16',
      '1.weight': 'bfloat16',
      '1.bias': 'bfloat16',
      '1.running_mean': 'bfloat16',
      '1.running_var': 'bfloat16',
      '1.num_batches_tracked': 'int64',
    })
    expect(after['0.weight'].toArray()).toEqual(ft.tensor(weight, { shape: [2, 3] }).to('bfloat16').toArray())
    for (const p of model.parameters()) expect(p.requiresGrad).toBe(true)
    model.to({ dtype: 'float32' })
    expect(model.stateDict()['0.weight'].dtype).toBe('float32')
    model.to('bfloat16')
    expect(model.stateDict()['0.bias'].dtype).toBe('bfloat16')
    model.float()
    expect(model.stateDict()['1.running_var'].dtype).toBe('float32')
    expect(model.stateDict()['1.num_batches_tracked'].dtype).toBe('int64')
  })

  it('loadStateDict converts into each entry\'s own dtype, as PyTorch\'s copy_ does', () => {
    const model = new ft.nn.Linear(2, 1)
    model.loadStateDict({ weight: ft.tensor([[1 / 3, 0.1]], { dtype: 'bfloat16' }), bias: ft.tensor([0.5], { dtype: 'bfloat16' }) })
    expect(model.weight.dtype).toBe('float32')
    expect(model.weight.toArray()).toEqual([[0.333984375, 0.10009765625]])
    model.bfloat16()
    model.loadStateDict({ weight: ft.tensor([[1 / 3, 0.1]]), bias: ft.tensor([0.5]) })
    expect(model.weight.dtype).toBe('bfloat16')
    expect(model.weight.toArray()).toEqual([[0.333984375, 0.10009765625]])
  })

  it('module.to refuses non-float dtypes as PyTorch does', () => {
    const model = new ft.nn.Linear(2, 2)
    const e = thrown(() => model.to({ dtype: 'int64' }))
    expect(e).toBeInstanceOf(ft.InvalidArgumentError)
    expect(e.message).toContain('only accepts floating point dtypes')
    expect(model.weight.dtype).toBe('float32')
  })
})

describe('where bfloat16 is refused', () => {
  it('optimizers update float32 parameters only: a bfloat16 parameter is a typed error naming it', () => {
    const p = new ft.nn.Parameter(ft.tensor([1, 2], { dtype: 'bfloat16' }))
    p.mul(p).sum().backward()
    for (const opt of [new ft.optim.SGD([p], { lr: 0.1 }), new ft.optim.Adam([p], { lr: 0.1 })]) {
      const e = thrown(() => opt.step())
      expect(e).toBeInstanceOf(ft.DTypeMismatchError)
      expect(e.message).toMatch(/^(sgd|adam): expected a float32 parameter .*autocast.*, got bfloat16$/)
    }
    expect(p.toArray()).toEqual([1, 2])
  })

  it('unknown dtype names list bfloat16 among the choices', () => {
    const e = thrown(() => ft.zeros([2], { dtype: 'float16' as ft.DType }))
    expect(e.message).toContain('bfloat16')
    expect(thrown(() => ft.ones([1]).to({ dtype: 'half' as ft.DType })).message).toContain('bfloat16')
    expect(thrown(() => ft.ones([1]).to('float16' as ft.DType)).message).toContain('bfloat16')
  })

  it('toTypedArray of an int64 tensor is still a BigInt64Array, of a bool one a Uint8Array', () => {
    expect(ft.tensor([1], { dtype: 'int64' }).toTypedArray()).toBeInstanceOf(BigInt64Array)
    expect(ft.tensor([true]).toTypedArray()).toBeInstanceOf(Uint8Array)
  })
})
