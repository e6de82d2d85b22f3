/**
 * ONNX export: a model traced through one eval-mode forward and written as an ONNX file that
 * onnxruntime (Node, browsers, Python) and other ONNX tools run, like `torch.onnx.export`.
 *
 * ```ts
 * await ft.onnx.exportModel(model, ft.randn([2, 3, 32, 32]), 'mycnn.onnx', { dynamicBatch: true })
 * ```
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { InvalidArgumentError, IoError, OnnxExportError, TraceError } from '../errors'
import { Module } from '../nn/module'
import { Tensor } from '../tensor'
import { type TracedGraph, traceModule } from '../trace'
import { describe } from '../validate'
import { version } from '../version'
import { buildModel, OPSET_RANGE } from './model'
import { onnx } from './onnx-proto'

export { OnnxExportError } from '../errors'
export { BATCH_DIM, OPSET_RANGE } from './model'

/** The opset {@link exportModel} writes unless told otherwise; the tests run it in onnxruntime for Node and Python. */
export const DEFAULT_OPSET = 17

/** Options of {@link exportModel} and {@link toBuffer}. */
export interface ExportOptions {
  /** Names of the graph's inputs, one per example tensor (default `input`, or `input_0`, `input_1`, ... for several). */
  inputNames?: readonly string[]
  /** Names of the graph's outputs, one per output of `forward` (default `output`, or `output_0`, ... for several). */
  outputNames?: readonly string[]
  /**
   * Make dim 0 of the inputs, and of the outputs whose traced dim 0 equals it, the symbolic `batch`,
   * so the file runs on any batch size (default false: the example's shapes are fixed). Reshapes,
   * views and expands whose requested dim 0 equals their input's follow the batch; trace with a
   * batch other than 1, so that a literal 1 is not mistaken for the batch.
   */
  dynamicBatch?: boolean
  /** The ONNX opset to write, {@link OPSET_RANGE} (default {@link DEFAULT_OPSET}). */
  opsetVersion?: number
  /** String pairs stored in the model's `metadata_props` (for example the class names), which ONNX tools show as the model's custom metadata. */
  metadata?: Readonly<Record<string, string>>
}

/**
 * The ONNX file of `model` as bytes. `model` runs one forward on `example` in eval mode (its
 * training flags are restored afterwards) with every op traced: parameters and buffers become
 * initializers named by their `stateDict()` keys, each op its ONNX operators. An op ONNX cannot
 * express exactly throws an `OnnxExportError` naming it.
 */
export function toBuffer(model: Module, example: Tensor | readonly Tensor[], options: ExportOptions = {}): Uint8Array {
  if (!(model instanceof Module)) throw new InvalidArgumentError(`onnx export: model must be an nn.Module, got ${describe(model)}`)
  const inputs = example instanceof Tensor ? [example] : Array.isArray(example) ? [...(example as Tensor[])] : []
  if (inputs.length === 0 || !inputs.every((t) => t instanceof Tensor)) {
    throw new InvalidArgumentError(`onnx export: example must be a Tensor or a non-empty array of Tensors, got ${describe(example)}`)
  }
  const { opsetVersion = DEFAULT_OPSET, dynamicBatch = false, metadata = {} } = options
  if (!Number.isInteger(opsetVersion) || opsetVersion < OPSET_RANGE.min || opsetVersion > OPSET_RANGE.max) {
    throw new InvalidArgumentError(`onnx export: opsetVersion must be an integer from ${OPSET_RANGE.min} to ${OPSET_RANGE.max}, got ${describe(opsetVersion)}`)
  }
  if (typeof dynamicBatch !== 'boolean') throw new InvalidArgumentError(`onnx export: dynamicBatch must be a boolean, got ${describe(dynamicBatch)}`)
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new InvalidArgumentError(`onnx export: metadata values must be strings, got ${describe(value)} for key '${key}'`)
  }
  const inputNames = checkNames('inputNames', options.inputNames, inputs.length, 'input')

  using graph = traceOrFail(model, inputs)
  const description = graph.describe()
  const outputNames = checkNames('outputNames', options.outputNames, description.outputs.length, 'output')
  const constants: Tensor[] = []
  const constant = (id: number) => {
    const tensor = graph.constant(id)
    constants.push(tensor)
    return tensor
  }
  try {
    const proto = buildModel(description, constant, {
      inputNames,
      outputNames,
      dynamicBatch,
      opsetVersion,
      metadata,
      graphName: model.constructor.name,
      producerVersion: version(),
    })
    const bytes = onnx.ModelProto.encode(proto).finish()
    // protobufjs hands out a Node Buffer; callers get the plain Uint8Array the signature promises.
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  } finally {
    for (const tensor of constants) tensor.dispose()
  }
}

/**
 * Writes `model` as an ONNX file at `path` (see {@link toBuffer}). The file is written under a
 * temporary name beside `path` and renamed over it once complete, so an existing file is never
 * left half-written; a path that cannot be written throws an `IoError` naming it.
 *
 * ```ts
 * await ft.onnx.exportModel(model, ft.randn([1, 3, 32, 32]), 'resnet.onnx', { outputNames: ['logits'] })
 * ```
 */
export async function exportModel(model: Module, example: Tensor | readonly Tensor[], path: string, options: ExportOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`exportModel: path must be a non-empty string, got ${describe(path)}`)
  const bytes = toBuffer(model, example, options)
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const file = await open(temporary, 'w')
    try {
      await file.writeFile(bytes)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw new IoError(`exportModel: cannot write ${path}: ${(error as Error).message}`, { cause: error })
  }
}

/** The trace of `model`, an op the trace cannot record being an export error too (its TraceError the cause). */
function traceOrFail(model: Module, inputs: Tensor[]): TracedGraph {
  try {
    return traceModule(model, inputs)
  } catch (error) {
    if (!(error instanceof TraceError)) throw error
    // The native message reads '<op>: cannot be traced: ...'.
    const op = /^([\w.]+):/.exec(error.message)?.[1]
    throw new OnnxExportError(`cannot export to ONNX: ${error.message}`, { op, cause: error })
  }
}

function checkNames(option: string, names: readonly string[] | undefined, count: number, base: string): string[] {
  if (names === undefined) return count === 1 ? [base] : Array.from({ length: count }, (_, i) => `${base}_${i}`)
  if (!Array.isArray(names) || names.length !== count || !names.every((n) => typeof n === 'string' && n !== '')) {
    throw new InvalidArgumentError(`onnx export: ${option} must be ${count} non-empty string${count === 1 ? '' : 's'} (one per ${base}), got ${JSON.stringify(names)}`)
  }
  if (new Set(names).size !== names.length) throw new InvalidArgumentError(`onnx export: ${option} must be distinct, got ${JSON.stringify(names)}`)
  return [...names]
}
