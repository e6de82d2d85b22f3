import { native } from './native'
import { checkLimit } from './validate'
import type { Tensor } from './tensor'

/** Live native tensors and storage bytes, in total and per device. */
export interface MemoryInfo {
  /** Live tensor objects, views included. */
  tensors: number
  /** Bytes of live storage, each storage counted once. */
  bytes: number
  /** The same counts per device name (`'cpu'`, ...). */
  devices: Record<
    string,
    {
      /** Live tensor objects on this device. */
      tensors: number
      /** Bytes of live storage on this device. */
      bytes: number
    }
  >
}

/**
 * What Ferrite holds natively right now, like `tf.memory()`. `tensors` counts tensor objects
 * (views included); `bytes` counts storage once however many views share it.
 */
export function memory(): MemoryInfo {
  // Tensors whose JS objects the collector already took are garbage: free them before counting.
  native.releaseCollectedTensors()
  const info: MemoryInfo = { tensors: 0, bytes: 0, devices: {} }
  for (const { device, tensors, bytes } of native.memory()) {
    info.devices[device] = { tensors, bytes }
    info.tensors += tensors
    info.bytes += bytes
  }
  return info
}

/**
 * The largest single buffer, in bytes, that Ferrite will allocate. A bigger request throws an
 * `OutOfMemoryError` at once instead of taking the machine's memory. The default is the
 * machine's physical memory (or its container's limit), or `FERRITE_MAX_ALLOC_BYTES` when set.
 */
export function getAllocationLimit(): number {
  return native.allocationLimit()
}

/**
 * Sets the largest single buffer, in bytes, that Ferrite will allocate (`Infinity` for no limit);
 * `null` restores the default (see {@link getAllocationLimit}).
 */
export function setAllocationLimit(bytes: number | null): void {
  native.setAllocationLimit(checkLimit('setAllocationLimit', 'bytes', bytes))
}

/** Threads the CPU kernels use (set `RAYON_NUM_THREADS` before start-up to change it). */
export function getNumThreads(): number {
  return native.numThreads()
}

/** Options of {@link allClose}, with PyTorch's defaults. */
export interface AllCloseOptions {
  /** Relative tolerance, scaled by `|b|` (default 1e-5). */
  rtol?: number
  /** Absolute tolerance (default 1e-8). */
  atol?: number
  /** Count two NaNs as equal (default false). */
  equalNan?: boolean
}

/**
 * True when every pair of elements (broadcast) is close, like `torch.allclose`: equal, or finite
 * with `|a - b| <= atol + rtol * |b|`; NaNs match each other only with `equalNan`.
 */
export function allClose(a: Tensor, b: Tensor, { rtol = 1e-5, atol = 1e-8, equalNan = false }: AllCloseOptions = {}): boolean {
  using equal = a.eq(b)
  using diff = a.sub(b)
  using actual = diff.abs()
  using absB = b.abs()
  using scaled = absB.mul(rtol)
  using allowed = scaled.add(atol)
  using withinTolerance = actual.le(allowed)
  using finite = actual.lt(Infinity)
  using finiteAndWithin = withinTolerance.mul(finite) // bool mul is logical and
  using close = equal.add(finiteAndWithin) // bool add is logical or
  using aNan = a.ne(a)
  using bNan = b.ne(b)
  using bothNan = aNan.mul(bNan)
  using accepted = equalNan ? close.add(bothNan) : close.clone()
  if (accepted.numel() === 0) return true
  using all = accepted.min()
  return all.item() === 1
}
