// Parameter groups, frozen parameters, PyTorch-layout optimizer state dicts (loaded from a
// checkpoint written by PyTorch) and gradient clipping, against test/fixtures/gen_optim_groups.py.
import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectClose, loadFixture, makeTensor, thrown, type FixtureTensor } from './helpers'

type Named = Record<string, FixtureTensor>
type SavedState = { state: Record<string, Record<string, number | FixtureTensor>>; param_groups: Record<string, unknown>[] }

interface GroupCase {
  name: string
  optimizer: 'SGD' | 'Adam' | 'AdamW'
  defaults: Record<string, unknown>
  head: Record<string, unknown>
  body: Record<string, unknown>
  initial: Named
  grads: Named[]
  trajectory: Named[]
  stateDict: SavedState
}

interface ClipCase {
  name: string
  maxNorm: number
  normType: number | 'inf'
  grads: FixtureTensor[]
  total: FixtureTensor
  clipped: FixtureTensor[]
}

const fixture = loadFixture('optim_groups') as unknown as {
  groups: GroupCase[]
  schedulerLrs: number[][]
  checkpoint: { stateDict: SavedState; grads: Named[]; trajectory: Named[] }
  clip: ClipCase[]
  clipLarge: { sizes: number[]; maxNorm: number; total: FixtureTensor; heads: FixtureTensor[] }
  clipValue: { clipValue: number; grads: FixtureTensor[]; clipped: FixtureTensor[] }
}

/** The fixture's model: Linear(5, 4) then Linear(4, 3), with 0.bias frozen. */
function makeModel(initial?: Named): ft.nn.Sequential {
  const model = new ft.nn.Sequential(new ft.nn.Linear(5, 4), new ft.nn.Linear(4, 3))
  if (initial) model.loadStateDict(Object.fromEntries(Object.entries(initial).map(([k, v]) => [k, makeTensor(v)])))
  ;(model.at(0) as ft.nn.Linear).bias!.requiresGrad = false
  return model
}

function namedParameters(model: ft.nn.Module): Record<string, ft.Tensor> {
  return Object.fromEntries(model.namedParameters())
}

/** The two groups of the fixture: the head (layer 1) and the body (layer 0, its bias frozen). */
function makeOptimizer(model: ft.nn.Sequential, c: Pick<GroupCase, 'optimizer' | 'defaults' | 'head' | 'body'>) {
  const Optimizer = ft.optim[c.optimizer]
  const groups = [
    { params: model.at(1).parameters(), ...c.head },
    { params: model.at(0).parameters(), ...c.body },
  ]
  return new Optimizer(groups as never, c.defaults as never)
}

function applyGrads(model: ft.nn.Module, grads: Named): void {
  const params = namedParameters(model)
  for (const [k, g] of Object.entries(grads)) params[k].grad = makeTensor(g)
}

function expectParams(model: ft.nn.Module, want: Named, label: string): void {
  const params = namedParameters(model)
  for (const [k, v] of Object.entries(want)) expectClose(params[k], v, { rtol: 1e-5, atol: 1e-6, label: `${label} ${k}` })
}

/** A state dict as the fixture encodes it: state tensors as fixture tensors. */
function decodeState(saved: SavedState): ft.optim.OptimizerStateDict<object> {
  const state = Object.fromEntries(
    Object.entries(saved.state).map(([k, s]) => [k, Object.fromEntries(Object.entries(s).map(([name, v]) => [name, typeof v === 'number' ? v : makeTensor(v)]))]),
  )
  return { state, param_groups: saved.param_groups } as unknown as ft.optim.OptimizerStateDict<object>
}

function expectStateLike(actual: ft.optim.OptimizerStateDict<object>, want: SavedState, label: string): void {
  expect(Object.keys(actual.state).sort(), `${label}: state keys`).toEqual(Object.keys(want.state).sort())
  for (const [index, s] of Object.entries(want.state)) {
    const got = actual.state[Number(index)]
    expect(Object.keys(got).sort(), `${label}: state ${index}`).toEqual(Object.keys(s).sort())
    for (const [name, v] of Object.entries(s)) {
      if (typeof v === 'number') expect(got[name], `${label}: ${index}.${name}`).toBe(v)
      else expectClose(got[name] as ft.Tensor, v, { rtol: 1e-5, atol: 1e-6, label: `${label}: ${index}.${name}` })
    }
  }
  const ignored = new Set(['foreach', 'fused', 'capturable', 'differentiable', 'decoupled_weight_decay'])
  expect(actual.param_groups.length).toBe(want.param_groups.length)
  want.param_groups.forEach((group, i) => {
    const expected = Object.fromEntries(Object.entries(group).filter(([k]) => !ignored.has(k)))
    expect(actual.param_groups[i], `${label}: param_groups[${i}]`).toEqual(expected)
  })
}

describe('parameter groups train like torch.optim, frozen parameters skipped', () => {
  it.each(fixture.groups.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const model = makeModel(c.initial)
    const optimizer = makeOptimizer(model, c)
    c.grads.forEach((grads, step) => {
      applyGrads(model, grads)
      optimizer.step()
      optimizer.zeroGrad()
      expectParams(model, c.trajectory[step], `step ${step + 1}`)
    })
    expect(optimizer.state.has((model.at(0) as ft.nn.Linear).bias!)).toBe(false)
    expectStateLike(optimizer.stateDict(), c.stateDict, c.name)
  })

  it('a frozen parameter gets no gradient from backward, so the step leaves it as it is', () => {
    const model = makeModel()
    const optimizer = new ft.optim.SGD([{ params: model.at(1).parameters(), lr: 0.1 }, { params: model.at(0).parameters(), lr: 0.01 }], { momentum: 0.9 })
    const bias = (model.at(0) as ft.nn.Linear).bias!
    const before = bias.toArray()
    const loss = model.forward(ft.randn([2, 5])).sum()
    loss.backward()
    expect(bias.grad).toBeNull()
    optimizer.step()
    expect(bias.toArray()).toEqual(before)
    expect(optimizer.paramGroups.map((g) => g.params.length)).toEqual([2, 2])
  })

  it('paramGroups expose each group\'s options, with the defaults filled in and lr mutable', () => {
    const model = makeModel()
    const optimizer = new ft.optim.SGD([{ params: model.at(1).parameters(), lr: 1e-2 }, { params: model.at(0).parameters(), lr: 1e-3 }], { momentum: 0.9 })
    expect(optimizer.paramGroups.map(({ params: _, ...o }) => o)).toEqual([
      { lr: 1e-2, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
      { lr: 1e-3, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
    ])
    const p = model.at(1).parameters()[1]
    optimizer.paramGroups[0].lr = 0.5
    p.grad = ft.ones(p.shape)
    const before = p.toArray() as number[]
    optimizer.step()
    expect(p.toArray()).toEqual(before.map((x) => Math.fround(x - Math.fround(0.5 * 1))))
  })

  it('StepLR scales every group\'s own rate', () => {
    const model = makeModel()
    const optimizer = new ft.optim.SGD([{ params: model.at(1).parameters(), lr: 0.1 }, { params: model.at(0).parameters(), lr: 0.01 }], { momentum: 0.9 })
    const scheduler = new ft.optim.StepLR(optimizer, { stepSize: 2, gamma: 0.5 })
    const lrs = [scheduler.getLastLr()]
    for (let i = 0; i < 5; i++) {
      scheduler.step()
      lrs.push(scheduler.getLastLr())
    }
    lrs.forEach((pair, i) => pair.forEach((lr, g) => expect(lr, `epoch ${i} group ${g}`).toBeCloseTo(fixture.schedulerLrs[i][g], 12)))
  })

  it('a parameter in two groups, or twice in one, is an InvalidArgumentError; addParamGroup adds one', () => {
    const [a, b, c] = [0, 1, 2].map(() => ft.zeros([2], { requiresGrad: true }))
    const e = thrown(() => new ft.optim.Adam([{ params: [a, b] }, { params: [b] }]))
    expect(e).toBeInstanceOf(ft.InvalidArgumentError)
    expect(e.message).toBe('Adam: parameter group 1: some parameters appear in more than one parameter group')
    expect(thrown(() => new ft.optim.SGD([a, a])).message).toBe('SGD: the group lists a parameter twice')
    const optimizer = new ft.optim.SGD([{ params: [a] }], { lr: 0.1, momentum: 0.5 })
    expect(thrown(() => optimizer.addParamGroup({ params: [a] })).message).toBe('SGD.addParamGroup: parameter group 1: some parameters appear in more than one parameter group')
    expect(thrown(() => optimizer.addParamGroup({ params: [b], lr: -1 })).message).toMatch(/^SGD.addParamGroup: parameter group 1: Invalid learning rate: -1/)
    expect(optimizer.paramGroups.length).toBe(1)
    optimizer.addParamGroup({ params: [b, c], lr: 1 })
    expect(optimizer.paramGroups[1]).toMatchObject({ lr: 1, momentum: 0.5, params: [b, c] })
    b.grad = ft.ones([2])
    optimizer.step()
    expect(b.toArray()).toEqual([-1, -1])
    const nonLeaf = a.mul(2)
    expect(thrown(() => new ft.optim.SGD([nonLeaf])).message).toMatch(/can't optimize a non-leaf Tensor/)
    expect(thrown(() => new ft.optim.SGD(a as never)).message).toMatch(/params must be an iterable/)
  })
})

describe('optimizer state dicts use PyTorch\'s keys and layout', () => {
  it('stateDict names state and options like PyTorch', () => {
    const p = ft.tensor([1, 2], { requiresGrad: true })
    const q = ft.tensor([3], { requiresGrad: true })
    const optimizer = new ft.optim.Adam([{ params: [p], weightDecay: 0.1 }, { params: [q], lr: 0.5 }], { amsgrad: true })
    p.grad = ft.tensor([1, -1])
    optimizer.step()
    const sd = optimizer.stateDict()
    expect(Object.keys(sd.state)).toEqual(['0'])
    expect(Object.keys(sd.state[0])).toEqual(['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'])
    expect(sd.state[0].step).toBe(1)
    expect(sd.param_groups).toEqual([
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.1, amsgrad: true, maximize: false, params: [0] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: true, maximize: false, params: [1] },
    ])
  })

  it.each(fixture.groups.map((c) => [c.name, c] as const))('loads PyTorch\'s state_dict and continues identically: %s', (_name, c) => {
    const model = makeModel(c.trajectory[c.trajectory.length - 1])
    const optimizer = makeOptimizer(model, { ...c, defaults: {}, head: {}, body: {} })
    optimizer.loadStateDict(decodeState(c.stateDict) as never)
    expectStateLike(optimizer.stateDict(), c.stateDict, 'round trip')
  })

  it('loadCheckpoint reads a checkpoint written from PyTorch (Adam, amsgrad, two groups) and training continues as in PyTorch', () => {
    const model = makeModel()
    const optimizer = new ft.optim.Adam([{ params: model.at(1).parameters() }, { params: model.at(0).parameters() }])
    const path = fileURLToPath(new URL('./fixtures/optim_groups_checkpoint.safetensors', import.meta.url))
    const restored = ft.loadCheckpoint(path, model, optimizer)
    expect(restored.epoch).toBe(1)
    expect(optimizer.paramGroups.map((g) => [g.lr, g.weightDecay, g.amsgrad])).toEqual([
      [0.01, 0, true],
      [0.002, 0.01, true],
    ])
    expectStateLike(optimizer.stateDict(), fixture.checkpoint.stateDict, 'loaded')
    fixture.checkpoint.grads.forEach((grads, step) => {
      applyGrads(model, grads)
      optimizer.step()
      optimizer.zeroGrad()
      expectParams(model, fixture.checkpoint.trajectory[step], `step ${step + 1} after loading`)
    })
  })

  it('loadStateDict refuses what it cannot honour and leaves the optimizer as it was', () => {
    const p = ft.zeros([2], { requiresGrad: true })
    const optimizer = new ft.optim.Adam([p], { lr: 0.1 })
    const base = { state: {}, param_groups: [{ lr: 0.2, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false, params: [0] }] }
    const attempt = (change: (sd: typeof base & Record<string, unknown>) => void) => {
      const sd = structuredClone(base) as typeof base & Record<string, unknown>
      change(sd)
      return thrown(() => optimizer.loadStateDict(sd as never))
    }
    expect(attempt((sd) => ((sd.param_groups[0] as Record<string, unknown>).decoupled_weight_decay = true)).message).toBe(
      'loadStateDict: Adam parameter group 0: decoupled_weight_decay is true, but Adam supports only false',
    )
    expect(attempt((sd) => ((sd.param_groups[0] as Record<string, unknown>).nesterov = true)).message).toMatch(/unknown option 'nesterov'/)
    // A key of the user's own on the group round-trips.
    const named = new ft.optim.SGD([{ params: [ft.zeros([1], { requiresGrad: true })], name: 'head' } as never])
    const saved = named.stateDict()
    expect(saved.param_groups[0]).toMatchObject({ name: 'head' })
    named.loadStateDict(saved)
    expect(named.paramGroups[0]).toMatchObject({ name: 'head' })
    expect(attempt((sd) => ((sd.state as Record<string, unknown>)['0'] = { step: 1, exp_avg: ft.zeros([3]), exp_avg_sq: ft.zeros([2]) })).code).toBe('ShapeMismatch')
    expect(attempt((sd) => ((sd.state as Record<string, unknown>)['5'] = { step: 1 })).message).toMatch(/state for parameter 5, which no group refers to/)
    expect(attempt((sd) => delete (sd as Record<string, unknown>).param_groups).message).toMatch(/expected \{ state, param_groups \}/)
    expect(optimizer.paramGroups[0].lr).toBe(0.1)
  })
})

describe('checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-optim-groups-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('store the optimizer under PyTorch\'s names and round-trip', () => {
    const model = makeModel()
    const optimizer = new ft.optim.SGD([{ params: model.at(1).parameters(), lr: 0.1 }, { params: model.at(0).parameters(), lr: 0.01 }], { momentum: 0.9 })
    model.forward(ft.randn([2, 5])).sum().backward()
    optimizer.step()
    const path = join(dir, 'sgd.safetensors')
    const history = { trainLoss: [1], testAccuracy: [], testLoss: [], epochSeconds: [1], imagesPerSecond: [1] }
    ft.saveCheckpoint(path, { model, optimizer, epoch: 1, history, loader: { epoch: 1, seed: 0 } })
    const meta = ft.loadMetadata(path)
    expect(meta.format).toBe('ferrite-checkpoint-4')
    expect(JSON.parse(meta.optimizer).param_groups[1]).toMatchObject({ lr: 0.01, weight_decay: 0, params: [2, 3] })
    expect(Object.keys(ft.load(path)).filter((k) => k.startsWith('optimizer.'))).toEqual(['optimizer.0.momentum_buffer', 'optimizer.1.momentum_buffer', 'optimizer.2.momentum_buffer'])
    const copy = makeModel()
    const other = new ft.optim.SGD([{ params: copy.at(1).parameters() }, { params: copy.at(0).parameters() }], { momentum: 0.9 })
    ft.loadCheckpoint(path, copy, other)
    expect(other.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.01])
    expect((other.stateDict().state[2].momentum_buffer as ft.Tensor).toArray()).toEqual((optimizer.stateDict().state[2].momentum_buffer as ft.Tensor).toArray())
  })

  it('written before version 4 (camelCase names) still load', () => {
    const model = makeModel()
    const path = join(dir, 'v3.safetensors')
    const tensors: Record<string, ft.Tensor> = {}
    for (const [k, v] of Object.entries(model.stateDict())) tensors[`model.${k}`] = v
    tensors['optimizer.0.expAvg'] = ft.full([3, 4], 0.5)
    tensors['optimizer.0.expAvgSq'] = ft.full([3, 4], 0.25)
    const paramGroups = [
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1, amsgrad: false, maximize: false, params: [0, 1] },
      { lr: 0.002, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [2, 3] },
    ]
    ft.save(tensors, path, {
      metadata: {
        format: 'ferrite-checkpoint-3',
        epoch: '0',
        loader: '{"epoch":0,"seed":1}',
        history: JSON.stringify({ trainLoss: [], testAccuracy: [], testLoss: [], epochSeconds: [], imagesPerSecond: [] }),
        optimizer: JSON.stringify({ paramGroups, scalars: { 0: { step: 4 } } }),
        scheduler: 'null',
      },
    })
    const optimizer = new ft.optim.Adam([{ params: model.at(1).parameters() }, { params: model.at(0).parameters() }])
    ft.loadCheckpoint(path, model, optimizer)
    expect(optimizer.paramGroups.map((g) => [g.lr, g.weightDecay])).toEqual([
      [0.01, 0.1],
      [0.002, 0],
    ])
    const state = optimizer.stateDict().state[0]
    expect(state.step).toBe(4)
    expect((state.exp_avg_sq as ft.Tensor).toArray()).toEqual(ft.full([3, 4], 0.25).toArray())
  })
})

describe('clipGradNorm and clipGradValue match torch.nn.utils', () => {
  it.each(fixture.clip.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const params = c.grads.map((g) => ft.zeros(g.shape, { requiresGrad: true }))
    params.forEach((p, i) => (p.grad = makeTensor(c.grads[i])))
    using total = ft.nn.utils.clipGradNorm(params, c.maxNorm, { normType: c.normType === 'inf' ? Infinity : c.normType })
    expectClose(total, c.total, { rtol: 1e-6, atol: 0 })
    params.forEach((p, i) => expectClose(p.grad!, c.clipped[i], { rtol: 2e-6, atol: 1e-7, label: `grad ${i}` }))
  })

  it('large gradients (the multi-threaded passes)', () => {
    const { sizes, maxNorm, total: want, heads } = fixture.clipLarge
    const params = sizes.map((n) => ft.zeros([n], { requiresGrad: true }))
    params.forEach((p, i) => (p.grad = ft.arange(sizes[i]).float().mul(2 / sizes[i]).sub(1).mul(3)))
    using total = ft.nn.utils.clipGradNorm(params, maxNorm)
    expectClose(total, want, { rtol: 1e-6, atol: 0 })
    params.forEach((p, i) => expectClose(p.grad!.narrow(0, 0, Math.min(16, sizes[i])), heads[i], { rtol: 2e-6, atol: 1e-7 }))
  })

  it('skips parameters without gradients, and a non-finite norm throws only when asked', () => {
    const p = ft.zeros([2], { requiresGrad: true })
    const q = ft.zeros([2], { requiresGrad: true })
    p.grad = ft.tensor([3, 4])
    using total = ft.nn.utils.clipGradNorm([p, q], 1)
    expect(total.item()).toBe(5)
    expect(q.grad).toBeNull()
    p.grad = ft.tensor([NaN, 1])
    const e = thrown(() => ft.nn.utils.clipGradNorm(p, 1, { errorIfNonfinite: true }))
    expect(e).toBeInstanceOf(ft.InvalidArgumentError)
    expect(e.message).toMatch(/total norm of order 2 of the gradients is non-finite/)
    expect((p.grad.toArray() as number[])[1]).toBe(1)
    expect(thrown(() => ft.nn.utils.clipGradNorm(p, 1, { normType: 0 })).message).toMatch(/normType must be a positive number/)
  })

  it('clipGradValue', () => {
    const { clipValue, grads, clipped } = fixture.clipValue
    const params = grads.map((g) => ft.zeros(g.shape, { requiresGrad: true }))
    params.forEach((p, i) => (p.grad = makeTensor(grads[i])))
    ft.nn.utils.clipGradValue(params, clipValue)
    params.forEach((p, i) => expectClose(p.grad!, clipped[i], { rtol: 0, atol: 0 }))
  })
})
