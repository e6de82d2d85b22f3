import { native } from '../native'
import { Tensor } from '../tensor'

/**
 * `input @ weight^T + bias`, like `torch.nn.functional.linear`: an `[..., inFeatures]` input and
 * an `[outFeatures, inFeatures]` weight give `[..., outFeatures]`; `bias` is `[outFeatures]`.
 */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return new Tensor(native.linear(input.handle, weight.handle, bias?.handle))
}
