// nn.init against torch.nn.init's formulas: exact gains and fans, and the sample mean and standard
// deviation of each distribution within five standard errors of the values the formulas give.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown } from './helpers'

const { init } = ft.nn

/** A conv weight [out 64, in 32, 3, 3]: fan_in 288, fan_out 576, 18432 elements. */
const CONV = [64, 32, 3, 3]
const [FAN_IN, FAN_OUT] = [288, 576]

function stats(t: ft.Tensor): { mean: number; std: number; min: number; max: number; n: number } {
  const values = t.toTypedArray() as Float32Array
  const n = values.length
  let sum = 0
  for (const x of values) sum += x
  const mean = sum / n
  let squares = 0
  for (const x of values) squares += (x - mean) ** 2
  return { mean, std: Math.sqrt(squares / (n - 1)), min: Math.min(...values), max: Math.max(...values), n }
}

/** Mean within 5 standard errors, std within 5 standard errors of a normal's sample std (wider than a uniform's). */
function expectDistribution(t: ft.Tensor, mean: number, std: number): ReturnType<typeof stats> {
  const s = stats(t)
  expect(Math.abs(s.mean - mean), `mean ${s.mean} vs ${mean}`).toBeLessThan((5 * std) / Math.sqrt(s.n))
  expect(Math.abs(s.std - std) / std, `std ${s.std} vs ${std}`).toBeLessThan(5 / Math.sqrt(2 * s.n))
  return s
}

function expectUniform(t: ft.Tensor, low: number, high: number): void {
  const s = expectDistribution(t, (low + high) / 2, (high - low) / Math.sqrt(12))
  expect(s.min).toBeGreaterThanOrEqual(low)
  expect(s.max).toBeLessThanOrEqual(high)
  // With this many samples the extremes come within 0.1% of the bounds.
  expect(s.min).toBeLessThan(low + (high - low) * 1e-3)
  expect(s.max).toBeGreaterThan(high - (high - low) * 1e-3)
}

/** The standard normal density and CDF (erf from Abramowitz & Stegun 7.1.26, error < 1.5e-7). */
const pdf = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI)
function cdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * z)
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z)
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2
}

describe('nn.init follows torch.nn.init', () => {
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
    expectDistribution(w, 0, Math.SQRT2 / Math.sqrt(FAN_OUT))
    init.kaimingNormal_(w, { a: 0.2 })
    expectDistribution(w, 0, Math.sqrt(2 / 1.04) / Math.sqrt(FAN_IN))
    const linear = ft.zeros([300, 200])
    init.kaimingNormal_(linear)
    expectDistribution(linear, 0, Math.SQRT2 / Math.sqrt(200))
  })

  it('xavierUniform_ and xavierNormal_: std = gain * sqrt(2 / (fan_in + fan_out))', () => {
    const w = ft.zeros(CONV)
    const gain = init.calculateGain('tanh')
    init.xavierUniform_(w, { gain })
    const bound = gain * Math.sqrt(6 / (FAN_IN + FAN_OUT))
    expectUniform(w, -bound, bound)
    init.xavierNormal_(w)
    expectDistribution(w, 0, Math.sqrt(2 / (FAN_IN + FAN_OUT)))
  })

  it('normal_, uniform_, constant_, zeros_, ones_', () => {
    const t = ft.zeros([100, 200])
    init.normal_(t, 1, 0.5)
    expectDistribution(t, 1, 0.5)
    init.uniform_(t, -2, 3)
    expectUniform(t, -2, 3)
    init.constant_(t, 0.25)
    expect(stats(t)).toMatchObject({ min: 0.25, max: 0.25 })
    init.zeros_(t)
    expect(stats(t)).toMatchObject({ min: 0, max: 0 })
    init.ones_(t)
    expect(stats(t)).toMatchObject({ min: 1, max: 1 })
  })

  it.each([
    ['the default [-2, 2]', { mean: 0, std: 1, a: -2, b: 2 }],
    ['shifted and scaled', { mean: 1, std: 2, a: 0, b: 1.5 }],
    ['a narrow interval in the tail', { mean: 0, std: 1, a: 3, b: 3.5 }],
    ['one-sided', { mean: 0, std: 0.02, a: -0.04, b: Infinity }],
  ])('truncNormal_: %s', (_name, o) => {
    const t = ft.zeros([200, 100])
    init.truncNormal_(t, o)
    const [alpha, beta] = [(o.a - o.mean) / o.std, (o.b - o.mean) / o.std]
    const mass = cdf(beta) - cdf(alpha)
    const [pa, pb] = [pdf(alpha), Number.isFinite(beta) ? pdf(beta) : 0]
    const mean = o.mean + (o.std * (pa - pb)) / mass
    const betaTerm = Number.isFinite(beta) ? beta * pb : 0
    const std = o.std * Math.sqrt(1 + (alpha * pa - betaTerm) / mass - ((pa - pb) / mass) ** 2)
    const s = expectDistribution(t, mean, std)
    expect(s.min).toBeGreaterThanOrEqual(Math.fround(o.a))
    expect(s.max).toBeLessThanOrEqual(o.b)
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
