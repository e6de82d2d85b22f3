/**
 * Switches of the GPU libraries, like `torch.backends`. TF32 trades mantissa bits for speed on
 * Ampere and newer GPUs; the defaults are PyTorch's: allowed for cuDNN convolutions, off for
 * matrix products.
 *
 * ```ts
 * ft.backends.cudnn.allowTf32 = false        // convolutions in full float32
 * ft.backends.cuda.matmul.allowTf32 = true   // faster matmul and linear layers
 * ```
 * @module
 */
import { native } from './native'

/** cuDNN (convolutions). */
export const cudnn = {
  /** Whether cuDNN convolutions may use TF32 tensor cores (default true, as PyTorch). */
  get allowTf32(): boolean {
    return native.cudaAllowTf32('cudnn')
  },
  set allowTf32(allow: boolean) {
    native.cudaSetAllowTf32('cudnn', allow)
  },
}

/** cuBLAS (matmul, linear layers). */
export const cuda = {
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
