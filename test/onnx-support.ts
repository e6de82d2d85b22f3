// Shared by the ONNX tests: running an exported model in onnxruntime-node and comparing its
// outputs with Ferrite's.
import * as ort from 'onnxruntime-node'
import { expect } from 'vitest'
import * as ft from 'ferrite-ml'

const ORT_TYPE = { float32: 'float32', int64: 'int64', bool: 'bool' } as const

export function toOrt(t: ft.Tensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new Error('onnxruntime-node takes no bfloat16 inputs')
  return new ort.Tensor(ORT_TYPE[t.dtype], t.toTypedArray(), t.shape)
}

/** Runs `model` (ONNX bytes) on `inputs`, fed by the model's own input names, and returns its outputs in order. */
export async function runOnnx(model: Uint8Array, inputs: readonly ft.Tensor[]): Promise<ort.Tensor[]> {
  const session = await ort.InferenceSession.create(model)
  try {
    const feeds = Object.fromEntries(session.inputNames.map((name, i) => [name, toOrt(inputs[i])]))
    const results = await session.run(feeds)
    return session.outputNames.map((name) => results[name])
  } finally {
    await session.release()
  }
}

/**
 * Checks onnxruntime's `actual` against Ferrite's `expected`: same shape and dtype, equal integers
 * and booleans, floats within `tolerance`. Returns the largest absolute difference.
 */
export function expectAgreement(actual: ort.Tensor, expected: ft.Tensor, tolerance = 1e-4): number {
  expect(actual.dims).toEqual(expected.shape)
  const values = expected.toTypedArray()
  if (expected.dtype !== 'float32' && expected.dtype !== 'bfloat16') {
    expect(actual.type).toBe(ORT_TYPE[expected.dtype])
    expect(Array.from(actual.data as ArrayLike<number | bigint>)).toEqual(Array.from(values as ArrayLike<number | bigint>))
    return 0
  }
  const data = actual.data as Float32Array
  let maxDiff = 0
  for (let i = 0; i < data.length; i++) {
    const [a, b] = [data[i], values[i] as number]
    // Equal infinities and NaN in both places agree; NaN in one place only does not.
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue
    maxDiff = Math.max(maxDiff, Number.isNaN(a - b) ? Infinity : Math.abs(a - b))
  }
  expect(maxDiff).toBeLessThanOrEqual(tolerance)
  return maxDiff
}
