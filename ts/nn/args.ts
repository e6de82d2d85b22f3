// Argument checks shared by the layer constructors: PyTorch raises on these at construction,
// long before a forward pass would.
import { checkPair, type Pair } from '../validate'

/** `value` checked as `checkPair` does, but kept as given (an int or a pair) for printing. */
export function sizeArg(layer: string, name: string, value: unknown, min: number): Pair {
  const [h, w] = checkPair(layer, name, value, min)
  return typeof value === 'number' ? h : [h, w]
}
