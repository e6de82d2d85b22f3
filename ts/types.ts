/**
 * Element types. JS numbers become `float32` unless a dtype is given. `bfloat16` (PyTorch's
 * `torch.bfloat16`: float32's exponent with an 8-bit mantissa) is mixed precision's compute type;
 * values convert to it rounding to nearest even, through float32 as PyTorch does.
 */
export type DType = 'float32' | 'bfloat16' | 'int64' | 'bool'

/** `'cpu'`, `'cuda'` (device 0) or `'cuda:N'`. */
export type DeviceName = 'cpu' | 'cuda' | `cuda:${number}`

/** A tensor shape; every entry is a non-negative integer. */
export type Shape = readonly number[]

/** Arbitrarily nested arrays of `T`, as accepted by `ft.tensor` and returned by `toArray()`. */
export type NestedArray<T> = T | NestedArray<T>[]

/** Options accepted by every factory function. */
export interface TensorOptions {
  /** Element type (default float32; `tensor` and `full` infer bool from booleans, the `*Like` factories copy the model tensor's). */
  dtype?: DType
  /** Where to allocate it (default `'cpu'`). */
  device?: DeviceName
  /** Track ops on the new tensor for autograd (float dtypes only: float32 and bfloat16). */
  requiresGrad?: boolean
}

export const DTYPES: readonly DType[] = ['float32', 'bfloat16', 'int64', 'bool']

/** What `Tensor.to` and `Module.to` accept besides a dtype or device name: either or both, like `x.to(device, dtype)`. */
export interface ToOptions {
  dtype?: DType
  device?: DeviceName
}
