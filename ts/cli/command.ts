/** What every `ferrite` command is: its help text, its options and the function that runs it. */
import type { OptionSpec, Values } from './arguments'

/** Where the CLI writes; `process.stdout` and `process.stderr` fit. */
export interface Writer {
  write(text: string): unknown
}

/** The output streams of the CLI's `main`. */
export interface CliIO {
  stdout: Writer
  stderr: Writer
}

/** One `ferrite <name>` command. */
export interface Command {
  name: string
  summary: string
  usage: string
  description: string
  options: OptionSpec[]
  run(values: Values, io: CliIO): Promise<void>
}
