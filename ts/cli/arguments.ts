/** Parsing a command's arguments and reading its options' values, with usage errors that say what is wrong. */
import { parseArgs } from 'node:util'
import type { DeviceName } from '../types'

/** Bad command-line input: reported with a usage hint and exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** One command-line option; `value` names its argument, and options without one are flags. */
export interface OptionSpec {
  name: string
  value?: string
  help: string
}

export type Values = Record<string, string | boolean | undefined>

/** `-h, --help`, which every command takes. */
export const HELP: OptionSpec = { name: 'help', help: 'show this help' }

/** `--device`, for the commands that run a model. */
export const DEVICE: OptionSpec = { name: 'device', value: '<name>', help: 'cpu, cuda or cuda:N (default cpu)' }

/** `parseArgs` with the command's options, its errors turned into {@link UsageError}s. */
export function parseOptions(specs: readonly OptionSpec[], args: string[]): Values {
  const options = Object.fromEntries(
    specs.map((o) => [o.name, { type: o.value ? ('string' as const) : ('boolean' as const), ...(o.name === 'help' ? { short: 'h' } : {}) }]),
  )
  try {
    return parseArgs({ args: joinNegativeValues(specs, args), options, strict: true, allowPositionals: false }).values as Values
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const quoted = /'([^']*)'/.exec((error as Error).message)?.[1] ?? ''
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${quoted}'`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = quoted.split(' ')[0]
      const spec = specs.find((o) => `--${o.name}` === name)
      throw new UsageError(spec?.value ? `option '${name}' needs a value ${spec.value}` : `option '${name}' takes no value`)
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument '${quoted}'`)
    throw error
  }
}

/**
 * `--epochs -1` as `--epochs=-1`: `parseArgs` takes `-1` for an option and reports a missing value,
 * where the user needs to hear the value's valid range.
 */
function joinNegativeValues(specs: readonly OptionSpec[], args: string[]): string[] {
  const takesValue = new Set(specs.filter((o) => o.value).map((o) => `--${o.name}`))
  const joined: string[] = []
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1]
    if (takesValue.has(args[i]) && next !== undefined && /^-[\d.]/.test(next) && !Number.isNaN(Number(next))) {
      joined.push(`${args[i]}=${next}`)
      i++
    } else joined.push(args[i])
  }
  return joined
}

export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

export function requiredOption(values: Values, name: string): string {
  const v = stringOption(values, name)
  if (v === undefined) throw new UsageError(`missing required option --${name}`)
  if (v === '') throw new UsageError(`--${name} must not be empty`)
  return v
}

export function integerOption(values: Values, name: string, fallback: number, min: number): number {
  const v = stringOption(values, name)
  if (v === undefined) return fallback
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got '${v}'`)
  if (!Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be an integer from ${min} to ${Number.MAX_SAFE_INTEGER}, got '${v}'`)
  return Number(v)
}

export function numberOption(values: Values, name: string, fallback: number, { positive = false } = {}): number {
  const v = stringOption(values, name)
  if (v === undefined) return fallback
  const x = Number(v)
  if (v.trim() === '' || !Number.isFinite(x) || x < 0 || (positive && x === 0)) {
    throw new UsageError(`--${name} must be a ${positive ? 'positive' : 'non-negative'} number, got '${v}'`)
  }
  return x
}

export function deviceOption(values: Values): DeviceName {
  const device = stringOption(values, 'device') ?? 'cpu'
  if (!/^(cpu|cuda|cuda:\d+)$/.test(device)) throw new UsageError(`unknown device '${device}'; expected cpu, cuda or cuda:N`)
  return device as DeviceName
}
