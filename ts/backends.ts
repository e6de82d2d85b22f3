/**
 * Switches of the GPU libraries and what the CPU's kernels can do, like `torch.backends`. TF32 trades mantissa bits for speed on
 * Ampere and newer GPUs; the defaults are PyTorch's: allowed for cuDNN convolutions, off for
 * matrix products.
 *
 * ```ts
 * ft.backends.cudnn.allowTf32 = false        // convolutions in full float32
 * ft.backends.cuda.matmul.allowTf32 = true   // faster matmul and linear layers
 * ft.backends.cudnn.benchmark = false        // cuDNN's heuristic choice, no timing runs
 * ```
 * @module
 */
import { native } from './native'

/** cuDNN (convolutions). */
export const cudnn = {
  /**
   * Whether each convolution shape's candidate algorithms are timed once, on first use, and the
   * fastest kept (PyTorch's `cudnn.benchmark`). On by default, unlike PyTorch: a training loop
   * of fixed shapes gains from it; turn it off for inputs whose shapes keep changing.
   */
  get benchmark(): boolean {
    return native.cudaCudnnBenchmark()
  },
  set benchmark(on: boolean) {
    native.cudaSetCudnnBenchmark(on)
  },
  /** Whether cuDNN convolutions may use TF32 tensor cores (default true, as PyTorch). */
  get allowTf32(): boolean {
    return native.cudaAllowTf32('cudnn')
  },
  set allowTf32(allow: boolean) {
    native.cudaSetAllowTf32('cudnn', allow)
  },
}

/** The CPU's kernels. */
export const cpu = {
  /**
   * Whether bfloat16 products run natively (AVX512-BF16's `vdpbf16ps`); where not, autocast
   * computes in float32. `FERRITE_CPU_BF16=0` in the environment at start-up turns them off.
   */
  hasBf16Kernels(): boolean {
    return native.hasBf16Kernels('cpu')
  },
  /**
   * Which kernel runs autocast's bfloat16 products: `'amx'` (AMX-BF16 tiles, Intel Sapphire
   * Rapids and later, on Linux), `'avx512-bf16'` (`vdpbf16ps`), or `null` where they compute in
   * float32. `FERRITE_CPU_AMX=0` at start-up keeps the tiles off.
   */
  bf16Kernel(): 'amx' | 'avx512-bf16' | null {
    return (native.cpuBf16Kernel() as 'amx' | 'avx512-bf16' | null) ?? null
  },
}

/** cuBLAS (matmul, linear layers). */
export const cuda = {
  /** Whether bfloat16 products run natively on CUDA devices: not yet, so autocast computes in float32 there. */
  hasBf16Kernels(): boolean {
    return native.hasBf16Kernels('cuda')
  },
  matmul: {
    /** Whether matrix products may use TF32 tensor cores (default false, as PyTorch). */
    get allowTf32(): boolean {
      return native.cudaAllowTf32('matmul')
    },
    set allowTf32(allow: boolean) {
      native.cudaSetAllowTf32('matmul', allow)
    },
  },
}
