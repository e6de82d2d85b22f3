// Each traced op as ONNX nodes (opset 13 and later). A lowering reads the op's attributes, emits
// nodes into the builder and ends by writing the node's output name; anything ONNX cannot
// express exactly is an OnnxExportError naming the op, never an approximation.
import { OnnxExportError } from '../errors'
import { DTYPES, type DType } from '../types'
import { type Attribute, float, type GraphBuilder, int, ints, ONNX_DTYPE, roundToBfloat16, string } from './builder'
import type { GraphAttr, GraphNode } from '../trace'

/** A value as the lowerings see it: its name in the ONNX graph and what the trace recorded. */
export interface Operand {
  name: string
  dtype: DType
  shape: readonly number[]
}

export interface LoweringSettings {
  opsetVersion: number
  dynamicBatch: boolean
}

const ARITHMETIC: Record<string, string> = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow', maximum: 'Max', minimum: 'Min' }
const COMPARISONS: Record<string, string> = { eq: 'Equal', ne: 'Equal', lt: 'Less', le: 'LessOrEqual', gt: 'Greater', ge: 'GreaterOrEqual' }
const UNARY: Record<string, string> = { neg: 'Neg', abs: 'Abs', exp: 'Exp', log: 'Log', sqrt: 'Sqrt' }
const REDUCTIONS: Record<string, string> = { sum: 'ReduceSum', mean: 'ReduceMean', max: 'ReduceMax', min: 'ReduceMin' }
const ARG_REDUCTIONS: Record<string, string> = { argmax: 'ArgMax', argmin: 'ArgMin' }

/** Which dtype wins when two tensors meet in a comparison (PyTorch's promotion for these four). */
const PROMOTION_ORDER: readonly DType[] = ['bool', 'int64', 'bfloat16', 'float32']
const promote = (a: DType, b: DType) => (PROMOTION_ORDER.indexOf(a) >= PROMOTION_ORDER.indexOf(b) ? a : b)

const normalizeDim = (dim: number, rank: number) => (dim < 0 ? dim + rank : dim)

/** One traced node being lowered: typed access to its inputs and attributes, and the final emit. */
export class NodeLowering {
  constructor(
    readonly builder: GraphBuilder,
    readonly node: GraphNode,
    private readonly operands: readonly (Operand | null)[],
    readonly output: Operand,
    readonly settings: LoweringSettings,
  ) {}

  fail(why: string): never {
    throw new OnnxExportError(`cannot export '${this.node.op}' to ONNX: ${why}`, { op: this.node.op })
  }

  input(index: number): Operand {
    return this.optional(index) ?? this.fail(`input ${index} is missing from the trace`)
  }

  optional(index: number): Operand | null {
    return this.operands[index] ?? null
  }

  get inputCount(): number {
    return this.operands.length
  }

  #attr(name: string): GraphAttr | undefined {
    return this.node.attrs[name]
  }

  int(name: string): number {
    const value = this.#attr(name)
    return typeof value === 'number' && Number.isInteger(value) ? value : this.fail(`attribute '${name}' should be an integer, the trace gave ${JSON.stringify(value)}`)
  }

  optionalInt(name: string): number | null {
    return this.#attr(name) === null || this.#attr(name) === undefined ? null : this.int(name)
  }

  number(name: string): number {
    const value = this.#attr(name)
    if (typeof value === 'number') return value
    // The trace spells the numbers JSON lacks as strings.
    if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value)
    return this.fail(`attribute '${name}' should be a number, the trace gave ${JSON.stringify(value)}`)
  }

  ints(name: string): number[] {
    const value = this.#attr(name)
    return Array.isArray(value) && value.every(Number.isInteger) ? value : this.fail(`attribute '${name}' should be a list of integers, the trace gave ${JSON.stringify(value)}`)
  }

  pair(name: string): [number, number] {
    const value = this.ints(name)
    return value.length === 2 ? [value[0], value[1]] : this.fail(`attribute '${name}' should be [height, width], the trace gave ${JSON.stringify(value)}`)
  }

  bool(name: string): boolean {
    const value = this.#attr(name)
    return typeof value === 'boolean' ? value : this.fail(`attribute '${name}' should be a boolean, the trace gave ${JSON.stringify(value)}`)
  }

  string(name: string): string {
    const value = this.#attr(name)
    return typeof value === 'string' ? value : this.fail(`attribute '${name}' should be a string, the trace gave ${JSON.stringify(value)}`)
  }

  /**
   * The dtype the ONNX op computes in: the output's, except that bfloat16 computes in float32 and
   * rounds once at the end, as Ferrite's kernels do (and as CPU runtimes can run).
   */
  computeDtype({ floatOnly = false } = {}): DType {
    const dtype = this.output.dtype === 'bfloat16' ? 'float32' : this.output.dtype
    if (floatOnly && dtype !== 'float32') this.fail(`its ONNX operator takes float tensors, this one is ${this.output.dtype}`)
    if (dtype === 'bool') this.fail('its ONNX operator takes no bool tensors')
    return dtype
  }

  /** The operands' names, each cast to `dtype` where it differs. */
  cast(operands: readonly (Operand | null)[], dtype: DType): (string | null)[] {
    return operands.map((o) => (o === null || o.dtype === dtype ? (o?.name ?? null) : this.builder.node('Cast', [o.name], [int('to', ONNX_DTYPE[dtype])])))
  }

  /** Emits the node's last ONNX node, whose result has `resultDtype`, casting it to the output's dtype where they differ. */
  finish(opType: string, inputs: readonly (string | null)[], attributes: readonly Attribute[] = [], resultDtype: DType = this.output.dtype): void {
    if (resultDtype === this.output.dtype) {
      this.builder.node(opType, inputs, attributes, this.output.name)
      return
    }
    const result = this.builder.node(opType, inputs, attributes)
    this.builder.node('Cast', [result], [int('to', ONNX_DTYPE[this.output.dtype])], this.output.name)
  }

  /** `inputs` cast to the compute dtype, `opType` on them, the result cast to the output's dtype. */
  compute(opType: string, inputs: readonly (Operand | null)[], attributes: readonly Attribute[] = [], options: { floatOnly?: boolean } = {}): void {
    const dtype = this.computeDtype(options)
    this.finish(opType, this.cast(inputs, dtype), attributes, dtype)
  }

  /** An int64 vector initializer (axes, shapes, slice bounds). */
  int64s(base: string, values: readonly (number | bigint)[]): string {
    return this.builder.int64s(base, values)
  }
}

/** Spatial ops need the batch dimension ONNX's operators are defined on. */
function checkImageBatch(n: NodeLowering, x: Operand): void {
  if (x.shape.length !== 4) n.fail(`ONNX's operator takes a batch of images [N, C, H, W], the input is [${x.shape.join(', ')}]`)
}

/** `[top, left, bottom, right]` ONNX pads from PyTorch's symmetric `[h, w]` padding. */
const pads = ([h, w]: [number, number]) => ints('pads', [h, w, h, w])

/** The output size of a pooling window along one axis, as ONNX specifies it (no ceil-mode correction). */
function onnxPoolSize(size: number, kernel: number, stride: number, pad: number, dilation: number, ceilMode: boolean): number {
  const span = (size + 2 * pad - dilation * (kernel - 1) - 1) / stride
  return (ceilMode ? Math.ceil(span) : Math.floor(span)) + 1
}

/**
 * Pooling in ceil mode: PyTorch drops a last window that would start in the right padding, ONNX's
 * formula keeps it. Export only when both give the traced output size.
 */
function checkPoolOutput(n: NodeLowering, kernel: [number, number], stride: [number, number], padding: [number, number], dilation: [number, number], ceilMode: boolean): void {
  const x = n.input(0)
  const expected = [0, 1].map((axis) => onnxPoolSize(x.shape[2 + axis], kernel[axis], stride[axis], padding[axis], dilation[axis], ceilMode))
  const traced = n.output.shape.slice(2)
  if (expected[0] !== traced[0] || expected[1] !== traced[1]) {
    n.fail(`with ceilMode its output is ${traced.join('x')} but ONNX's formula gives ${expected.join('x')} (PyTorch drops a last window starting in the padding); use ceilMode: false or other padding`)
  }
}

function elementwise(n: NodeLowering, op: string, a: Operand, b: Operand): void {
  if (op in ARITHMETIC) return n.compute(ARITHMETIC[op], [a, b])
  if (!(op in COMPARISONS)) n.fail(`unknown elementwise op '${op}'`)
  let dtype = promote(a.dtype, b.dtype)
  if (dtype === 'bfloat16') dtype = 'float32'
  if (dtype === 'bool' && op !== 'eq' && op !== 'ne') dtype = 'int64'
  const names = n.cast([a, b], dtype)
  if (op !== 'ne') return n.finish(COMPARISONS[op], names, [], 'bool')
  n.finish('Not', [n.builder.node('Equal', names)], [], 'bool')
}

/** A `binary_scalar` op's scalar as a 0-d initializer in the dtype the op computes in. */
function scalarOperand(n: NodeLowering, x: Operand, op: string, value: number): Operand {
  const scalar = (name: string, dtype: DType): Operand => ({ name, dtype, shape: [] })
  if (op in ARITHMETIC) {
    const dtype = n.computeDtype()
    if (dtype === 'int64') return Number.isInteger(value) ? scalar(n.builder.integer('scalar', value, 'int64'), 'int64') : n.fail(`an int64 result from the non-integer scalar ${value}`)
    // A bfloat16 tensor meets a float32 scalar in mul and div, a bfloat16-rounded one otherwise.
    const rounded = n.output.dtype === 'bfloat16' && op !== 'mul' && op !== 'div' ? roundToBfloat16(value) : value
    return scalar(n.builder.float32('scalar', rounded), 'float32')
  }
  if (x.dtype === 'float32' || x.dtype === 'bfloat16') return scalar(n.builder.float32('scalar', x.dtype === 'bfloat16' ? roundToBfloat16(value) : value), 'float32')
  return Number.isInteger(value) ? scalar(n.builder.integer('scalar', value, 'int64'), 'int64') : scalar(n.builder.float32('scalar', value), 'float32')
}

/** The inputs and attributes of an inference BatchNormalization for a traced batch norm, cast to `dtype`. */
function batchNormalization(n: NodeLowering, dtype: DType): [(string | null)[], Attribute[]] {
  if (n.bool('training')) n.fail('it normalises with batch statistics (training mode); put the model in eval() mode before exporting')
  const [x, runningMean, runningVar] = [n.input(0), n.optional(1), n.optional(2)]
  if (!runningMean || !runningVar) return n.fail("it has no running statistics (trackRunningStats: false), so it normalises with batch statistics, which ONNX's inference BatchNormalization cannot")
  const channels = runningMean.shape[0]
  const filled = (base: string, value: number): Operand => ({ name: n.builder.filled(base, channels, value), dtype: 'float32', shape: [channels] })
  const scale = n.optional(3) ?? filled('batch_norm_weight', 1)
  const shift = n.optional(4) ?? filled('batch_norm_bias', 0)
  return [n.cast([x, scale, shift, runningMean, runningVar], dtype), [float('epsilon', n.number('eps'))]]
}

type Lowering = (n: NodeLowering) => void

/** The element count of the dims from `start` on (all of them by default). */
const product = (shape: readonly number[], start = 0) => shape.slice(start).reduce((a, b) => a * b, 1)

export const LOWERINGS: Record<string, Lowering> = {
  conv2d: (n) => {
    const [x, weight] = [n.input(0), n.input(1)]
    checkImageBatch(n, x)
    n.compute('Conv', [x, weight, n.optional(2)], [
      ints('kernel_shape', weight.shape.slice(2)),
      ints('strides', n.pair('stride')),
      pads(n.pair('padding')),
      ints('dilations', n.pair('dilation')),
      int('group', n.int('groups')),
    ], { floatOnly: true })
  },

  batch_norm: (n) => {
    const dtype = n.computeDtype({ floatOnly: true })
    n.finish('BatchNormalization', ...batchNormalization(n, dtype), dtype)
  },

  // Fused in Ferrite; ONNX runtimes fuse the pair back themselves.
  batch_norm_relu: (n) => {
    const dtype = n.computeDtype({ floatOnly: true })
    n.finish('Relu', [n.builder.node('BatchNormalization', ...batchNormalization(n, dtype))], [], dtype)
  },

  linear: (n) => {
    const dtype = n.computeDtype({ floatOnly: true })
    const [x, weight, bias] = n.cast([n.input(0), n.input(1), n.optional(2)], dtype) as [string, string, string | null]
    if (n.input(0).shape.length === 2) return n.finish('Gemm', [x, weight, bias], [int('transB', 1)], dtype)
    const transposed = n.builder.node('Transpose', [weight], [ints('perm', [1, 0])])
    if (bias === null) return n.finish('MatMul', [x, transposed], [], dtype)
    n.finish('Add', [n.builder.node('MatMul', [x, transposed]), bias], [], dtype)
  },

  matmul: (n) => n.compute('MatMul', [n.input(0), n.input(1)], [], { floatOnly: true }),

  max_pool2d: (n) => {
    checkImageBatch(n, n.input(0))
    const [kernel, stride, padding, dilation, ceilMode] = [n.pair('kernelSize'), n.pair('stride'), n.pair('padding'), n.pair('dilation'), n.bool('ceilMode')]
    checkPoolOutput(n, kernel, stride, padding, dilation, ceilMode)
    n.compute('MaxPool', [n.input(0)], [ints('kernel_shape', kernel), ints('strides', stride), pads(padding), ints('dilations', dilation), int('ceil_mode', Number(ceilMode))], { floatOnly: true })
  },

  avg_pool2d: (n) => {
    checkImageBatch(n, n.input(0))
    const [kernel, stride, padding, ceilMode] = [n.pair('kernelSize'), n.pair('stride'), n.pair('padding'), n.bool('ceilMode')]
    checkPoolOutput(n, kernel, stride, padding, [1, 1], ceilMode)
    n.compute('AveragePool', [n.input(0)], [
      ints('kernel_shape', kernel),
      ints('strides', stride),
      pads(padding),
      int('ceil_mode', Number(ceilMode)),
      int('count_include_pad', Number(n.bool('countIncludePad'))),
    ], { floatOnly: true })
  },

  adaptive_avg_pool2d: (n) => {
    const x = n.input(0)
    checkImageBatch(n, x)
    const [height, width] = x.shape.slice(2)
    const [outHeight, outWidth] = n.pair('outputSize')
    if (outHeight === 1 && outWidth === 1) return n.compute('GlobalAveragePool', [x], [], { floatOnly: true })
    if (height % outHeight !== 0 || width % outWidth !== 0) {
      n.fail(`its output size ${outHeight}x${outWidth} does not divide the input's ${height}x${width}; its windows then differ in size, which ONNX's AveragePool cannot express`)
    }
    const window = [height / outHeight, width / outWidth]
    n.compute('AveragePool', [x], [ints('kernel_shape', window), ints('strides', window)], { floatOnly: true })
  },

  relu: (n) => n.compute('Relu', [n.input(0)]),
  add_relu: (n) => {
    const dtype = n.computeDtype()
    n.finish('Relu', [n.builder.node('Add', n.cast([n.input(0), n.input(1)], dtype))], [], dtype)
  },
  sigmoid: (n) => n.compute('Sigmoid', [n.input(0)], [], { floatOnly: true }),
  tanh: (n) => n.compute('Tanh', [n.input(0)], [], { floatOnly: true }),
  softmax: (n) => n.compute('Softmax', [n.input(0)], [int('axis', n.int('dim'))], { floatOnly: true }),
  log_softmax: (n) => n.compute('LogSoftmax', [n.input(0)], [int('axis', n.int('dim'))], { floatOnly: true }),

  binary: (n) => elementwise(n, n.string('op'), n.input(0), n.input(1)),
  binary_scalar: (n) => {
    const [x, op] = [n.input(0), n.string('op')]
    elementwise(n, op, x, scalarOperand(n, x, op, n.number('scalar')))
  },
  unary: (n) => {
    const op = n.string('op')
    if (!(op in UNARY)) n.fail(`unknown unary op '${op}'`)
    n.compute(UNARY[op], [n.input(0)])
  },

  reduce: (n) => {
    const [x, op] = [n.input(0), n.string('op')]
    if (!(op in REDUCTIONS)) n.fail(`unknown reduction '${op}'`)
    const dims = n.ints('dims').map((d) => normalizeDim(d, x.shape.length))
    const keepDims = int('keepdims', Number(n.bool('keepDim')))
    // Empty dims reduce every axis, as ONNX does when the axes are left out.
    if (dims.length === 0) return n.compute(REDUCTIONS[op], [x], [keepDims])
    // ReduceSum takes its axes as an input from opset 13, the others from opset 18.
    if (op === 'sum' || n.settings.opsetVersion >= 18) {
      const dtype = n.computeDtype()
      return n.finish(REDUCTIONS[op], [...n.cast([x], dtype), n.int64s('axes', dims)], [keepDims], dtype)
    }
    n.compute(REDUCTIONS[op], [x], [ints('axes', dims), keepDims])
  },

  arg_reduce: (n) => {
    const [x, op, dim, keepDim] = [n.input(0), n.string('op'), n.optionalInt('dim'), n.bool('keepDim')]
    if (!(op in ARG_REDUCTIONS)) n.fail(`unknown arg reduction '${op}'`)
    const dtype = x.dtype === 'float32' || x.dtype === 'bfloat16' ? 'float32' : 'int64'
    const [values] = n.cast([x], dtype) as [string]
    if (dim !== null) return n.finish(ARG_REDUCTIONS[op], [values], [int('axis', dim), int('keepdims', Number(keepDim))], 'int64')
    // Over all elements: the index into the flattened tensor, as PyTorch gives it.
    const flat = n.builder.node('Reshape', [values, n.int64s('shape', [-1])])
    if (!keepDim) return n.finish(ARG_REDUCTIONS[op], [flat], [int('axis', 0), int('keepdims', 0)], 'int64')
    const index = n.builder.node(ARG_REDUCTIONS[op], [flat], [int('axis', 0), int('keepdims', 1)])
    n.finish('Reshape', [index, n.int64s('shape', n.output.shape)], [], 'int64')
  },

  reshape: (n) => reshapeTo(n, n.ints('shape')),
  view: (n) => reshapeTo(n, n.ints('shape')),

  expand: (n) => {
    const x = n.input(0)
    const requested = n.ints('shape')
    // PyTorch's -1 keeps a dimension; ONNX's Expand broadcasts, so 1 keeps it there.
    const shape = requested.map((d) => (d === -1 ? 1 : d))
    if (followsBatch(n, requested) && requested.length === x.shape.length) shape[0] = 1
    n.finish('Expand', [x.name, n.int64s('shape', shape)])
  },

  flatten: (n) => {
    const x = n.input(0)
    const rank = x.shape.length
    if (rank === 0) return n.finish('Reshape', [x.name, n.int64s('shape', [1])])
    const [start, end] = [normalizeDim(n.int('startDim'), rank), normalizeDim(n.int('endDim'), rank)]
    // 0 copies a leading dim from the input, so a dynamic batch passes through; -1 is the flattened span.
    const shape = [...Array<number>(start).fill(0), -1, ...x.shape.slice(end + 1)]
    if (product(x.shape) === 0) n.fail('its input has no elements, so ONNX cannot infer the flattened size')
    n.finish('Reshape', [x.name, n.int64s('shape', shape)])
  },

  permute: (n) => {
    const x = n.input(0)
    n.finish('Transpose', [x.name], [ints('perm', n.ints('dims').map((d) => normalizeDim(d, x.shape.length)))])
  },

  transpose: (n) => {
    const x = n.input(0)
    const perm = x.shape.map((_, i) => i)
    const [a, b] = [normalizeDim(n.int('dim0'), x.shape.length), normalizeDim(n.int('dim1'), x.shape.length)]
    ;[perm[a], perm[b]] = [perm[b], perm[a]]
    n.finish('Transpose', [x.name], [ints('perm', perm)])
  },

  unsqueeze: (n) => {
    const x = n.input(0)
    n.finish('Unsqueeze', [x.name, n.int64s('axes', [normalizeDim(n.int('dim'), x.shape.length + 1)])])
  },

  squeeze: (n) => {
    const x = n.input(0)
    const dim = n.optionalInt('dim')
    const axes = dim === null ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : [normalizeDim(dim, x.shape.length)].filter((i) => x.shape[i] === 1)
    if (n.settings.dynamicBatch && axes.includes(0)) n.fail('it removes dim 0, the dynamic batch dimension, which has size 1 only in the traced example; squeeze another dim, or export without dynamicBatch')
    // Squeezing a dim whose size is not 1 leaves the tensor as it is, in PyTorch.
    if (axes.length === 0) return n.finish('Identity', [x.name])
    n.finish('Squeeze', [x.name, n.int64s('axes', axes)])
  },

  narrow: (n) => {
    const x = n.input(0)
    const [dim, start, length] = [normalizeDim(n.int('dim'), x.shape.length), n.int('start'), n.int('length')]
    // A negative start counts from the end; a slice ending at the end then needs an open bound.
    const end = start < 0 && start + length === 0 ? 2n ** 63n - 1n : start + length
    n.finish('Slice', [x.name, n.int64s('starts', [start]), n.int64s('ends', [end]), n.int64s('axes', [dim])])
  },

  select: (n) => {
    const x = n.input(0)
    const index = n.builder.integer('index', n.int('index'), 'int64')
    n.finish('Gather', [x.name, index], [int('axis', normalizeDim(n.int('dim'), x.shape.length))])
  },

  contiguous: (n) => n.finish('Identity', [n.input(0).name]),
  clone: (n) => n.finish('Identity', [n.input(0).name]),

  to_dtype: (n) => {
    const dtype = n.string('dtype')
    if (!(DTYPES as readonly string[]).includes(dtype)) n.fail(`unknown dtype '${dtype}'`)
    n.finish('Cast', [n.input(0).name], [int('to', ONNX_DTYPE[dtype as DType])])
  },

  cat: (n) => n.finish('Concat', n.cast(inputsOf(n), n.output.dtype), [int('axis', n.int('dim'))]),

  stack: (n) => {
    const inputs = inputsOf(n)
    const axes = n.int64s('axes', [normalizeDim(n.int('dim'), n.output.shape.length)])
    const names = n.cast(inputs, n.output.dtype).map((name) => n.builder.node('Unsqueeze', [name, axes]))
    n.finish('Concat', names, [int('axis', normalizeDim(n.int('dim'), n.output.shape.length))])
  },

  // Clip takes its bounds as inputs (opset 11 on), in the dtype it computes in.
  relu6: (n) => {
    const dtype = n.computeDtype()
    const bound = (base: string, value: number) => (dtype === 'int64' ? n.builder.integer(base, value, 'int64') : n.builder.float32(base, value))
    n.finish('Clip', [...n.cast([n.input(0)], dtype), bound('relu6_min', 0), bound('relu6_max', 6)], [], dtype)
  },

  leaky_relu: (n) => n.compute('LeakyRelu', [n.input(0)], [float('alpha', n.number('negativeSlope'))], { floatOnly: true }),
  gelu: (n) => lowerGelu(n, n.string('approximate')),
  silu: (n) => {
    const dtype = n.computeDtype({ floatOnly: true })
    const [x] = n.cast([n.input(0)], dtype) as [string]
    n.finish('Mul', [x, n.builder.node('Sigmoid', [x])], [], dtype)
  },
  // HardSwish arrived in opset 14; before it, x * HardSigmoid(x) with its slope 1/6 and offset 1/2 is the same function.
  hardswish: (n) => {
    if (n.settings.opsetVersion >= 14) return n.compute('HardSwish', [n.input(0)], [], { floatOnly: true })
    const dtype = n.computeDtype({ floatOnly: true })
    const [x] = n.cast([n.input(0)], dtype) as [string]
    n.finish('Mul', [x, n.builder.node('HardSigmoid', [x], [float('alpha', 1 / 6), float('beta', 0.5)])], [], dtype)
  },
}

/** GELU: ONNX's Gelu from opset 20, its formula in Erf or Tanh before. */
function lowerGelu(n: NodeLowering, approximate: string): void {
  if (approximate !== 'none' && approximate !== 'tanh') n.fail(`unknown approximation '${approximate}'`)
  if (n.settings.opsetVersion >= 20) {
    return n.compute('Gelu', [n.input(0)], approximate === 'tanh' ? [string('approximate', 'tanh')] : [], { floatOnly: true })
  }
  const dtype = n.computeDtype({ floatOnly: true })
  const [x] = n.cast([n.input(0)], dtype) as [string]
  const b = n.builder
  const constant = (name: string, value: number) => b.float32(name, value)
  // 1 + erf(x / √2), or 1 + tanh(√(2/π) (x + 0.044715 x³)).
  const cdf =
    approximate === 'none'
      ? b.node('Add', [b.node('Erf', [b.node('Mul', [x, constant('gelu_inv_sqrt2', Math.SQRT1_2)])]), constant('gelu_one', 1)])
      : b.node('Add', [
          b.node('Tanh', [
            b.node('Mul', [
              constant('gelu_beta', Math.sqrt(2 / Math.PI)),
              b.node('Add', [x, b.node('Mul', [constant('gelu_kappa', 0.044715), b.node('Mul', [x, b.node('Mul', [x, x])])])]),
            ]),
          ]),
          constant('gelu_one', 1),
        ])
  n.finish('Mul', [b.node('Mul', [x, constant('gelu_half', 0.5)]), cdf], [], dtype)
}

function inputsOf(n: NodeLowering): Operand[] {
  return Array.from({ length: n.inputCount }, (_, i) => n.input(i))
}

/** The dynamic-batch rule: a requested dim 0 equal to the input's traced dim 0 follows the batch. */
function followsBatch(n: NodeLowering, requested: readonly number[]): boolean {
  const x = n.input(0)
  return n.settings.dynamicBatch && requested.length > 0 && x.shape.length > 0 && requested[0] === x.shape[0]
}

function reshapeTo(n: NodeLowering, requested: number[]): void {
  // ONNX's Reshape reads 0 as "copy the input's dim", which is how the batch follows the input.
  if (requested.includes(0)) n.fail(`its shape [${requested.join(', ')}] has a zero-size dim, which ONNX's Reshape reads as "copy the input's dim"`)
  const shape = followsBatch(n, requested) ? [0, ...requested.slice(1)] : requested
  n.finish('Reshape', [n.input(0).name, n.int64s('shape', shape)])
}
