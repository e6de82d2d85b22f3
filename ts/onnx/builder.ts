// Assembles an ONNX graph: unique value names, nodes with typed attributes, and initializers
// encoded from tensors' bytes (raw_data, little-endian as ONNX requires).
import { endianness } from 'node:os'
import { OnnxExportError } from '../errors'
import type { Tensor } from '../tensor'
import type { DType } from '../types'
import { onnx } from './onnx-proto'

const ElemType = onnx.TensorProto.DataType
const AttrType = onnx.AttributeProto.AttributeType

/** The ONNX element type of each Ferrite dtype. */
export const ONNX_DTYPE: Record<DType, onnx.TensorProto.DataType> = {
  float32: ElemType.FLOAT,
  bfloat16: ElemType.BFLOAT16,
  int64: ElemType.INT64,
  bool: ElemType.BOOL,
}

/** One node attribute, tagged with its ONNX type (an integer-valued float must stay a FLOAT). */
export type Attribute =
  | { name: string; int: number }
  | { name: string; ints: readonly number[] }
  | { name: string; float: number }
  | { name: string; string: string }

export const int = (name: string, value: number): Attribute => ({ name, int: value })
export const ints = (name: string, values: readonly number[]): Attribute => ({ name, ints: values })
export const float = (name: string, value: number): Attribute => ({ name, float: value })
export const string = (name: string, value: string): Attribute => ({ name, string: value })

function attributeProto(attribute: Attribute): onnx.IAttributeProto {
  if ('int' in attribute) return { name: attribute.name, type: AttrType.INT, i: attribute.int }
  if ('ints' in attribute) return { name: attribute.name, type: AttrType.INTS, ints: [...attribute.ints] }
  if ('string' in attribute) return { name: attribute.name, type: AttrType.STRING, s: new TextEncoder().encode(attribute.string) }
  return { name: attribute.name, type: AttrType.FLOAT, f: attribute.float }
}

/** The bytes of a typed array, viewed without copying. */
const bytesOf = (array: ArrayBufferView) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength)

/**
 * A tensor's values as ONNX raw_data. Typed arrays hold host-order bytes, which are ONNX's
 * little-endian order on every platform Ferrite ships for; bfloat16 values arrive widened to
 * float32 exactly, so their upper halves are the bfloat16 bits.
 */
function rawData(tensor: Tensor): Uint8Array {
  if (endianness() !== 'LE') throw new OnnxExportError('ONNX export needs a little-endian host: raw_data is written from the tensors\' own bytes')
  const values = tensor.toTypedArray()
  if (tensor.dtype !== 'bfloat16') return bytesOf(values)
  const halves = new Uint16Array(values.buffer, values.byteOffset, values.length * 2)
  const upper = new Uint16Array(values.length)
  for (let i = 0; i < upper.length; i++) upper[i] = halves[2 * i + 1]
  return bytesOf(upper)
}

/** float32 `value` rounded to the nearest bfloat16 (ties to even), as Ferrite rounds scalars. */
export function roundToBfloat16(value: number): number {
  const word = new Float32Array([value])
  const bits = new Uint32Array(word.buffer)
  if (!Number.isNaN(word[0])) bits[0] = (bits[0] + 0x7fff + ((bits[0] >>> 16) & 1)) & 0xffff0000
  return word[0]
}

/** Builds one graph: every name it hands out is unique within it. */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = []
  readonly initializers: onnx.ITensorProto[] = []
  readonly #taken = new Set<string>()

  /** Claims `name` exactly; a second claim of the same name is a bug in the caller. */
  claim(name: string): string {
    if (this.#taken.has(name)) throw new OnnxExportError(`two values of the graph are both called '${name}'; give inputs and outputs names distinct from the model's stateDict() keys`)
    this.#taken.add(name)
    return name
  }

  /** A new name starting with `base`, suffixed when it is taken. */
  fresh(base: string): string {
    let name = base
    for (let n = 1; this.#taken.has(name); n++) name = `${base}_${n}`
    return this.claim(name)
  }

  /** Adds a node computing `output` (a fresh name by default) and returns the output's name. */
  node(opType: string, inputs: readonly (string | null)[], attributes: readonly Attribute[] = [], output = this.fresh(opType)): string {
    // An absent optional input is an empty name; trailing ones are dropped, as ONNX prefers.
    const names = inputs.map((i) => i ?? '')
    while (names.length > 0 && names[names.length - 1] === '') names.pop()
    this.nodes.push({ opType, name: output, input: names, output: [output], attribute: attributes.map(attributeProto) })
    return output
  }

  /** Adds an initializer holding `tensor`'s values, called `name` exactly or, without one, a fresh `constant`. */
  tensor(tensor: Tensor, name?: string): string {
    const claimed = name === undefined ? this.fresh('constant') : this.claim(name)
    this.initializers.push({ name: claimed, dims: [...tensor.shape], dataType: ONNX_DTYPE[tensor.dtype], rawData: rawData(tensor) })
    return claimed
  }

  /** An int64 initializer (`[values.length]`, or a scalar with `scalar: true`): shapes, axes, indices. */
  int64s(base: string, values: readonly (number | bigint)[], { scalar = false } = {}): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v))
    const name = this.fresh(base)
    this.initializers.push({ name, dims: scalar ? [] : [values.length], dataType: ElemType.INT64, rawData: bytesOf(data) })
    return name
  }

  /** A scalar float32 initializer. */
  float32(base: string, value: number): string {
    const name = this.fresh(base)
    this.initializers.push({ name, dims: [], dataType: ElemType.FLOAT, rawData: bytesOf(new Float32Array([value])) })
    return name
  }

  /** A float32 vector of `length` copies of `value` (BatchNorm's missing scale or shift). */
  filled(base: string, length: number, value: number): string {
    const name = this.fresh(base)
    this.initializers.push({ name, dims: [length], dataType: ElemType.FLOAT, rawData: bytesOf(new Float32Array(length).fill(value)) })
    return name
  }

  /** A scalar initializer of an int64 or bool dtype. */
  integer(base: string, value: number, dtype: 'int64' | 'bool'): string {
    if (dtype === 'int64') return this.int64s(base, [value], { scalar: true })
    const name = this.fresh(base)
    this.initializers.push({ name, dims: [], dataType: ElemType.BOOL, rawData: new Uint8Array([value ? 1 : 0]) })
    return name
  }
}
