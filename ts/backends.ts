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
   * Whether autocast's bfloat16 products run natively: on AMX tiles, or on AVX512-BF16's
   * `vdpbf16ps` where that outruns float32 (AMD's cores; Intel's issue it half as often as a
   * float32 FMA). Where not, autocast computes in float32 and {@link float32Reason} says why.
   * `FERRITE_CPU_BF16=0` in the environment at start-up turns them off, `=1` takes AVX512-BF16
   * even where it is slower.
   */
  hasBf16Kernels(): boolean {
    return native.hasBf16Kernels('cpu')
  },
  /** Why autocast computes in float32 on the CPU, or null where it takes bfloat16 kernels. */
  float32Reason(): string | null {
    return native.bf16Float32Reason('cpu') ?? null
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
  /** Why autocast computes in float32 on CUDA devices (for now always), or null where it would not. */
  float32Reason(): string | null {
    return native.bf16Float32Reason('cuda') ?? null
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
