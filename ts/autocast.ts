/**
 * Mixed precision: `autocast` runs a function with PyTorch's CPU autocast rules, like
 * `with torch.autocast('cpu', dtype=torch.bfloat16):`.
 */
import { InvalidArgumentError } from './errors'
import { native } from './native'

/** The device types autocast is kept for, as `torch.autocast`'s `device_type`. */
export type AutocastDeviceType = 'cpu' | 'cuda'

/** Options of {@link autocast}. */
export interface AutocastOptions {
  /** Whose tensors' ops autocast changes (default `'cpu'`); the other device type keeps its own setting. */
  deviceType?: AutocastDeviceType
  /** The lower-precision dtype; bfloat16 is the one autocast runs in (default). */
  dtype?: 'bfloat16'
  /** `false` runs `fn` with autocast off for the device type, e.g. for one op inside an autocast region (default `true`). */
  enabled?: boolean
}

const warned = new Set<AutocastDeviceType>()

/**
 * Runs `fn` under autocast and returns its result. Convolutions, `linear` and `matmul` then take
 * float32 or bfloat16 operands, multiply in bfloat16 and sum in float32, and return bfloat16
 * (convolutions the direct kernels take, such as CIFAR models' 3x3 layers on 8x8 planes and up,
 * return float32, as do those where the float32 kernels are faster and run instead);
 * batch norm, softmax, the losses, `sum` and `mean` cast bfloat16 inputs up and return float32;
 * other ops keep their operands' dtype. Parameters stay float32 and get float32 gradients: call
 * `backward()` outside (it never runs under autocast). Async functions stay under autocast until
 * their promise settles, so do not interleave other work with them.
 *
 * Where the device has no bfloat16 kernels that pay (a CPU without AVX512-BF16, an Intel CPU
 * without AMX tiles, where float32 is faster, or CUDA for now), the ops run in float32 and a
 * warning says so once, and why.
 */
export function autocast<T>(options: AutocastOptions, fn: () => T): T {
  const { deviceType = 'cpu', dtype = 'bfloat16', enabled = true } = options
  if (deviceType !== 'cpu' && deviceType !== 'cuda') {
    throw new InvalidArgumentError(`autocast: deviceType must be 'cpu' or 'cuda', got ${JSON.stringify(deviceType)}`)
  }
  if (dtype !== 'bfloat16') throw new InvalidArgumentError(`autocast: dtype must be 'bfloat16', got ${JSON.stringify(dtype)}`)
  const why = enabled && !warned.has(deviceType) ? native.bf16Float32Reason(deviceType) : null
  if (why !== null) {
    warned.add(deviceType)
    process.emitWarning(`autocast: ${why}, so convolutions and matrix products run in float32`, 'FerriteWarning')
  }
  const previous = native.setAutocast(deviceType, enabled ? dtype : null)
  const restore = () => native.setAutocast(deviceType, previous)
  let result: T
  try {
    result = fn()
  } catch (error) {
    restore()
    throw error
  }
  if (result instanceof Promise) return result.finally(restore) as T
  restore()
  return result
}

/** Whether autocast is on for `deviceType` (default `'cpu'`), like `torch.is_autocast_enabled`. */
export function isAutocastEnabled(deviceType: AutocastDeviceType = 'cpu'): boolean {
  return native.autocastDtype(deviceType) !== null
}
