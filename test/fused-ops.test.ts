// The training fusions: F.batchNorm's `activation: 'relu'` and F.addRelu give the values and
// gradients of the ops they replace bit for bit, the tutorial models use them without changing
// their modules, and training with them stays deterministic.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const { models } = ft
const F = ft.functional

/** The output and the gradients of `inputs` of `f`, as arrays, for a fixed upstream gradient. */
function outcome(f: (...xs: ft.Tensor[]) => ft.Tensor, inputs: ft.Tensor[]): number[][] {
  const leaves = inputs.map((t) => t.detach().requiresGrad_())
  const y = f(...leaves)
  ft.manualSeed(9)
  y.backward(ft.randn(y.shape))
  return [y.toArray() as number[], ...leaves.map((t) => t.grad!.toArray() as number[])].map((a) => a.flat(Infinity) as number[])
}

describe('fused training ops', () => {
  it("F.batchNorm with activation 'relu' is F.relu of F.batchNorm, values, gradients and running statistics", () => {
    for (const [shape, training] of [[[8, 4, 16, 16], true], [[8, 4, 16, 16], false], [[12, 5], true]] as const) {
      ft.manualSeed(1)
      const x = ft.randn([...shape])
      const [weight, bias] = [ft.randn([shape[1]]), ft.randn([shape[1]])]
      const run = (activation: 'relu' | null) => {
        const [runningMean, runningVar] = [ft.zeros([shape[1]]), ft.ones([shape[1]])]
        const grads = outcome((x, w, b) => {
          const y = F.batchNorm(x, runningMean, runningVar, { weight: w, bias: b, training, activation })
          return activation === 'relu' ? y : F.relu(y)
        }, [x, weight, bias])
        return [...grads, runningMean.toArray() as number[], runningVar.toArray() as number[]]
      }
      const fused = run('relu')
      expect(fused[0].some((v) => v === 0) && fused[0].some((v) => v > 0)).toBe(true)
      expect(fused).toEqual(run(null))
    }
  })

  it('F.addRelu is F.relu of add, values and gradients, also broadcasting', () => {
    ft.manualSeed(2)
    for (const [a, b] of [[ft.randn([4, 8, 16, 16]), ft.randn([4, 8, 16, 16])], [ft.randn([3, 5]), ft.randn([5])]]) {
      const fused = outcome((a, b) => F.addRelu(a, b), [a, b])
      expect(fused[0].some((v) => v === 0) && fused[0].some((v) => v > 0)).toBe(true)
      expect(fused).toEqual(outcome((a, b) => F.relu(a.add(b)), [a, b]))
    }
  })

  it('rejects an unknown activation with a typed error', () => {
    const err = thrown(() => F.batchNorm(ft.randn([2, 3]), null, null, { training: true, activation: 'gelu' as 'relu' }))
    expect(err).toBeInstanceOf(ft.InvalidArgumentError)
    expect(err.message).toBe(`batch_norm: activation must be 'relu' or null, got string gelu`)
  })

  it("a residual block's fused forward is the unfused one bit for bit, with its modules unchanged", () => {
    for (const block of [models.ResidualBlock, models.SEResidualBlock]) {
      ft.manualSeed(3)
      const m = new block(16, 16)
      expect(m.toString()).toContain('(relu): ReLU(inplace=True)')
      const unfused = (x: ft.Tensor) => {
        const out = m.bn2.forward(m.conv2.forward(m.relu.forward(m.bn1.forward(m.conv1.forward(x)))))
        const branch = m instanceof models.SEResidualBlock ? m.se.forward(out) : out
        return m.relu.forward(branch.add(x))
      }
      const x = ft.randn([4, 16, 8, 8])
      const params = m.parameters()
      const run = (f: (x: ft.Tensor) => ft.Tensor) => {
        for (const p of params) p.grad = null
        const y = f(x)
        y.sum().backward()
        return [y.toArray(), ...params.map((p) => p.grad!.toArray())]
      }
      expect(run((x) => m.forward(x) as ft.Tensor)).toEqual(run(unfused))
    }
  })

  it('two identical ResNet training runs end with bit-identical weights', () => {
    const train = () => {
      ft.manualSeed(4)
      const model = new models.ResNet(models.ResidualBlock, [1, 1, 1])
      const optimizer = new ft.optim.Adam(model.parameters(), { lr: 1e-3 })
      const x = ft.randn([8, 3, 32, 32])
      const y = ft.randint(0, 10, [8])
      for (let step = 0; step < 3; step++) {
        ft.tidy(() => {
          const loss = F.crossEntropy(model.forward(x) as ft.Tensor, y)
          optimizer.zeroGrad()
          loss.backward()
          optimizer.step()
        })
      }
      return Object.entries(model.stateDict()).map(([k, t]) => [k, t.toArray()])
    }
    expect(train()).toEqual(train())
  })
})
