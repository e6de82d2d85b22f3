import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

describe('package entry points', () => {
  it('ESM and CJS share one module instance, so tensors pass between them', () => {
    const cjs = createRequire(import.meta.url)('ferrite-ml')
    expect((ft as unknown as { default: unknown }).default).toBe(cjs)
    expect(cjs.tensor([1]) instanceof ft.Tensor).toBe(true)
  })

  it('runs the tests with --expose-gc', () => {
    expect(typeof globalThis.gc).toBe('function')
  })
})
