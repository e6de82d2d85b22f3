import { native } from './native'
import type { Tensor } from './tensor'

/** Live native tensors and storage bytes, in total and per device. */
export interface MemoryInfo {
  tensors: number
  bytes: number
  devices: Record<string, { tensors: number; bytes: number }>
}

/**
 * What Ferrite holds natively right now, like `tf.memory()`. `tensors` counts tensor objects
 * (views included); `bytes` counts storage once however many views share it.
 */
export function memory(): MemoryInfo {
  const info: MemoryInfo = { tensors: 0, bytes: 0, devices: {} }
  for (const { device, tensors, bytes } of native.memory()) {
    info.devices[device] = { tensors, bytes }
    info.tensors += tensors
    info.bytes += bytes
  }
  return info
}

/** Threads the CPU kernels use (set `RAYON_NUM_THREADS` before start-up to change it). */
export function getNumThreads(): number {
  return native.numThreads()
}

/** Options of {@link allClose}, with PyTorch's defaults. */
export interface AllCloseOptions {
  rtol?: number
  atol?: number
  equalNan?: boolean
}

/** True when `|a - b| <= atol + rtol * |b|` everywhere (broadcasting), like `torch.allclose`. */
export function allClose(a: Tensor, b: Tensor, { rtol = 1e-5, atol = 1e-8, equalNan = false }: AllCloseOptions = {}): boolean {
  using diff = a.sub(b)
  using absDiff = diff.abs()
  using absB = b.abs()
  using scaled = absB.mul(rtol)
  using bound = scaled.add(atol)
  using close = absDiff.le(bound)
  if (!equalNan) {
    using all = close.min()
    return all.item() === 1
  }
  using aNan = a.ne(a)
  using bNan = b.ne(b)
  using bothNan = aNan.mul(bNan)
  using either = close.add(bothNan)
  using all = either.min()
  return all.item() === 1
}
