/**
 * `ft.jit`: tracing a function or a module into a graph, like `torch.jit.trace` (see trace.ts).
 */
export { trace, traceModule, TracedGraph, TraceError } from './trace'
export type { GraphAttr, GraphDescription, GraphNode, GraphValue, TraceOptions } from './trace'
