// Fuzz cases for ts/functional (the nn layers' ops) and ts/creation.ts. Arguments are mostly
// near-valid, so the kernels run, with one thing now and then wrong: a channel count, a
// stride of 0, a NaN momentum, a class index out of range.
import * as ft from 'ferrite-ml'
import { check, type Case, type FuzzSettings } from './harness'
import * as gen from './gen'
import type { Random } from './random'
import { expectRef, expectShape, numel, show, valuesOf, wrapDim, type Ref } from './reference'

type Maker = (rng: Random, settings: FuzzSettings) => Case

const F = ft.functional

/**
 * A size, padding or kernel: usually in [lo, hi], sometimes 0, negative or fractional, and with
 * `huge` large enough to ask for outputs beyond memory.
 */
function knob(rng: Random, lo: number, hi: number, huge: boolean): number {
  if (rng.chance(0.9)) return rng.int(lo, hi)
  return rng.pick(huge ? [0, -1, 1.5, NaN, 2 ** 31, 1e9] : [0, -1, 1.5, NaN])
}

/** A stride or dilation: like `knob`, and also enormous, which shrinks the output instead. */
function step(rng: Random, lo: number, hi: number): number {
  if (rng.chance(0.9)) return rng.int(lo, hi)
  return rng.pick([0, -1, 1.5, NaN, 2 ** 31, 2 ** 53])
}

const softmax: Maker = (rng) => {
  const op = rng.pick(['softmax', 'logSoftmax'] as const)
  const a = gen.anyTensor(rng)
  const dim = gen.dim(rng, a.ref.shape.length)
  return {
    description: `F.${op}(${a.how}, ${dim})`,
    run() {
      const out = F[op](a.t, dim)
      check(wrapDim(dim, a.ref.shape.length) !== null, () => `${op} accepted dim ${dim} for rank ${a.ref.shape.length}`)
      expectShape(op, out, a.ref.shape)
    },
  }
}

/** The output size of a window op, PyTorch's formula (ceil mode keeps a last window starting inside the input or left padding). */
function windows(size: number, kernel: number, stride: number, padding: number, dilation: number, ceil: boolean): number {
  const span = size + 2 * padding - dilation * (kernel - 1) - 1
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1
  if (ceil && (out - 1) * stride >= size + padding) out--
  return out
}

/** Naive float64 convolution of NCHW refs. */
function convRef(x: Ref, w: Ref, bias: Ref | undefined, stride: number[], padding: number[], dilation: number[], groups: number): Ref {
  const [n, c, h, wd] = x.shape
  const [o, cg, kh, kw] = w.shape
  const oh = windows(h, kh, stride[0], padding[0], dilation[0], false)
  const ow = windows(wd, kw, stride[1], padding[1], dilation[1], false)
  const og = o / groups
  const out = new Float64Array(n * o * oh * ow)
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let sum = bias ? bias.data[oc] : 0
          const g = Math.floor(oc / og)
          for (let ic = 0; ic < cg; ic++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const y = i * stride[0] - padding[0] + p * dilation[0]
                const xx = j * stride[1] - padding[1] + q * dilation[1]
                if (y < 0 || y >= h || xx < 0 || xx >= wd) continue
                sum += x.data[((b * c + g * cg + ic) * h + y) * wd + xx] * w.data[((oc * cg + ic) * kh + p) * kw + q]
              }
          out[((b * o + oc) * oh + i) * ow + j] = sum
        }
  return { shape: [n, o, oh, ow], dtype: 'float32', data: out }
}

const conv2d: Maker = (rng, { huge }) => {
  const groups = knob(rng, 1, 3, huge)
  const g = Number.isInteger(groups) && groups > 0 && groups <= 3 ? groups : 1
  const n = rng.int(0, 3)
  const cin = g * rng.int(0, 3) + (rng.chance(0.05) ? 1 : 0)
  const cout = g * rng.int(0, 3) + (rng.chance(0.05) ? 1 : 0)
  const [h, w] = [rng.int(0, 12), rng.int(0, 12)]
  const [kh, kw] = [rng.int(1, 5), rng.int(1, 5)]
  const stride = [step(rng, 1, 3), step(rng, 1, 3)]
  const padding = [knob(rng, 0, 3, huge), knob(rng, 0, 3, huge)]
  const dilation = [step(rng, 1, 3), step(rng, 1, 3)]
  const dt = rng.chance(0.9) ? 'float32' : gen.dtype(rng)
  const x = gen.tensor(rng, rng.chance(0.1) ? gen.shape(rng) : [n, cin, h, w], dt, rng.chance(0.2))
  const weight = gen.tensor(rng, rng.chance(0.05) ? gen.shape(rng) : [cout, Math.floor(cin / g), kh, kw], 'float32', false)
  const bias = rng.chance(0.5) ? gen.tensor(rng, [rng.chance(0.95) ? cout : cout + 1], 'float32', false) : undefined
  if (rng.chance(0.2)) x.t.requiresGrad_(x.ref.dtype === 'float32' && x.t.isLeaf)
  return {
    description: `F.conv2d(${x.how}, ${weight.how}, { bias: ${bias?.how}, stride: ${show(stride)}, padding: ${show(padding)}, dilation: ${show(dilation)}, groups: ${groups} })`,
    run() {
      const out = F.conv2d(x.t, weight.t, { bias: bias?.t, stride: stride as [number, number], padding: padding as [number, number], dilation: dilation as [number, number], groups })
      // Values near float32's limit may overflow in float32 sums and not in the float64 reference.
      const finite = x.ref.data.every((v) => Math.abs(v) < 1e30)
      const valid = x.ref.shape.length === 4 && weight.ref.shape.length === 4 && x.ref.dtype === 'float32' && groups === g && finite
      if (!valid) return expectShape('conv2d', out, out.shape)
      const expected = convRef(x.ref, weight.ref, bias?.ref, stride, padding, dilation, g)
      const scale = convRef({ ...x.ref, data: x.ref.data.map(Math.abs) }, { ...weight.ref, data: weight.ref.data.map(Math.abs) }, bias && { ...bias.ref, data: bias.ref.data.map(Math.abs) }, stride, padding, dilation, g)
      expectRef('conv2d', out, expected, 1e-5, scale.data)
      if (x.t.requiresGrad) {
        out.sum().backward()
        expectShape('conv2d backward', x.t.grad!, x.ref.shape)
      }
    },
  }
}

const linear: Maker = (rng) => {
  const inF = rng.int(0, 6)
  const outF = rng.int(0, 6)
  const x = gen.tensor(rng, [...gen.shape(rng, 3), rng.chance(0.9) ? inF : inF + 1], rng.chance(0.9) ? 'float32' : gen.dtype(rng))
  const w = gen.tensor(rng, rng.chance(0.95) ? [outF, inF] : gen.shape(rng, 3), 'float32')
  const b = rng.chance(0.5) ? gen.tensor(rng, [rng.chance(0.95) ? outF : outF + 2], 'float32') : undefined
  return {
    description: `F.linear(${x.how}, ${w.how}, ${b?.how})`,
    run() {
      const out = F.linear(x.t, w.t, b?.t)
      const xs = x.ref.shape
      if (w.ref.shape.length === 2 && x.ref.dtype === 'float32') expectShape('linear', out, [...xs.slice(0, -1), w.ref.shape[0]])
    },
  }
}

const loss: Maker = (rng) => {
  const op = rng.pick(['crossEntropy', 'nllLoss'] as const)
  const n = rng.int(0, 5)
  const c = rng.int(0, 6)
  const spatial = rng.chance(0.3) ? [rng.int(0, 3)] : []
  const logits = gen.tensor(rng, rng.chance(0.9) ? [n, c, ...spatial] : gen.shape(rng), rng.chance(0.9) ? 'float32' : gen.dtype(rng))
  const targetShape = rng.chance(0.9) ? [n, ...spatial] : gen.shape(rng)
  const ignoreIndex = rng.chance(0.8) ? -100 : gen.scalar(rng)
  const badTargets = rng.chance(0.2)
  const targetValues = Float64Array.from({ length: numel(targetShape) }, () =>
    badTargets ? rng.pick([c, -1, -100, 2 ** 40, ignoreIndex]) : rng.chance(0.1) ? -100 : rng.int(0, Math.max(0, c - 1)),
  )
  const targets = gen.fromValues(targetValues, targetShape, rng.chance(0.9) ? 'int64' : gen.dtype(rng))
  const reduction = rng.pick(['mean', 'sum', 'none', 'bogus'] as const)
  const labelSmoothing = rng.chance(0.7) ? 0 : gen.scalar(rng)
  if (rng.chance(0.3) && logits.t.isLeaf && logits.ref.dtype === 'float32') logits.t.requiresGrad_()
  return {
    description: `F.${op}(${logits.how}, int64 ${show(targetShape)} = ${show([...targetValues].slice(0, 12))}, { reduction: '${reduction}', ignoreIndex: ${ignoreIndex}${op === 'crossEntropy' ? `, labelSmoothing: ${labelSmoothing}` : ''} })`,
    run() {
      const options = { reduction: reduction as 'mean', ignoreIndex, labelSmoothing }
      const out = op === 'crossEntropy' ? F.crossEntropy(logits.t, targets, options) : F.nllLoss(logits.t, targets, options)
      check(reduction !== 'bogus', () => `${op} accepted reduction 'bogus'`)
      const classes = logits.ref.shape.length === 1 ? logits.ref.shape[0] : logits.ref.shape[1]
      check(targetValues.every((t) => t === ignoreIndex || (t >= 0 && t < classes)), () => `${op} accepted a class index outside [0, ${classes})`)
      if (reduction === 'none') expectShape(op, out, targetShape)
      else expectShape(op, out, [])
      if (logits.t.requiresGrad) {
        out.sum().backward()
        expectShape(`${op} backward`, logits.t.grad!, logits.ref.shape)
      }
    },
  }
}

const batchNorm: Maker = (rng) => {
  const c = rng.int(0, 4)
  const shape = rng.chance(0.9) ? [rng.int(0, 4), c, ...gen.shape(rng, 2)] : gen.shape(rng)
  const x = gen.tensor(rng, shape, rng.chance(0.9) ? 'float32' : gen.dtype(rng))
  const stat = () => (rng.chance(0.8) ? gen.tensor(rng, [rng.chance(0.95) ? c : c + 1], 'float32', false).t : null)
  const [mean, variance, weight, bias] = [stat(), stat(), stat(), stat()]
  const training = rng.chance(0.5)
  const momentum = rng.chance(0.8) ? 0.1 : gen.scalar(rng)
  const eps = rng.chance(0.8) ? 1e-5 : gen.scalar(rng)
  return {
    description: `F.batchNorm(${x.how}, ${mean && show(mean.shape)}, ${variance && show(variance.shape)}, { weight: ${weight && show(weight.shape)}, bias: ${bias && show(bias.shape)}, training: ${training}, momentum: ${momentum}, eps: ${eps} })`,
    run() {
      const out = F.batchNorm(x.t, mean, variance, { weight, bias, training, momentum, eps })
      expectShape('batchNorm', out, shape)
    },
  }
}

/** Naive max pooling of an NCHW ref (padding is -Infinity). */
function maxPoolRef(x: Ref, k: number[], s: number[], p: number[], d: number[], ceil: boolean): Ref {
  const [n, c, h, w] = x.shape
  const [oh, ow] = [windows(h, k[0], s[0], p[0], d[0], ceil), windows(w, k[1], s[1], p[1], d[1], ceil)]
  const out = new Float64Array(n * c * oh * ow)
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let best = -Infinity
        for (let a = 0; a < k[0]; a++)
          for (let b = 0; b < k[1]; b++) {
            const y = i * s[0] - p[0] + a * d[0]
            const xx = j * s[1] - p[1] + b * d[1]
            if (y < 0 || y >= h || xx < 0 || xx >= w) continue
            const v = x.data[(plane * h + y) * w + xx]
            if (v > best || Number.isNaN(v)) best = Number.isNaN(best) ? best : v
          }
        out[(plane * oh + i) * ow + j] = best
      }
  return { shape: [n, c, oh, ow], dtype: x.dtype, data: out }
}

const pool: Maker = (rng, { huge }) => {
  const op = rng.pick(['maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d'] as const)
  const shape = rng.chance(0.9) ? [rng.int(0, 2), rng.int(0, 3), rng.int(0, 10), rng.int(0, 10)] : gen.shape(rng)
  const x = gen.tensor(rng, shape, rng.chance(0.9) ? 'float32' : gen.dtype(rng))
  const kernel = [knob(rng, 1, 4, huge), knob(rng, 1, 4, huge)]
  const stride = [step(rng, 1, 3), step(rng, 1, 3)]
  const padding = [knob(rng, 0, 2, huge), knob(rng, 0, 2, huge)]
  const dilation = [step(rng, 1, 2), step(rng, 1, 2)]
  const ceilMode = rng.chance(0.3)
  const countIncludePad = rng.chance(0.5)
  const outputSize = [knob(rng, 0, 6, huge), knob(rng, 0, 6, huge)]
  const pair = (v: number[]) => v as [number, number]
  const options = { kernelSize: pair(kernel), stride: pair(stride), padding: pair(padding), dilation: pair(dilation), ceilMode, countIncludePad }
  return {
    description: `F.${op}(${x.how}, ${op === 'adaptiveAvgPool2d' ? show(outputSize) : JSON.stringify(options)})`,
    run() {
      if (op === 'adaptiveAvgPool2d') {
        const out = F.adaptiveAvgPool2d(x.t, pair(outputSize))
        return expectShape(op, out, [...shape.slice(0, -2), ...outputSize])
      }
      const out = op === 'maxPool2d' ? F.maxPool2d(x.t, options) : F.avgPool2d(x.t, options)
      const halfKernel = padding.every((p, i) => p <= kernel[i] / 2)
      check(halfKernel, () => `${op} accepted padding ${show(padding)} over half the kernel ${show(kernel)}`)
      if (op === 'maxPool2d' && shape.length === 4 && x.ref.dtype === 'float32') {
        return expectRef(op, out, maxPoolRef(x.ref, kernel, stride, padding, dilation, ceilMode))
      }
      const d = op === 'maxPool2d' ? dilation : [1, 1]
      const spatial = shape.slice(-2).map((size, i) => windows(size, kernel[i], stride[i], padding[i], d[i], ceilMode))
      expectShape(op, out, [...shape.slice(0, -2), ...spatial])
    },
  }
}

const creation: Maker = (rng, { huge }) => {
  const op = rng.pick(['zeros', 'ones', 'full', 'fullLike', 'arange', 'rand', 'randn', 'randint', 'tensor', 'typedArray', 'rngState'] as const)
  const shape = rng.chance(0.9) ? gen.shape(rng) : Array.from({ length: rng.int(1, 3) }, () => gen.count(rng, 4, huge))
  const dtype = rng.chance(0.95) ? gen.dtype(rng) : (rng.pick(['float16', 'float64', 'int32']) as gen.Made['ref']['dtype'])
  const value = rng.chance(0.5) ? gen.scalar(rng) : rng.chance(0.5)
  const [start, end, step] = [gen.scalar(rng), gen.scalar(rng) * rng.pick([1, 10, 100]), rng.chance(0.7) ? rng.pick([1, 0.5, -1, 2]) : gen.scalar(rng)]
  const length = Math.ceil((end - start) / step)
  const [low, high] = [Math.round(gen.scalar(rng)), Math.round(gen.scalar(rng)) + rng.int(0, 5)]
  const nested = (depth: number): unknown =>
    depth === 0 ? rng.pick([1, -2.5, NaN, Infinity, true, false, 'x', null, undefined, [], 1e300]) : Array.from({ length: rng.int(0, 3) }, () => nested(rng.chance(0.9) ? depth - 1 : rng.int(0, depth)))
  const data = nested(rng.int(0, 3))
  const like = gen.anyTensor(rng)
  const bytes = Uint8Array.from({ length: rng.pick([0, 7, 32, 40, 48, 64, 136]) }, () => rng.int(0, 255))
  return {
    description: `${op}: shape ${show(shape)}, dtype ${dtype}, value ${value}, arange(${start}, ${end}, ${step}), randint(${low}, ${high}), data ${JSON.stringify(data)}, ${bytes.length} state bytes, like ${like.how}`,
    run() {
      switch (op) {
        case 'zeros':
        case 'ones':
        case 'full': {
          const out = op === 'full' ? ft.full(shape, value, { dtype }) : ft[op](shape, { dtype })
          const fill = op === 'zeros' ? 0 : op === 'ones' ? 1 : Number(value)
          const converted = dtype === 'bool' ? +(fill !== 0) : dtype === 'float32' ? Math.fround(fill) : fill
          if (dtype === 'int64' && (!Number.isInteger(fill) || Math.abs(fill) > 2 ** 53)) return expectShape(op, out, shape)
          return expectRef(op, out, { shape, dtype: dtype === undefined ? 'float32' : dtype, data: new Float64Array(numel(shape)).fill(converted) })
        }
        case 'fullLike':
          return expectShape(op, ft.fullLike(like.t, value), like.ref.shape)
        case 'arange': {
          // Lengths beyond memory are huge-allocation cases, left out with FERRITE_FUZZ_HUGE=0.
          if (!huge && Number.isFinite(length) && length > gen.MAX_ELEMENTS) return
          const out = ft.arange(start, end, step, { dtype })
          check(Number.isFinite(length) && step !== 0, () => `arange(${start}, ${end}, ${step}) returned ${show(out.shape)}`)
          return expectShape(op, out, [Math.max(0, length)])
        }
        case 'rand':
        case 'randn': {
          const out = ft[op](shape)
          const values = valuesOf(out)
          expectShape(op, out, shape)
          return check(values.every((v) => Number.isFinite(v) && (op === 'randn' || (v >= 0 && v < 1))), () => `${op} drew a value out of range`)
        }
        case 'randint': {
          const out = ft.randint(low, high, shape)
          expectShape(op, out, shape)
          return check(valuesOf(out).every((v) => v >= low && v < high), () => `randint(${low}, ${high}) drew a value out of range`)
        }
        case 'tensor': {
          const out = ft.tensor(data as number[])
          return check(out.numel() >= 0, () => 'tensor made an impossible shape')
        }
        case 'typedArray': {
          const n = numel(shape)
          const values = Float64Array.from({ length: Number.isInteger(n) && n >= 0 && n <= gen.MAX_ELEMENTS ? n : 4 }, (_, i) => i)
          const given = rng.chance(0.8) ? shape : gen.shape(rng)
          const out = ft.tensor(Float64Array.from(values), { shape: given, dtype })
          check(numel(given) === values.length, () => `tensor accepted ${values.length} values for shape ${show(given)}`)
          return expectShape(op, out, given)
        }
        case 'rngState': {
          const state = ft.getRngState()
          const changed = rng.chance(0.5) ? bytes : Uint8Array.from(state, (b) => (rng.chance(0.1) ? rng.int(0, 255) : b))
          ft.setRngState(changed)
          return expectShape('rand after setRngState', ft.rand([3]), [3])
        }
      }
    },
  }
}

export const FUNCTIONAL_OPS: Record<string, Maker> = { softmax, conv2d, linear, loss, batchNorm, pool, creation }
