/**
 * The `ferrite` command: trains, evaluates and inspects the tutorial's models on CIFAR-10.
 *
 * ```sh
 * ferrite train --model resnet --data data/cifar10 --epochs 10
 * ferrite evaluate --model resnet --weights runs/resnet/model.safetensors --data data/cifar10
 * ```
 *
 * {@link main} is the whole program with injectable output streams, so it can be tested in
 * process; `bin/ferrite.js` only calls it. Each command has its own module beside this one.
 */
import * as ft from '../index'
import { parseOptions, UsageError } from './arguments'
import type { CliIO, Command } from './command'
import { findCommand } from './commands'
import { commandHelp, mainHelp } from './help'
import { version } from '../version'

export { UsageError } from './arguments'
export type { CliIO, Writer } from './command'
export { balancedIndices } from './data'
export { commandHelp, mainHelp } from './help'
export { MODELS } from './models'
export { version } from '../version'

/** Exit statuses of {@link main}. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/**
 * Runs the command line `argv` (without the node and script paths) and returns the exit status:
 * 0 on success, 1 when the work failed, 2 for bad usage. It never throws and never exits.
 */
export async function main(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [first, ...rest] = argv
  let command: Command | undefined
  try {
    if (first === undefined) {
      io.stderr.write(mainHelp())
      return EXIT.usage
    }
    if (first === '--help' || first === '-h') {
      io.stdout.write(mainHelp())
      return EXIT.ok
    }
    if (first === '--version') {
      io.stdout.write(`ferrite ${version()}\n`)
      return EXIT.ok
    }
    if (first === 'help') {
      io.stdout.write(rest.length > 0 ? commandHelp(rest[0]) : mainHelp())
      return EXIT.ok
    }
    if (first.startsWith('-')) throw new UsageError(`unknown option '${first}'; expected a command first`)
    command = findCommand(first)
    const values = parseOptions(command.options, rest)
    if (values.help === true) {
      io.stdout.write(commandHelp(command.name))
      return EXIT.ok
    }
    await command.run(values, io)
    return EXIT.ok
  } catch (error) {
    const prefix = command ? `ferrite ${command.name}` : 'ferrite'
    if (error instanceof UsageError) {
      io.stderr.write(`${prefix}: error: ${error.message}\nRun '${prefix} --help' for usage.\n`)
      return EXIT.usage
    }
    io.stderr.write(`${prefix}: error: ${describeFailure(error)}\n`)
    return EXIT.failure
  }
}

/** The message of an expected failure; a stack trace for anything that looks like a bug. */
function describeFailure(error: unknown): string {
  if (error instanceof ft.FerriteError) return error.message
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') return error.message
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}
