/** Element types. JS numbers become `float32` unless a dtype is given. */
export type DType = 'float32' | 'int64' | 'bool'

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
  /** Track ops on the new tensor for autograd (float32 only). */
  requiresGrad?: boolean
}

export const DTYPES: readonly DType[] = ['float32', 'int64', 'bool']
