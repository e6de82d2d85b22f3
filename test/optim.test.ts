// Optimizers and schedulers against trajectories recorded from torch.optim
// (test/fixtures/gen_optim_fixtures.py).
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectClose, loadFixture, makeTensor, type FixtureTensor } from './helpers'

interface OptimizerCase {
  name: string
  optimizer: 'SGD' | 'Adam' | 'AdamW'
  options: Record<string, unknown>
  params: FixtureTensor[]
  grads: FixtureTensor[][]
  trajectory: FixtureTensor[][]
}

interface SchedulerCase {
  name: string
  scheduler: 'StepLR' | 'CosineAnnealingLR' | 'OneCycleLR'
  optimizer: 'SGD' | 'Adam'
  lr: number
  options: Record<string, unknown>
  lrs: number[]
  momenta: number[]
}

const fixture = loadFixture('optim') as unknown as { optimizers: OptimizerCase[]; schedulers: SchedulerCase[] }

describe('optimizers match torch.optim step by step', () => {
  it.each(fixture.optimizers.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const params = c.params.map((p) => makeTensor(p).requiresGrad_())
    const Optimizer = ft.optim[c.optimizer]
    const optimizer = new Optimizer(params, c.options as never)
    c.grads.forEach((grads, step) => {
      params.forEach((p, i) => (p.grad = makeTensor(grads[i])))
      optimizer.step()
      params.forEach((p, i) => expectClose(p, c.trajectory[step][i], { rtol: 1e-5, atol: 1e-6 }))
    })
  })

  it('zeroGrad clears gradients and parameters without gradients are skipped', () => {
    const p = ft.ones([2], { requiresGrad: true })
    const q = ft.ones([2], { requiresGrad: true })
    const optimizer = new ft.optim.SGD([p, q], { lr: 1 })
    p.grad = ft.ones([2])
    optimizer.step()
    expect(p.toArray()).toEqual([0, 0])
    expect(q.toArray()).toEqual([1, 1])
    optimizer.zeroGrad()
    expect(p.grad).toBeNull()
  })

  it('state dicts round-trip so training resumes identically', () => {
    const make = () => [ft.tensor([1, 2, 3], { requiresGrad: true })]
    const [a, b] = [make(), make()]
    const optA = new ft.optim.Adam(a, { lr: 0.1 })
    a[0].grad = ft.tensor([0.5, -0.5, 1])
    optA.step()
    const optB = new ft.optim.Adam(b, { lr: 0.5 })
    ft.noGrad(() => b[0].copy_(a[0]))
    optB.loadStateDict(optA.stateDict())
    expect(optB.paramGroups[0].lr).toBe(0.1)
    for (const [params, opt] of [[a, optA], [b, optB]] as const) {
      params[0].grad = ft.tensor([1, 1, -1])
      opt.step()
    }
    expect(b[0].toArray()).toEqual(a[0].toArray())
  })

  it('accepts frozen parameters as PyTorch does, rejects non-leaf tensors and empty lists', () => {
    expect(() => new ft.optim.SGD([ft.ones([1])])).not.toThrow()
    expect(() => new ft.optim.SGD([ft.ones([1], { requiresGrad: true }).mul(2)])).toThrow(ft.InvalidArgumentError)
    expect(() => new ft.optim.Adam([])).toThrow(/empty parameter list/)
  })

  it('supports parameter groups with their own options', () => {
    const p = ft.ones([1], { requiresGrad: true })
    const q = ft.ones([1], { requiresGrad: true })
    const optimizer = new ft.optim.SGD([{ params: [p] }, { params: [q], lr: 0.5 }], { lr: 0.1 })
    p.grad = ft.ones([1])
    q.grad = ft.ones([1])
    optimizer.step()
    expect(p.item()).toBeCloseTo(0.9, 6)
    expect(q.item()).toBeCloseTo(0.5, 6)
  })
})

describe('learning-rate schedulers match torch.optim.lr_scheduler', () => {
  it.each(fixture.schedulers.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p = ft.zeros([1], { requiresGrad: true })
    const optimizer = c.optimizer === 'SGD' ? new ft.optim.SGD([p], { lr: c.lr, momentum: 0.9 }) : new ft.optim.Adam([p], { lr: c.lr })
    const Scheduler = ft.optim[c.scheduler]
    const scheduler = new Scheduler(optimizer as never, c.options as never)
    const momentum = () => {
      const g = optimizer.paramGroups[0] as { betas?: [number, number]; momentum?: number }
      return g.betas ? g.betas[0] : g.momentum!
    }
    const lrs = [optimizer.paramGroups[0].lr]
    const momenta = [momentum()]
    for (let i = 1; i < c.lrs.length; i++) {
      scheduler.step()
      lrs.push(scheduler.getLastLr()[0])
      momenta.push(momentum())
    }
    lrs.forEach((lr, i) => expect(lr, `lr after ${i} steps`).toBeCloseTo(c.lrs[i], 10))
    momenta.forEach((m, i) => expect(m, `momentum after ${i} steps`).toBeCloseTo(c.momenta[i], 10))
  })
})

describe('OneCycleLR', () => {
  it('refuses to cycle momentum on an optimizer that has none, as PyTorch does', () => {
    class PlainStep extends ft.optim.Optimizer<{ lr: number }> {
      protected updateParameter(): void {}
    }
    const optimizer = new PlainStep([ft.zeros([1], { requiresGrad: true })], { lr: 0.1 })
    expect(() => new ft.optim.OneCycleLR(optimizer, { maxLr: 1, totalSteps: 10 })).toThrow(/cycleMomentum needs an optimizer with momentum/)
    expect(() => new ft.optim.OneCycleLR(optimizer, { maxLr: 1, totalSteps: 10, cycleMomentum: false })).not.toThrow()
  })
})
