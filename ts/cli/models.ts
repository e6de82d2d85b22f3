/** The tutorial's models by their command-line names, and loading saved weights into them. */
import { existsSync } from 'node:fs'
import * as ft from '../index'
import { type OptionSpec, requiredOption, UsageError, type Values } from './arguments'

interface ModelSpec {
  build: () => ft.nn.Module
  /** The learning rate the tutorial trained this model with. */
  lr: number
}

const vgg = (name: ft.models.VGGName): ModelSpec => ({ build: () => new ft.models.VGG(name), lr: 0.001 })

/** The tutorial's models, by their command-line names. */
export const MODELS: Record<string, ModelSpec> = {
  mycnn: { build: () => new ft.models.MyCNN(32, 10), lr: 0.01 },
  resnet: { build: () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 2, 2]), lr: 0.002 },
  'se-resnet': { build: () => ft.models.seResNet(), lr: 0.001 },
  vgg11: vgg('VGG11'),
  vgg13: vgg('VGG13'),
  vgg16: vgg('VGG16'),
  vgg19: vgg('VGG19'),
}

export const MODEL_NAMES = Object.keys(MODELS).join(', ')

/** `--model`, which every command but `devices` requires. */
export const MODEL: OptionSpec = { name: 'model', value: '<name>', help: `${MODEL_NAMES} (required)` }

/** The `--model` name, checked against {@link MODELS}. */
export function modelOption(values: Values): string {
  const name = requiredOption(values, 'model')
  if (!Object.hasOwn(MODELS, name)) throw new UsageError(`unknown model '${name}'; expected one of ${MODEL_NAMES}`)
  return name
}

/** Loads `file` into `model`: a state dict, or the model part of a `ferrite train` checkpoint. */
export function loadWeights(model: ft.nn.Module, file: string, modelName: string): void {
  if (!existsSync(file)) throw new ft.IoError(`weights file not found: ${file}`)
  const isCheckpoint = ft.loadMetadata(file).format?.startsWith('ferrite-checkpoint') === true
  const tensors = ft.load(file)
  try {
    const state = isCheckpoint
      ? Object.fromEntries(Object.entries(tensors).flatMap(([k, t]) => (k.startsWith('model.') ? [[k.slice('model.'.length), t]] : [])))
      : tensors
    model.loadStateDict(state)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new ft.IoError(`${file} does not hold weights for model '${modelName}': ${shortenKeyLists(message)}`, { cause: error })
  } finally {
    for (const t of Object.values(tensors)) t.dispose()
  }
}

/** `loadStateDict`'s message with each list of keys cut to its first few. */
export function shortenKeyLists(message: string, shown = 5): string {
  return message.replace(/"[^"]*"(?:, "[^"]*")+/g, (list) => {
    const keys = list.split(', ')
    return keys.length <= shown ? list : `${keys.slice(0, shown).join(', ')}, ... (${keys.length} in all)`
  })
}
