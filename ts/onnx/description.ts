// The traced graph as the tracer describes it (ts/trace.ts's `TracedGraph.describe()`).
import type { DType } from '../types'

export type AttributeValue = number | number[] | boolean | string | null

export interface GraphValue {
  id: number
  kind: 'input' | 'constant' | 'node'
  shape: number[]
  dtype: DType
  /** A constant's `stateDict()` key. */
  name?: string
}

export interface GraphNode {
  op: string
  inputs: (number | null)[]
  output: number
  attrs: Record<string, AttributeValue>
}

export interface GraphDescription {
  inputs: number[]
  outputs: number[]
  values: GraphValue[]
  nodes: GraphNode[]
}
