/**
 * Release of native memory. Every tensor belongs to the innermost open scope, which disposes it
 * when the scope ends unless it is part of the scope's result or kept:
 *
 * - `tidy(fn)`, like TensorFlow.js's, is a scope a caller opens;
 * - every `Module.forward` call is one, so the intermediates of a model's forward pass are freed
 *   when it returns (autograd holds its own references to what backward needs).
 *
 * A tensor made outside every scope is left to the garbage collector: the addon watches its JS
 * object through a weak reference and frees the native tensor once the collector took the object,
 * during synchronous code too (a `FinalizationRegistry` would wait for the event loop to turn, and
 * a training loop that never awaits would grow without bound).
 */
import { InvalidArgumentError, TensorInUseError } from './errors'
import { native } from './native'
import type { Tensor } from './tensor'

const scopes: Set<Tensor>[] = []

/** @internal Called by every new Tensor: the innermost scope disposes it, or else the collector releases it. */
export function track(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t)
  else native.watch(t.handle, t)
}

/** Hands a tensor that outlives every scope to the garbage collector, telling V8 its weight. */
function escape(t: Tensor): void {
  native.announce(t.handle)
  native.watch(t.handle, t)
}

/** Marks `t` to outlive every enclosing scope (`tidy`, a module's forward). */
export function keep<T extends Tensor>(t: T): T {
  let scoped = false
  for (const scope of scopes) scoped = scope.delete(t) || scoped
  if (scoped) escape(t)
  return t
}

/**
 * The scope's tensors found in a result: itself, or inside arrays and plain objects. Being in the
 * scope is what marks a value as one of its tensors, so this module never needs the Tensor class
 * at run time (tensor.ts imports this one).
 */
function collect(value: unknown, scope: Set<Tensor>, into: Set<Tensor>): void {
  if (scope.has(value as Tensor)) into.add(value as Tensor)
  else if (Array.isArray(value)) for (const v of value) collect(v, scope, into)
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, scope, into)
  }
}

/** Moves the tensors of an ended scope that live on to the enclosing scope, or out of every scope. */
function handOn(tensors: Iterable<Tensor>): void {
  const outer = scopes[scopes.length - 1]
  for (const t of tensors) {
    if (outer) outer.add(t)
    else escape(t)
  }
}

/**
 * Disposes `tensors`. Those in use by a call running off the JS thread (`TracedGraph.runAsync`,
 * `Module.predict`) stay alive and go to the garbage collector, which frees them once the call
 * has settled; the first such refusal is returned, for the caller to throw.
 */
function disposeAll(tensors: Iterable<Tensor>): TensorInUseError | undefined {
  let refused: TensorInUseError | undefined
  for (const t of tensors) {
    try {
      t.dispose()
    } catch (error) {
      if (!(error instanceof TensorInUseError)) throw error
      refused ??= error
      escape(t)
    }
  }
  return refused
}

/**
 * Runs `fn` in a scope of its own and disposes every tensor it made, except those in its result
 * and those `lives` accepts (which leave every scope, as `keep` does). On a throw, everything it
 * made is disposed. An async `fn` (a Promise result) is `onAsync`'s to handle.
 */
function runScoped<T>(fn: () => T, lives: ((t: Tensor) => boolean) | undefined, onAsync: (made: Set<Tensor>) => void): T {
  const scope = new Set<Tensor>()
  scopes.push(scope)
  // Tensors made inside are not announced to V8's garbage collector (see enterTidy); those that
  // escape every scope are, by `escape`.
  native.enterTidy()
  let result: T
  try {
    result = fn()
  } catch (error) {
    scopes.pop()
    disposeAll(scope)
    throw error
  } finally {
    native.exitTidy()
  }
  scopes.pop()
  if (result instanceof Promise) {
    onAsync(scope)
    return result
  }
  const returned = new Set<Tensor>()
  collect(result, scope, returned)
  const results: Tensor[] = []
  const dead: Tensor[] = []
  for (const t of scope) {
    if (returned.has(t)) results.push(t)
    else if (lives?.(t)) escape(t)
    else dead.push(t)
  }
  handOn(results)
  const refused = disposeAll(dead)
  if (refused) throw refused
  return result
}

/**
 * Runs `fn` and disposes every tensor it created that it does not return. `fn` must be
 * synchronous: tensors created after an `await` belong to no scope. Since `tidy` frees them, those
 * tensors are not reported to V8 as external memory, so they trigger no garbage collections; the
 * tensors that outlive every scope (returned, or passed to `keep`) are reported when they escape.
 */
export function tidy<T>(fn: () => T): T {
  return runScoped(fn, undefined, (made) => {
    disposeAll(made)
    throw new InvalidArgumentError('tidy: the function must not be async (its tensors were disposed)')
  })
}

/**
 * @internal Runs a module's `forward`: the tensors it makes and neither returns nor stores as the
 * module's own parameters or buffers (`lives`) are disposed when it returns. An async forward's
 * tensors are left alone.
 */
export function forwardScope<T>(fn: () => T, lives: (t: Tensor) => boolean): T {
  return runScoped(fn, lives, handOn)
}
