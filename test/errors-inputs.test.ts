// Bad inputs that used to pass silently, or fail with a raw JS or Node error, each throw a typed
// FerriteError whose message names what was wrong and what was expected: checkpoint metadata,
// optimizer hyper-parameters, model sizes, dataset items, save metadata, state dicts, `to`,
// mixed booleans and numbers, and link loops in image folders.
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

/** The FerriteError that `promise` rejects with. */
async function rejected(promise: Promise<unknown>): Promise<ft.FerriteError> {
  try {
    await promise
  } catch (e) {
    expect(e).toBeInstanceOf(ft.FerriteError)
    return e as ft.FerriteError
  }
  throw new Error('expected a FerriteError, but nothing was thrown')
}

describe('checkpoint metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferrite-checkpoint-'))
  const good = join(dir, 'good.safetensors')
  const setup = () => {
    ft.manualSeed(0)
    const model = new ft.nn.Linear(2, 2)
    const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.01 })
    const scheduler = new ft.optim.StepLR(optimizer, { stepSize: 1 })
    return { model, optimizer, scheduler }
  }

  beforeAll(() => {
    const { model, optimizer, scheduler } = setup()
    model.forward(ft.ones([1, 2])).sum().backward()
    optimizer.step()
    const history = { trainLoss: [0.5], testAccuracy: [0.25], epochSeconds: [1], imagesPerSecond: [2] }
    ft.saveCheckpoint(good, { model, optimizer, scheduler, epoch: 1, history, loader: { epoch: 1, seed: 3 } })
  })

  /** A copy of the good checkpoint with its metadata changed by `edit`. */
  function edited(name: string, edit: (meta: Record<string, string>) => void, tensors = ft.load(good)): string {
    const meta = ft.loadMetadata(good)
    edit(meta)
    const path = join(dir, `${name}.safetensors`)
    ft.save(tensors, path, { metadata: meta })
    for (const t of Object.values(tensors)) t.dispose()
    return path
  }

  it('restores a good checkpoint', () => {
    const { model, optimizer, scheduler } = setup()
    const restored = ft.loadCheckpoint(good, model, optimizer, scheduler)
    expect(restored.epoch).toBe(1)
    expect(restored.loader).toEqual({ epoch: 1, seed: 3 })
    expect(restored.history.trainLoss).toEqual([0.5])
  })

  it.each([
    ['epoch', (m: Record<string, string>) => (m.epoch = 'abc'), `metadata field 'epoch' must hold a non-negative integer, got "abc"`],
    ['epoch', (m: Record<string, string>) => delete m.epoch, `metadata field 'epoch' must hold a non-negative integer, got nothing`],
    ['optimizer', (m: Record<string, string>) => (m.optimizer = '{"param_groups": ['), `metadata field 'optimizer' must hold JSON, got "{\\"param_groups\\": ["`],
    ['optimizer', (m: Record<string, string>) => (m.optimizer = '{"param_groups": 3, "scalars": {}}'), `metadata field 'optimizer' must hold an object { param_groups, scalars }`],
    ['loader', (m: Record<string, string>) => (m.loader = '{"epoch": -1, "seed": 0}'), `metadata field 'loader' must hold an object { epoch, seed } of non-negative integers`],
    ['history', (m: Record<string, string>) => (m.history = '{"trainLoss": "low"}'), `metadata field 'history' must hold an object of number arrays`],
    ['history', (m: Record<string, string>) => (m.epoch = '7'), `metadata field 'history' must hold 7 epochs of trainLoss, as field 'epoch' says`],
    ['rngState', (m: Record<string, string>) => (m.rngState = 'zz'), `metadata field 'rngState' must hold `],
    ['scheduler', (m: Record<string, string>) => (m.scheduler = '{"lastEpoch": "one"}'), `metadata field 'scheduler' must hold null or an object { lastEpoch }`],
    ['format', (m: Record<string, string>) => (m.format = 'pt'), `is not a Ferrite checkpoint (format pt; expected ferrite-checkpoint-2 or ferrite-checkpoint-3 or ferrite-checkpoint-4)`],
  ])("a bad '%s' field is an IoError naming the file and the field", (field, edit, message) => {
    const path = edited(`bad-${field}`, edit)
    const { model, optimizer, scheduler } = setup()
    const before = model.weight.toArray()
    const e = thrown(() => ft.loadCheckpoint(path, model, optimizer, scheduler))
    expect(e).toBeInstanceOf(ft.IoError)
    expect(e.message).toContain(`loadCheckpoint: ${path}`)
    expect(e.message).toContain(message)
    // Nothing is restored from a checkpoint whose metadata is bad.
    expect(model.weight.toArray()).toEqual(before)
  })

  it('names the field when the saved hyper-parameters are invalid', () => {
    const path = edited('bad-lr', (m) => (m.optimizer = m.optimizer.replace('"lr":0.01', '"lr":"abc"')))
    const { model, optimizer } = setup()
    const e = thrown(() => ft.loadCheckpoint(path, model, optimizer))
    expect(e).toBeInstanceOf(ft.IoError)
    expect(e.message).toContain(`loadCheckpoint: ${path}: metadata field 'optimizer' does not fit this optimizer`)
    expect(e.message).toContain('Invalid learning rate: string abc')
    expect(optimizer.paramGroups[0].lr).toBe(0.01)
  })

  it('names a tensor that is neither model nor optimizer state', () => {
    const tensors = ft.load(good)
    tensors['optimizer.x'] = ft.zeros([1])
    const path = edited('bad-tensor', () => {}, tensors)
    const { model, optimizer } = setup()
    const e = thrown(() => ft.loadCheckpoint(path, model, optimizer))
    expect(e.code).toBe('Io')
    expect(e.message).toContain(`${path}: unexpected tensor 'optimizer.x'`)
  })

  it('reads back a diverged (NaN) loss, which JSON writes as null', () => {
    const path = edited('nan-loss', (m) => (m.history = m.history.replace('"trainLoss":[0.5]', '"trainLoss":[null]')))
    const { model, optimizer } = setup()
    expect(ft.loadCheckpoint(path, model, optimizer).history.trainLoss).toEqual([NaN])
  })

  it('fit with resume fails on a bad epoch instead of resuming after epoch NaN', async () => {
    const path = edited('bad-epoch-fit', (m) => (m.epoch = 'abc'))
    const { model, optimizer } = setup()
    class Points extends ft.data.Dataset {
      get length() {
        return 2
      }
      get(i: number): ft.data.Item {
        return [ft.full([2], i), i]
      }
    }
    const trainLoader = new ft.data.DataLoader(new Points(), { batchSize: 2 })
    const lines: string[] = []
    const e = await rejected(ft.fit(model, { epochs: 2, optimizer, trainLoader, checkpoint: path, resume: true, log: (l) => lines.push(l), progress: false }))
    expect(e.code).toBe('Io')
    expect(e.message).toContain(`${path}: metadata field 'epoch'`)
    expect(lines).toEqual([])
  })
})

describe('optimizer hyper-parameters are checked like PyTorch checks them', () => {
  const params = () => [ft.zeros([2]).requiresGrad_()]
  it.each([
    ['Adam lr -1', () => new ft.optim.Adam(params(), { lr: -1 }), 'Adam: Invalid learning rate: -1 (expected a number >= 0)'],
    ['SGD lr NaN', () => new ft.optim.SGD(params(), { lr: NaN }), 'SGD: Invalid learning rate: NaN'],
    ['SGD lr Infinity', () => new ft.optim.SGD(params(), { lr: Infinity }), 'SGD: Invalid learning rate: Infinity'],
    ['Adam betas [2, 3]', () => new ft.optim.Adam(params(), { betas: [2, 3] }), 'Adam: Invalid beta parameter at index 0: 2 (expected a number in [0, 1))'],
    ['Adam beta2 1', () => new ft.optim.Adam(params(), { betas: [0.9, 1] }), 'Adam: Invalid beta parameter at index 1: 1'],
    ['Adam betas 0.9', () => new ft.optim.Adam(params(), { betas: 0.9 as never }), 'Adam: betas must be a pair of numbers, got number 0.9'],
    ['Adam eps -1e-8', () => new ft.optim.Adam(params(), { eps: -1e-8 }), 'Adam: Invalid epsilon value: -1e-8'],
    ['AdamW weightDecay -1', () => new ft.optim.AdamW(params(), { weightDecay: -1 }), 'AdamW: Invalid weightDecay value: -1'],
    ['Adam amsgrad 1', () => new ft.optim.Adam(params(), { amsgrad: 1 as never }), 'Adam: amsgrad must be true or false, got number 1'],
    ['SGD momentum -1', () => new ft.optim.SGD(params(), { momentum: -1 }), 'SGD: Invalid momentum value: -1'],
    ['SGD lr "0.1"', () => new ft.optim.SGD(params(), { lr: '0.1' as never }), 'SGD: Invalid learning rate: string 0.1'],
    ['SGD nesterov', () => new ft.optim.SGD(params(), { nesterov: true }), 'SGD: Nesterov momentum requires a momentum and zero dampening'],
    ['a group', () => new ft.optim.SGD([{ params: params() }, { params: params(), lr: -2 }]), 'SGD: parameter group 1: Invalid learning rate: -2'],
  ])('%s', (_, make, message) => {
    const e = thrown(make)
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toContain(message)
  })

  it('loadStateDict checks the saved hyper-parameters before changing anything', () => {
    const optimizer = new ft.optim.Adam(params(), { lr: 0.5 })
    const state = optimizer.stateDict()
    state.param_groups[0].betas = [0.9, 2]
    const e = thrown(() => optimizer.loadStateDict(state))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe('loadStateDict: Adam parameter group 0: Invalid beta parameter at index 1: 2 (expected a number in [0, 1))')
    expect(optimizer.paramGroups[0].betas).toEqual([0.9, 0.999])
  })
})

describe('model sizes', () => {
  it.each([
    ['MyCNN(-4)', () => new ft.models.MyCNN(-4), 'MyCNN: imageSize must be an integer >= 4, got number -4'],
    ['MyCNN(32, 0)', () => new ft.models.MyCNN(32, 0), 'MyCNN: numClasses must be an integer >= 1, got number 0'],
    ['MyCNN(32.5)', () => new ft.models.MyCNN(32.5), 'MyCNN: imageSize must be an integer >= 4, got number 32.5'],
    ['ResNet layers [2, 0, 2]', () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 0, 2]), 'ResNet: layers[1] must be an integer >= 1, got number 0'],
    ['ResNet layers [2, 2]', () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 2]), 'ResNet: layers must be three block counts, one per stage, got [2, 2]'],
    ['ResNet numClasses -1', () => new ft.models.ResNet(ft.models.ResidualBlock, [1, 1, 1], -1), 'ResNet: numClasses must be an integer >= 1, got number -1'],
    ['seResNet numClasses 0', () => ft.models.seResNet([1, 1, 1], 0), 'ResNet: numClasses must be an integer >= 1, got number 0'],
    ['SELayer reduction 0', () => new ft.models.SELayer(16, 0), 'SELayer: reduction must be an integer >= 1, got number 0'],
    ['VGG numClasses 0', () => new ft.models.VGG('VGG11', { numClasses: 0 }), 'VGG: numClasses must be an integer >= 1, got number 0'],
    ['VGG toString', () => new ft.models.VGG('toString' as never), "VGG: unknown configuration 'toString'; expected one of VGG11, VGG13, VGG16, VGG19"],
    ['VGG 11', () => new ft.models.VGG(11 as never), "VGG: cfg must be a configuration name or an array of channel counts and 'M', got number 11"],
  ])('%s', (_, make, message) => {
    const e = thrown(make)
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe(message)
  })
})

describe('items of a custom Dataset', () => {
  class Items extends ft.data.Dataset {
    constructor(private readonly item: (i: number) => unknown) {
      super()
    }
    get length() {
      return 3
    }
    get(i: number): ft.data.Item {
      return this.item(i) as ft.data.Item
    }
  }
  const firstBatch = async (dataset: ft.data.Dataset) => {
    for await (const batch of new ft.data.DataLoader(dataset, { batchSize: 3 })) return batch
  }

  it.each([
    ['an array', (i: number) => [i, i], 'Items.get(0) returned [number 0, number 0]; expected [input: Tensor, label: integer]'],
    ['a bare tensor', () => ft.zeros([2]), 'Items.get(0) returned Tensor; expected [input: Tensor, label: integer]'],
    ['a label of 1.5', (i: number) => [ft.zeros([2]), i === 1 ? 1.5 : 0], 'Items.get(1) returned the label number 1.5; expected an integer class index'],
    ['a label that is a string', (i: number) => [ft.zeros([2]), String(i)], "Items.get(0) returned the label string 0; expected an integer class index"],
  ])('%s is an InvalidArgumentError naming the index', async (_, item, message) => {
    const before = ft.memory().tensors
    const e = await rejected(firstBatch(new Items(item)))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe(message)
    // The inputs already fetched are released.
    expect(ft.memory().tensors).toBe(before)
  })

  it('still batches good items', async () => {
    const [x, y] = (await firstBatch(new Items((i) => [ft.full([2], i), i])))!
    expect(x.toArray()).toEqual([[0, 0], [1, 1], [2, 2]])
    expect(y.toArray()).toEqual([0, 1, 2])
  })
})

describe('other inputs', () => {
  it('save rejects metadata values that are not strings, naming the key', () => {
    const e = thrown(() => ft.save({ a: ft.zeros([1]) }, join(tmpdir(), 'ferrite-never-written.safetensors'), { metadata: { epoch: 3 as never } }))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe("save: metadata values must be strings, got number 3 for key 'epoch'")
  })

  it.each([
    ['null', null, 'null'],
    ['a tensor', ft.zeros([1]), 'Tensor'],
    ['an array', [], 'an array'],
  ])('loadStateDict(%s) says a state dict is expected', (_, value, got) => {
    const e = thrown(() => new ft.nn.Linear(2, 2).loadStateDict(value as never))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe(`loadStateDict: expected a state dict (an object of name to Tensor, as stateDict() and ft.load return), got ${got}`)
  })

  it("to('float16') names the dtypes and devices there are", () => {
    const e = thrown(() => ft.zeros([1]).to('float16' as never))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toBe("to: 'float16' is neither a dtype Ferrite has (float32, bfloat16, int64, bool) nor a device ('cpu', 'cuda' or 'cuda:N')")
    expect(thrown(() => ft.zeros([1]).to('cuda:x' as never)).message).toContain("unknown device 'cuda:x'")
  })

  it('booleans mixed with numbers make a number tensor, as torch.tensor([True, 2]) does', () => {
    // torch.tensor([True, 2]) -> tensor([1, 2]); Ferrite's numbers are float32.
    const mixed = ft.tensor([true, 2] as never)
    expect(mixed.dtype).toBe('float32')
    expect(mixed.toArray()).toEqual([1, 2])
    expect(ft.tensor([[true], [2.5]] as never).toArray()).toEqual([[1], [2.5]])
    expect(ft.tensor([[true, false], [false, true]]).dtype).toBe('bool')
  })
})

describe('ImageFolder with link loops', () => {
  it('skips a looping link that is not an image, like os.walk, and names one that is', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-link-loop-'))
    for (const name of ['cat', 'dog']) {
      mkdirSync(join(root, name))
      using image = ft.full([3, 4, 4], 10)
      ft.vision.writeImage(image, join(root, name, '0.png'))
    }
    symlinkSync('loop', join(root, 'cat', 'loop'))
    symlinkSync('loop', join(root, 'loop'))
    expect(new ft.data.ImageFolder(root).samples.map(([p]) => p)).toEqual([join(root, 'cat', '0.png'), join(root, 'dog', '0.png')])
    symlinkSync('b.png', join(root, 'dog', 'a.png'))
    symlinkSync('a.png', join(root, 'dog', 'b.png'))
    const looping = join(root, 'dog', 'a.png')
    const eager = thrown(() => new ft.data.ImageFolder(root, { lazy: false }))
    expect(eager.code).toBe('Io')
    expect(eager.message).toContain(looping)
    // A lazy folder lists the file and fails when it is decoded, as torchvision's does in __getitem__.
    const lazy = new ft.data.ImageFolder(root)
    const e = thrown(() => lazy.get(lazy.samples.findIndex(([p]) => p === looping)))
    expect(e.code).toBe('Io')
    expect(e.message).toContain(looping)
  })
})
