// A traced graph as an ONNX ModelProto: graph inputs and outputs with their names and shapes,
// constants as initializers named by their stateDict() keys, each op through ops.ts.
import { OnnxExportError } from '../errors'
import type { Tensor } from '../tensor'
import { GraphBuilder, ONNX_DTYPE } from './builder'
import type { GraphDescription, GraphValue } from '../trace'
import { LOWERINGS, NodeLowering, type Operand } from './ops'
import { onnx } from './onnx-proto'

/** The opsets the exporter writes: from 13 (Softmax over one axis, Squeeze/Unsqueeze axes as inputs) to 21, the newest its tests run. */
export const OPSET_RANGE: {
  /** The oldest opset written. */
  readonly min: 13
  /** The newest opset written. */
  readonly max: 21
} = { min: 13, max: 21 }

/** The oldest IR version each opset may be stored with (onnx.helper.VERSION_TABLE). */
function irVersion(opset: number): number {
  if (opset <= 14) return 7
  if (opset <= 18) return 8
  if (opset <= 20) return 9
  return 10
}

/** The dimension name of the batch axis under `dynamicBatch`. */
export const BATCH_DIM = 'batch'

export interface ModelSettings {
  inputNames: readonly string[]
  outputNames: readonly string[]
  dynamicBatch: boolean
  opsetVersion: number
  metadata: Readonly<Record<string, string>>
  graphName: string
  producerVersion: string
}

/**
 * The ONNX model of a traced graph. `constant(id)` gives the values of the graph's constants (the
 * tracer's `TracedGraph.constant`).
 */
export function buildModel(graph: GraphDescription, constant: (id: number) => Tensor, settings: ModelSettings): onnx.ModelProto {
  const { values } = graph
  const builder = new GraphBuilder()
  const names: (string | undefined)[] = new Array(values.length)

  graph.inputs.forEach((id, i) => (names[id] = builder.claim(settings.inputNames[i])))
  // A node's output that is also a graph output takes the output's name; anything else (an input,
  // a constant, a value output twice) reaches its output name through an Identity.
  const aliases: [id: number, name: string][] = []
  graph.outputs.forEach((id, i) => {
    const name = builder.claim(settings.outputNames[i])
    if (values[id].kind === 'node' && names[id] === undefined) names[id] = name
    else aliases.push([id, name])
  })

  // Constants first, so that the names made up for nodes and their helpers avoid the stateDict keys.
  for (const value of values) if (value.kind === 'constant') names[value.id] = builder.tensor(constant(value.id), value.name)

  const operand = (id: number): Operand => {
    const { dtype, shape } = values[id]
    const name = names[id]
    if (name === undefined) throw new OnnxExportError(`the traced graph uses value ${id} before any node produces it`)
    return { name, dtype, shape }
  }

  for (const node of graph.nodes) {
    const lower = LOWERINGS[node.op]
    if (!lower) throw new OnnxExportError(`cannot export '${node.op}' to ONNX: Ferrite has no ONNX mapping for it`, { op: node.op })
    const inputs = node.inputs.map((id) => (id === null ? null : operand(id)))
    const name = (names[node.output] ??= builder.fresh(node.op))
    const output = { name, dtype: values[node.output].dtype, shape: values[node.output].shape }
    lower(new NodeLowering(builder, node, inputs, output, settings))
  }
  for (const [id, name] of aliases) builder.node('Identity', [operand(id).name], [], name)

  const batch = graph.inputs.length > 0 ? values[graph.inputs[0]].shape[0] : undefined
  const valueInfo = (value: GraphValue, name: string): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: ONNX_DTYPE[value.dtype], shape: { dim: value.shape.map((size, axis) => dimension(size, axis === 0 && settings.dynamicBatch && size === batch)) } } },
  })
  return onnx.ModelProto.create({
    irVersion: irVersion(settings.opsetVersion),
    opsetImport: [{ domain: '', version: settings.opsetVersion }],
    producerName: 'ferrite',
    producerVersion: settings.producerVersion,
    graph: {
      name: settings.graphName,
      node: builder.nodes,
      initializer: builder.initializers,
      input: graph.inputs.map((id, i) => valueInfo(values[id], settings.inputNames[i])),
      output: graph.outputs.map((id, i) => valueInfo(values[id], settings.outputNames[i])),
    },
    metadataProps: Object.entries(settings.metadata).map(([key, value]) => ({ key, value })),
  })
}

const dimension = (size: number, symbolic: boolean): onnx.TensorShapeProto.IDimension => (symbolic ? { dimParam: BATCH_DIM } : { dimValue: size })
