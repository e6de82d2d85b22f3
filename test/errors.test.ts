// Every invalid call throws a typed FerriteError whose `code` is stable and whose message names
// the op and what was wrong.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

describe('typed errors', () => {
  it('matmul names the op and both shapes', () => {
    const e = thrown(() => ft.zeros([2, 3]).matmul(ft.zeros([2, 3])))
    expect(e).toBeInstanceOf(ft.ShapeMismatchError)
    expect(e.code).toBe('ShapeMismatch')
    expect(e.name).toBe('ShapeMismatchError')
    expect(e.message).toBe('matmul: shapes [2, 3] and [2, 3] cannot be multiplied (3 != 2)')
  })

  it('broadcasting failures name both shapes', () => {
    const e = thrown(() => ft.zeros([2, 3]).add(ft.zeros([4])))
    expect(e.code).toBe('ShapeMismatch')
    expect(e.message).toContain('add: shapes [2, 3] and [4] cannot be broadcast together')
  })

  it('ragged nested arrays', () => {
    const e = thrown(() => ft.tensor([[1, 2, 3], [4, 5]]))
    expect(e.code).toBe('ShapeMismatch')
    expect(e.message).toBe('tensor: ragged nested array: expected a sequence of length 3 at dim 1 (index [1]), got length 2')
    expect(thrown(() => ft.tensor([[1, 2], 3] as never)).code).toBe('ShapeMismatch')
    expect(thrown(() => ft.tensor([1, [2]] as never)).code).toBe('ShapeMismatch')
  })

  it('values that are not numbers or booleans', () => {
    const e = thrown(() => ft.tensor([1, 'two'] as never))
    expect(e.code).toBe('InvalidArgument')
    expect(e.message).toContain("got string two at index [1]")
  })

  it('bad reshapes and views', () => {
    const x = ft.arange(6)
    const e = thrown(() => x.reshape([4, 2]))
    expect(e.code).toBe('ShapeMismatch')
    expect(e.message).toBe("reshape: shape '[4, 2]' is invalid for input of size 6 (shape [6])")
    expect(thrown(() => x.view([-1, -1])).code).toBe('InvalidArgument')
    const t = ft.zeros([2, 3]).transpose(0, 1)
    expect(thrown(() => t.view([6])).code).toBe('ShapeMismatch')
    expect(t.reshape([6]).shape).toEqual([6])
  })

  it('bad dims', () => {
    const x = ft.zeros([2, 3])
    const e = thrown(() => x.sum(2))
    expect(e.code).toBe('IndexOutOfRange')
    expect(e.message).toBe('sum: dimension out of range (expected to be in range of [-2, 1], but got 2)')
    expect(thrown(() => x.transpose(0, -3)).code).toBe('IndexOutOfRange')
    expect(thrown(() => x.unsqueeze(3)).code).toBe('IndexOutOfRange')
    expect(thrown(() => x.argmax(5)).code).toBe('IndexOutOfRange')
    expect(thrown(() => x.size(2)).code).toBe('IndexOutOfRange')
    expect(thrown(() => x.permute([0, 0])).code).toBe('InvalidArgument')
    expect(thrown(() => x.sum(1.5)).code).toBe('InvalidArgument')
  })

  it('bad shapes and arguments to factories', () => {
    expect(thrown(() => ft.zeros([2, -1])).code).toBe('InvalidArgument')
    expect(thrown(() => ft.ones([2.5])).code).toBe('InvalidArgument')
    expect(thrown(() => ft.arange(0, 5, 0)).code).toBe('InvalidArgument')
    expect(thrown(() => ft.randint(5, 5, [2])).code).toBe('InvalidArgument')
    expect(thrown(() => ft.zeros([2], { dtype: 'float16' as never })).code).toBe('InvalidArgument')
    expect(thrown(() => ft.tensor(new Float32Array(5), { shape: [2, 2] })).code).toBe('ShapeMismatch')
  })

  it('dtype errors', () => {
    const labels = ft.tensor([1, 2], { dtype: 'int64' })
    const e = thrown(() => labels.mean())
    expect(e).toBeInstanceOf(ft.DTypeMismatchError)
    expect(e.message).toContain('mean: expected a float32 tensor')
    expect(thrown(() => labels.matmul(labels)).code).toBe('DTypeMismatch')
    expect(thrown(() => ft.tensor([true]).sub(ft.tensor([false]))).code).toBe('DTypeMismatch')
    expect(thrown(() => labels.pow(-1)).code).toBe('InvalidArgument')
  })

  it('one-element conversions', () => {
    expect(thrown(() => ft.zeros([2]).item()).message).toContain('a tensor with 2 elements cannot be converted to a scalar')
  })

  it('use after dispose', () => {
    const x = ft.ones([3])
    x.dispose()
    expect(x.isDisposed).toBe(true)
    const e = thrown(() => x.add(1))
    expect(e).toBeInstanceOf(ft.DisposedTensorError)
    expect(e.code).toBe('DisposedTensor')
    expect(e.message).toContain('add: the tensor was disposed')
    expect(thrown(() => ft.ones([3]).add(x)).code).toBe('DisposedTensor')
    expect(thrown(() => x.shape).code).toBe('DisposedTensor')
    expect(() => x.dispose()).not.toThrow()
  })

  it('CUDA requested from a build without it', () => {
    const e = thrown(() => ft.zeros([2], { device: 'cuda:0' }))
    expect(e).toBeInstanceOf(ft.DeviceUnavailableError)
    expect(e.message).toContain('cuda:0')
    expect(thrown(() => ft.zeros([2]).to('gpu' as never)).code).toBe('InvalidArgument')
  })

  it('non-tensor operands', () => {
    expect(thrown(() => ft.zeros([2]).add('1' as never)).code).toBe('InvalidArgument')
    expect(thrown(() => ft.zeros([2]).matmul([1, 2] as never)).code).toBe('InvalidArgument')
  })
})
