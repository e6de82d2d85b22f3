// Python's `repr` of the values layers print, so that `String(model)` matches PyTorch's
// `print(model)` character for character. TS arrays print as Python tuples: they stand for the
// tuples PyTorch users pass (`kernel_size=(3, 3)`).

/** A value as Python's `repr` writes it: floats via {@link pyFloat}, booleans as `True`/`False`, null as `None`. */
export type PyValue = number | boolean | null | readonly number[]

/**
 * Python's `repr(float)`: the shortest digits that round-trip, in positional form from 1e-4 up
 * to 1e16 (with `.0` when integral) and in exponent form outside it, with at least two exponent
 * digits: `1e-05`, `0.1`, `1.0`, `1e+16`.
 */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  // toExponential() without an argument gives the shortest round-trip digits, as Python does.
  const [mantissa, exponent] = x.toExponential().split('e')
  const sign = x < 0 ? '-' : ''
  const digits = mantissa.replace('-', '').replace('.', '')
  const e = Number(exponent)
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0')
  return `${sign}${whole}.${digits.slice(e + 1) || '0'}`
}

/** Python's `repr` of an int, a bool, None or a tuple of ints (`(3, 3)`, `(3,)`). */
export function pyRepr(value: PyValue): string {
  if (value === null) return 'None'
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (typeof value === 'number') return String(value)
  return value.length === 1 ? `(${value[0]},)` : `(${value.join(', ')})`
}

/** PyTorch's `_addindent`: indents every line but the first. */
export function addIndent(text: string, spaces: number): string {
  return text.replaceAll('\n', `\n${' '.repeat(spaces)}`)
}
