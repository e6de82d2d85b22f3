// safetensors files written by torch in float16, bfloat16, float64 and integer dtypes
// (test/fixtures/gen_safetensors_dtypes.py): what ft.load gives, and loadStateDict into float32.
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectClose, loadFixture, type FixtureTensor } from './helpers'

const path = fileURLToPath(new URL('./fixtures/safetensors_dtypes.safetensors', import.meta.url))
const expected = loadFixture('safetensors_dtypes') as unknown as Record<string, { dtype: ft.DType; value: FixtureTensor }>

describe('safetensors dtypes', () => {
  it('F16 and F64 load as float32, BF16 as bfloat16, integers as int64, with torch\'s values', () => {
    const loaded = ft.load(path)
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(expected).sort())
    for (const [name, { dtype, value }] of Object.entries(expected)) {
      expect(loaded[name].dtype, name).toBe(dtype)
      const actual = dtype === 'bfloat16' ? loaded[name].float() : loaded[name]
      expectClose(actual, value, { rtol: 0, atol: 0, label: name })
    }
  })

  it('loadStateDict copies float16 and bfloat16 weights into a float32 model, as torch does', () => {
    const loaded = ft.load(path)
    for (const prefix of ['half', 'brain']) {
      const linear = new ft.nn.Linear(3, 2)
      linear.loadStateDict({ weight: loaded[`${prefix}.weight`], bias: loaded[`${prefix}.bias`] })
      expect(linear.weight.dtype).toBe('float32')
      expectClose(linear.weight, expected[`${prefix}.weight`].value, { rtol: 0, atol: 0, label: prefix })
      expectClose(linear.bias!, expected[`${prefix}.bias`].value, { rtol: 0, atol: 0, label: prefix })
    }
  })

  it('a bfloat16 model keeps bfloat16 weights', () => {
    const loaded = ft.load(path)
    const linear = new ft.nn.Linear(3, 2).to('bfloat16')
    linear.loadStateDict({ weight: loaded['brain.weight'], bias: loaded['brain.bias'] })
    expect(linear.weight.dtype).toBe('bfloat16')
    expectClose(linear.weight.float(), expected['brain.weight'].value, { rtol: 0, atol: 0 })
  })
})
