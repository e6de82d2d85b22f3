/**
 * NVIDIA GPUs and the CUDA libraries, like `torch.cuda`, plus the readings `nvidia-smi` shows.
 *
 * ```ts
 * ft.cuda.isAvailable()   // false on a machine without an NVIDIA driver; never throws
 * ft.cuda.devices()       // [{ index: 0, name: 'NVIDIA H200', memoryUsed, memoryTotal, utilization, temperature }]
 * ft.cuda.freestDevice()  // 'cuda:0': the GPU with the most free memory, or null
 * ft.cuda.info()          // driver, CUDA, cuBLAS, cuDNN and NVRTC versions and where each was loaded from
 * ```
 *
 * The libraries are loaded at run time, never linked: from `FERRITE_CUDA_PATH`, the system
 * loader's paths, the CUDA toolkit's folders and Python's `nvidia/*` wheels.
 * @module
 */
import { native } from './native'
import type { DeviceName } from './types'

/** One GPU as `nvidia-smi` shows it. Readings the driver cannot give are `null` (nvidia-smi's N/A). */
export interface GpuInfo {
  /** The N of `'cuda:N'` (after `CUDA_VISIBLE_DEVICES`). */
  index: number
  /** As nvidia-smi prints it (`'NVIDIA H200'`). */
  name: string
  /** `'GPU-xxxxxxxx-xxxx-...'`, as nvidia-smi -L prints it. */
  uuid: string | null
  /** Bytes of GPU memory in use, by every process. */
  memoryUsed: number | null
  /** Bytes of GPU memory installed. */
  memoryTotal: number
  /** `memoryTotal - memoryUsed`. */
  memoryFree: number | null
  /** Percent of the last sample period in which a kernel ran (nvidia-smi's GPU-Util). */
  utilization: number | null
  /** Degrees Celsius. */
  temperature: number | null
}

/** One library of the CUDA stack. */
export interface CudaLibraryInfo {
  /** `'CUDA driver'`, `'NVML'`, `'cuBLAS'`, `'cuDNN'` or `'NVRTC'`. */
  name: string
  /** Where it was loaded from (a bare file name when the system loader found it), or null. */
  path: string | null
  /** The version the library reports about itself (`'9.26.0'`). */
  version: string | null
  /** Why it is missing or failed to load, and what to install; null when loaded. */
  problem: string | null
}

/** What {@link info} reports. */
export interface CudaInfo {
  /** Whether tensors can be placed on a GPU (as {@link isAvailable}). */
  available: boolean
  /** Why not, naming the missing piece; null when available. */
  unavailableReason: string | null
  /** The NVIDIA driver's version, as nvidia-smi prints it (`'580.159.04'`). */
  driverVersion: string | null
  /** The newest CUDA version the driver supports (`'13.0'`). */
  cudaVersion: string | null
  /** The CUDA driver, NVML, cuBLAS, cuDNN and NVRTC, in that order. */
  libraries: CudaLibraryInfo[]
  /** GPUs present, whether or not Ferrite can use them. */
  gpus: number
}

/** Whether tensors can be placed on a GPU, like `torch.cuda.is_available()`. Never throws. */
export function isAvailable(): boolean {
  return native.cudaIsAvailable()
}

/** GPUs Ferrite can place tensors on, like `torch.cuda.device_count()`; 0 when CUDA is unavailable. */
export function deviceCount(): number {
  return native.cudaDeviceCount()
}

/**
 * The GPUs present, with memory, utilisation and temperature read through NVML as nvidia-smi
 * reads them; empty where there is no NVIDIA driver. Lists GPUs even where {@link isAvailable}
 * is false, so a user can see what the machine has.
 */
export function devices(): GpuInfo[] {
  return native.cudaDevices().map((gpu) => {
    const memoryUsed = gpu.memoryUsed ?? null
    return {
      index: gpu.index,
      name: gpu.name,
      uuid: gpu.uuid ?? null,
      memoryUsed,
      memoryTotal: gpu.memoryTotal,
      memoryFree: memoryUsed === null ? null : gpu.memoryTotal - memoryUsed,
      utilization: gpu.utilization ?? null,
      temperature: gpu.temperature ?? null,
    }
  })
}

/** `'cuda:N'` for the GPU with the most free memory (ties: the lower N), or null without readings. */
export function freestDevice(): DeviceName | null {
  const index = native.cudaFreestDevice()
  return index === null || index === undefined ? null : `cuda:${index}`
}

/** Where `device: 'auto'` runs: the GPU with the most free memory when CUDA is available, else the CPU. */
export function autoDevice(): DeviceName {
  return (isAvailable() && freestDevice()) || 'cpu'
}

/** The CUDA libraries found, their versions and paths, and why CUDA is unavailable if it is. */
export function info(): CudaInfo {
  const raw = native.cudaInfo()
  return {
    available: raw.available,
    unavailableReason: raw.unavailableReason ?? null,
    driverVersion: raw.driverVersion ?? null,
    cudaVersion: raw.cudaVersion ?? null,
    libraries: raw.libraries.map((l) => ({
      name: l.name,
      path: l.path ?? null,
      version: l.version ?? null,
      problem: l.problem ?? null,
    })),
    gpus: raw.gpus,
  }
}

/** The caching allocator's numbers for one GPU, in bytes, like `torch.cuda.memory_stats()`'s headline figures. */
export interface MemoryStats {
  /** Bytes in blocks held by live tensors and workspaces. */
  allocated: number
  /** Bytes held from the driver: allocated plus cached for reuse. */
  reserved: number
  /** The most `allocated` has been since the start or {@link resetPeakMemoryStats}. */
  peakAllocated: number
  /** The most `reserved` has been since the start or {@link resetPeakMemoryStats}. */
  peakReserved: number
  /** Allocation requests served. */
  requests: number
  /** Requests that needed new memory from the driver rather than a cached block. */
  driverAllocations: number
}

function deviceIndex(device: DeviceName | number | undefined): number {
  if (device === undefined) return 0
  if (typeof device === 'number') return device
  if (device === 'cuda') return 0
  const match = /^cuda:(\d+)$/.exec(device)
  if (match === null) throw new TypeError(`expected a CUDA device ('cuda', 'cuda:N' or N), got '${device}'`)
  return Number(match[1])
}

/** The caching allocator's statistics for `device` (default `'cuda:0'`); zeros for a GPU not used yet. */
export function memoryStats(device?: DeviceName | number): MemoryStats {
  return native.cudaMemoryStats(deviceIndex(device))
}

/** Bytes of GPU memory held by live tensors, like `torch.cuda.memory_allocated()`. */
export function memoryAllocated(device?: DeviceName | number): number {
  return memoryStats(device).allocated
}

/** Bytes of GPU memory held by Ferrite's caching allocator, like `torch.cuda.memory_reserved()`. */
export function memoryReserved(device?: DeviceName | number): number {
  return memoryStats(device).reserved
}

/** The peak of {@link memoryAllocated}, like `torch.cuda.max_memory_allocated()`. */
export function maxMemoryAllocated(device?: DeviceName | number): number {
  return memoryStats(device).peakAllocated
}

/** The peak of {@link memoryReserved}, like `torch.cuda.max_memory_reserved()`. */
export function maxMemoryReserved(device?: DeviceName | number): number {
  return memoryStats(device).peakReserved
}

/** Starts the peaks of {@link memoryStats} again from the current values. */
export function resetPeakMemoryStats(device?: DeviceName | number): void {
  native.cudaResetPeakMemoryStats(deviceIndex(device))
}

/**
 * Returns cached GPU memory that no tensor uses to the driver, like `torch.cuda.empty_cache()`,
 * so other processes (and nvidia-smi) see it free. Tensors still alive keep theirs.
 */
export function emptyCache(): void {
  native.cudaEmptyCache()
}

/**
 * Waits until every kernel and copy queued on `device` has finished, like
 * `torch.cuda.synchronize()`. GPU work runs asynchronously; reading a value (`item()`,
 * `toArray()`) waits by itself, so this is only needed for timing.
 */
export function synchronize(device?: DeviceName | number): void {
  native.cudaSynchronize(deviceIndex(device))
}
