// nn.init against torch.nn.init's formulas: exact gains and fans, and each fill a sample of the
// distribution the formulas give (support, mean and standard deviation within five standard
// errors, Kolmogorov-Smirnov distance to the exact CDF: test/distributions.ts), from a seeded
// generator so that every run draws the same values.
import { beforeEach, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectSampleOf, normal, standardNormalCdf, standardNormalPdf, truncatedNormal, uniform } from './distributions'
import { thrown } from './helpers'

const { init } = ft.nn

/** A conv weight [out 64, in 32, 3, 3]: fan_in 288, fan_out 576, 18432 elements. */
const CONV = [64, 32, 3, 3]
const [FAN_IN, FAN_OUT] = [288, 576]

/** A sample of U(low, high) whose extremes come within 0.1% of the bounds, as this many draws do. */
function expectUniform(t: ft.Tensor, low: number, high: number): void {
  expectSampleOf(t, uniform(low, high))
  const values = t.toTypedArray() as Float32Array
  expect(Math.min(...values)).toBeLessThan(low + (high - low) * 1e-3)
  expect(Math.max(...values)).toBeGreaterThan(high - (high - low) * 1e-3)
}

describe('nn.init follows torch.nn.init', () => {
  beforeEach(() => ft.manualSeed(25))

  it('calculateGain', () => {
    for (const linear of ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', 'sigmoid'] as const) {
      expect(init.calculateGain(linear)).toBe(1)
    }
    expect(init.calculateGain('tanh')).toBe(5 / 3)
    expect(init.calculateGain('relu')).toBe(Math.SQRT2)
    expect(init.calculateGain('selu')).toBe(0.75)
    expect(init.calculateGain('leaky_relu')).toBe(Math.sqrt(2 / (1 + 0.01 ** 2)))
    expect(init.calculateGain('leaky_relu', 0)).toBe(Math.SQRT2)
    expect(init.calculateGain('leaky_relu', 0.2)).toBe(Math.sqrt(2 / 1.04))
    expect(() => init.calculateGain('gelu' as never)).toThrow(ft.InvalidArgumentError)
  })

  it('kaimingUniform_: bound = gain * sqrt(3 / fan)', () => {
    const w = ft.zeros(CONV)
    expect(init.kaimingUniform_(w)).toBe(w)
    const bound = Math.SQRT2 * Math.sqrt(3 / FAN_IN)
    expectUniform(w, -bound, bound)
    init.kaimingUniform_(w, { a: Math.sqrt(5) })
    expectUniform(w, -1 / Math.sqrt(FAN_IN), 1 / Math.sqrt(FAN_IN))
    init.kaimingUniform_(w, { mode: 'fan_out', nonlinearity: 'relu' })
    expectUniform(w, -Math.SQRT2 * Math.sqrt(3 / FAN_OUT), Math.SQRT2 * Math.sqrt(3 / FAN_OUT))
  })

  it('kaimingNormal_: std = gain / sqrt(fan)', () => {
    const w = ft.zeros(CONV)
    init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' })
    expectSampleOf(w, normal(0, Math.SQRT2 / Math.sqrt(FAN_OUT)))
    init.kaimingNormal_(w, { a: 0.2 })
    expectSampleOf(w, normal(0, Math.sqrt(2 / 1.04) / Math.sqrt(FAN_IN)))
    const linear = ft.zeros([300, 200])
    init.kaimingNormal_(linear)
    expectSampleOf(linear, normal(0, Math.SQRT2 / Math.sqrt(200)))
  })

  it('xavierUniform_ and xavierNormal_: std = gain * sqrt(2 / (fan_in + fan_out))', () => {
    const w = ft.zeros(CONV)
    const gain = init.calculateGain('tanh')
    init.xavierUniform_(w, { gain })
    const bound = gain * Math.sqrt(6 / (FAN_IN + FAN_OUT))
    expectUniform(w, -bound, bound)
    init.xavierNormal_(w)
    expectSampleOf(w, normal(0, Math.sqrt(2 / (FAN_IN + FAN_OUT))))
  })

  it('normal_, uniform_, constant_, zeros_, ones_', () => {
    const t = ft.zeros([100, 200])
    init.normal_(t, 1, 0.5)
    expectSampleOf(t, normal(1, 0.5))
    init.uniform_(t, -2, 3)
    expectUniform(t, -2, 3)
    const distinct = () => [...new Set(t.toTypedArray() as Float32Array)]
    init.constant_(t, 0.25)
    expect(distinct()).toEqual([0.25])
    init.zeros_(t)
    expect(distinct()).toEqual([0])
    init.ones_(t)
    expect(distinct()).toEqual([1])
  })

  it.each([
    ['the default [-2, 2]', { mean: 0, std: 1, a: -2, b: 2 }],
    ['shifted and scaled', { mean: 1, std: 2, a: 0, b: 1.5 }],
    ['a narrow interval in the tail', { mean: 0, std: 1, a: 3, b: 3.5 }],
    ['one-sided', { mean: 0, std: 0.02, a: -0.04, b: Infinity }],
  ])('truncNormal_: %s', (_name, o) => {
    const t = ft.zeros([200, 100])
    init.truncNormal_(t, o)
    // The closed-form moments (Johnson, Kotz & Balakrishnan) against the integrated ones the check uses.
    const [alpha, beta] = [(o.a - o.mean) / o.std, (o.b - o.mean) / o.std]
    const mass = standardNormalCdf(beta) - standardNormalCdf(alpha)
    const [pa, pb] = [standardNormalPdf(alpha), Number.isFinite(beta) ? standardNormalPdf(beta) : 0]
    const betaTerm = Number.isFinite(beta) ? beta * pb : 0
    const d = truncatedNormal(o.mean, o.std, o.a, o.b)
    const closedForm = {
      mean: o.mean + (o.std * (pa - pb)) / mass,
      std: o.std * Math.sqrt(1 + (alpha * pa - betaTerm) / mass - ((pa - pb) / mass) ** 2),
    }
    expect(Math.abs(d.mean - closedForm.mean) / o.std).toBeLessThan(1e-5)
    expect(Math.abs(d.std / closedForm.std - 1)).toBeLessThan(1e-5)
    expectSampleOf(t, d)
  })

  it('refuses what torch refuses, and an interval with almost no mass', () => {
    expect(thrown(() => init.kaimingUniform_(ft.zeros([3]))).message).toMatch(/fan in and fan out cannot be computed for a tensor with fewer than 2 dims/)
    expect(thrown(() => init.xavierNormal_(ft.zeros([3]))).code).toBe('InvalidArgument')
    expect(thrown(() => init.kaimingNormal_(ft.zeros([2, 2]), { mode: 'fan_avg' as never })).message).toMatch(/mode must be 'fan_in' or 'fan_out'/)
    expect(thrown(() => init.truncNormal_(ft.zeros([2]), { a: 1, b: -1 })).message).toMatch(/a must be below b/)
    expect(thrown(() => init.truncNormal_(ft.zeros([2]), { a: 10, b: 100 })).message).toMatch(/too little to sample from/)
    // A tensor with no elements is left as it is, as in torch (which warns).
    expect(init.kaimingUniform_(ft.zeros([0, 3])).shape).toEqual([0, 3])
  })
})
