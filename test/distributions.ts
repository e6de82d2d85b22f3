// Checks that a tensor's values are a sample of a given distribution: its support, its mean and
// standard deviation within five standard errors (from the sample size and the distribution's
// kurtosis), and the Kolmogorov-Smirnov distance to the exact CDF below the critical value at
// alpha = 1e-5. Callers seed the generator (ft.manualSeed), so that the outcome is the same on
// every run: a correct sampler fails these bounds for about 1 seed in 100,000, while a wrong
// distribution of the right mean and spread (a uniform for a normal) lies far outside them.
import { expect } from 'vitest'
import type * as ft from 'ferrite-ml'

export interface Distribution {
  /** How failures name it, e.g. 'U(-2, 3)'. */
  name: string
  mean: number
  std: number
  /** E[(x - mean)^4] / std^4: the standard deviation's standard error grows with it. */
  kurtosis: number
  /** The smallest and largest value a sample may hold. */
  support: [number, number]
  cdf: (x: number) => number
}

/** U(low, high). */
export function uniform(low: number, high: number): Distribution {
  return {
    name: `U(${low}, ${high})`,
    mean: (low + high) / 2,
    std: (high - low) / Math.sqrt(12),
    kurtosis: 9 / 5,
    support: [low, high],
    cdf: (x) => Math.min(1, Math.max(0, (x - low) / (high - low))),
  }
}

/** N(mean, std²). */
export function normal(mean: number, std: number): Distribution {
  return { name: `N(${mean}, ${std}²)`, mean, std, kurtosis: 3, support: [-Infinity, Infinity], cdf: (x) => standardNormalCdf((x - mean) / std) }
}

/** N(mean, std²) restricted to [a, b]; mean, standard deviation and kurtosis by integrating its density. */
export function truncatedNormal(mean: number, std: number, a: number, b: number): Distribution {
  const [alpha, beta] = [(a - mean) / std, (b - mean) / std]
  const mass = standardNormalCdf(beta) - standardNormalCdf(alpha)
  // Simpson's rule over the interval, cut 12 standard deviations out where it is unbounded.
  const [lo, hi] = [Math.max(alpha, -12), Math.min(beta, 12)]
  const steps = 20000
  const h = (hi - lo) / steps
  const moment = (f: (z: number) => number) => {
    let sum = 0
    for (let i = 0; i <= steps; i++) {
      const z = lo + i * h
      sum += (i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2) * f(z) * standardNormalPdf(z)
    }
    return (sum * h) / 3 / mass
  }
  const m = moment((z) => z)
  const variance = moment((z) => (z - m) ** 2)
  return {
    name: `N(${mean}, ${std}²) on [${a}, ${b}]`,
    mean: mean + std * m,
    std: std * Math.sqrt(variance),
    kurtosis: moment((z) => (z - m) ** 4) / variance ** 2,
    support: [a, b],
    cdf: (x) => Math.min(1, Math.max(0, (standardNormalCdf((x - mean) / std) - standardNormalCdf(alpha)) / mass)),
  }
}

export const standardNormalPdf = (z: number) => Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI)

/** Φ(z) from erfc (W. J. Cody's rational Chebyshev fit as in Numerical Recipes' erfcc, relative error < 1.2e-7). */
export function standardNormalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2
  const t = 1 / (1 + 0.5 * x)
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return z >= 0 ? 1 - erfc / 2 : erfc / 2
}

/** Kolmogorov's limit distribution at alpha = 1e-5: sqrt(ln(2 / alpha) / 2). */
const KS_CRITICAL = Math.sqrt(Math.log(2 / 1e-5) / 2)

/** sup |F_n(x) - F(x)| of the sample (sorted in place) against `cdf`. */
export function ksDistance(sorted: Float64Array, cdf: (x: number) => number): number {
  const n = sorted.length
  let d = 0
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i])
    d = Math.max(d, f - i / n, (i + 1) / n - f)
  }
  return d
}

/** Expects the values of `t` to be a sample of `d` (see the file's comment); returns the figures it checked. */
export function expectSampleOf(t: ft.Tensor, d: Distribution): { mean: number; std: number; ks: number; n: number } {
  const values = Float64Array.from(t.toTypedArray() as Float32Array).sort()
  const n = values.length
  let sum = 0
  for (const x of values) sum += x
  const mean = sum / n
  let squares = 0
  for (const x of values) squares += (x - mean) ** 2
  const std = Math.sqrt(squares / (n - 1))
  const ks = ksDistance(values, d.cdf)
  // A bound is met in float32, whose rounding of it may lie just outside the float64 one.
  const [low, high] = d.support
  expect(values[0], `${d.name}: smallest value`).toBeGreaterThanOrEqual(Math.min(low, Math.fround(low)))
  expect(values[n - 1], `${d.name}: largest value`).toBeLessThanOrEqual(Math.max(high, Math.fround(high)))
  expect(Math.abs(mean - d.mean), `${d.name}: sample mean ${mean}`).toBeLessThan((5 * d.std) / Math.sqrt(n))
  expect(Math.abs(std - d.std), `${d.name}: sample std ${std}`).toBeLessThan(5 * d.std * Math.sqrt((d.kurtosis - 1) / (4 * n)))
  expect(ks, `${d.name}: Kolmogorov-Smirnov distance of ${n} values`).toBeLessThan(KS_CRITICAL / Math.sqrt(n))
  return { mean, std, ks, n }
}
