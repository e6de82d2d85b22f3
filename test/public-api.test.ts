// Public API that no other test reaches directly: `cat`, the `*Like` factories, grad mode,
// `narrow`/`detach`/`isContiguous`, `backward({ retainGraph })`, safetensors metadata, checkpoints
// written and read by hand, fit's epochs check (train.test.ts has the empty-loader errors),
// `transforms.centerCrop`, and the binding's guard that turns a Rust panic into an `InternalError`.
// Expected values follow PyTorch's semantics, worked out by hand in the comments (or, for
// centerCrop, torchvision's output in test/fixtures/transforms), never from Ferrite itself.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const dir = mkdtempSync(join(tmpdir(), 'ferrite-public-api-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `[rows, cols]` holding 0, 1, 2, ... in row-major order. */
const counting = (rows: number, cols: number) => ft.arange(rows * cols).reshape([rows, cols])

describe('cat', () => {
  it('joins along dim 0, dim 1 and a negative dim', () => {
    const a = ft.tensor([[1, 2], [3, 4]])
    const b = ft.tensor([[5, 6]])
    const c = ft.tensor([[7], [8]])
    expect(ft.cat([a, b]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]])
    expect(ft.cat([a, b], 0).shape).toEqual([3, 2])
    expect(ft.cat([a, c], 1).toArray()).toEqual([[1, 2, 7], [3, 4, 8]])
    expect(ft.cat([a, c, a], -1).toArray()).toEqual([[1, 2, 7, 1, 2], [3, 4, 8, 3, 4]])
    expect(ft.cat([a, b], -2).toArray()).toEqual([[1, 2], [3, 4], [5, 6]])
    expect(ft.cat([a]).toArray()).toEqual([[1, 2], [3, 4]])
  })

  it('reads non-contiguous inputs by their logical order', () => {
    const t = counting(2, 3).transpose(0, 1) // [[0, 3], [1, 4], [2, 5]]
    expect(t.isContiguous()).toBe(false)
    expect(ft.cat([t, t.narrow(0, 1, 1)]).toArray()).toEqual([[0, 3], [1, 4], [2, 5], [1, 4]])
    // A 3-D case along the middle dim: x[i, j, k] = 4i + 2j + k.
    const x = ft.arange(8).reshape([2, 2, 2])
    expect(ft.cat([x, x.permute([0, 2, 1])], 1).toArray()).toEqual([
      [[0, 1], [2, 3], [0, 2], [1, 3]],
      [[4, 5], [6, 7], [4, 6], [5, 7]],
    ])
  })

  it('promotes mixed dtypes as torch.cat does (torch.result_type of the inputs)', () => {
    const f = ft.tensor([0.5, 1.5])
    const i = ft.tensor([1, 2], { dtype: 'int64' })
    const b = ft.tensor([true, false])
    const h = ft.tensor([0.25, 3], { dtype: 'bfloat16' })
    const cases: [ft.Tensor[], ft.DType, (number | boolean)[]][] = [
      [[f, i], 'float32', [0.5, 1.5, 1, 2]],
      [[i, f], 'float32', [1, 2, 0.5, 1.5]],
      [[i, b], 'int64', [1, 2, 1, 0]],
      [[b, f], 'float32', [1, 0, 0.5, 1.5]],
      [[b, b], 'bool', [true, false, true, false]],
      [[h, f], 'float32', [0.25, 3, 0.5, 1.5]],
      [[i, h], 'bfloat16', [1, 2, 0.25, 3]],
    ]
    for (const [inputs, dtype, values] of cases) {
      const out = ft.cat(inputs)
      expect([out.dtype, out.toArray()], inputs.map((t) => t.dtype).join('+')).toEqual([dtype, values])
    }
  })

  it('sends each input its slice of a non-uniform upstream gradient, along a negative dim too', () => {
    for (const dim of [1, -1]) {
      const a = ft.tensor([[1, 2], [3, 4]], { requiresGrad: true })
      const b = ft.tensor([[5, 6, 7], [8, 9, 10]], { requiresGrad: true })
      const upstream = ft.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
      ft.cat([a, b], dim).mul(upstream).sum().backward()
      expect(a.grad!.toArray()).toEqual([[1, 2], [6, 7]])
      expect(b.grad!.toArray()).toEqual([[3, 4, 5], [8, 9, 10]])
    }
    // Only the float input of a mixed cat gets a gradient.
    const a = ft.tensor([1, 2], { requiresGrad: true })
    const out = ft.cat([ft.tensor([7], { dtype: 'int64' }), a])
    expect(out.requiresGrad).toBe(true)
    out.mul(ft.tensor([3, 4, 5])).sum().backward()
    expect(a.grad!.toArray()).toEqual([4, 5])
  })

  it('rejects bad input with typed errors', () => {
    const a = ft.zeros([2, 2])
    expect(thrown(() => ft.cat([])).code).toBe('InvalidArgument')
    expect(thrown(() => ft.cat([a, [1, 2] as unknown as ft.Tensor])).code).toBe('InvalidArgument')
    expect(thrown(() => ft.cat(a as unknown as ft.Tensor[])).code).toBe('InvalidArgument')
    expect(thrown(() => ft.cat([a, a], 0.5)).code).toBe('InvalidArgument')
    const sizes = thrown(() => ft.cat([a, ft.zeros([2, 3])]))
    expect(sizes).toBeInstanceOf(ft.ShapeMismatchError)
    expect(sizes.message).toContain('[2, 3]')
    expect(thrown(() => ft.cat([a, ft.zeros([2, 2, 1])], 0)).code).toBe('ShapeMismatch')
    expect(thrown(() => ft.cat([ft.tensor(1), ft.tensor(2)])).code).toBe('ShapeMismatch')
    for (const dim of [2, -3]) expect(thrown(() => ft.cat([a, a], dim))).toBeInstanceOf(ft.IndexOutOfRangeError)
    const gone = ft.zeros([1, 2])
    gone.dispose()
    expect(thrown(() => ft.cat([a, gone])).code).toBe('DisposedTensor')
  })
})

describe('the *Like factories', () => {
  const float = ft.tensor([[1.5, -2, 3], [4, 5, 6]], { requiresGrad: true })
  const long = ft.tensor([[1, 2, 3]], { dtype: 'int64' })
  const flags = ft.tensor([true, false])

  it('take the shape, dtype and device of their model tensor, and never its requiresGrad', () => {
    for (const [made, value] of [
      [ft.zerosLike(float), 0],
      [ft.onesLike(float), 1],
      [ft.fullLike(float, -0.75), -0.75],
    ] as const) {
      expect([made.shape, made.dtype, made.device, made.requiresGrad]).toEqual([[2, 3], 'float32', 'cpu', false])
      expect(made.toArray()).toEqual([[value, value, value], [value, value, value]])
    }
    expect([ft.zerosLike(long).dtype, ft.zerosLike(long).toArray()]).toEqual(['int64', [[0, 0, 0]]])
    expect([ft.onesLike(flags).dtype, ft.onesLike(flags).toArray()]).toEqual(['bool', [true, true]])
    // The view's shape, not its base's.
    expect(ft.onesLike(counting(2, 3).transpose(0, 1)).shape).toEqual([3, 2])
  })

  it('convert the fill value to the dtype as torch.full_like does', () => {
    // torch.full_like(torch.tensor([[1, 2, 3]]), 2.5) truncates toward zero: 2 (and -2 for -2.5).
    expect(ft.fullLike(long, 2.5).toArray()).toEqual([[2, 2, 2]])
    expect(ft.fullLike(long, -2.5).toArray()).toEqual([[-2, -2, -2]])
    expect(ft.fullLike(float, true).toArray()).toEqual([[1, 1, 1], [1, 1, 1]])
    expect(ft.fullLike(flags, 2).toArray()).toEqual([true, true])
  })

  it('let options override the dtype and device and set requiresGrad', () => {
    const ones = ft.onesLike(long, { dtype: 'float32' })
    expect([ones.dtype, ones.toArray()]).toEqual(['float32', [[1, 1, 1]]])
    const half = ft.fullLike(long, 0.5, { dtype: 'float32' })
    expect([half.dtype, half.toArray()]).toEqual(['float32', [[0.5, 0.5, 0.5]]])
    expect(ft.zerosLike(float, { dtype: 'int64' }).dtype).toBe('int64')
    expect(ft.zerosLike(float, { device: 'cpu' }).device).toBe('cpu')
    const leaf = ft.zerosLike(float, { requiresGrad: true })
    expect([leaf.requiresGrad, leaf.isLeaf]).toEqual([true, true])
    leaf.mul(float).sum().backward()
    expect(leaf.grad!.toArray()).toEqual([[1.5, -2, 3], [4, 5, 6]])
    expect(ft.fullLike(float, 2, { requiresGrad: true }).requiresGrad).toBe(true)
    if (ft.cuda.isAvailable()) expect(ft.onesLike(float, { device: 'cuda:0' }).device).toBe('cuda:0')
    else expect(thrown(() => ft.onesLike(float, { device: 'cuda:0' })).code).toBe('DeviceUnavailable')
  })

  it('randLike and randnLike draw as rand and randn do in the model tensor\'s shape, float32', () => {
    ft.manualSeed(11)
    const uniform = ft.randLike(long.expand([4, 3]))
    const normal = ft.randnLike(float)
    ft.manualSeed(11)
    const uniformRef = ft.rand([4, 3])
    const normalRef = ft.randn([2, 3])
    expect([uniform.shape, uniform.dtype, uniform.device, uniform.requiresGrad]).toEqual([[4, 3], 'float32', 'cpu', false])
    expect([normal.shape, normal.dtype, normal.device, normal.requiresGrad]).toEqual([[2, 3], 'float32', 'cpu', false])
    expect(uniform.toArray()).toEqual(uniformRef.toArray())
    expect(normal.toArray()).toEqual(normalRef.toArray())
    const u = uniform.toTypedArray() as Float32Array
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true)
    expect(new Set(u).size).toBe(12)
  })
})

describe('grad mode', () => {
  afterEach(() => void ft.setGradEnabled(true))

  it('setGradEnabled returns the previous setting and isGradEnabled reads it', () => {
    expect(ft.isGradEnabled()).toBe(true)
    expect(ft.setGradEnabled(false)).toBe(true)
    expect(ft.isGradEnabled()).toBe(false)
    expect(ft.setGradEnabled(false)).toBe(false)
    expect(ft.isGradEnabled()).toBe(false)
    expect(ft.setGradEnabled(true)).toBe(false)
    expect(ft.isGradEnabled()).toBe(true)
    expect(ft.noGrad(() => ft.isGradEnabled())).toBe(false)
    expect(ft.isGradEnabled()).toBe(true)
  })

  it('records nothing while disabled: those ops pass no gradient back', () => {
    const x = ft.tensor([1, 2, 3], { requiresGrad: true })
    const w = ft.tensor([0.5, -1, 2])
    const recorded = x.mul(2)
    ft.setGradEnabled(false)
    const unrecorded = x.mul(3)
    const square = x.mul(x)
    ft.setGradEnabled(true)
    expect([unrecorded.requiresGrad, unrecorded.gradFn, unrecorded.isLeaf]).toEqual([false, null, true])
    expect(thrown(() => square.sum().backward()).code).toBe('InvalidArgument')
    expect(x.grad).toBeNull()
    // d/dx sum(w * (2x + 3x_unrecorded)) = 2w, as in PyTorch, where the 3x term is a constant.
    recorded.add(unrecorded).mul(w).sum().backward()
    expect(x.grad!.toArray()).toEqual([1, -2, 4])
  })
})

describe('narrow', () => {
  it('takes length entries of dim from start, along a negative dim too', () => {
    const x = counting(3, 4) // [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    expect(x.narrow(1, 1, 2).toArray()).toEqual([[1, 2], [5, 6], [9, 10]])
    expect(x.narrow(0, 2, 1).toArray()).toEqual([[8, 9, 10, 11]])
    expect(x.narrow(-1, 2, 2).toArray()).toEqual([[2, 3], [6, 7], [10, 11]])
    expect(x.narrow(-2, 0, 3).toArray()).toEqual(x.toArray())
    expect(x.narrow(1, 4, 0).shape).toEqual([3, 0])
    expect(x.narrow(0, 1, 2).narrow(1, 3, 1).toArray()).toEqual([[7], [11]])
  })

  it('is a view: writes go through to the base and the base\'s writes show in it', () => {
    const x = counting(3, 4)
    // copy_ writes only into contiguous tensors: a block of rows is one.
    const rows = x.narrow(0, 1, 2)
    rows.copy_(ft.tensor([[-1, -2, -3, -4], [-5, -6, -7, -8]]))
    expect(x.toArray()).toEqual([[0, 1, 2, 3], [-1, -2, -3, -4], [-5, -6, -7, -8]])
    const window = x.narrow(0, 1, 2).narrow(1, 1, 2)
    x.copy_(counting(3, 4).mul(10))
    expect(window.toArray()).toEqual([[50, 60], [90, 100]])
    expect(rows.toArray()).toEqual([[40, 50, 60, 70], [80, 90, 100, 110]])
    expect([window._version, rows._version]).toEqual([x._version, x._version])
  })

  it('passes the upstream gradient back to the window it took, zeros elsewhere', () => {
    const x = counting(3, 4).requiresGrad_()
    const upstream = ft.tensor([[1, 2], [3, 4], [5, 6]])
    x.narrow(-1, 1, 2).mul(upstream).sum().backward()
    expect(x.grad!.toArray()).toEqual([[0, 1, 2, 0], [0, 3, 4, 0], [0, 5, 6, 0]])
  })

  it('rejects windows outside the tensor with typed errors', () => {
    const x = counting(2, 2)
    expect(thrown(() => x.narrow(1, 1, 2))).toBeInstanceOf(ft.IndexOutOfRangeError)
    expect(thrown(() => x.narrow(2, 0, 1))).toBeInstanceOf(ft.IndexOutOfRangeError)
    expect(thrown(() => x.narrow(0, 0, -1)).code).toBe('InvalidArgument')
    expect(thrown(() => x.narrow(0, 0.5, 1)).code).toBe('InvalidArgument')
  })
})

describe('detach', () => {
  it('gives a leaf without grad that shares the storage', () => {
    const x = ft.tensor([1, 2, 3], { requiresGrad: true })
    const d = x.detach()
    expect([d.requiresGrad, d.gradFn, d.isLeaf, d.toArray()]).toEqual([false, null, true, [1, 2, 3]])
    expect(x.requiresGrad).toBe(true)
    const h = x.mul(2)
    const hd = h.detach()
    expect([h.gradFn === null, hd.requiresGrad, hd.gradFn]).toEqual([false, false, null])
    d.copy_(ft.tensor([7, 8, 9]))
    expect(x.toArray()).toEqual([7, 8, 9])
    expect(x._version).toBe(d._version)
  })

  it('stops the gradient: a detached term is a constant', () => {
    const x = ft.tensor([1, 2, 3], { requiresGrad: true })
    const w = ft.tensor([0.5, -1, 2])
    // d/dx sum(w * x + detach(x) * detach(x)) = w
    x.mul(w).add(x.detach().mul(x.detach())).sum().backward()
    expect(x.grad!.toArray()).toEqual([0.5, -1, 2])
  })
})

describe('isContiguous', () => {
  it('follows torch.Tensor.is_contiguous through views and copies', () => {
    const x = ft.zeros([3, 4])
    expect(x.isContiguous()).toBe(true)
    expect(x.transpose(0, 1).isContiguous()).toBe(false)
    expect(x.transpose(0, 1).contiguous().isContiguous()).toBe(true)
    expect(x.transpose(1, 0).transpose(0, 1).isContiguous()).toBe(true)
    const cube = ft.zeros([2, 3, 4])
    expect(cube.permute([0, 1, 2]).isContiguous()).toBe(true)
    expect(cube.permute([2, 0, 1]).isContiguous()).toBe(false)
    expect(cube.permute([2, 0, 1]).contiguous().isContiguous()).toBe(true)
    expect(x.narrow(0, 1, 2).isContiguous()).toBe(true)
    expect(x.narrow(1, 0, 4).isContiguous()).toBe(true)
    expect(x.narrow(1, 1, 2).isContiguous()).toBe(false)
    expect(x.narrow(1, 1, 1).isContiguous()).toBe(false)
    expect(x.narrow(1, 1, 2).contiguous().isContiguous()).toBe(true)
    // Strides of size-1 dims do not count, as in PyTorch.
    expect(ft.zeros([3, 1]).transpose(0, 1).isContiguous()).toBe(true)
    expect(ft.zeros([1, 3]).expand([2, 3]).isContiguous()).toBe(false)
  })
})

describe('backward({ retainGraph })', () => {
  /** sum(w * x * x), whose gradient is 2 * w * x. */
  function graph() {
    const x = ft.tensor([1, 2, 3], { requiresGrad: true })
    return { x, y: x.mul(x).mul(ft.tensor([0.5, -1, 2])).sum() }
  }

  it('keeps the graph for a second backward, which accumulates', () => {
    const { x, y } = graph()
    y.backward(undefined, { retainGraph: true })
    expect(x.grad!.toArray()).toEqual([1, -4, 12])
    y.backward()
    expect(x.grad!.toArray()).toEqual([2, -8, 24])
  })

  it('without it, a second backward is a typed error that names the fix, and leaves the gradient as it was', () => {
    const { x, y } = graph()
    y.backward()
    const e = thrown(() => y.backward())
    expect(e).toBeInstanceOf(ft.InvalidArgumentError)
    expect(e.message).toMatch(/second time.*retainGraph: true/)
    expect(x.grad!.toArray()).toEqual([1, -4, 12])
    // The graph kept by retainGraph is freed by the last backward that does not keep it.
    const kept = graph()
    kept.y.backward(undefined, { retainGraph: true })
    kept.y.backward()
    expect(thrown(() => kept.y.backward()).code).toBe('InvalidArgument')
  })
})

/** The JSON header of a safetensors file: 8 bytes of little-endian length, then the JSON. */
function safetensorsHeader(path: string): Record<string, unknown> {
  const bytes = readFileSync(path)
  const length = Number(bytes.readBigUInt64LE(0))
  return JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, unknown>
}

describe('loadMetadata', () => {
  it('reads back the metadata save wrote into the header', () => {
    const path = join(dir, 'meta.safetensors')
    const metadata = { format: 'pt', note: 'ünïcödé ✓', empty: '', json: '{"a":[1,2]}' }
    ft.save({ w: ft.ones([2]) }, path, { metadata })
    expect(safetensorsHeader(path).__metadata__).toEqual(metadata)
    expect(ft.loadMetadata(path)).toEqual(metadata)
  })

  it('reads a header written by hand, and gives {} when there is no metadata', () => {
    const path = join(dir, 'by-hand.safetensors')
    const header = Buffer.from(JSON.stringify({ __metadata__: { source: 'hand' }, t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }))
    const length = Buffer.alloc(8)
    length.writeBigUInt64LE(BigInt(header.length))
    writeFileSync(path, Buffer.concat([length, header, Buffer.from(new Float32Array([1.5, -2]).buffer)]))
    expect(ft.loadMetadata(path)).toEqual({ source: 'hand' })
    expect(ft.load(path).t.toArray()).toEqual([1.5, -2])
    const bare = join(dir, 'bare.safetensors')
    ft.save({ w: ft.ones([1]) }, bare)
    expect(ft.loadMetadata(bare)).toEqual({})
  })

  it('names the file of a corrupt or missing one in an IoError', () => {
    const garbage = join(dir, 'garbage.bin')
    writeFileSync(garbage, 'not a safetensors file, just some text that is long enough')
    for (const path of [garbage, join(dir, 'missing.safetensors')]) {
      const e = thrown(() => ft.loadMetadata(path))
      expect(e).toBeInstanceOf(ft.IoError)
      expect(e.message).toContain(path)
    }
    expect(thrown(() => ft.loadMetadata(3 as unknown as string)).code).toBe('InvalidArgument')
  })
})

describe('saveCheckpoint and loadCheckpoint', () => {
  const history = { trainLoss: [2.5, 1.25, 1], testAccuracy: [0.5, 0.75, 0.8], testLoss: [1.5, 1, 0.75], epochSeconds: [3, 2, 2.5], imagesPerSecond: [10, 15, 12] }
  const input = ft.tensor([[1, -2, 0.5], [0.25, 3, -1]])
  const target = ft.tensor([[0.5, 1], [-1, 2]])

  function setup(seed: number) {
    ft.manualSeed(seed)
    const model = new ft.nn.Linear(3, 2)
    const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.05, weightDecay: 0.01 })
    const scheduler = new ft.optim.StepLR(optimizer, { stepSize: 2, gamma: 0.5 })
    return { model, optimizer, scheduler }
  }

  function step({ model, optimizer }: ReturnType<typeof setup>) {
    optimizer.zeroGrad()
    model.forward(input).sub(target).pow(2).mean().backward()
    optimizer.step()
  }

  const values = (state: Record<string, ft.Tensor>) => Object.fromEntries(Object.entries(state).map(([k, t]) => [k, t.toArray()]))

  it('round-trips model, optimizer, scheduler, history, loader and generator: training continues identically', () => {
    const original = setup(1)
    for (let i = 0; i < 3; i++) {
      step(original)
      original.scheduler.step()
    }
    const path = join(dir, 'checkpoint.safetensors')
    const rngState = ft.getRngState()
    ft.saveCheckpoint(path, { ...original, epoch: 3, history, loader: { epoch: 3, seed: 42 }, rngState })

    // Every tensor in the file is the model's or the optimizer's (Adam: exp_avg, exp_avg_sq per parameter).
    expect(Object.keys(ft.load(path)).sort()).toEqual(['model.bias', 'model.weight', 'optimizer.0.exp_avg', 'optimizer.0.exp_avg_sq', 'optimizer.1.exp_avg', 'optimizer.1.exp_avg_sq'])
    expect(ft.loadMetadata(path).format).toBe('ferrite-checkpoint-4')

    const restored = setup(2)
    ft.manualSeed(99)
    const got = ft.loadCheckpoint(path, restored.model, restored.optimizer, restored.scheduler)
    expect(got.epoch).toBe(3)
    expect(got.history).toEqual(history)
    expect(got.loader).toEqual({ epoch: 3, seed: 42 })
    expect(Array.from(got.rngState!)).toEqual(Array.from(rngState))
    expect(values(restored.model.stateDict())).toEqual(values(original.model.stateDict()))
    const [savedOptimizer, loadedOptimizer] = [original, restored].map(({ optimizer }) => {
      const { state, param_groups } = optimizer.stateDict()
      const plain = Object.fromEntries(Object.entries(state).map(([i, s]) => [i, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof ft.Tensor ? v.toArray() : v]))]))
      return { state: plain, param_groups }
    })
    expect(loadedOptimizer).toEqual(savedOptimizer)
    expect(restored.scheduler.stateDict()).toEqual(original.scheduler.stateDict())
    expect(restored.optimizer.paramGroups[0].lr).toBe(original.optimizer.paramGroups[0].lr)

    // Two more epochs from each: the same parameters, bit for bit, and the same learning rates.
    for (const run of [original, restored]) {
      for (let i = 0; i < 2; i++) {
        step(run)
        run.scheduler.step()
      }
    }
    expect(values(restored.model.stateDict())).toEqual(values(original.model.stateDict()))
    expect(restored.optimizer.paramGroups[0].lr).toBe(original.optimizer.paramGroups[0].lr)
  })

  it('refuses a plain safetensors file and a garbage file with an IoError, changing nothing', () => {
    const plain = join(dir, 'plain.safetensors')
    const donor = setup(3)
    ft.save(donor.model.stateDict(), plain)
    const foreign = join(dir, 'foreign.safetensors')
    ft.save(Object.fromEntries(Object.entries(donor.model.stateDict()).map(([k, t]) => [`model.${k}`, t])), foreign, { metadata: { format: 'pt' } })
    const garbage = join(dir, 'garbage-checkpoint.bin')
    writeFileSync(garbage, Buffer.alloc(64, 0xab))

    const target = setup(4)
    step(target)
    const before = values(target.model.stateDict())
    const optimizerBefore = JSON.stringify(target.optimizer.stateDict().param_groups)
    for (const [path, message] of [
      [plain, `loadCheckpoint: ${plain} is not a Ferrite checkpoint (format missing;`],
      [foreign, `loadCheckpoint: ${foreign} is not a Ferrite checkpoint (format pt;`],
      [garbage, garbage],
    ]) {
      const e = thrown(() => ft.loadCheckpoint(path, target.model, target.optimizer, target.scheduler))
      expect(e).toBeInstanceOf(ft.IoError)
      expect(e.message).toContain(message)
      expect(values(target.model.stateDict())).toEqual(before)
      expect(JSON.stringify(target.optimizer.stateDict().param_groups)).toBe(optimizerBefore)
    }
  })
})

/** A dataset of `length` items `[x, label]`, x of 3 features. */
class Points extends ft.data.Dataset {
  constructor(readonly size: number) {
    super()
  }
  get length() {
    return this.size
  }
  get(index: number): ft.data.Item {
    return [ft.tensor([index, 1 - index, 0.5]), index % 2]
  }
}

describe('fit\'s epochs check', () => {
  const quiet = { log: () => {}, progress: false }
  const setup = () => {
    ft.manualSeed(5)
    const model = new ft.nn.Linear(3, 2)
    return { model, optimizer: new ft.optim.SGD(model.parameters(), { lr: 0.1 }), weights: model.weight.toArray() }
  }

  it('fit rejects epochs that are not a positive integer before training', async () => {
    for (const epochs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
      const { model, optimizer, weights } = setup()
      const trainLoader = new ft.data.DataLoader(new Points(4), { batchSize: 2 })
      const lines: string[] = []
      const error = await ft.fit(model, { epochs, optimizer, trainLoader, log: (l) => lines.push(l), progress: false }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, String(epochs)).toBeInstanceOf(ft.InvalidArgumentError)
      expect((error as Error).message).toBe(`fit: epochs must be a positive integer, got ${epochs}`)
      expect([trainLoader.epoch, lines, model.weight.toArray()]).toEqual([0, [], weights])
    }
    const { model, optimizer } = setup()
    const history = await ft.fit(model, { epochs: 1, optimizer, trainLoader: new ft.data.DataLoader(new Points(4), { batchSize: 2 }), ...quiet })
    expect(history.trainLoss).toHaveLength(1)
  })
})

describe('transforms.centerCrop', () => {
  interface Case {
    group: string
    name: string
    index: number
    spec: { size: [number, number] }
    shape: number[]
    data: string
  }
  const fixtures = join(__dirname, 'fixtures', 'transforms')
  const { cases } = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8')) as { cases: Case[] }
  const crops = cases.filter((c) => c.group === 'centerCrop')

  it('matches torchvision\'s F.center_crop, padding with zeros when the crop is larger (test/fixtures/gen_transforms.py)', () => {
    expect(crops.length).toBe(4)
    const photos = new ft.data.ImageFolder(join(fixtures, 'images'))
    for (const c of crops) {
      const [h, w] = c.spec.size
      const sizes: Parameters<typeof ft.transforms.centerCrop>[0][] = h === w ? [[h, w], h, [h]] : [[h, w]]
      for (const size of sizes) {
        photos.transform = ft.transforms.compose([ft.transforms.centerCrop(size)])
        using out = photos.get(c.index)[0]
        expect(out.shape, `${c.name} via centerCrop(${JSON.stringify(size)})`).toEqual(c.shape)
        expect(Array.from(out.toTypedArray() as Float32Array), c.name).toEqual(Array.from(Buffer.from(c.data, 'base64')))
      }
    }
  })
})

describe('the binding\'s panic guard', () => {
  // No input can make the binding panic; `panicForTesting` panics on purpose, and only in a process
  // whose environment has FERRITE_PANIC_PROBE=1 (crates/ferrite-node/src/panic_probe.rs).
  const distRoot = join(__dirname, '..', 'dist', 'cjs')

  it('turns a panic inside a binding call into an InternalError, and the process carries on', () => {
    const script = `
      const ft = require(${JSON.stringify(join(distRoot, 'index.js'))})
      const { native } = require(${JSON.stringify(join(distRoot, 'native.js'))})
      const caught = []
      for (let i = 0; i < 2; i++) {
        try { native.panicForTesting(); caught.push('returned') }
        catch (e) { caught.push({ internal: e instanceof ft.InternalError, code: e.code, message: e.message }) }
      }
      const after = ft.tensor([[1, 2], [3, 4]]).matmul(ft.tensor([[1], [1]])).toArray()
      process.stdout.write(JSON.stringify({ caught, after }))
    `
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, FERRITE_PANIC_PROBE: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    const { caught, after } = JSON.parse(out) as { caught: unknown[]; after: unknown }
    const expected = {
      internal: true,
      code: 'Internal',
      message: "panicForTesting: internal error: a deliberate panic, to test the binding's panic guard (please report this bug)",
    }
    expect(caught).toEqual([expected, expected])
    expect(after).toEqual([[3], [7]])
  })

  it('panicForTesting is an InvalidArgumentError without FERRITE_PANIC_PROBE=1', async () => {
    const { native } = (await import(pathToFileURL(join(distRoot, 'native.js')).href)) as { native: { panicForTesting(): void } }
    const e = thrown(() => native.panicForTesting())
    expect(e).toBeInstanceOf(ft.InvalidArgumentError)
    expect(e.message).toContain('FERRITE_PANIC_PROBE=1')
  })
})
