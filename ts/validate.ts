import { InvalidArgumentError } from './errors'
import type { Shape } from './types'

/** How a value reads in an error message: `string two`, `an array`, `Tensor`. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object'
  return `${typeof value} ${String(value)}`
}

/** A limit given to a setter: a non-negative integer, `Infinity` (no limit) or `null` (the default). */
export function checkLimit(op: string, name: string, value: unknown): number | undefined {
  if (value !== null && !(typeof value === 'number' && value >= 0 && (Number.isSafeInteger(value) || value === Infinity))) {
    throw new InvalidArgumentError(`${op}: ${name} must be a non-negative integer, Infinity or null, got ${describe(value)}`)
  }
  return value ?? undefined
}

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

/** A size for both spatial dims at once, or `[height, width]`. */
export type Pair = number | readonly [number, number]

function describeValue(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(String).join(', ')}]` : describe(value)
}

/** `value` as an integer of at least `min`, or an `InvalidArgumentError` naming the op and argument. */
export function checkIntAtLeast(op: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer >= ${min}, got ${describeValue(value)}`)
  }
  return value
}

/** `value` (an integer or a pair of them) as `[height, width]`, each at least `min`. */
export function checkPair(op: string, name: string, value: unknown, min: number): [number, number] {
  if (typeof value === 'number') return [checkIntAtLeast(op, name, value, min), value]
  if (!Array.isArray(value) || value.length !== 2) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer or a pair of integers, got ${describeValue(value)}`)
  }
  return [checkIntAtLeast(op, name, value[0], min), checkIntAtLeast(op, name, value[1], min)]
}
