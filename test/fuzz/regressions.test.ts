// Cases the fuzz suite found, kept as plain tests so each stays fixed whatever seed a run draws.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from '../helpers'

describe('fuzz regressions', () => {
  it('an empty row of an empty tensor reads, sums and concatenates as empty', () => {
    const row = ft.zeros([3, 0]).select(0, 2)
    expect(row.shape).toEqual([0])
    expect(row.toArray()).toEqual([])
    expect(row.sum().item()).toBe(0)
    expect(ft.cat([row, row]).shape).toEqual([0])
    expect(ft.zeros([0, 4], { dtype: 'int64' }).narrow(1, 3, 1).toArray()).toEqual([])
  })

  it('conv2d with a stride past the input reads each tap once, or not at all', () => {
    const x = ft.arange(0, 2 * 12, 1).reshape([1, 1, 2, 12])
    const y = ft.functional.conv2d(x, ft.ones([1, 1, 1, 4]), { stride: [1, 2 ** 31], padding: [0, 3], dilation: [1, 3] })
    // One output column: taps at x = -3, 0, 3, 6 of each row.
    expect(y.toArray()).toEqual([[[[0 + 3 + 6], [12 + 15 + 18]]]])
  })

  it('conv2d backward through an empty input that padding gives outputs', () => {
    const x = ft.zeros([3, 1, 0, 3]).requiresGrad_()
    const w = ft.ones([1, 1, 2, 4]).requiresGrad_()
    ft.functional.conv2d(x, w, { stride: [1, 2], padding: [2, 1] }).sum().backward()
    expect(x.grad!.shape).toEqual([3, 1, 0, 3])
    expect(w.grad!.toArray()).toEqual([[[[0, 0, 0, 0], [0, 0, 0, 0]]]])
  })

  it('transpose and flatten of a 0-d tensor take only dims -1 and 0', () => {
    const scalar = ft.tensor(2)
    expect(scalar.transpose(-1, 0).shape).toEqual([])
    expect(thrown(() => scalar.transpose(2 ** 31, 0)).code).toBe('IndexOutOfRange')
    expect(thrown(() => scalar.flatten(3, 0)).code).toBe('IndexOutOfRange')
  })

  it('narrow lengths beyond 32 bits are out of range, not taken modulo 2^32', () => {
    const e = thrown(() => ft.zeros([7, 1]).narrow(1, 0, 2 ** 40))
    expect(e.code).toBe('IndexOutOfRange')
    expect(e.message).toContain('exceeds dimension size (1)')
  })
})
