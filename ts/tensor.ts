import { IndexOutOfRangeError, InvalidArgumentError } from './errors'
import { native, type TensorHandle } from './native'
import type { DeviceName, DType, NestedArray, Shape, ToOptions } from './types'
import { DTYPES } from './types'
import { track } from './scope'
import { checkInt, checkInts, describe } from './validate'

const { BinaryOpCode: Binary, UnaryOpCode: Unary, ReduceOpCode: Reduce } = native

/** Options of reductions that can keep the reduced dims as size 1. */
export interface ReduceOptions {
  /** Keep each reduced dim as size 1 so the result broadcasts against the input, like PyTorch's `keepdim` (default false). */
  keepDim?: boolean
}

/** Values and indices returned by `max(dim)` and `min(dim)`. */
export interface ValuesIndices {
  /** The largest (or smallest) values along the dim. */
  values: Tensor
  /** Their positions along the dim, int64. */
  indices: Tensor
}

/** The right-hand side of an elementwise op: a tensor, or a number that broadcasts. */
export type Operand = Tensor | number

const inspect = Symbol.for('nodejs.util.inspect.custom')

/**
 * An n-dimensional array whose elements live in native memory (Rust), like `torch.Tensor`.
 *
 * Ops return new tensors; views (`view`, `transpose`, ...) share storage with their base.
 * Memory is freed when the tensor is garbage collected, or at once with `dispose()` / `using`.
 */
export class Tensor {
  /** @internal The addon's number for the native tensor. */
  readonly handle: TensorHandle
  #shape: number[] | undefined

  /** @internal Tensors are made by factories such as `ft.tensor` and by ops. */
  constructor(handle: TensorHandle) {
    this.handle = handle
    track(this)
  }

  /** The size of each dim, e.g. `[2, 3]`. */
  get shape(): number[] {
    this.#shape ??= native.shape(this.handle)
    return [...this.#shape]
  }

  /** Number of dims. */
  get ndim(): number {
    this.#shape ??= native.shape(this.handle)
    return this.#shape.length
  }

  /** The element type: `'float32'`, `'bfloat16'`, `'int64'` or `'bool'`. */
  get dtype(): DType {
    return native.dtype(this.handle) as DType
  }

  /** The device holding the storage, e.g. `'cpu'`. */
  get device(): DeviceName {
    return native.device(this.handle) as DeviceName
  }

  /** Whether autograd tracks ops on this tensor. Set it on leaves such as parameters. */
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle)
  }

  /** Turns gradient tracking on or off; only float32 tensors can require grad, and only leaves can turn it off. */
  set requiresGrad(value: boolean) {
    native.setRequiresGrad(this.handle, value)
  }

  /** Sets `requiresGrad` in place and returns this tensor, like PyTorch's `requires_grad_()`. */
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.handle, value)
    return this
  }

  /** True for tensors no recorded op produced (user data, parameters). */
  get isLeaf(): boolean {
    return native.isLeaf(this.handle)
  }

  /**
   * How many in-place changes (`copy_`, optimizer steps) this tensor's storage has had, shared
   * with its views, like PyTorch's `_version`. `backward()` refuses to use a tensor saved for it
   * whose version has changed since.
   */
  get _version(): number {
    return native.version(this.handle)
  }

  /** The name of the op that produced this tensor (`'MulBackward0'`), or null for leaves. */
  get gradFn(): string | null {
    return native.gradFn(this.handle)
  }

  /** The gradient accumulated by `backward()`, or null. Assign null to clear it. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle)
    return g === null ? null : new Tensor(g)
  }

  /** Replaces the accumulated gradient (same shape and dtype as this tensor); null clears it. */
  set grad(value: Tensor | null) {
    native.setGrad(this.handle, value === null ? null : operand('grad', value).handle)
  }

  /**
   * Computes gradients of this tensor with respect to every leaf that requires them and adds
   * them to the leaves' `grad`. One-element tensors need no `gradient`. The graph is freed
   * afterwards unless `retainGraph` is set.
   */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, gradient === undefined ? undefined : operand('backward', gradient).handle, options.retainGraph ?? false)
  }

  /**
   * Copies `src` into this tensor's storage in place (broadcasting and converting the dtype),
   * like PyTorch's `copy_`. Leaves that require grad can only be changed inside `ft.noGrad`.
   */
  copy_(src: Tensor): this {
    native.copyFrom(this.handle, operand('copy_', src).handle)
    return this
  }

  /** The same values outside the autograd graph (shares storage). */
  detach(): Tensor {
    return new Tensor(native.detach(this.handle))
  }

  /** True once `dispose()` has been called. */
  get isDisposed(): boolean {
    return native.isDisposed(this.handle)
  }

  /** Number of elements. */
  numel(): number {
    this.#shape ??= native.shape(this.handle)
    return this.#shape.reduce((a, b) => a * b, 1)
  }

  /** Size of one dim (negative counts from the end), or the whole shape. */
  size(): number[]
  size(dim: number): number
  size(dim?: number): number | number[] {
    if (dim === undefined) return this.shape
    const shape = this.shape
    const d = checkInt('size', 'dim', dim) < 0 ? dim + shape.length : dim
    if (d < 0 || d >= shape.length) {
      throw new IndexOutOfRangeError(`size: dimension out of range (expected to be in range of [${-shape.length}, ${shape.length - 1}], but got ${dim})`)
    }
    return shape[d]
  }

  /** The elements as nested JS arrays (numbers, or booleans for bool tensors); a 0-d tensor gives a scalar. */
  toArray(): NestedArray<number | boolean> {
    const flat: ArrayLike<number> = native.toFloat64Array(this.handle)
    const shape = this.shape
    const asBool = this.dtype === 'bool'
    let pos = 0
    const build = (dim: number): NestedArray<number | boolean> => {
      if (dim === shape.length) {
        const v = flat[pos++]
        return asBool ? v !== 0 : v
      }
      const out: NestedArray<number | boolean>[] = new Array(shape[dim])
      for (let i = 0; i < shape[dim]; i++) out[i] = build(dim + 1)
      return out
    }
    return build(0)
  }

  /**
   * A row-major copy: `Float32Array` for float32, `BigInt64Array` for int64, `Uint8Array` (0/1) for bool.
   * JS has no bfloat16 array (and PyTorch's `.numpy()` refuses bfloat16), so a bfloat16 tensor gives
   * a `Float32Array` of its values widened exactly, like `x.float()`'s.
   */
  toTypedArray(): Float32Array | BigInt64Array | Uint8Array {
    switch (this.dtype) {
      case 'float32':
      case 'bfloat16':
        return native.toFloat32Array(this.handle)
      case 'int64':
        return native.toInt64Array(this.handle)
      case 'bool':
        return Uint8Array.from(native.toFloat64Array(this.handle))
    }
  }

  /** The value of a one-element tensor (bools as 0 or 1). */
  item(): number {
    return native.item(this.handle)
  }

  /** PyTorch's print layout, e.g. `tensor([[1., 2.],\n        [3., 4.]])`. */
  toString(): string {
    return native.format(this.handle)
  }

  /** What `console.log` and Node's `util.inspect` print: `toString()`, or `tensor(<disposed>)`. */
  [inspect](): string {
    return this.isDisposed ? 'tensor(<disposed>)' : this.toString()
  }

  /** Frees the native memory now. Views of the same storage keep it alive until they go too. */
  dispose(): void {
    // Not unregistered from the garbage collector's registry: its later release of this handle
    // does nothing, and costs less than unregistering (which took a third of an op's time).
    native.release(this.handle)
  }

  /** Same as `dispose()`; lets `using x = ...` free the tensor at the end of its block. */
  [Symbol.dispose](): void {
    native.release(this.handle)
  }

  /** Elementwise sum with broadcasting, like `torch.add`; `other` may be a number. Bool + bool is logical or. */
  add(other: Operand): Tensor {
    return this.#binary(Binary.Add, 'add', other)
  }

  /** Elementwise difference with broadcasting, like `torch.sub`; `other` may be a number. Not defined for two bool operands. */
  sub(other: Operand): Tensor {
    return this.#binary(Binary.Sub, 'sub', other)
  }

  /** Elementwise product with broadcasting, like `torch.mul`; `other` may be a number. Bool * bool is logical and. */
  mul(other: Operand): Tensor {
    return this.#binary(Binary.Mul, 'mul', other)
  }

  /** True division: integer tensors divide to float32, as in PyTorch. */
  div(other: Operand): Tensor {
    return this.#binary(Binary.Div, 'div', other)
  }

  /** Elementwise power with broadcasting, like `torch.pow`; `exponent` may be a number. Integer bases with integer exponents stay int64 (negative exponents throw). */
  pow(exponent: Operand): Tensor {
    return this.#binary(Binary.Pow, 'pow', exponent)
  }

  /** Elementwise maximum (NaN wins). */
  maximum(other: Operand): Tensor {
    return this.#binary(Binary.Maximum, 'maximum', other)
  }

  /** Elementwise minimum (NaN wins). */
  minimum(other: Operand): Tensor {
    return this.#binary(Binary.Minimum, 'minimum', other)
  }

  /** Elementwise `==` with broadcasting, like `torch.eq`; returns a bool tensor. */
  eq(other: Operand): Tensor {
    return this.#binary(Binary.Eq, 'eq', other)
  }

  /** Elementwise `!=` with broadcasting, like `torch.ne`; returns a bool tensor. */
  ne(other: Operand): Tensor {
    return this.#binary(Binary.Ne, 'ne', other)
  }

  /** Elementwise `<` with broadcasting, like `torch.lt`; returns a bool tensor. */
  lt(other: Operand): Tensor {
    return this.#binary(Binary.Lt, 'lt', other)
  }

  /** Elementwise `<=` with broadcasting, like `torch.le`; returns a bool tensor. */
  le(other: Operand): Tensor {
    return this.#binary(Binary.Le, 'le', other)
  }

  /** Elementwise `>` with broadcasting, like `torch.gt`; returns a bool tensor. */
  gt(other: Operand): Tensor {
    return this.#binary(Binary.Gt, 'gt', other)
  }

  /** Elementwise `>=` with broadcasting, like `torch.ge`; returns a bool tensor. */
  ge(other: Operand): Tensor {
    return this.#binary(Binary.Ge, 'ge', other)
  }

  /** Elementwise negation, like `torch.neg`; not defined for bool tensors. */
  neg(): Tensor {
    return new Tensor(native.unary(this.handle, Unary.Neg))
  }

  /** Elementwise absolute value, like `torch.abs` (bool tensors give int64). */
  abs(): Tensor {
    return new Tensor(native.unary(this.handle, Unary.Abs))
  }

  /** Elementwise e^x, like `torch.exp`; integer and bool inputs give float32. */
  exp(): Tensor {
    return new Tensor(native.unary(this.handle, Unary.Exp))
  }

  /** Elementwise natural logarithm, like `torch.log` (`-Infinity` at 0, NaN below); integer and bool inputs give float32. */
  log(): Tensor {
    return new Tensor(native.unary(this.handle, Unary.Log))
  }

  /** Elementwise square root, like `torch.sqrt` (NaN below 0); integer and bool inputs give float32. */
  sqrt(): Tensor {
    return new Tensor(native.unary(this.handle, Unary.Sqrt))
  }

  /** Matrix product with PyTorch's rules for 1-D operands and broadcast batch dims. */
  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.handle, operand('matmul', other).handle))
  }

  /** Sum over all elements, or over `dim` (a dim or a list of dims). */
  sum(dim?: number | readonly number[], options: ReduceOptions = {}): Tensor {
    return new Tensor(native.reduce(this.handle, Reduce.Sum, dims('sum', dim), options.keepDim ?? false))
  }

  /** Mean over all elements or over `dim`; float tensors only. */
  mean(dim?: number | readonly number[], options: ReduceOptions = {}): Tensor {
    return new Tensor(native.reduce(this.handle, Reduce.Mean, dims('mean', dim), options.keepDim ?? false))
  }

  /** The largest element, or the largest along `dim` with its index. */
  max(): Tensor
  max(dim: number, options?: ReduceOptions): ValuesIndices
  max(dim?: number, options: ReduceOptions = {}): Tensor | ValuesIndices {
    return this.#extreme(Reduce.Max, Reduce.ArgMax, 'max', dim, options)
  }

  /** The smallest element, or the smallest along `dim` with its index. */
  min(): Tensor
  min(dim: number, options?: ReduceOptions): ValuesIndices
  min(dim?: number, options: ReduceOptions = {}): Tensor | ValuesIndices {
    return this.#extreme(Reduce.Min, Reduce.ArgMin, 'min', dim, options)
  }

  /** Index of the first largest element along `dim`, or in the flattened tensor. */
  argmax(dim?: number, options: ReduceOptions = {}): Tensor {
    return new Tensor(native.argReduce(this.handle, Reduce.ArgMax, optionalDim('argmax', dim), options.keepDim ?? false))
  }

  /** Index of the first smallest element along `dim`, or in the flattened tensor. */
  argmin(dim?: number, options: ReduceOptions = {}): Tensor {
    return new Tensor(native.argReduce(this.handle, Reduce.ArgMin, optionalDim('argmin', dim), options.keepDim ?? false))
  }

  /** Same elements in a new shape (one dim may be -1); copies only when a view is impossible. */
  reshape(shape: Shape): Tensor {
    return new Tensor(native.reshape(this.handle, checkInts('reshape', 'shape', shape)))
  }

  /** A view in a new shape (one dim may be -1); throws when the strides don't allow a view. */
  view(shape: Shape): Tensor {
    return new Tensor(native.view(this.handle, checkInts('view', 'shape', shape)))
  }

  /** Flattens dims `startDim..endDim` (inclusive) into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native.flatten(this.handle, checkInt('flatten', 'startDim', startDim), checkInt('flatten', 'endDim', endDim)))
  }

  /** A view with the dims reordered. */
  permute(dims: readonly number[]): Tensor {
    return new Tensor(native.permute(this.handle, checkInts('permute', 'dims', dims)))
  }

  /** A view with two dims swapped. */
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(native.transpose(this.handle, checkInt('transpose', 'dim0', dim0), checkInt('transpose', 'dim1', dim1)))
  }

  /** A view with a size-1 dim inserted at `dim`. */
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.handle, checkInt('unsqueeze', 'dim', dim)))
  }

  /** A view without size-1 dims (or without `dim`, if it has size 1). */
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this.handle, optionalDim('squeeze', dim)))
  }

  /** The `length` entries of `dim` from `start`, as a view (like `x.narrow(dim, start, length)`). */
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this.handle, checkInt('narrow', 'dim', dim), checkIndex('narrow', 'start', start), checkIndex('narrow', 'length', length)))
  }

  /** Entry `index` of `dim` with that dim removed, as a view (`x[i]` is `x.select(0, i)`). */
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this.handle, checkInt('select', 'dim', dim), checkInt('select', 'index', index)))
  }

  /** A broadcast view as `shape` (-1 keeps a dim); size-1 dims repeat without copying. */
  expand(shape: Shape): Tensor {
    return new Tensor(native.expand(this.handle, checkInts('expand', 'shape', shape)))
  }

  /** This tensor if its elements are dense in row-major order, else a dense copy. */
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.handle))
  }

  /** Whether the elements are dense in row-major order, like `is_contiguous()`; views such as `transpose` usually are not. */
  isContiguous(): boolean {
    return native.isContiguous(this.handle)
  }

  /** A copy with its own storage. */
  clone(): Tensor {
    return new Tensor(native.copy(this.handle))
  }

  /**
   * This tensor converted to a dtype or moved to a device, or both (`{ dtype, device }`, like
   * `x.to(device, dtype)`); itself, shared, when nothing changes. Casts between float dtypes are
   * differentiable: a float32 leaf cast to bfloat16 gets a float32 gradient.
   */
  to(target: DType | DeviceName | ToOptions): Tensor {
    if (typeof target === 'object' && target !== null) return this.#toOptions(target)
    if ((DTYPES as readonly string[]).includes(target)) return new Tensor(native.toDtype(this.handle, target))
    if (typeof target !== 'string') {
      throw new InvalidArgumentError(`to: expected a dtype (${DTYPES.join(', ')}) or a device ('cpu', 'cuda:N'), got ${String(target)}`)
    }
    // Only names starting like a device go to the device parser, so that 'float16' is not called an unknown device.
    if (!/^(cpu|cuda)/.test(target)) {
      throw new InvalidArgumentError(`to: '${target}' is neither a dtype Ferrite has (${DTYPES.join(', ')}) nor a device ('cpu', 'cuda' or 'cuda:N')`)
    }
    return new Tensor(native.toDevice(this.handle, target))
  }

  /** A float32 copy (itself when already float32), like PyTorch's `x.float()`. */
  float(): Tensor {
    return this.to('float32')
  }

  /** A bfloat16 copy (itself when already bfloat16), like PyTorch's `x.bfloat16()`. */
  bfloat16(): Tensor {
    return this.to('bfloat16')
  }

  /** An int64 copy (itself when already int64), like PyTorch's `x.long()`: floats truncate toward zero. */
  long(): Tensor {
    return this.to('int64')
  }

  #toOptions(options: ToOptions): Tensor {
    const { dtype, device } = options
    if (dtype !== undefined && !(DTYPES as readonly unknown[]).includes(dtype)) {
      throw new InvalidArgumentError(`to: unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`)
    }
    if (device !== undefined && (typeof device !== 'string' || !/^(cpu|cuda)/.test(device))) {
      throw new InvalidArgumentError(`to: expected a device ('cpu', 'cuda' or 'cuda:N'), got ${String(device)}`)
    }
    // Moved first, then cast on the device. Like to('float32') on a float32 tensor, a call that
    // changes nothing gives a new handle to the same tensor.
    if (device === undefined) return new Tensor(native.toDtype(this.handle, dtype ?? this.dtype))
    const moved = new Tensor(native.toDevice(this.handle, device))
    if (dtype === undefined) return moved
    const cast = new Tensor(native.toDtype(moved.handle, dtype))
    // The intermediate's handle only: a cast that changed nothing still holds the storage.
    moved.dispose()
    return cast
  }

  #binary(op: number, name: string, other: Operand): Tensor {
    if (typeof other === 'number') return new Tensor(native.binaryScalar(this.handle, op, other))
    return new Tensor(native.binary(this.handle, op, operand(name, other).handle))
  }

  #extreme(values: number, indices: number, op: string, dim: number | undefined, options: ReduceOptions): Tensor | ValuesIndices {
    if (dim === undefined) return new Tensor(native.reduce(this.handle, values, [], false))
    const d = checkInt(op, 'dim', dim)
    const keepDim = options.keepDim ?? false
    return {
      values: new Tensor(native.reduce(this.handle, values, [d], keepDim)),
      indices: new Tensor(native.argReduce(this.handle, indices, d, keepDim)),
    }
  }
}

function operand(op: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) {
    throw new InvalidArgumentError(`${op}: expected a Tensor${op === 'matmul' ? '' : ' or a number'}, got ${describe(value)}`)
  }
  return value
}

function checkIndex(op: string, name: string, value: number): number {
  if (checkInt(op, name, value) < 0) throw new InvalidArgumentError(`${op}: ${name} must be non-negative, got ${value}`)
  return value
}

function dims(op: string, dim: number | readonly number[] | undefined): number[] {
  if (dim === undefined) return []
  return typeof dim === 'number' ? [checkInt(op, 'dim', dim)] : checkInts(op, 'dim', dim)
}

function optionalDim(op: string, dim: number | undefined): number | undefined {
  return dim === undefined ? undefined : checkInt(op, 'dim', dim)
}
