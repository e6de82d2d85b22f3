/**
 * Ferrite: PyTorch-style deep learning for TypeScript on a Rust core.
 *
 * ```ts
 * import * as ft from 'ferrite-ml'
 * const x = ft.tensor([[1, 2], [3, 4]])
 * x.matmul(x).sum().item() // 54
 * ```
 */
export { Tensor } from './tensor'
export type { Operand, ReduceOptions, ValuesIndices } from './tensor'
export {
  arange,
  cat,
  full,
  fullLike,
  manualSeed,
  getRngState,
  setRngState,
  ones,
  onesLike,
  rand,
  randint,
  randLike,
  randn,
  randnLike,
  stack,
  tensor,
  zeros,
  zerosLike,
} from './creation'
export type { TensorData, TensorDataOptions } from './creation'
export { isGradEnabled, noGrad, setGradEnabled } from './autograd'
export { autocast, isAutocastEnabled } from './autocast'
export type { AutocastDeviceType, AutocastOptions } from './autocast'
export { keep, tidy } from './scope'
export * as functional from './functional'
export * as vision from './vision'
export * as nn from './nn'
export { load, loadMetadata, save, type SaveOptions } from './io'
export * as optim from './optim'
export * as data from './data'
export * as cuda from './cuda'
export type { CudaInfo, CudaLibraryInfo, GpuInfo, MemoryStats } from './cuda'
export * as backends from './backends'
export * as models from './models'
export * as onnx from './onnx'
export * as jit from './jit'
export * as inference from './inference'
export { noGradAsync } from './trace'
export * as transforms from './transforms'
export * as callbacks from './callbacks'
export * as tensorboard from './tensorboard'
export { evaluate, fit, loadCheckpoint, plotCurves, saveCheckpoint, saveModel, train } from './train'
export type { CheckpointState, FitOptions, History, LossFunction, Precision, TrainOptions, TrainResult } from './train'
export { allClose, getAllocationLimit, getNumThreads, memory, setAllocationLimit } from './runtime'
export type { AllCloseOptions, MemoryInfo } from './runtime'
export type { DeviceName, DType, NestedArray, Shape, TensorOptions, ToOptions } from './types'
export type { Pair } from './validate'
export {
  DeviceMismatchError,
  DeviceUnavailableError,
  DisposedTensorError,
  DTypeMismatchError,
  FerriteError,
  IndexOutOfRangeError,
  InternalError,
  InvalidArgumentError,
  IoError,
  NativeBindingError,
  OnnxExportError,
  OutOfMemoryError,
  ShapeMismatchError,
  TensorInUseError,
  TraceError,
} from './errors'
export type { ErrorCode } from './errors'
