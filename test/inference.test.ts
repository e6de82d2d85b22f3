// ft.inference: eval-mode fusion (batch norm folded into the convolution, activations in the
// conv/linear output tiles). The fused forward matches the unfused one within 1e-5 relative, follows
// weights and running statistics changed in place, is chosen automatically only for Ferrite's own
// modules in evaluation mode without grad, and falls back to eager where a trace fails.
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as ft from 'ferrite-ml'

const { nn, models } = ft

const tutorialModels: [string, () => ft.nn.Module][] = [
  ['MyCNN', () => new models.MyCNN()],
  ['ResNet [2, 2, 2]', () => new models.ResNet()],
  ['SE-ResNet', () => models.seResNet()],
  ['VGG11', () => new models.VGG('VGG11')],
]

/** Non-trivial batch-norm state: random affine parameters and running statistics from a few training-mode batches. */
function withBatchNormState<M extends ft.nn.Module>(model: M): M {
  ft.noGrad(() => {
    for (const m of model.modules()) {
      if (!(m instanceof nn.BatchNormBase) || m.weight === null || m.bias === null) continue
      m.weight.copy_(ft.rand(m.weight.shape).add(0.5))
      m.bias.copy_(ft.randn(m.bias.shape).mul(0.2))
    }
    model.train()
    for (let i = 0; i < 3; i++) model.forward(ft.randn([8, 3, 32, 32]).mul(1.5).add(0.3))
  })
  return model.eval()
}

/** The evaluation-mode forward with fusion off: every layer runs its own op. */
function unfused(model: ft.nn.Module, x: ft.Tensor): ft.Tensor {
  const previous = ft.inference.setAutomaticFusion(false)
  try {
    return ft.noGrad(() => model.eval().forward(x) as ft.Tensor)
  } finally {
    ft.inference.setAutomaticFusion(previous)
  }
}

/** max |got - want| over max |want|. */
function relativeError(got: ft.Tensor, want: ft.Tensor): number {
  expect(got.shape).toEqual(want.shape)
  return got.sub(want).abs().max().item() / want.abs().max().item()
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('ft.inference.optimize', () => {
  for (const [name, make] of tutorialModels) {
    it(`fuses ${name} and matches its unfused evaluation-mode forward within 1e-5`, async () => {
      ft.manualSeed(4)
      const model = withBatchNormState(make())
      const x = ft.randn([5, 3, 32, 32])
      const want = unfused(model, x)
      using fast = ft.inference.optimize(model)
      expect(relativeError(fast.forward(x), want)).toBeLessThan(1e-5)
      expect(relativeError(await fast.predict(x), want)).toBeLessThan(1e-5)
      // The automatic path and predict replay the same fused graph.
      const automatic = ft.noGrad(() => model.forward(x) as ft.Tensor)
      expect(relativeError(automatic, want)).toBeLessThan(1e-5)
      expect((await model.predict(x)).toArray()).toEqual(automatic.toArray())
      // Every batch norm was folded into its convolution.
      using traced = ft.jit.traceModule(model, x)
      using fused = traced.fused()
      const ops = fused.describe().nodes.map((n) => n.op)
      const batchNorm = (op: string) => op === 'batch_norm' || op === 'batch_norm_relu'
      expect(ops.filter(batchNorm)).toEqual([])
      expect(ops.filter((op) => op === 'fused_conv2d').length).toBe(traced.describe().nodes.filter((n) => n.op === 'conv2d').length)
      // The ONNX export's trace is untouched.
      expect(traced.describe().nodes.some((n) => batchNorm(n.op))).toBe(true)
    })
  }

  it('follows weights and running statistics changed in place after fusing (copy_, an optimizer step, loadStateDict)', () => {
    ft.manualSeed(5)
    const model = withBatchNormState(new models.MyCNN())
    const x = ft.randn([3, 3, 32, 32])
    using fast = model.fuse()
    const first = fast.forward(x)
    expect(relativeError(first, unfused(model, x))).toBeLessThan(1e-5)

    const conv = model.conv1.at(0) as ft.nn.Conv2d
    const bn = model.conv1.at(1) as ft.nn.BatchNorm2d
    ft.noGrad(() => {
      conv.weight.copy_(conv.weight.mul(-0.5))
      bn.runningVar!.copy_(bn.runningVar!.mul(3).add(0.2))
    })
    const afterCopy = fast.forward(x)
    expect(relativeError(afterCopy, first)).toBeGreaterThan(1e-2)
    expect(relativeError(afterCopy, unfused(model, x))).toBeLessThan(1e-5)

    const optimizer = new ft.optim.SGD(model.parameters(), { lr: 0.1 })
    model.train()
    const loss = ft.functional.crossEntropy(model.forward(ft.randn([4, 3, 32, 32])) as ft.Tensor, ft.tensor([0, 1, 2, 3], { dtype: 'int64' }))
    loss.backward()
    optimizer.step()
    const afterStep = fast.forward(x)
    expect(relativeError(afterStep, afterCopy)).toBeGreaterThan(1e-4)
    expect(relativeError(afterStep, unfused(model, x))).toBeLessThan(1e-5)

    const other = withBatchNormState(new models.MyCNN())
    model.loadStateDict(other.stateDict())
    expect(relativeError(fast.forward(x), unfused(other, x))).toBeLessThan(1e-5)
  })

  it('fuses a user subclass on request, skipping the JS of its forward', () => {
    let calls = 0
    class Net extends nn.Module {
      features = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU())
      forward(x: ft.Tensor): ft.Tensor {
        calls++
        return this.features.forward(x).mean([2, 3])
      }
    }
    const model = withBatchNormState(new Net())
    const x = ft.randn([2, 3, 32, 32])
    using fast = ft.inference.optimize(model)
    fast.forward(x)
    const traced = calls
    const out = fast.forward(x)
    expect(calls).toBe(traced)
    expect(relativeError(out, unfused(model, x))).toBeLessThan(1e-5)
  })

  it('throws a TraceError for an untraceable forward and is unusable once disposed, its folded weights freed', () => {
    class Untraceable extends nn.Module {
      fc = new nn.Linear(4, 4)
      forward(x: ft.Tensor): ft.Tensor {
        return this.fc.forward(x).mul(x.sum().item())
      }
    }
    expect(() => ft.inference.optimize(new Untraceable()).forward(ft.randn([2, 4]))).toThrow(ft.TraceError)
    expect(() => ft.inference.optimize(3 as unknown as ft.nn.Module)).toThrow(ft.InvalidArgumentError)

    const model = withBatchNormState(new models.MyCNN())
    const x = ft.randn([2, 3, 32, 32])
    const fast = model.fuse()
    const out = fast.forward(x)
    out.dispose()
    // The folded weights and biases of the two convolutions are freed with the graph (a
    // collection meanwhile could only free more).
    const convs = model.modules().filter((m): m is ft.nn.Conv2d => m instanceof nn.Conv2d)
    const folded = convs.reduce((bytes, c) => bytes + (c.weight.numel() + c.weight.shape[0]) * 4, 0)
    const held = ft.memory().bytes
    fast.dispose()
    expect(held - ft.memory().bytes).toBeGreaterThanOrEqual(folded)
    expect(() => fast.forward(x)).toThrow(/disposed/)
  })
})

describe('automatic fusion', () => {
  it('replays the fused graph of a built-in model in evaluation mode without grad, not in training mode or with grad', () => {
    ft.manualSeed(6)
    const model = withBatchNormState(new models.MyCNN())
    const x = ft.randn([3, 3, 32, 32])
    const convForward = vi.spyOn(nn.Conv2d.prototype, 'forward')
    ft.noGrad(() => model.forward(x)) // traces on the first sample
    convForward.mockClear()
    const fused = ft.noGrad(() => model.forward(x) as ft.Tensor)
    expect(convForward).not.toHaveBeenCalled()
    expect(relativeError(fused, unfused(model, x))).toBeLessThan(1e-5)

    convForward.mockClear()
    unfused(model, x)
    expect(convForward).toHaveBeenCalledTimes(2)

    convForward.mockClear()
    const withGrad = model.forward(x) as ft.Tensor
    expect(convForward).toHaveBeenCalledTimes(2)
    expect(withGrad.requiresGrad).toBe(true)

    convForward.mockClear()
    ft.noGrad(() => model.train().forward(x))
    expect(convForward).toHaveBeenCalledTimes(2)

    // One child left in training mode (MC dropout style) keeps the whole model eager.
    model.eval()
    model.conv2.at(1).train()
    convForward.mockClear()
    ft.noGrad(() => model.forward(x))
    expect(convForward).toHaveBeenCalledTimes(2)
  })

  it('does not fuse a user subclass, but fuses its built-in containers', () => {
    let calls = 0
    class Net extends nn.Module {
      features = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU())
      forward(x: ft.Tensor): ft.Tensor {
        calls++
        return this.features.forward(x).mean([2, 3])
      }
    }
    const model = withBatchNormState(new Net())
    const x = ft.randn([2, 3, 32, 32])
    const convForward = vi.spyOn(nn.Conv2d.prototype, 'forward')
    ft.noGrad(() => model.forward(x))
    calls = 0
    convForward.mockClear()
    ft.noGrad(() => model.forward(x))
    expect(calls).toBe(1)
    expect(convForward).not.toHaveBeenCalled()

    // A built-in container holding a user module stays eager as a whole.
    class Doubler extends nn.Module {
      forward(x: ft.Tensor): ft.Tensor {
        calls++
        return x.mul(2)
      }
    }
    const chain = new nn.Sequential(new nn.Conv2d(3, 4, 3), new Doubler()).eval()
    ft.noGrad(() => chain.forward(x))
    calls = 0
    ft.noGrad(() => chain.forward(x))
    expect(calls).toBe(1)
  })

  it('runs a forward whose trace fails as written, without retrying the trace', () => {
    let calls = 0
    class ValueDependent extends nn.Module {
      fc = new nn.Linear(4, 4)
      forward(x: ft.Tensor): ft.Tensor {
        calls++
        const y = this.fc.forward(x)
        return y.sum().item() > 0 ? y : y.neg()
      }
    }
    ft.inference.markPureForward(ValueDependent)
    const model = new ValueDependent().eval()
    const x = ft.randn([3, 4])
    const first = ft.noGrad(() => model.forward(x))
    expect(calls).toBe(2) // the failed trace on the first sample, then the forward itself
    const again = ft.noGrad(() => model.forward(x))
    expect(calls).toBe(3)
    expect(again.toArray()).toEqual(first.toArray())
    const y = ft.noGrad(() => model.fc.forward(x))
    expect(first.toArray()).toEqual((y.sum().item() > 0 ? y : y.neg()).toArray())

    // An unbatched [C, H, W] input: its "first sample" is no valid input, so the trace throws.
    const chain = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.ReLU()).eval()
    const image = ft.randn([3, 8, 8])
    expect(ft.noGrad(() => chain.forward(image)).toArray()).toEqual(unfused(chain, image).toArray())
  })

  it('leaves Module.predict results equal to the evaluation-mode forward', async () => {
    ft.manualSeed(7)
    const model = withBatchNormState(new models.ResNet())
    for (const batch of [1, 6]) {
      const x = ft.randn([batch, 3, 32, 32])
      const predicted = await model.predict(x)
      expect(predicted.toArray()).toEqual(ft.noGrad(() => model.forward(x) as ft.Tensor).toArray())
      expect(relativeError(predicted, unfused(model, x))).toBeLessThan(1e-5)
    }
  })
})

describe('the fused graphs check their model in O(1) per call', () => {
  it('walks no module tree on a steady call, yet notices a replaced parameter, child, training child, forward and model.to()', () => {
    ft.manualSeed(8)
    const model = withBatchNormState(new models.MyCNN())
    const x = ft.randn([2, 3, 32, 32])
    // The replacements are made first: a module's construction is a change of its own.
    const fc = new nn.Linear(model.fc.inFeatures, 10).eval()
    const batchNorm = new nn.BatchNorm2d(32).eval()
    ft.noGrad(() => batchNorm.weight?.copy_(ft.rand([32]).add(0.5)))
    using fast = ft.inference.optimize(model)
    const fusedForward = () => ft.noGrad(() => model.forward(x) as ft.Tensor)
    const expectFusedToMatchUnfused = () => {
      expect(relativeError(fusedForward(), unfused(model, x))).toBeLessThan(1e-5)
      expect(relativeError(fast.forward(x) as ft.Tensor, unfused(model, x))).toBeLessThan(1e-5)
    }
    expectFusedToMatchUnfused()

    const modules = vi.spyOn(nn.Module.prototype, 'modules')
    const stateTensors = vi.spyOn(nn.Module.prototype, '_stateTensors')
    const convForward = vi.spyOn(nn.Conv2d.prototype, 'forward')
    fusedForward()
    fast.forward(x)
    expect(modules).not.toHaveBeenCalled()
    expect(stateTensors).not.toHaveBeenCalled()
    expect(convForward).not.toHaveBeenCalled()
    vi.restoreAllMocks()

    // A parameter replaced by assignment, in a field and in a Sequential's registered child.
    model.fc.weight = new nn.Parameter(ft.randn(model.fc.weight.shape))
    expectFusedToMatchUnfused()
    const conv = model.conv1.at(0) as ft.nn.Conv2d
    conv.weight = new nn.Parameter(ft.randn(conv.weight.shape))
    expectFusedToMatchUnfused()

    // A child replaced by assignment, and one replaced by registerModule.
    model.fc = fc
    expectFusedToMatchUnfused()
    model.conv2.registerModule('1', batchNorm)
    expectFusedToMatchUnfused()

    // A child switched to training mode makes the automatic path eager (optimize stays fused).
    const sharedBatchNorm = model.conv2.at(1)
    sharedBatchNorm.train()
    const spy = vi.spyOn(nn.Conv2d.prototype, 'forward')
    ft.noGrad(() => model.forward(x))
    expect(spy).toHaveBeenCalledTimes(2)
    vi.restoreAllMocks()
    sharedBatchNorm.eval()

    // A forward assigned to a child is the caller's own code: the model runs eagerly and calls it.
    let calls = 0
    const linearForward = fc.forward.bind(fc)
    fc.forward = (t: ft.Tensor) => {
      calls++
      return linearForward(t)
    }
    expect(relativeError(fusedForward(), unfused(model, x))).toBeLessThan(1e-5)
    expect(calls).toBe(2)
    delete (fc as { forward?: unknown }).forward

    // model.to() replaces every floating point tensor: bfloat16 and back rounds the weights, which a
    // stale graph holding the old float32 tensors would not show.
    const float32Weight = fc.weight
    model.to('bfloat16').to('float32')
    expect(fc.weight).not.toBe(float32Weight)
    expectFusedToMatchUnfused()
  })

  it('notices a replaced field that a subclass redefined after its parent had registered it', () => {
    class Base extends nn.Module {
      fc: ft.nn.Module = new nn.Linear(4, 4)
      constructor() {
        super()
        this.registerBuffer('step', ft.zeros([1])) // reads the registry: fc is watched from here on
      }
      forward(x: ft.Tensor): ft.Tensor {
        return ft.functional.relu(this.fc.forward(x) as ft.Tensor)
      }
    }
    class Derived extends Base {
      constructor() {
        super()
        // What a class field `fc = ...` of Derived does where class fields are defined (ES2022):
        // plain data replacing the watched field, after Base's constructor returned.
        Object.defineProperty(this, 'fc', { value: new nn.Linear(4, 4), writable: true, enumerable: true, configurable: true })
      }
    }
    ft.inference.markPureForward(Base)
    const model = new Derived().eval()
    const x = ft.randn([3, 4])
    // Made first: a module's construction is a change of its own.
    const replacement = new nn.Linear(4, 4).eval()
    expect(relativeError(ft.noGrad(() => model.forward(x)), unfused(model, x))).toBeLessThan(1e-5)
    ft.noGrad(() => model.forward(x))
    model.fc = replacement
    expect(relativeError(ft.noGrad(() => model.forward(x)), unfused(model, x))).toBeLessThan(1e-5)
  })
})
