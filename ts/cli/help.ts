/** The help texts: `ferrite --help` and each command's `--help`. */
import type { OptionSpec } from './arguments'
import { COMMANDS, findCommand } from './commands'
import { MODEL_NAMES } from './models'

const EXIT_STATUS = `Exit status:
  0  success
  1  runtime failure (missing data, unreadable or mismatched weights, training error)
  2  usage error (unknown command or option, missing or invalid value)`

/** The text of `ferrite --help`. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3
  return `Usage: ferrite <command> [options]

Trains, evaluates and inspects the CNN tutorial's models on CIFAR-10 (or on folders of 32x32
images, one folder per class), on Ferrite's Rust core.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Options:
  -h, --help   show this help; 'ferrite <command> --help' shows a command's options
  --version    print Ferrite's version

Models: ${MODEL_NAMES}

${EXIT_STATUS}
`
}

/** The text of `ferrite <command> --help`. */
export function commandHelp(name: string): string {
  const command = findCommand(name)
  const flag = (o: OptionSpec) => (o.name === 'help' ? '-h, --help' : `--${o.name}${o.value ? ` ${o.value}` : ''}`)
  const width = Math.max(...command.options.map((o) => flag(o).length)) + 3
  const lines = command.options.map((o) => `  ${flag(o).padEnd(width)}${wrap(o.help, width + 2)}`)
  return `Usage: ${command.usage}

${command.description}

Options:
${lines.join('\n')}

${EXIT_STATUS}
`
}

/** `text` in lines of at most `columns`, continuation lines indented by `indent`. */
function wrap(text: string, indent: number, columns = 80): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > columns) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  return [...lines, line].join(`\n${' '.repeat(indent)}`)
}
