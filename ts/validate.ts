import { InvalidArgumentError } from './errors'
import type { Shape } from './types'

/** A dim or count must be an integer: the native side would silently truncate 1.5 to 1. */
export function checkInt(op: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer, got ${String(value)}`)
  }
  return value
}

export function checkInts(op: string, name: string, values: readonly number[]): number[] {
  if (!Array.isArray(values)) {
    throw new InvalidArgumentError(`${op}: ${name} must be an array of integers, got ${String(values)}`)
  }
  for (const v of values) checkInt(op, name, v)
  return values as number[]
}

export function checkShape(op: string, shape: Shape): number[] {
  checkInts(op, 'shape', shape)
  if (shape.some((d) => d < 0)) {
    throw new InvalidArgumentError(`${op}: shape dims must be non-negative, got [${shape.join(', ')}]`)
  }
  return shape as number[]
}
