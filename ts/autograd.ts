import { native } from './native'

/**
 * Runs `fn` with autograd recording off, like `with torch.no_grad():`, and returns its result.
 * Async functions stay in no-grad mode until their promise settles.
 */
export function noGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(false)
  let result: T
  try {
    result = fn()
  } catch (error) {
    native.setGradEnabled(previous)
    throw error
  }
  if (result instanceof Promise) {
    return result.finally(() => native.setGradEnabled(previous)) as T
  }
  native.setGradEnabled(previous)
  return result
}

/** Whether ops are currently recorded for autograd. */
export function isGradEnabled(): boolean {
  return native.isGradEnabled()
}

/** Turns autograd recording on or off; returns the previous setting. */
export function setGradEnabled(enabled: boolean): boolean {
  return native.setGradEnabled(enabled)
}
