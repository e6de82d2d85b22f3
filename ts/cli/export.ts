/** `ferrite export`: saved weights as an ONNX file, with the sidecar a page running it needs. */
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import * as ft from '../index'
import { HELP, integerOption, requiredOption, UsageError, type Values } from './arguments'
import type { CliIO, Command } from './command'
import { INPUT_SHAPE, MEAN, STD } from './data'
import { loadWeights, MODEL, modelOption, MODELS } from './models'

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a model with saved weights as an ONNX file (onnxruntime in Node, browsers, Python)',
  usage: 'ferrite export --model <name> --weights <file> --out <file.onnx> [options]',
  description:
    'Loads the weights into the model, traces one eval-mode forward of a CIFAR-10 image and writes it as ' +
    'ONNX. Beside it, <out without .onnx>.json holds what a page running the file needs: the class names, ' +
    "the normalisation train and evaluate apply to images (mean, std) and the input shape.",
  options: [
    MODEL,
    { name: 'weights', value: '<file>', help: "a .safetensors state dict or ferrite train checkpoint (required)" },
    { name: 'out', value: '<file>', help: 'the ONNX file to write, e.g. resnet.onnx (required)' },
    { name: 'dynamic-batch', help: 'let the file take any batch size (dim 0 is named batch); without it, one image at a time' },
    { name: 'opset', value: '<n>', help: `ONNX opset version, ${ft.onnx.OPSET_RANGE.min} to ${ft.onnx.OPSET_RANGE.max} (default ${ft.onnx.DEFAULT_OPSET})` },
    HELP,
  ],
  run: runExport,
}

async function runExport(values: Values, io: CliIO): Promise<void> {
  const modelName = modelOption(values)
  const weights = requiredOption(values, 'weights')
  const out = requiredOption(values, 'out')
  const dynamicBatch = values['dynamic-batch'] === true
  const opsetVersion = integerOption(values, 'opset', ft.onnx.DEFAULT_OPSET, 0)
  const { min, max } = ft.onnx.OPSET_RANGE
  if (opsetVersion < min || opsetVersion > max) throw new UsageError(`--opset must be from ${min} to ${max}, got ${opsetVersion}`)
  const model = MODELS[modelName].build()
  try {
    loadWeights(model, weights, modelName)
    // A batch of 2 under --dynamic-batch: a traced dim 0 of 1 would match every literal 1 in a reshape.
    using example = ft.zeros([dynamicBatch ? 2 : 1, ...INPUT_SHAPE])
    mkdirSync(dirname(out), { recursive: true })
    await ft.onnx.exportModel(model, example, out, { dynamicBatch, opsetVersion, metadata: { model: modelName, classes: ft.data.CIFAR10_CLASSES.join(',') } })
  } finally {
    model.dispose()
  }
  const sidecar = `${out.replace(/\.onnx$/i, '')}.json`
  writeFileSync(sidecar, `${JSON.stringify({ classes: ft.data.CIFAR10_CLASSES, mean: MEAN, std: STD, inputShape: INPUT_SHAPE }, null, 2)}\n`)
  const megabytes = (statSync(out).size / 1e6).toFixed(2)
  io.stdout.write(`Wrote ${out} (${modelName}, opset ${opsetVersion}, ${dynamicBatch ? 'any batch size' : 'batch size 1'}, ${megabytes} MB) and ${sidecar}\n`)
}
