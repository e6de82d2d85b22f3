// Argument checks shared by the layer constructors: PyTorch raises on these at construction,
// long before a forward pass would.
import { InvalidArgumentError } from '../errors'
import type { Pair } from '../functional'
import { describe } from '../tensor'

/** `value` as an integer of at least `min`, or an `InvalidArgumentError` naming the layer and argument. */
export function intArg(layer: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${layer}: ${name} must be an integer >= ${min}, got ${describeValue(value)}`)
  }
  return value
}

/** `value` as `[height, width]`, each an integer of at least `min`. */
export function pairArg(layer: string, name: string, value: unknown, min: number): [number, number] {
  if (typeof value === 'number') return [intArg(layer, name, value, min), value]
  if (!Array.isArray(value) || value.length !== 2) {
    throw new InvalidArgumentError(`${layer}: ${name} must be an integer or a pair of integers, got ${describeValue(value)}`)
  }
  return [intArg(layer, name, value[0], min), intArg(layer, name, value[1], min)]
}

/** `value` checked as {@link pairArg} does, but kept as given (an int or a pair) for printing. */
export function sizeArg(layer: string, name: string, value: unknown, min: number): Pair {
  const [h, w] = pairArg(layer, name, value, min)
  return typeof value === 'number' ? h : [h, w]
}

function describeValue(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(String).join(', ')}]` : describe(value)
}
