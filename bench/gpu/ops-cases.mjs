// The op cases bench/gpu/ops.mjs runs on the CPU and on the device under test. A case names its
// op (the row of the report), its inputs (built from the same seeded values on both devices;
// `view` turns the leaf into a non-contiguous or broadcast operand there) and `run`, which maps
// the operands to a tensor, a list of tensors or { values, indices }. Gradients are those of
// sum(out_k * R_k) over the float outputs that require grad, for every input with `grad`.
import * as ft from 'ferrite-ml'

const F = ft.functional

/** A float32 input of uniform values in [lo, hi), a leaf that requires grad unless `grad: false`. */
export const f = (shape, { lo = -1, hi = 1, grad = true, view } = {}) => ({ shape, dtype: 'float32', lo, hi, grad, view })
/** An int64 input of uniform integers in [lo, hi) (class targets), never requiring grad. */
export const int = (shape, lo, hi) => ({ shape, dtype: 'int64', lo, hi, grad: false })

const T01 = (t) => t.transpose(0, 1)
const Tlast = (t) => t.transpose(-1, -2)

function elementwise() {
  const cases = []
  const binary = {
    add: (a, b) => a.add(b),
    sub: (a, b) => a.sub(b),
    mul: (a, b) => a.mul(b),
    div: (a, b) => a.div(b),
    maximum: (a, b) => a.maximum(b),
    minimum: (a, b) => a.minimum(b),
  }
  const shapes = [
    ['1', [1], [1]],
    ['7', [7], [7]],
    ['257', [257], [257]],
    ['1031x3', [1031, 3], [1031, 3]],
    ['broadcast [4,1,5]*[3,1]', [4, 1, 5], [3, 1]],
    ['broadcast [33,1]*[1,17]', [33, 1], [1, 17]],
    ['scalar-shaped [] * [6,5]', [], [6, 5]],
  ]
  for (const [op, run] of Object.entries(binary)) {
    const b = op === 'div' ? { lo: 0.5, hi: 2 } : {}
    for (const [label, sa, sb] of shapes) cases.push({ op, name: `${op} ${label}`, inputs: [f(sa), f(sb, b)], run })
    cases.push({ op, name: `${op} transposed [9,13]^T and [13,9]`, inputs: [f([9, 13], { view: T01 }), f([13, 9], b)], run })
    cases.push({ op, name: `${op} expanded [5,1]->[5,8] and narrowed`, inputs: [f([5, 1], { view: (t) => t.expand([5, 8]) }), f([5, 10], { ...b, view: (t) => t.narrow(1, 1, 8) })], run })
    cases.push({ op, name: `${op} with a number`, inputs: [f([3, 65])], run: (a) => run(a, op === 'div' ? 1.7 : 0.3) })
  }
  cases.push({ op: 'pow', name: 'pow tensor exponent', inputs: [f([7, 9], { lo: 0.5, hi: 2 }), f([9], { lo: -2, hi: 2 })], run: (a, b) => a.pow(b) })
  cases.push({ op: 'pow', name: 'pow number exponent 2.5', inputs: [f([257], { lo: 0.1, hi: 3 })], run: (a) => a.pow(2.5) })
  cases.push({ op: 'pow', name: 'pow number exponent 2 on negatives', inputs: [f([33])], run: (a) => a.pow(2) })
  const compare = ['eq', 'ne', 'lt', 'le', 'gt', 'ge']
  for (const op of compare) {
    cases.push({ op: 'compare', name: `${op} broadcast`, inputs: [f([6, 1, 7], { grad: false }), f([5, 1], { grad: false })], run: (a, b) => a[op](b) })
    cases.push({ op: 'compare', name: `${op} number`, inputs: [f([257], { grad: false })], run: (a) => a[op](0.1) })
  }
  const unary = {
    neg: [(a) => a.neg(), {}],
    abs: [(a) => a.abs(), {}],
    exp: [(a) => a.exp(), { lo: -4, hi: 4 }],
    log: [(a) => a.log(), { lo: 0.05, hi: 5 }],
    sqrt: [(a) => a.sqrt(), { lo: 0.05, hi: 5 }],
    relu: [(a) => F.relu(a), {}],
    sigmoid: [(a) => F.sigmoid(a), { lo: -8, hi: 8 }],
    tanh: [(a) => F.tanh(a), { lo: -4, hi: 4 }],
  }
  for (const [op, [run, range]] of Object.entries(unary)) {
    for (const shape of [[1], [33], [1031]]) cases.push({ op, name: `${op} [${shape}]`, inputs: [f(shape, range)], run })
    cases.push({ op, name: `${op} transposed [17,6]^T`, inputs: [f([17, 6], { ...range, view: T01 })], run })
  }
  return cases
}

function reductions() {
  const cases = []
  const x = (view) => f([6, 35, 9], { view })
  for (const op of ['sum', 'mean']) {
    cases.push({ op, name: `${op} all`, inputs: [x()], run: (a) => a[op]() })
    cases.push({ op, name: `${op} all of 100003`, inputs: [f([100003])], run: (a) => a[op]() })
    cases.push({ op, name: `${op} dim 1`, inputs: [x()], run: (a) => a[op](1) })
    cases.push({ op, name: `${op} dim -1 keepDim`, inputs: [x()], run: (a) => a[op](-1, { keepDim: true }) })
    cases.push({ op, name: `${op} dims [0, 2]`, inputs: [x()], run: (a) => a[op]([0, 2]) })
    cases.push({ op, name: `${op} dim 0 of a transposed view`, inputs: [f([35, 6], { view: T01 })], run: (a) => a[op](0) })
    cases.push({ op, name: `${op} dims [0,2,3] of [64,16,8,8]`, inputs: [f([64, 16, 8, 8])], run: (a) => a[op]([0, 2, 3]) })
  }
  for (const op of ['max', 'min']) {
    cases.push({ op, name: `${op} all`, inputs: [x()], run: (a) => a[op]() })
    cases.push({ op, name: `${op} dim 1 (values, indices)`, inputs: [x()], run: (a) => a[op](1) })
    cases.push({ op, name: `${op} dim -1 keepDim of a transposed view`, inputs: [x(Tlast)], run: (a) => a[op](-1, { keepDim: true }) })
  }
  for (const op of ['argmax', 'argmin']) {
    cases.push({ op, name: `${op} all`, inputs: [x()], run: (a) => a[op]() })
    cases.push({ op, name: `${op} dim 1`, inputs: [x()], run: (a) => a[op](1) })
    cases.push({ op, name: `${op} dim 0 keepDim`, inputs: [x(T01)], run: (a) => a[op](0, { keepDim: true }) })
  }
  return cases
}

function movement() {
  const op = 'copy/view'
  return [
    { op, name: 'contiguous of a transpose', inputs: [f([33, 17], { view: T01 })], run: (a) => a.contiguous() },
    { op, name: 'permute [2,0,1] then contiguous', inputs: [f([4, 5, 6])], run: (a) => a.permute([2, 0, 1]).contiguous() },
    { op, name: 'narrow then mul', inputs: [f([9, 13])], run: (a) => a.narrow(1, 3, 7).mul(2) },
    { op, name: 'select then add', inputs: [f([5, 7, 3])], run: (a) => a.select(1, 4).add(1) },
    { op, name: 'expand then contiguous', inputs: [f([3, 1, 4])], run: (a) => a.expand([3, 5, 4]).contiguous() },
    { op, name: 'reshape of a transpose', inputs: [f([6, 10], { view: T01 })], run: (a) => a.reshape([4, 15]) },
    { op, name: 'clone', inputs: [f([1031])], run: (a) => a.clone() },
    { op, name: 'cat dim 1', inputs: [f([3, 2, 5]), f([3, 4, 5]), f([3, 1, 5])], run: (a, b, c) => ft.cat([a, b, c], 1) },
    { op, name: 'cat dim 0 of transposed views', inputs: [f([4, 3], { view: T01 }), f([4, 3], { view: T01 })], run: (a, b) => ft.cat([a, b], 0) },
    { op, name: 'stack dim 2', inputs: [f([3, 4]), f([3, 4])], run: (a, b) => ft.stack([a, b], 2) },
    { op, name: 'to int64 and back', inputs: [f([50], { lo: -20, hi: 20, grad: false })], run: (a) => a.to('int64').to('float32') },
  ]
}

function softmaxAndLosses() {
  const cases = []
  for (const [op, fn] of [['softmax', F.softmax], ['logSoftmax', F.logSoftmax]]) {
    for (const dim of [0, 1, -1]) cases.push({ op, name: `${op} [7,33,5] dim ${dim}`, inputs: [f([7, 33, 5], { lo: -5, hi: 5 })], run: (a) => fn(a, dim) })
    cases.push({ op, name: `${op} [100,10] large logits`, inputs: [f([100, 10], { lo: -80, hi: 80 })], run: (a) => fn(a, 1) })
    cases.push({ op, name: `${op} [3,1031] dim 1`, inputs: [f([3, 1031], { lo: -3, hi: 3 })], run: (a) => fn(a, 1) })
    cases.push({ op, name: `${op} transposed [10,64]^T dim 1`, inputs: [f([10, 64], { view: T01 })], run: (a) => fn(a, 1) })
  }
  const logits = (n, c) => f([n, c], { lo: -4, hi: 4 })
  for (const reduction of ['mean', 'sum', 'none']) {
    cases.push({ op: 'crossEntropy', name: `crossEntropy [100,10] ${reduction}`, inputs: [logits(100, 10), int([100], 0, 10)], run: (a, y) => F.crossEntropy(a, y, { reduction }) })
    cases.push({ op: 'nllLoss', name: `nllLoss [37,5] ${reduction}`, inputs: [logits(37, 5), int([37], 0, 5)], run: (a, y) => F.nllLoss(F.logSoftmax(a, 1), y, { reduction }) })
  }
  cases.push({ op: 'crossEntropy', name: 'crossEntropy ignoreIndex 2', inputs: [logits(50, 7), int([50], 0, 7)], run: (a, y) => F.crossEntropy(a, y, { ignoreIndex: 2 }) })
  cases.push({ op: 'crossEntropy', name: 'crossEntropy labelSmoothing 0.1', inputs: [logits(50, 7), int([50], 0, 7)], run: (a, y) => F.crossEntropy(a, y, { labelSmoothing: 0.1 }) })
  cases.push({ op: 'crossEntropy', name: 'crossEntropy [1,1000]', inputs: [logits(1, 1000), int([1], 0, 1000)], run: (a, y) => F.crossEntropy(a, y) })
  cases.push({ op: 'crossEntropy', name: 'crossEntropy [4,10,3,3] spatial', inputs: [f([4, 10, 3, 3]), int([4, 3, 3], 0, 10)], run: (a, y) => F.crossEntropy(a, y) })
  return cases
}

function matmulAndLinear() {
  const op = 'matmul'
  const cases = [
    { op, name: 'matmul [7,33]@[33,5]', inputs: [f([7, 33]), f([33, 5])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul [1,1]@[1,1]', inputs: [f([1, 1]), f([1, 1])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul [100,257]@[257,129]', inputs: [f([100, 257]), f([257, 129])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul transposed operands', inputs: [f([33, 7], { view: T01 }), f([5, 33], { view: T01 })], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul batched [3,7,9]@[3,9,4]', inputs: [f([3, 7, 9]), f([3, 9, 4])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul broadcast batch [2,1,5,6]@[3,6,2]', inputs: [f([2, 1, 5, 6]), f([3, 6, 2])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul vector [9]@[9,4]', inputs: [f([9]), f([9, 4])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul [5,9]@vector [9]', inputs: [f([5, 9]), f([9])], run: (a, b) => a.matmul(b) },
    { op, name: 'matmul dot [1031]@[1031]', inputs: [f([1031]), f([1031])], run: (a, b) => a.matmul(b) },
  ]
  const lin = 'linear'
  cases.push(
    { op: lin, name: 'linear [100,2048]->10 with bias', inputs: [f([100, 2048]), f([10, 2048], { lo: -0.02, hi: 0.02 }), f([10])], run: (x, w, b) => F.linear(x, w, b) },
    { op: lin, name: 'linear [7,33]->5 no bias', inputs: [f([7, 33]), f([5, 33])], run: (x, w) => F.linear(x, w) },
    { op: lin, name: 'linear 3-D input [2,3,16]->4', inputs: [f([2, 3, 16]), f([4, 16]), f([4])], run: (x, w, b) => F.linear(x, w, b) },
    { op: lin, name: 'linear [1,64]->4 (SE squeeze)', inputs: [f([1, 64]), f([4, 64]), f([4])], run: (x, w, b) => F.linear(x, w, b) },
  )
  return cases
}

function convolutions() {
  const op = 'conv2d'
  const conv = (name, n, c, hw, o, k, options, bias = true) => ({
    op,
    name: `conv2d ${name}`,
    inputs: [f([n, c, ...hw]), f([o, c / (options.groups ?? 1), ...k], { lo: -0.3, hi: 0.3 }), ...(bias ? [f([o])] : [])],
    run: (x, w, b) => F.conv2d(x, w, { ...options, ...(b ? { bias: b } : {}) }),
  })
  return [
    conv('3x3 pad 1 (MyCNN conv1)', 4, 3, [32, 32], 16, [3, 3], { padding: 1 }),
    conv('3x3 pad 1 no bias 64->64 @8x8', 3, 64, [8, 8], 64, [3, 3], { padding: 1 }, false),
    conv('3x3 stride 2 pad 1 (ResNet downsample)', 2, 16, [32, 32], 32, [3, 3], { stride: 2, padding: 1 }, false),
    conv('1x1', 2, 24, [9, 9], 12, [1, 1], {}),
    conv('5x3 rectangular, stride [2,1], pad [2,0]', 2, 5, [13, 11], 7, [5, 3], { stride: [2, 1], padding: [2, 0] }),
    conv('dilation 2 pad 2', 2, 6, [15, 15], 5, [3, 3], { dilation: 2, padding: 2 }),
    conv('dilation [1,3] stride 2', 1, 4, [17, 19], 6, [3, 3], { dilation: [1, 3], stride: 2 }),
    conv('groups 3', 2, 12, [10, 10], 9, [3, 3], { groups: 3, padding: 1 }),
    conv('depthwise (groups = channels)', 2, 8, [11, 11], 8, [3, 3], { groups: 8, padding: 1 }),
    conv('groups 2, stride 2, dilation 2, pad 3', 3, 6, [16, 16], 4, [3, 3], { groups: 2, stride: 2, dilation: 2, padding: 3 }),
    conv('1 pixel output 7x7 kernel', 2, 3, [7, 7], 5, [7, 7], {}),
    conv('256->256 @8x8 (VGG-like)', 2, 256, [8, 8], 256, [3, 3], { padding: 1 }),
    {
      op,
      name: 'conv2d channels-last view input',
      inputs: [f([2, 9, 9, 4], { view: (t) => t.permute([0, 3, 1, 2]) }), f([6, 4, 3, 3], { lo: -0.3, hi: 0.3 })],
      run: (x, w) => F.conv2d(x, w, { padding: 1 }),
    },
  ]
}

function norms() {
  const cases = []
  const bn = (name, shape, training, affine = true) => {
    const c = shape[1]
    const inputs = [f(shape, { lo: -2, hi: 3 }), f([c], { lo: -0.5, hi: 0.5, grad: false }), f([c], { lo: 0.5, hi: 2, grad: false })]
    if (affine) inputs.push(f([c], { lo: 0.5, hi: 1.5 }), f([c]))
    cases.push({
      op: training ? 'batchNorm train' : 'batchNorm eval',
      name: `batchNorm ${training ? 'train' : 'eval'} ${name}`,
      inputs,
      // The running statistics are outputs too: training updates them in place.
      run: (x, rm, rv, w, b) => [F.batchNorm(x, rm, rv, { training, momentum: 0.1, eps: 1e-5, weight: w ?? null, bias: b ?? null }), rm, rv],
    })
  }
  for (const training of [true, false]) {
    bn('[8,16,32,32]', [8, 16, 32, 32], training)
    bn('[3,7,5,5]', [3, 7, 5, 5], training)
    bn('[1,3,2,2] no affine', [1, 3, 2, 2], training, false)
    bn('[100,64,1,1]', [100, 64, 1, 1], training)
  }
  return cases
}

function pools() {
  const maxPool = (name, shape, options, view) => ({ op: 'maxPool2d', name: `maxPool2d ${name}`, inputs: [f(shape, { view })], run: (x) => F.maxPool2d(x, options) })
  const avgPool = (name, shape, options) => ({ op: 'avgPool2d', name: `avgPool2d ${name}`, inputs: [f(shape)], run: (x) => F.avgPool2d(x, options) })
  const adaptive = (name, shape, size) => ({ op: 'adaptiveAvgPool2d', name: `adaptiveAvgPool2d ${name}`, inputs: [f(shape)], run: (x) => F.adaptiveAvgPool2d(x, size) })
  return [
    maxPool('2x2 stride 2 [4,16,32,32]', [4, 16, 32, 32], { kernelSize: 2, stride: 2 }),
    maxPool('3x3 stride 2 pad 1 [2,5,15,15]', [2, 5, 15, 15], { kernelSize: 3, stride: 2, padding: 1 }),
    maxPool('3x3 dilation 2 [1,3,13,13]', [1, 3, 13, 13], { kernelSize: 3, stride: 1, dilation: 2 }),
    maxPool('2x2 ceilMode [2,3,7,7]', [2, 3, 7, 7], { kernelSize: 2, stride: 2, ceilMode: true }),
    maxPool('[3,2] stride [1,2] on a transposed view', [2, 3, 9, 8], { kernelSize: [3, 2], stride: [1, 2] }, Tlast),
    avgPool('8x8 [6,64,8,8] (ResNet head)', [6, 64, 8, 8], { kernelSize: 8 }),
    avgPool('3x3 stride 2 pad 1 countIncludePad', [2, 4, 11, 11], { kernelSize: 3, stride: 2, padding: 1 }),
    avgPool('3x3 stride 2 pad 1 excluding pad', [2, 4, 11, 11], { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }),
    avgPool('2x2 ceilMode [1,2,5,7]', [1, 2, 5, 7], { kernelSize: 2, stride: 2, ceilMode: true }),
    avgPool('1x1 stride 1 (VGG tail)', [4, 512, 1, 1], { kernelSize: 1, stride: 1 }),
    adaptive('to 1x1 [5,64,8,8] (SE squeeze)', [5, 64, 8, 8], [1, 1]),
    adaptive('7x7 to 3x3', [2, 3, 7, 7], [3, 3]),
    adaptive('10x6 to [4,5]', [2, 2, 10, 6], [4, 5]),
  ]
}

/** Three optimizer steps on two parameters from a fixed loss; the outputs are the parameters after them. */
function optimizerCase(name, make) {
  return {
    op: name.split(' ')[0],
    name,
    inputs: [f([257]), f([16, 3, 3, 3]), f([257], { grad: false }), f([16, 3, 3, 3], { grad: false })],
    noBackward: true,
    run: (p, q, r, s) => {
      const optimizer = make([p, q])
      for (let step = 1; step <= 3; step++) {
        optimizer.zeroGrad()
        p.mul(r).sum().add(q.mul(q).mul(s).sum().mul(step)).backward()
        optimizer.step()
      }
      return [p.detach(), q.detach()]
    },
  }
}

function optimizers() {
  const { SGD, Adam, AdamW } = ft.optim
  return [
    optimizerCase('SGD plain', (ps) => new SGD(ps, { lr: 0.1 })),
    optimizerCase('SGD momentum 0.9, weight decay 5e-4', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 })),
    optimizerCase('SGD nesterov', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true })),
    optimizerCase('Adam', (ps) => new Adam(ps, { lr: 0.01 })),
    optimizerCase('Adam amsgrad, weight decay 0.01', (ps) => new Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.01 })),
    optimizerCase('AdamW', (ps) => new AdamW(ps, { lr: 0.01 })),
  ]
}

export function opCases() {
  return [...elementwise(), ...reductions(), ...movement(), ...softmaxAndLosses(), ...matmulAndLinear(), ...convolutions(), ...norms(), ...pools(), ...optimizers()]
}
