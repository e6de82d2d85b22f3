/**
 * Typed errors. Every error Ferrite throws for bad input is a {@link FerriteError} whose `code`
 * is stable across releases, so callers can branch on it:
 *
 * ```ts
 * try { a.matmul(b) } catch (e) { if (e instanceof ft.FerriteError && e.code === 'ShapeMismatch') ... }
 * ```
 */

/** The stable codes carried by {@link FerriteError.code}. */
export type ErrorCode =
  | 'ShapeMismatch'
  | 'DTypeMismatch'
  | 'DeviceMismatch'
  | 'DeviceUnavailable'
  | 'IndexOutOfRange'
  | 'InvalidArgument'
  | 'DisposedTensor'
  | 'Io'
  | 'OutOfMemory'
  | 'NativeBinding'
  | 'OnnxExport'
  | 'Untraceable'
  | 'TensorInUse'
  | 'Internal'

/** Base class of every error Ferrite throws on purpose. */
export class FerriteError extends Error {
  /** The stable error code (`'ShapeMismatch'`, ...): branch on it rather than on the message. */
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Shapes that cannot work together: broadcasting, matmul, reshape, ragged nested arrays. */
export class ShapeMismatchError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('ShapeMismatch', message, options)
  }
}

/** An operand of the wrong dtype. */
export class DTypeMismatchError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('DTypeMismatch', message, options)
  }
}

/** Tensors on different devices used together. */
export class DeviceMismatchError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('DeviceMismatch', message, options)
  }
}

/** A device this build or this machine cannot provide (for example CUDA without a GPU). */
export class DeviceUnavailableError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('DeviceUnavailable', message, options)
  }
}

/** A dimension or index outside its valid range. */
export class IndexOutOfRangeError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('IndexOutOfRange', message, options)
  }
}

/** Any other unacceptable argument. */
export class InvalidArgumentError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('InvalidArgument', message, options)
  }
}

/** A tensor used after `dispose()`. */
export class DisposedTensorError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('DisposedTensor', message, options)
  }
}

/** A file that cannot be read or written: missing, unreadable, truncated, corrupt, or holding a dtype Ferrite lacks. The message names the file. */
export class IoError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('Io', message, options)
  }
}

/**
 * A buffer larger than the allocation limit (by default the machine's physical memory; see
 * `setAllocationLimit`) or than the system could give. The message says how many bytes were asked
 * for and why they were refused; the process is unharmed and can go on.
 */
export class OutOfMemoryError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('OutOfMemory', message, options)
  }
}

/**
 * The native addon could not be loaded: no binary for this platform was installed, or the one found
 * does not load. Thrown when `ferrite-ml` is first imported; the message names the platform, the
 * package that should have provided the binary, and how to fix it.
 */
export class NativeBindingError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('NativeBinding', message, options)
  }
}

/**
 * A model that cannot be written as ONNX: it calls an op ONNX has no equivalent for, or calls one
 * with arguments ONNX cannot express. `op` names the Ferrite op and the message says why, so
 * `ft.onnx.exportModel` never writes a file that would compute something else.
 */
export class OnnxExportError extends FerriteError {
  /** The Ferrite op that could not be exported (as the trace names it, e.g. `'adaptive_avg_pool2d'`), when one op is to blame. */
  readonly op: string | undefined
  constructor(message: string, options: ErrorOptions & { op?: string } = {}) {
    super('OnnxExport', message, options)
    this.op = options.op
  }
}

/**
 * An op that a traced graph cannot replay read a tensor of the function being traced (for
 * `ft.jit.trace`, `ft.onnx.exportModel`, `Module.predict`): reading values (`item()`,
 * `toArray()`), a loss, an optimizer step, an in-place copy. The message names the op and lists
 * the ops a trace can record.
 */
export class TraceError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('Untraceable', message, options)
  }
}

/**
 * A tensor disposed (by `dispose()`, or at the end of a `tidy` scope or a `Module.forward`) while
 * a call running off the JS thread uses it (`Module.predict`, `ft.noGradAsync`,
 * `TracedGraph.runAsync`). The tensor stays alive; dispose it once that call's promise has settled.
 */
export class TensorInUseError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('TensorInUse', message, options)
  }
}

/** A bug in Ferrite (for example a Rust panic caught at the boundary). Please report it. */
export class InternalError extends FerriteError {
  constructor(message: string, options?: ErrorOptions) {
    super('Internal', message, options)
  }
}

const byCode: Record<ErrorCode, new (message: string, options?: ErrorOptions) => FerriteError> = {
  ShapeMismatch: ShapeMismatchError,
  DTypeMismatch: DTypeMismatchError,
  DeviceMismatch: DeviceMismatchError,
  DeviceUnavailable: DeviceUnavailableError,
  IndexOutOfRange: IndexOutOfRangeError,
  InvalidArgument: InvalidArgumentError,
  DisposedTensor: DisposedTensorError,
  Io: IoError,
  OutOfMemory: OutOfMemoryError,
  NativeBinding: NativeBindingError,
  OnnxExport: OnnxExportError,
  Untraceable: TraceError,
  TensorInUse: TensorInUseError,
  Internal: InternalError,
}

/** Re-types an error thrown by the native addon by its `code`; anything else passes through. */
export function fromNativeError(error: unknown): unknown {
  if (error instanceof Error && !(error instanceof FerriteError)) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code in byCode) {
      const typed = new byCode[code as ErrorCode](error.message)
      typed.stack = error.stack?.replace(/^Error/, typed.name)
      return typed
    }
  }
  return error
}
