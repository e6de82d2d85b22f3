import { Module } from './module'

/**
 * Returns its input, like `torch.nn.Identity`: a placeholder where a layer is removed, e.g.
 * `model.fc = new nn.Identity()` to get a ResNet's features instead of its logits.
 */
export class Identity extends Module {
  forward<T>(input: T): T {
    return input
  }
}
