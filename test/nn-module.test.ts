// nn.Module and the built-in layers against PyTorch: printouts, state-dict keys, shapes and
// dtypes, parameter counts (test/fixtures/module_models.json), and a forward pass of a small
// model running PyTorch's own weights (module_small.safetensors, module_forward.json). The models
// below are twins of the classes in test/fixtures/gen_module_fixtures.py; keep them in step.
import { inspect } from 'node:util'
import { fileURLToPath } from 'node:url'
import { beforeEach, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectSampleOf, normal, uniform } from './distributions'
import { expectClose, type FixtureTensor, loadFixture, makeTensor, thrown, valuesOf } from './helpers'

const { nn } = ft

interface ModelFixture {
  repr: string
  state_dict: [string, number[], string][]
  named_parameters: string[]
  named_buffers: string[]
  named_modules: [string, string][]
  num_parameters: number
}

interface ModelsFixture {
  models: Record<string, ModelFixture>
  layers: Record<string, string>
}

interface ForwardFixture {
  input: FixtureTensor
  targets: FixtureTensor
  eval_output: FixtureTensor
  loss: number
  loss_label_smoothing_0_1: number
  train_output: FixtureTensor
  after_train: Record<string, FixtureTensor>
}

const fixture = loadFixture('module_models') as unknown as ModelsFixture
const forwardFixture = loadFixture('module_forward') as unknown as ForwardFixture
const SMALL_WEIGHTS = fileURLToPath(new URL('./fixtures/module_small.safetensors', import.meta.url))

// ------------------------------------------------------------------------------------- the tutorial's models

const { MyCNN, ResNet, ResidualBlock, SEResidualBlock, VGG } = ft.models

// ------------------------------------------------------------------------------------- every printed option

class Nothing extends nn.Module {
  forward(x: ft.Tensor): ft.Tensor {
    return x
  }
}

class Zoo extends nn.Module {
  stem = new nn.Conv2d(3, 8, [3, 5], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], bias: false })
  grouped = new nn.Conv2d(8, 8, 3, { padding: 2, dilation: 2, groups: 4 })
  bn = new nn.BatchNorm2d(8, { eps: 1e-3, momentum: null })
  bnPlain = this.registerModule('bn_plain', new nn.BatchNorm2d(8, { affine: false, trackRunningStats: false }))
  act = new nn.ReLU({ inplace: true })
  pool = new nn.MaxPool2d([3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 1], ceilMode: true })
  avg = new nn.AvgPool2d(8)
  avgOdd = this.registerModule('avg_odd', new nn.AvgPool2d([2, 3], { stride: 1, padding: [1, 1], ceilMode: true, countIncludePad: false }))
  gap = new nn.AdaptiveAvgPool2d([1, 1])
  gap7 = new nn.AdaptiveAvgPool2d(7)
  flatten = new nn.Flatten()
  head = new nn.Sequential(new nn.Linear(8, 4, { bias: false }), new nn.Tanh(), new nn.Linear(4, 2), new nn.Sigmoid())
  empty = new nn.Sequential()
  nothing = new Nothing()
  missing = this.registerModule('missing', null)
  loss = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 })

  forward(x: ft.Tensor): ft.Tensor {
    return this.head.forward(this.flatten.forward(this.gap.forward(this.act.forward(this.bn.forward(this.grouped.forward(this.stem.forward(x)))))))
  }
}

class Small extends nn.Module {
  features = new nn.Sequential(
    new nn.Conv2d(3, 4, 3, { padding: 1 }),
    new nn.BatchNorm2d(4),
    new nn.ReLU({ inplace: true }),
    new nn.MaxPool2d(2),
    new nn.Conv2d(4, 6, [3, 2], { stride: [1, 2], padding: [1, 0], dilation: [2, 1], groups: 2, bias: false }),
    new nn.BatchNorm2d(6, { momentum: 0.3 }),
    new nn.Tanh(),
    new nn.AvgPool2d(2, { stride: 1, padding: 1, countIncludePad: false }),
  )
  pool = new nn.AdaptiveAvgPool2d([1, 1])
  flatten = new nn.Flatten()
  fc = new nn.Linear(6, 5)
  gate = new nn.Sigmoid()

  forward(x: ft.Tensor): ft.Tensor {
    return this.gate.forward(this.fc.forward(this.flatten.forward(this.pool.forward(this.features.forward(x)))))
  }
}

const models: Record<string, () => ft.nn.Module> = {
  mycnn: () => new MyCNN(32, 10),
  resnet: () => new ResNet(ResidualBlock, [2, 2, 2]),
  se_resnet: () => new ResNet(SEResidualBlock, [2, 2, 2]),
  vgg11: () => new VGG('VGG11'),
  zoo: () => new Zoo(),
  small: () => new Small(),
}

const layers: Record<string, () => ft.nn.Module> = {
  conv_int: () => new nn.Conv2d(3, 16, 3, { padding: 1 }),
  conv_defaults: () => new nn.Conv2d(1, 3, 5),
  conv_all: () => new nn.Conv2d(4, 8, [1, 3], { stride: [2, 1], padding: [0, 1], dilation: [3, 1], groups: 2, bias: false }),
  bn_default: () => new nn.BatchNorm2d(16),
  bn_eps_small: () => new nn.BatchNorm2d(3, { eps: 1.5e-7, momentum: 0.01 }),
  bn_eps_1e4: () => new nn.BatchNorm2d(3, { eps: 1e-4, momentum: 1.0 }),
  bn_eps_big: () => new nn.BatchNorm2d(3, { eps: 0.00015, momentum: null, affine: false }),
  bn_no_bias: () => new nn.BatchNorm2d(5, { bias: false, trackRunningStats: false }),
  relu: () => new nn.ReLU(),
  relu_inplace: () => new nn.ReLU({ inplace: true }),
  sigmoid: () => new nn.Sigmoid(),
  tanh: () => new nn.Tanh(),
  maxpool_int: () => new nn.MaxPool2d(2),
  maxpool_stride: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
  maxpool_tuple: () => new nn.MaxPool2d([2, 3], { stride: [1, 2], padding: [1, 1], dilation: [2, 1], ceilMode: true }),
  avgpool_int: () => new nn.AvgPool2d(8),
  avgpool_tuple: () => new nn.AvgPool2d([2, 2], { stride: [1, 1], padding: [0, 1], ceilMode: true, countIncludePad: false }),
  adaptive_tuple: () => new nn.AdaptiveAvgPool2d([1, 1]),
  adaptive_int: () => new nn.AdaptiveAvgPool2d(7),
  adaptive_rect: () => new nn.AdaptiveAvgPool2d([2, 3]),
  linear: () => new nn.Linear(2048, 10),
  linear_nobias: () => new nn.Linear(8, 4, { bias: false }),
  flatten: () => new nn.Flatten(),
  flatten_dims: () => new nn.Flatten({ startDim: 0, endDim: 2 }),
  cross_entropy: () => new nn.CrossEntropyLoss({ reduction: 'sum', ignoreIndex: 3, labelSmoothing: 0.2 }),
  sequential_empty: () => new nn.Sequential(),
}

const withModel = <T>(name: string, f: (model: ft.nn.Module) => T): T => {
  const model = models[name]()
  try {
    return f(model)
  } finally {
    model.dispose()
  }
}

// ------------------------------------------------------------------------------------- tests

describe('models match PyTorch', () => {
  it('covers every model and layer of the fixture', () => {
    expect(Object.keys(models).sort()).toEqual(Object.keys(fixture.models).sort())
    expect(Object.keys(layers).sort()).toEqual(Object.keys(fixture.layers).sort())
  })

  for (const name of Object.keys(fixture.models)) {
    describe(name, () => {
      const want = fixture.models[name]

      it('prints as PyTorch does', () => {
        withModel(name, (model) => {
          expect(String(model)).toBe(want.repr)
          expect(inspect(model)).toBe(want.repr)
        })
      })

      it('has the state-dict keys, shapes and dtypes in PyTorch order', () => {
        withModel(name, (model) => {
          const sd = model.stateDict()
          expect(Object.entries(sd).map(([k, t]) => [k, t.shape, t.dtype])).toEqual(want.state_dict)
          for (const t of Object.values(sd)) {
            expect(t.requiresGrad).toBe(false)
            t.dispose()
          }
        })
      })

      it('lists parameters, buffers and modules in PyTorch order', () => {
        withModel(name, (model) => {
          expect(model.namedParameters().map(([k]) => k)).toEqual(want.named_parameters)
          expect(model.namedBuffers().map(([k]) => k)).toEqual(want.named_buffers)
          expect(model.namedModules().map(([k, m]) => [k, m.constructor.name])).toEqual(want.named_modules)
          const count = model.parameters().reduce((n, p) => n + p.numel(), 0)
          expect(count).toBe(want.num_parameters)
          expect(model.parameters().every((p) => p instanceof nn.Parameter && p.requiresGrad && p.isLeaf)).toBe(true)
        })
      })
    })
  }

  for (const [name, text] of Object.entries(fixture.layers)) {
    it(`prints ${name} as ${text}`, () => {
      const layer = layers[name]()
      expect(String(layer)).toBe(text)
      layer.dispose()
    })
  }
})

describe('registration', () => {
  class Custom extends nn.Module {
    zeta = new nn.Linear(2, 3)
    alpha = new nn.Parameter(ft.zeros([4]))
    cache = ft.ones([2]) // a plain tensor is not state, as in PyTorch
    count = new nn.Buffer(ft.zeros([], { dtype: 'int64' }))
    scratch = new nn.Buffer(ft.zeros([3]), { persistent: false })
    beta = this.registerParameter('beta_weight', new nn.Parameter(ft.ones([1])))
    gamma: ft.nn.Module | null = null
    mid = new nn.ReLU()

    constructor() {
      super()
      this.registerBuffer('running_total', ft.zeros([2]))
    }

    forward(x: ft.Tensor): ft.Tensor {
      return x
    }
  }

  it('follows definition order, with explicit names where given', () => {
    const m = new Custom()
    expect(m.namedParameters().map(([k]) => k)).toEqual(['alpha', 'beta_weight', 'zeta.weight', 'zeta.bias'])
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['count', 'scratch', 'running_total'])
    expect(Object.keys(m.stateDict())).toEqual(['alpha', 'beta_weight', 'count', 'running_total', 'zeta.weight', 'zeta.bias'])
    expect(m.namedChildren().map(([k]) => k)).toEqual(['zeta', 'mid'])
    expect(m.beta).toBe(m.getParameter('beta_weight'))
    expect(m.getBuffer('running_total').shape).toEqual([2])
    expect(m.getParameter('zeta.weight')).toBe((m.zeta as ft.nn.Linear).weight)
  })

  it('reads fields live: reassigning replaces, null prints None, new fields are appended', () => {
    const m = new Custom()
    const replacement = new nn.Linear(2, 5, { bias: false })
    m.zeta = replacement
    m.gamma = new nn.Tanh()
    const children = m.namedChildren()
    expect(children.map(([k]) => k)).toEqual(['zeta', 'mid', 'gamma'])
    expect(children[0][1]).toBe(replacement)
    expect(m.namedParameters().map(([k]) => k)).toEqual(['alpha', 'beta_weight', 'zeta.weight'])
    ;(m as { mid: ft.nn.Module | null }).mid = null
    expect(String(m)).toBe(
      'Custom(\n  (zeta): Linear(in_features=2, out_features=5, bias=False)\n  (mid): None\n  (gamma): Tanh()\n)',
    )
  })

  it('refuses bad names and values with typed errors', () => {
    const m = new Custom()
    expect(thrown(() => m.registerParameter('a.b', new nn.Parameter(ft.zeros([1])))).code).toBe('InvalidArgument')
    expect(thrown(() => m.registerBuffer('', ft.zeros([1]))).code).toBe('InvalidArgument')
    const e = thrown(() => m.registerParameter('plain', ft.zeros([1]) as ft.nn.Parameter))
    expect(e.message).toBe("registerParameter: cannot assign Tensor to parameter 'plain' (nn.Parameter or null required)")
    expect(thrown(() => m.registerModule('zeta', {} as ft.nn.Module)).code).toBe('InvalidArgument')
    expect(thrown(() => m.registerBuffer('alpha', ft.zeros([1]))).message).toBe("registerBuffer: 'alpha' is already registered as a parameter")
    expect(thrown(() => m.getSubmodule('zeta.nope')).message).toBe("getSubmodule: Linear has no submodule 'nope' (looking up 'zeta.nope')")
    expect(thrown(() => m.getParameter('zeta.scale')).code).toBe('InvalidArgument')
  })

  it('Parameter is a new leaf that requires grad and shares storage with its data', () => {
    const data = ft.zeros([2, 2])
    const p = new nn.Parameter(data)
    expect(p).toBeInstanceOf(ft.Tensor)
    expect([p.requiresGrad, p.isLeaf, data.requiresGrad]).toEqual([true, true, false])
    data.copy_(ft.ones([2, 2]))
    expect(valuesOf(p)).toEqual([1, 1, 1, 1])
    expect(String(p)).toBe('Parameter containing:\ntensor([[1., 1.],\n        [1., 1.]], requires_grad=True)')
    expect(new nn.Parameter(data, { requiresGrad: false }).requiresGrad).toBe(false)
    expect(thrown(() => new nn.Parameter([1, 2] as unknown as ft.Tensor)).code).toBe('InvalidArgument')
  })

  it('apply visits children first, then the module', () => {
    const model = new MyCNN(8, 2)
    const seen: string[] = []
    model.apply((m) => seen.push(m.constructor.name))
    expect(seen).toEqual(['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'Sequential', 'Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'Sequential', 'Linear', 'MyCNN'])
    model.apply((m) => {
      if (m instanceof nn.Linear) nn.init.zeros_(m.weight)
    })
    expect(valuesOf(model.fc.weight).every((v) => v === 0)).toBe(true)
  })
})

describe('Sequential', () => {
  it('indexes, iterates and appends', () => {
    const a = new nn.ReLU()
    const b = new nn.Tanh()
    const seq = new nn.Sequential(a, b)
    expect([seq.length, seq.at(0), seq.at(1), seq.at(-1)]).toEqual([2, a, b, b])
    expect([...seq]).toEqual([a, b])
    const e = thrown(() => seq.at(2))
    expect(e.code).toBe('IndexOutOfRange')
    expect(e.message).toBe('Sequential.at: index 2 is out of range for a Sequential of length 2')
    seq.append(new nn.Sigmoid())
    expect(seq.namedChildren().map(([k]) => k)).toEqual(['0', '1', '2'])
    using x = ft.tensor([-1, 0, 2])
    using y = seq.forward(x)
    const want = [-1, 0, 2].map((v) => 1 / (1 + Math.exp(-Math.tanh(Math.max(v, 0)))))
    valuesOf(y).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6))
  })
})

describe('modes and gradients', () => {
  it('train() and eval() set every descendant', () => {
    const model = new ResNet(ResidualBlock, [1, 1, 1])
    expect(model.modules().every((m) => m.training)).toBe(true)
    expect(model.eval()).toBe(model)
    expect(model.modules().every((m) => !m.training)).toBe(true)
    model.layer2.train()
    expect(model.modules().filter((m) => m.training).length).toBe(model.layer2.modules().length)
    model.train()
    expect(model.modules().every((m) => m.training)).toBe(true)
    model.dispose()
  })

  it('zeroGrad sets gradients to null (or to zeros on request)', () => {
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2))
    const backward = () => {
      using x = ft.tensor([[1, -2, 3], [0.5, 1, -1]])
      using y = model.forward(x) as ft.Tensor
      using loss = y.sum()
      loss.backward()
    }
    backward()
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true)
    model.zeroGrad()
    expect(model.parameters().every((p) => p.grad === null)).toBe(true)
    backward()
    model.zeroGrad({ setToNone: false })
    for (const p of model.parameters()) {
      expect(p.grad?.shape).toEqual(p.shape)
      expect(valuesOf(p.grad!).every((v) => v === 0)).toBe(true)
    }
  })
})

describe('loadStateDict', () => {
  it('copies in place, keeping the parameter objects', () => {
    const source = new MyCNN(32, 10)
    const target = new MyCNN(32, 10)
    const params = target.parameters()
    const result = target.loadStateDict(source.stateDict())
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] })
    params.forEach((p, i) => expect(p).toBe(target.parameters()[i]))
    const want = source.stateDict()
    for (const [key, t] of Object.entries(target.stateDict())) expect(valuesOf(t), key).toEqual(valuesOf(want[key]))
    expect(target.parameters().every((p) => p.requiresGrad)).toBe(true)
  })

  it('strict mode names the missing and unexpected keys', () => {
    const model = new MyCNN(32, 10)
    const sd = model.stateDict()
    delete sd['fc.weight']
    delete sd['conv1.1.num_batches_tracked']
    sd['fc2.weight'] = ft.zeros([1])
    const e = thrown(() => model.loadStateDict(sd))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe(
      'loadStateDict: Error(s) in loading state_dict for MyCNN:\n' +
        '\tMissing key(s) in state_dict: "conv1.1.num_batches_tracked", "fc.weight".\n' +
        '\tUnexpected key(s) in state_dict: "fc2.weight".',
    )
    expect(model.loadStateDict(sd, { strict: false })).toEqual({
      missingKeys: ['conv1.1.num_batches_tracked', 'fc.weight'],
      unexpectedKeys: ['fc2.weight'],
    })
  })

  it('a size mismatch throws naming the key and both shapes, and changes nothing', () => {
    const model = new MyCNN(32, 10)
    const before = valuesOf(model.conv1.at(0).stateDict().weight)
    const checkpoint = new MyCNN(16, 10).stateDict()
    for (const strict of [true, false]) {
      const e = thrown(() => model.loadStateDict(checkpoint, { strict }))
      expect(e).toBeInstanceOf(ft.ShapeMismatchError)
      expect(e.message).toBe(
        'loadStateDict: Error(s) in loading state_dict for MyCNN:\n' +
          '\tsize mismatch for fc.weight: copying a param with shape [10, 512] from checkpoint, the shape in current model is [10, 2048].',
      )
    }
    expect(valuesOf(model.conv1.at(0).stateDict().weight)).toEqual(before)
    expect(thrown(() => model.loadStateDict({ ...checkpoint, 'fc.weight': 3 as unknown as ft.Tensor })).code).toBe('InvalidArgument')
  })
})

describe('initialisation', () => {
  beforeEach(() => ft.manualSeed(25))

  it('Conv2d and Linear draw from U(-1/sqrt(fan_in), 1/sqrt(fan_in))', () => {
    const cases: [ft.nn.Conv2d | ft.nn.Linear, number][] = [
      [new nn.Conv2d(16, 64, 3), 16 * 9],
      [new nn.Conv2d(8, 32, [1, 5], { groups: 4 }), 2 * 5],
      [new nn.Linear(2048, 10), 2048],
    ]
    for (const [layer, fanIn] of cases) {
      const bound = 1 / Math.sqrt(fanIn)
      for (const t of [layer.weight, layer.bias!]) expectSampleOf(t, uniform(-bound, bound))
      layer.dispose()
    }
  })

  it('BatchNorm2d starts as the identity with fresh statistics', () => {
    const bn = new nn.BatchNorm2d(3)
    expect(valuesOf(bn.weight!)).toEqual([1, 1, 1])
    expect(valuesOf(bn.bias!)).toEqual([0, 0, 0])
    expect(valuesOf(bn.runningMean!)).toEqual([0, 0, 0])
    expect(valuesOf(bn.runningVar!)).toEqual([1, 1, 1])
    expect([bn.numBatchesTracked!.shape, bn.numBatchesTracked!.dtype, bn.numBatchesTracked!.item()]).toEqual([[], 'int64', 0])
    expect(bn.runningMean).toBe(bn.getBuffer('running_mean'))
  })

  it('nn.init fills in place and returns the tensor', () => {
    // fan_in 50 and fan_out 400: a fill from the wrong fan is far from the right distribution.
    const t = new nn.Parameter(ft.zeros([400, 50]))
    expect(nn.init.uniform_(t, -2, 3)).toBe(t)
    expectSampleOf(t, uniform(-2, 3))
    // gain sqrt(2) for a = 0 and for relu, times sqrt(3 / fan).
    expect(nn.init.kaimingUniform_(t)).toBe(t)
    expectSampleOf(t, uniform(-Math.sqrt(6 / 50), Math.sqrt(6 / 50)))
    nn.init.kaimingUniform_(t, { mode: 'fan_out', nonlinearity: 'relu' })
    expectSampleOf(t, uniform(-Math.sqrt(6 / 400), Math.sqrt(6 / 400)))
    expect(nn.init.kaimingNormal_(t, { mode: 'fan_out' })).toBe(t)
    expectSampleOf(t, normal(0, Math.sqrt(2 / 400)))
    expect(valuesOf(nn.init.constant_(t, 0.25)).every((v) => v === 0.25)).toBe(true)
    expect(valuesOf(nn.init.ones_(t)).every((v) => v === 1)).toBe(true)
    expect(valuesOf(nn.init.zeros_(t)).every((v) => v === 0)).toBe(true)
    expect(t.requiresGrad).toBe(true)
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12)
    expect(nn.init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12)
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12)
    expect(thrown(() => nn.init.kaimingUniform_(ft.zeros([3]))).code).toBe('InvalidArgument')
  })
})

describe('layers', () => {
  it('BatchNorm2d counts training batches and checks its input', () => {
    const bn = new nn.BatchNorm2d(2, { momentum: null })
    using a = ft.randn([4, 2, 3, 3])
    using b = ft.randn([4, 2, 3, 3]).add(2)
    bn.forward(a).dispose()
    bn.forward(b).dispose()
    expect(bn.numBatchesTracked!.item()).toBe(2)
    // momentum null: the running mean is the plain average of the batch means.
    using meanA = a.mean([0, 2, 3])
    using meanB = b.mean([0, 2, 3])
    using want = meanA.add(meanB).div(2)
    expectClose(bn.runningMean!, { shape: [2], dtype: 'float32', data: valuesOf(want) }, { rtol: 1e-5, atol: 1e-6 })
    bn.eval()
    bn.forward(a).dispose()
    expect(bn.numBatchesTracked!.item()).toBe(2)
    const e = thrown(() => bn.forward(ft.zeros([2, 3])))
    expect(e.code).toBe('ShapeMismatch')
    expect(e.message).toBe('BatchNorm2d: expected 4D input (got 2D input)')
  })

  it('constructors check their arguments', () => {
    expect(thrown(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).message).toBe(
      'Conv2d: inChannels (3) and outChannels (4) must both be divisible by groups (2)',
    )
    expect(thrown(() => new nn.Conv2d(3, 4, 0)).message).toBe('Conv2d: kernelSize must be an integer >= 1, got number 0')
    expect(thrown(() => new nn.MaxPool2d([2, 2, 2] as unknown as number)).code).toBe('InvalidArgument')
    expect(thrown(() => new nn.Linear(2.5, 3)).code).toBe('InvalidArgument')
    expect(thrown(() => new nn.BatchNorm2d(0)).code).toBe('InvalidArgument')
  })

  it('Flatten and the tutorial model give the expected shapes', () => {
    using x = ft.randn([2, 3, 4, 5])
    using flat = new nn.Flatten().forward(x)
    expect(flat.shape).toEqual([2, 60])
    const model = new MyCNN(32, 10)
    using images = ft.randn([2, 3, 32, 32])
    using logits = model.forward(images)
    expect(logits.shape).toEqual([2, 10])
    using labels = ft.tensor([3, 7], { dtype: 'int64' })
    using loss = new nn.CrossEntropyLoss().forward(logits, labels)
    expect(loss.shape).toEqual([])
    model.dispose()
    const vgg = new VGG('VGG11', { numClasses: 100 })
    expect(String(vgg.classifier)).toBe('Linear(in_features=512, out_features=100, bias=True)')
    expect(Object.keys(vgg.stateDict()).at(-1)).toBe('classifier.bias')
    vgg.dispose()
  })
})

describe('forward with PyTorch weights', () => {
  const load = () => {
    const model = new Small()
    const sd = ft.load(SMALL_WEIGHTS)
    expect(model.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] })
    return model
  }

  it('evaluation mode matches PyTorch, loss included', () => {
    const model = load().eval()
    using x = makeTensor(forwardFixture.input)
    using y = model.forward(x)
    expectClose(y, forwardFixture.eval_output, { rtol: 1e-4, atol: 1e-5, label: 'eval output' })
    using targets = makeTensor(forwardFixture.targets)
    using loss = new nn.CrossEntropyLoss().forward(y, targets)
    expect(loss.item()).toBeCloseTo(forwardFixture.loss, 4)
    using smoothed = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 }).forward(y, targets)
    expect(smoothed.item()).toBeCloseTo(forwardFixture.loss_label_smoothing_0_1, 4)
  })

  it('training mode matches PyTorch and updates the running statistics as it does', () => {
    const model = load().train()
    using x = makeTensor(forwardFixture.input)
    using y = model.forward(x)
    expectClose(y, forwardFixture.train_output, { rtol: 1e-4, atol: 1e-5, label: 'train output' })
    const sd = model.stateDict()
    for (const [key, want] of Object.entries(forwardFixture.after_train)) {
      expectClose(sd[key], want, { rtol: 1e-4, atol: 1e-6, label: key })
    }
  })
})

describe('devices and memory', () => {
  it("to('cpu') keeps the same tensors; CUDA is refused without a CUDA build", () => {
    const model = new MyCNN(8, 2)
    const before = model.parameters()
    expect(model.to('cpu')).toBe(model)
    model.parameters().forEach((p, i) => expect(p).toBe(before[i]))
    expect(thrown(() => model.to('cuda')).code).toBe('DeviceUnavailable')
  })

  it('dispose() frees every parameter and buffer at once', async () => {
    // Let finalizers of earlier tests' garbage run first, so that only this model's bytes move.
    for (let i = 0; i < 3; i++) {
      ;(globalThis.gc as () => void)()
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const before = ft.memory().bytes
    const model = new ResNet(ResidualBlock, [1, 1, 1])
    const state = [...model.parameters(), ...model.buffers()]
    const stateBytes = state.reduce((n, t) => n + t.numel() * (t.dtype === 'int64' ? 8 : 4), 0)
    expect(ft.memory().bytes - before).toBe(stateBytes)
    model.dispose()
    expect(ft.memory().bytes).toBe(before)
    expect(state.every((t) => t.isDisposed)).toBe(true)
  })
})
