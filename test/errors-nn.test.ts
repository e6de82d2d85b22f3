// The neural-network ops reject bad input with typed errors: a FerriteError subclass with a
// stable `code`, and a message that names the op (Ferrite's wording differs from PyTorch's, so
// only the code and the op name are checked).
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const F = ft.functional

const CLASSES: Partial<Record<ft.ErrorCode, new (message: string) => ft.FerriteError>> = {
  ShapeMismatch: ft.ShapeMismatchError,
  DTypeMismatch: ft.DTypeMismatchError,
  IndexOutOfRange: ft.IndexOutOfRangeError,
  InvalidArgument: ft.InvalidArgumentError,
}

/** Runs `fn`, which must throw a FerriteError with `code` whose message matches `op`. */
function expectNnError(fn: () => unknown, code: ft.ErrorCode, op: RegExp) {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught, 'expected a FerriteError, nothing was thrown').toBeDefined()
  expect(caught, String(caught)).toBeInstanceOf(ft.FerriteError)
  const e = caught as ft.FerriteError
  expect(e.code, e.message).toBe(code)
  expect(e, e.message).toBeInstanceOf(CLASSES[code]!)
  expect(e.message).toMatch(op)
}

const x = (...shape: number[]) => ft.randn(shape)
const labels = (...values: number[]) => ft.tensor(values, { dtype: 'int64' })

const CONV = /conv2d/
const MAXPOOL = /max_?pool2d/i
const AVGPOOL = /avg_?pool2d/i
const BATCHNORM = /batch_?norm/i
const CROSS_ENTROPY = /cross_?entropy/i
const NLL = /nll_?loss/i

describe('conv2d errors', () => {
  it('wrong input rank (2-D and 5-D)', () => {
    expectNnError(() => F.conv2d(x(5, 5), x(1, 1, 3, 3)), 'ShapeMismatch', CONV)
    expectNnError(() => F.conv2d(x(1, 1, 1, 5, 5), x(1, 1, 3, 3)), 'ShapeMismatch', CONV)
  })
  it('wrong weight rank', () => {
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 3, 3)), 'ShapeMismatch', CONV)
  })
  it('input channels differ from the weight', () => {
    expectNnError(() => F.conv2d(x(1, 3, 5, 5), x(2, 2, 3, 3)), 'ShapeMismatch', CONV)
  })
  it('groups that do not divide the channels', () => {
    expectNnError(() => F.conv2d(x(1, 4, 5, 5), x(3, 1, 3, 3), { groups: 3 }), 'ShapeMismatch', CONV)
  })
  it('kernel larger than the (padded) input', () => {
    expectNnError(() => F.conv2d(x(1, 1, 3, 3), x(1, 1, 5, 5)), 'ShapeMismatch', CONV)
    expectNnError(() => F.conv2d(x(1, 1, 2, 2), x(1, 1, 5, 5), { padding: 1 }), 'ShapeMismatch', CONV)
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 1, 3, 3), { dilation: 3 }), 'ShapeMismatch', CONV)
  })
  it('zero, negative or fractional stride', () => {
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 1, 3, 3), { stride: 0 }), 'InvalidArgument', CONV)
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 1, 3, 3), { stride: [1, -1] }), 'InvalidArgument', CONV)
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 1, 3, 3), { stride: 1.5 }), 'InvalidArgument', CONV)
  })
  it('negative padding, zero dilation', () => {
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 1, 3, 3), { padding: -1 }), 'InvalidArgument', CONV)
    expectNnError(() => F.conv2d(x(1, 1, 5, 5), x(1, 1, 3, 3), { dilation: 0 }), 'InvalidArgument', CONV)
  })
  it('bias of the wrong size', () => {
    expectNnError(() => F.conv2d(x(1, 2, 5, 5), x(3, 2, 3, 3), { bias: x(2) }), 'ShapeMismatch', CONV)
  })
  it('int64 input', () => {
    const ints = ft.zeros([1, 1, 5, 5], { dtype: 'int64' })
    expectNnError(() => F.conv2d(ints, x(1, 1, 3, 3)), 'DTypeMismatch', CONV)
  })
})

describe('pooling errors', () => {
  it('wrong input rank', () => {
    expectNnError(() => F.maxPool2d(x(5, 5), { kernelSize: 2 }), 'ShapeMismatch', MAXPOOL)
    expectNnError(() => F.avgPool2d(x(5, 5), { kernelSize: 2 }), 'ShapeMismatch', AVGPOOL)
    expectNnError(() => F.adaptiveAvgPool2d(x(5, 5), [1, 1]), 'ShapeMismatch', /adaptive_?avg_?pool2d/i)
  })
  it('kernel larger than the padded input', () => {
    expectNnError(() => F.maxPool2d(x(1, 1, 2, 2), { kernelSize: 3 }), 'ShapeMismatch', MAXPOOL)
    expectNnError(() => F.avgPool2d(x(1, 1, 2, 2), { kernelSize: 5, stride: 1, padding: 1 }), 'ShapeMismatch', AVGPOOL)
  })
  it('zero or negative stride', () => {
    expectNnError(() => F.maxPool2d(x(1, 1, 5, 5), { kernelSize: 2, stride: 0 }), 'InvalidArgument', MAXPOOL)
    expectNnError(() => F.maxPool2d(x(1, 1, 5, 5), { kernelSize: 2, stride: -2 }), 'InvalidArgument', MAXPOOL)
    expectNnError(() => F.avgPool2d(x(1, 1, 5, 5), { kernelSize: 3, stride: 0 }), 'InvalidArgument', AVGPOOL)
    expectNnError(() => F.avgPool2d(x(1, 1, 5, 5), { kernelSize: 3, stride: [1, -1] }), 'InvalidArgument', AVGPOOL)
  })
  it('padding over half the kernel', () => {
    expectNnError(() => F.maxPool2d(x(1, 1, 5, 5), { kernelSize: 2, stride: 2, padding: 2 }), 'InvalidArgument', MAXPOOL)
    expectNnError(() => F.avgPool2d(x(1, 1, 5, 5), { kernelSize: 3, stride: 1, padding: 2 }), 'InvalidArgument', AVGPOOL)
  })
})

describe('batchNorm errors', () => {
  it('running stats of the wrong size', () => {
    expectNnError(() => F.batchNorm(x(2, 3, 4, 4), ft.zeros([2]), ft.ones([3]), { training: true }), 'ShapeMismatch', BATCHNORM)
  })
  it('weight of the wrong size', () => {
    expectNnError(() => F.batchNorm(x(2, 3, 4, 4), ft.zeros([3]), ft.ones([3]), { weight: ft.ones([4]) }), 'ShapeMismatch', BATCHNORM)
  })
  it('evaluation without running stats', () => {
    expectNnError(() => F.batchNorm(x(2, 3, 4, 4), null, null), 'InvalidArgument', BATCHNORM)
  })
  it('training with one value per channel', () => {
    expectNnError(() => F.batchNorm(x(1, 3), null, null, { training: true }), 'InvalidArgument', BATCHNORM)
  })
})

describe('loss errors', () => {
  it('float targets', () => {
    const floats = ft.tensor([0, 1, 2])
    expectNnError(() => F.crossEntropy(x(3, 4), floats), 'DTypeMismatch', CROSS_ENTROPY)
    expectNnError(() => F.nllLoss(x(3, 4), floats), 'DTypeMismatch', NLL)
  })
  it('targets out of range', () => {
    expectNnError(() => F.crossEntropy(x(3, 4), labels(0, 4, 2)), 'IndexOutOfRange', CROSS_ENTROPY)
    expectNnError(() => F.crossEntropy(x(3, 4), labels(0, -1, 2)), 'IndexOutOfRange', CROSS_ENTROPY)
    expectNnError(() => F.crossEntropy(x(3, 4), labels(0, 4, 2), { labelSmoothing: 0.1 }), 'IndexOutOfRange', CROSS_ENTROPY)
    expectNnError(() => F.nllLoss(x(3, 4), labels(0, 1, 9)), 'IndexOutOfRange', NLL)
  })
  it('batch-size mismatch', () => {
    expectNnError(() => F.crossEntropy(x(3, 4), labels(0, 1, 2, 3)), 'ShapeMismatch', CROSS_ENTROPY)
    expectNnError(() => F.nllLoss(x(3, 4), labels(0, 1)), 'ShapeMismatch', NLL)
  })
})

describe('other errors', () => {
  it('softmax over a dim out of range', () => {
    expectNnError(() => F.softmax(x(2, 3), 2), 'IndexOutOfRange', /softmax/i)
    expectNnError(() => F.logSoftmax(x(2, 3), -3), 'IndexOutOfRange', /log_?softmax/i)
  })
  it('linear with mismatched in-features', () => {
    expectNnError(() => F.linear(x(2, 3), x(4, 5)), 'ShapeMismatch', /linear/i)
    expectNnError(() => F.linear(x(2, 5), x(4, 5), x(3)), 'ShapeMismatch', /linear/i)
  })
})
