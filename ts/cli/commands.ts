/** The commands, in the order `ferrite --help` lists them. */
import { UsageError } from './arguments'
import type { Command } from './command'
import { devices } from './devices'
import { evaluate } from './evaluate'
import { exportCommand } from './export'
import { summary } from './summary'
import { train } from './train'

export const COMMANDS: readonly Command[] = [train, evaluate, exportCommand, summary, devices]

/** The command called `name`; any other name is a usage error. */
export function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) throw new UsageError(`unknown command '${name}'; expected one of ${COMMANDS.map((c) => c.name).join(', ')}`)
  return command
}
