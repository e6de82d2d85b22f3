import { full } from '../creation'
import { InvalidArgumentError } from '../errors'
import { native } from '../native'
import { Tensor } from '../tensor'
import { describe } from '../validate'
import type { Shape } from '../types'

/** Options of {@link Parameter}. */
export interface ParameterOptions {
  /** Whether autograd computes a gradient for it (default true). */
  requiresGrad?: boolean
}

/**
 * A tensor that is a module's learnable weight, like `torch.nn.Parameter`. Assigned to a
 * {@link Module} field it is registered as a parameter: listed by `parameters()`, saved by
 * `stateDict()`, handed to optimizers.
 *
 * It shares storage with `data` but is a new autograd leaf that requires grad.
 *
 * ```ts
 * this.scale = new nn.Parameter(ft.ones([channels]))
 * ```
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, { requiresGrad = true }: ParameterOptions = {}) {
    super(native.detach(checkTensor('Parameter', data).handle))
    this.requiresGrad = requiresGrad
  }

  /** `Parameter containing:` and the tensor, as PyTorch prints it. */
  override toString(): string {
    return `Parameter containing:\n${super.toString()}`
  }
}

/** Options of {@link Buffer}. */
export interface BufferOptions {
  /** Whether `stateDict()` includes it (default true). */
  persistent?: boolean
}

/**
 * A tensor that is part of a module's state but not learned, such as running statistics, like
 * `torch.nn.Buffer`. Assigned to a {@link Module} field it is registered as a buffer. It shares
 * storage with `data`. Plain tensors in fields are not registered, as in PyTorch.
 */
export class Buffer extends Tensor {
  /** Whether `stateDict()` includes it. */
  readonly persistent: boolean

  constructor(data: Tensor, { persistent = true }: BufferOptions = {}) {
    super(native.detach(checkTensor('Buffer', data).handle))
    this.persistent = persistent
  }
}

/**
 * @internal A parameter of `shape` filled with `value` (then initialised by the layer), with no
 * other handle on its storage, so that `Module.dispose()` frees it at once.
 */
export function filledParameter(shape: Shape, value = 0): Parameter {
  using data = full(shape, value)
  return new Parameter(data)
}

function checkTensor(op: string, data: unknown): Tensor {
  if (!(data instanceof Tensor)) throw new InvalidArgumentError(`${op}: expected a Tensor, got ${describe(data)}`)
  return data
}
