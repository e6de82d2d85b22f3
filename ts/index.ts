/**
 * Ferrite: PyTorch-style deep learning for TypeScript on a Rust core.
 *
 * ```ts
 * import * as ft from 'ferrite'
 * const x = ft.tensor([[1, 2], [3, 4]])
 * x.matmul(x).sum().item() // 54
 * ```
 */
export { Tensor } from './tensor'
export type { Operand, ReduceOptions, ValuesIndices } from './tensor'
export {
  arange,
  full,
  fullLike,
  manualSeed,
  ones,
  onesLike,
  rand,
  randint,
  randLike,
  randn,
  randnLike,
  tensor,
  zeros,
  zerosLike,
} from './creation'
export type { TensorData, TensorDataOptions } from './creation'
export { isGradEnabled, noGrad, setGradEnabled } from './autograd'
export * as functional from './functional'
export { allClose, getNumThreads, memory } from './runtime'
export type { AllCloseOptions, MemoryInfo } from './runtime'
export type { DeviceName, DType, NestedArray, Shape, TensorOptions } from './types'
export {
  DeviceMismatchError,
  DeviceUnavailableError,
  DisposedTensorError,
  DTypeMismatchError,
  FerriteError,
  IndexOutOfRangeError,
  InternalError,
  InvalidArgumentError,
  ShapeMismatchError,
} from './errors'
export type { ErrorCode } from './errors'
