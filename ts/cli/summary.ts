/** `ferrite summary`: a model's printout and parameter counts. */
import { HELP, type Values } from './arguments'
import type { CliIO, Command } from './command'
import { MODEL, modelOption, MODELS } from './models'

export const summary: Command = {
  name: 'summary',
  summary: "print a model's layers and parameter counts",
  usage: 'ferrite summary --model <name>',
  description: 'Prints the model as PyTorch prints it, then its total and trainable parameter counts.',
  options: [MODEL, HELP],
  run: runSummary,
}

/** `1234567` as `1,234,567`. */
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')

async function runSummary(values: Values, io: CliIO): Promise<void> {
  const model = MODELS[modelOption(values)].build()
  try {
    const params = model.parameters()
    const total = params.reduce((n, p) => n + p.numel(), 0)
    const trainable = params.reduce((n, p) => n + (p.requiresGrad ? p.numel() : 0), 0)
    io.stdout.write(`${String(model)}\nTotal parameters: ${grouped(total)}\nTrainable parameters: ${grouped(trainable)}\n`)
  } finally {
    model.dispose()
  }
}
