import { InvalidArgumentError, ShapeMismatchError } from './errors'
import { native } from './native'
import { Tensor } from './tensor'
import { describe } from './validate'
import type { DeviceName, DType, NestedArray, Shape, TensorOptions } from './types'
import { DTYPES } from './types'
import { checkInt, checkShape } from './validate'

/** Data accepted by {@link tensor}: nested arrays of numbers or booleans, a scalar, or a typed array. */
export type TensorData = NestedArray<number | boolean> | Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array

/** Options of {@link tensor}: a typed array is 1-D unless `shape` says otherwise. */
export interface TensorDataOptions extends TensorOptions {
  /** The shape to give a typed array's elements (row-major; default `[data.length]`). Ignored for nested arrays. */
  shape?: Shape
}

function dtypeOf(op: string, options: TensorOptions, fallback: DType): DType {
  const dtype = options.dtype ?? fallback
  if (!DTYPES.includes(dtype)) {
    throw new InvalidArgumentError(`${op}: unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`)
  }
  return dtype
}

function deviceOf(options: TensorOptions): DeviceName {
  return options.device ?? 'cpu'
}

/**
 * A tensor holding a copy of `data`, like `torch.tensor`. JS numbers make float32 tensors and
 * booleans bool tensors unless `dtype` says otherwise; booleans mixed with numbers count as 0 and 1.
 *
 * ```ts
 * ft.tensor([[1, 2], [3, 4]])              // float32, shape [2, 2]
 * ft.tensor([3, 1, 4], { dtype: 'int64' })  // class labels
 * ```
 */
export function tensor(data: TensorData, options: TensorDataOptions = {}): Tensor {
  let made: Tensor
  if (ArrayBuffer.isView(data)) {
    made = fromTypedArray(data as Exclude<TensorData, NestedArray<number | boolean>>, options)
  } else {
    const shape = inferShape(data)
    const dtype = dtypeOf('tensor', options, allBooleans(data, shape.length) ? 'bool' : 'float32')
    const flat = dtype === 'float32' ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : new Float64Array(shape.reduce((a, b) => a * b, 1))
    flatten(data, shape, flat)
    made = new Tensor(dtype === 'float32' ? native.fromFloat32(flat as Float32Array, shape) : native.fromFloat64(flat as Float64Array, shape, dtype))
  }
  return finish(onDevice(made, deviceOf(options)), options)
}

function fromTypedArray(data: Exclude<TensorData, NestedArray<number | boolean>>, options: TensorDataOptions): Tensor {
  const shape = options.shape === undefined ? [data.length] : checkShape('tensor', options.shape)
  const numel = shape.reduce((a, b) => a * b, 1)
  if (numel !== data.length) {
    throw new ShapeMismatchError(`tensor: ${data.length} values cannot fill shape [${shape.join(', ')}] (${numel} elements)`)
  }
  if (data instanceof BigInt64Array) {
    const t = new Tensor(native.fromInt64(data, shape))
    return options.dtype === undefined || options.dtype === 'int64' ? t : t.to(options.dtype)
  }
  const dtype = dtypeOf('tensor', options, 'float32')
  if (data instanceof Float32Array && dtype === 'float32') return new Tensor(native.fromFloat32(data, shape))
  if (data instanceof Float32Array && dtype === 'bfloat16') {
    // Rounded in the core, without a float64 copy in JS.
    const wide = new Tensor(native.fromFloat32(data, shape))
    const t = wide.to('bfloat16')
    wide.dispose()
    return t
  }
  return new Tensor(native.fromFloat64(data instanceof Float64Array ? data : Float64Array.from(data), shape, dtype))
}

/** The shape of nested arrays, read along the first element of each level. */
function inferShape(data: unknown): number[] {
  const shape: number[] = []
  let level = data
  while (Array.isArray(level)) {
    shape.push(level.length)
    if (level.length === 0) break
    level = level[0]
  }
  return shape
}

/** Whether every element is a boolean: like `torch.tensor([True, 2])`, numbers among booleans make a number tensor. */
function allBooleans(data: unknown, depth: number): boolean {
  if (depth === 0) return typeof data === 'boolean'
  return Array.isArray(data) && data.length > 0 && data.every((x) => allBooleans(x, depth - 1))
}

/** Copies nested arrays into `out`, checking that every level has the length the shape promises. */
function flatten(data: unknown, shape: number[], out: Float32Array | Float64Array): void {
  let pos = 0
  const path: number[] = []
  const walk = (value: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (typeof value === 'number') out[pos++] = value
      else if (typeof value === 'boolean') out[pos++] = value ? 1 : 0
      else if (Array.isArray(value)) {
        throw new ShapeMismatchError(`tensor: ragged nested array: expected a number at index [${path.join(', ')}], got an array of length ${value.length}`)
      } else {
        throw new InvalidArgumentError(`tensor: expected numbers or booleans, got ${describe(value)} at index [${path.join(', ')}]`)
      }
      return
    }
    if (!Array.isArray(value) || value.length !== shape[dim]) {
      const got = Array.isArray(value) ? `length ${value.length}` : describe(value)
      throw new ShapeMismatchError(`tensor: ragged nested array: expected a sequence of length ${shape[dim]} at dim ${dim} (index [${path.join(', ')}]), got ${got}`)
    }
    for (let i = 0; i < value.length; i++) {
      path.push(i)
      walk(value[i], dim + 1)
      path.pop()
    }
  }
  walk(data, 0)
}

/** Applies the options that act on a made tensor. */
function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true
  return t
}

function onDevice(t: Tensor, device: DeviceName): Tensor {
  if (device === 'cpu') return t
  const moved = t.to(device)
  t.dispose()
  return moved
}

/** A tensor of `shape` filled with `value` (float32 unless `dtype` says otherwise). */
export function full(shape: Shape, value: number | boolean, options: TensorOptions = {}): Tensor {
  const dtype = dtypeOf('full', options, typeof value === 'boolean' ? 'bool' : 'float32')
  return finish(new Tensor(native.full(checkShape('full', shape), Number(value), dtype, deviceOf(options))), options)
}

/** A tensor of `shape` filled with 0, like `torch.zeros` (float32 unless `dtype` says otherwise). */
export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.zeros(checkShape('zeros', shape), dtypeOf('zeros', options, 'float32'), deviceOf(options))), options)
}

/** A tensor of `shape` filled with 1, like `torch.ones` (float32 unless `dtype` says otherwise). */
export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.ones(checkShape('ones', shape), dtypeOf('ones', options, 'float32'), deviceOf(options))), options)
}

/** Options of the `*Like` factories: dtype and device default to those of the model tensor. */
function likeOptions(t: Tensor, options: TensorOptions): TensorOptions {
  return { ...options, dtype: options.dtype ?? t.dtype, device: options.device ?? t.device }
}

/** Zeros with the shape of `t`, and its dtype and device unless `options` say otherwise, like `torch.zeros_like`. */
export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return zeros(t.shape, likeOptions(t, options))
}

/** Ones with the shape of `t`, and its dtype and device unless `options` say otherwise, like `torch.ones_like`. */
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return ones(t.shape, likeOptions(t, options))
}

/** `value` in the shape of `t`, with its dtype and device unless `options` say otherwise, like `torch.full_like`. */
export function fullLike(t: Tensor, value: number | boolean, options: TensorOptions = {}): Tensor {
  return full(t.shape, value, likeOptions(t, options))
}

/**
 * `[0, end)` or `[start, end)` in steps of `step` (float32 unless `dtype` says otherwise):
 * `ft.arange(5)`, `ft.arange(1, 2, 0.25)`.
 */
export function arange(end: number): Tensor
export function arange(start: number, end: number, step?: number, options?: TensorOptions): Tensor
export function arange(startOrEnd: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [start, stop] = end === undefined ? [0, startOrEnd] : [startOrEnd, end]
  return finish(new Tensor(native.arange(start, stop, step, dtypeOf('arange', options, 'float32'), deviceOf(options))), options)
}

/** Uniform draws from [0, 1), float32. Seeded by {@link manualSeed}. */
export function rand(shape: Shape, options: Omit<TensorOptions, 'dtype'> = {}): Tensor {
  return finish(new Tensor(native.rand(checkShape('rand', shape), deviceOf(options))), options)
}

/** Standard normal draws, float32. Seeded by {@link manualSeed}. */
export function randn(shape: Shape, options: Omit<TensorOptions, 'dtype'> = {}): Tensor {
  return finish(new Tensor(native.randn(checkShape('randn', shape), deviceOf(options))), options)
}

/** Uniform integers from [low, high), int64. Seeded by {@link manualSeed}. */
export function randint(low: number, high: number, shape: Shape, options: Omit<TensorOptions, 'dtype'> = {}): Tensor {
  return finish(new Tensor(native.randint(checkInt('randint', 'low', low), checkInt('randint', 'high', high), checkShape('randint', shape), deviceOf(options))), options)
}

/** Uniform draws from [0, 1) in the shape of `t`, on its device, float32, like `torch.rand_like`. */
export function randLike(t: Tensor): Tensor {
  return rand(t.shape, { device: t.device })
}

/** Standard normal draws in the shape of `t`, on its device, float32, like `torch.randn_like`. */
export function randnLike(t: Tensor): Tensor {
  return randn(t.shape, { device: t.device })
}

/** Reseeds the generator behind `rand`, `randn` and `randint`, for reproducible runs. */
export function manualSeed(seed: number): void {
  native.manualSeed(checkInt('manualSeed', 'seed', seed))
}

/** The whole state of the generator behind `rand`, `randn` and `randint`, like `torch.get_rng_state()`. */
export function getRngState(): Uint8Array {
  return new Uint8Array(native.rngState())
}

/** Restores a state from {@link getRngState}, like `torch.set_rng_state()`: the same draws follow. */
export function setRngState(state: Uint8Array): void {
  if (!(state instanceof Uint8Array)) throw new InvalidArgumentError('setRngState: expected the Uint8Array that getRngState returned')
  native.setRngState(Buffer.from(state.buffer, state.byteOffset, state.byteLength))
}

function tensorList(op: string, tensors: readonly Tensor[]): Tensor[] {
  if (!Array.isArray(tensors) || tensors.some((t) => !(t instanceof Tensor))) {
    throw new InvalidArgumentError(`${op}: expected an array of Tensors`)
  }
  return tensors as Tensor[]
}

/** Joins tensors along an existing dim, like `torch.cat`. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(native.cat(tensorList('cat', tensors).map((t) => t.handle), checkInt('cat', 'dim', dim)))
}

/** Joins same-shaped tensors along a new dim, like `torch.stack`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(native.stack(tensorList('stack', tensors).map((t) => t.handle), checkInt('stack', 'dim', dim)))
}
