/**
 * Scoped release of native memory, like TensorFlow.js's `tidy`: every tensor created while `fn`
 * runs is disposed when it returns, except the tensors it returns and those passed to `keep`.
 * Training loops use it so that each step's activations are freed at once instead of waiting
 * for the garbage collector.
 */
import { InvalidArgumentError } from './errors'
import { native, type TensorHandle } from './native'
import type { Tensor } from './tensor'

const scopes: Set<Tensor>[] = []

/** Releases the native tensor of each Tensor that the garbage collector took. */
const collected = new FinalizationRegistry<TensorHandle>((handle) => native.release(handle))

/** @internal Called by every new Tensor: the innermost `tidy` scope disposes it, or else the garbage collector. */
export function track(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t)
  else collected.register(t, t.handle)
}

/** Hands a tensor that outlives every scope to the garbage collector, telling V8 its weight. */
function escape(t: Tensor): void {
  native.announce(t.handle)
  collected.register(t, t.handle)
}

/** Marks `t` to outlive every enclosing `tidy` scope. */
export function keep<T extends Tensor>(t: T): T {
  let scoped = false
  for (const scope of scopes) scoped = scope.delete(t) || scoped
  if (scoped) escape(t)
  return t
}

/** Tensors found in a result: itself, or inside arrays and plain objects. */
function collect(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void {
  if (isTensor(value)) into.add(value)
  else if (Array.isArray(value)) for (const v of value) collect(v, into, isTensor)
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, isTensor)
  }
}

let isTensorCheck: ((v: unknown) => v is Tensor) | undefined

/** @internal Set by tensor.ts, which owns the class (this module must not import it). */
export function setTensorCheck(check: (v: unknown) => v is Tensor): void {
  isTensorCheck = check
}

/**
 * Runs `fn` and disposes every tensor it created that it does not return. `fn` must be
 * synchronous: tensors created after an `await` belong to no scope. Since `tidy` frees them, those
 * tensors are not reported to V8 as external memory, so they trigger no garbage collections; the
 * tensors that outlive every scope (returned, or passed to `keep`) are reported when they escape.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>()
  scopes.push(scope)
  // Tensors made inside are not announced to V8's garbage collector (see enterTidy); those that
  // escape every scope are, below.
  native.enterTidy()
  let result: T
  try {
    result = fn()
  } catch (error) {
    scopes.pop()
    for (const t of scope) t.dispose()
    throw error
  } finally {
    native.exitTidy()
  }
  scopes.pop()
  if (result instanceof Promise) {
    for (const t of scope) t.dispose()
    throw new InvalidArgumentError('tidy: the function must not be async (its tensors were disposed)')
  }
  const returned = new Set<Tensor>()
  collect(result, returned, isTensorCheck!)
  const outer = scopes[scopes.length - 1]
  for (const t of scope) {
    if (!returned.has(t)) t.dispose()
    else if (outer) outer.add(t)
    else escape(t)
  }
  return result
}
