// A small seeded generator for the fuzz cases: every case draws from its own stream, derived
// from the run's seed and the case's index, so one case replays without the ones before it.

/** splitmix32: mixes a 32-bit value into a well-spread one. */
function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/** The seed of case `index` in a run seeded with `seed`. */
export function caseSeed(seed: number, index: number): number {
  return mix(mix(seed) ^ Math.imul(index + 1, 0x27d4eb2f))
}

/** xoshiro128** over four 32-bit words. */
export class Random {
  #s: Uint32Array

  constructor(seed: number) {
    this.#s = new Uint32Array([mix(seed), mix(seed + 1), mix(seed + 2), mix(seed + 3)])
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.#s
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0
    const t = s[1] << 9
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 11)
    return result
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32
  }

  /** A uniform integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.float())) * Math.cos(2 * Math.PI * this.float())
  }

  /** `items` in a random order (a copy). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      ;[out[i], out[j]] = [out[j], out[i]]
    }
    return out
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
