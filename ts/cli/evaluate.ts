/** `ferrite evaluate`: the test accuracy of saved weights. */
import * as ft from '../index'
import { DEVICE, deviceOption, HELP, integerOption, requiredOption, type Values } from './arguments'
import type { CliIO, Command } from './command'
import { DATA, LIMIT_HELP, limitOption, loadSplit, testTransform } from './data'
import { loadWeights, MODEL, modelOption, MODELS } from './models'

export const evaluate: Command = {
  name: 'evaluate',
  summary: "measure saved weights' accuracy on the CIFAR-10 test set",
  usage: 'ferrite evaluate --model <name> --weights <file> --data <dir> [options]',
  description: "Loads the weights into the model and prints the tutorial's line, `Accuracy on Test Set: xx.xxxx %`.",
  options: [
    MODEL,
    { name: 'weights', value: '<file>', help: "a .safetensors state dict (ferrite train's model.safetensors or checkpoint.safetensors, or PyTorch's save_file) (required)" },
    DATA,
    { name: 'batch-size', value: '<n>', help: 'images per batch (default 100)' },
    DEVICE,
    { name: 'limit', value: '<n>', help: `${LIMIT_HELP}; the same images as train --limit n` },
    HELP,
  ],
  run: runEvaluate,
}

async function runEvaluate(values: Values, io: CliIO): Promise<void> {
  const modelName = modelOption(values)
  const weights = requiredOption(values, 'weights')
  const data = requiredOption(values, 'data')
  const batchSize = integerOption(values, 'batch-size', 100, 1)
  const device = deviceOption(values)
  const limit = limitOption(values)
  const testSet = loadSplit(data, false, testTransform(), limit)
  const model = MODELS[modelName].build()
  try {
    loadWeights(model, weights, modelName)
    model.to(device)
    const loader = new ft.data.DataLoader(testSet, { batchSize, shuffle: false })
    await ft.evaluate(model, loader, { device, log: (line) => io.stdout.write(`${line}\n`) })
  } finally {
    model.dispose()
  }
}
