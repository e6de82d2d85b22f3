/** `ferrite train`: trains a model with the tutorial's recipe and writes its weights, checkpoint, history and curves. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as ft from '../index'
import { DEVICE, deviceOption, HELP, integerOption, numberOption, requiredOption, stringOption, UsageError, type Values } from './arguments'
import type { CliIO, Command } from './command'
import { DATA, LIMIT_HELP, limitOption, loadSplit, testTransform, trainTransform } from './data'
import { MODEL, modelOption, MODELS, shortenKeyLists } from './models'
import { version } from '../version'

const OPTIMIZERS = ['adam', 'sgd', 'adamw'] as const
const PRECISIONS: readonly ft.Precision[] = ['fp32', 'bf16']
type OptimizerName = (typeof OPTIMIZERS)[number]

export const train: Command = {
  name: 'train',
  summary: 'train a model on CIFAR-10 and save its weights, history and curves',
  usage: 'ferrite train --model <name> --data <dir> [options]',
  description: `Trains with the tutorial's recipe (cross-entropy, Adam, batches of 100, pad + flip + crop
augmentation, normalized inputs), printing the model, then a loss line every 100 steps and the
test accuracy after every epoch. Writes to the output folder:
  model.safetensors        the trained weights (PyTorch's safetensors load_file reads them);
                           with --early-stop, those of the epoch with the best test accuracy
  checkpoint.safetensors   model, optimizer and history after the latest epoch, for --resume
  history.json             per-epoch train and test loss, accuracy, seconds and images/s, and the options used
  curves.png               the train-loss and test-accuracy curves`,
  options: [
    MODEL,
    DATA,
    { name: 'epochs', value: '<n>', help: 'epochs to train in all, counting resumed ones (default 10)' },
    { name: 'optimizer', value: '<name>', help: 'adam, sgd or adamw (default adam)' },
    { name: 'lr', value: '<rate>', help: "learning rate (default the tutorial's: mycnn 0.01, resnet 0.002, se-resnet 0.001, vgg* 0.001)" },
    { name: 'momentum', value: '<m>', help: 'momentum, for sgd only (default 0.9)' },
    { name: 'weight-decay', value: '<w>', help: 'L2 penalty, decoupled for adamw (default 0; adamw 0.01 as in PyTorch)' },
    { name: 'batch-size', value: '<n>', help: 'images per batch (default 100)' },
    DEVICE,
    { name: 'precision', value: '<p>', help: 'fp32, or bf16 for mixed precision: autocast to bfloat16 with float32 sums and weights (default fp32)' },
    { name: 'seed', value: '<n>', help: 'seeds the initial weights, the shuffling and the augmentation (default 0)' },
    { name: 'out', value: '<dir>', help: 'output folder (default runs/<model>)' },
    { name: 'resume', help: 'continue from <out>/checkpoint.safetensors when it exists' },
    { name: 'tensorboard', value: '<dir>', help: 'write TensorBoard event files here: loss and learning rate per step, loss, accuracy and learning rate per epoch, the curves' },
    { name: 'early-stop', value: '<n>', help: 'stop once the test accuracy has not improved for n epochs, keeping the best epoch\'s weights' },
    { name: 'no-augment', help: 'train without padding, flipping and cropping' },
    { name: 'limit', value: '<n>', help: LIMIT_HELP },
    HELP,
  ],
  run: runTrain,
}

function createOptimizer(name: OptimizerName, model: ft.nn.Module, lr: number, momentum: number, weightDecay: number): ft.optim.Optimizer<{ lr: number }> {
  const params = model.parameters()
  if (name === 'sgd') return new ft.optim.SGD(params, { lr, momentum, weightDecay })
  if (name === 'adamw') return new ft.optim.AdamW(params, { lr, weightDecay })
  return new ft.optim.Adam(params, { lr, weightDecay })
}

const percent = (accuracy: number) => `${(100 * accuracy).toFixed(4)} %`
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1)

async function runTrain(values: Values, io: CliIO): Promise<void> {
  const modelName = modelOption(values)
  const data = requiredOption(values, 'data')
  const epochs = integerOption(values, 'epochs', 10, 1)
  const optimizerName = (stringOption(values, 'optimizer') ?? 'adam') as OptimizerName
  if (!OPTIMIZERS.includes(optimizerName)) throw new UsageError(`unknown optimizer '${optimizerName}'; expected one of ${OPTIMIZERS.join(', ')}`)
  const lr = numberOption(values, 'lr', MODELS[modelName].lr, { positive: true })
  if (values.momentum !== undefined && optimizerName !== 'sgd') throw new UsageError('--momentum applies only to --optimizer sgd')
  const momentum = numberOption(values, 'momentum', 0.9)
  const weightDecay = numberOption(values, 'weight-decay', optimizerName === 'adamw' ? 0.01 : 0)
  const batchSize = integerOption(values, 'batch-size', 100, 1)
  const device = deviceOption(values)
  const precision = (stringOption(values, 'precision') ?? 'fp32') as ft.Precision
  if (!PRECISIONS.includes(precision)) throw new UsageError(`unknown precision '${precision}'; expected one of ${PRECISIONS.join(', ')}`)
  const seed = integerOption(values, 'seed', 0, 0)
  const out = stringOption(values, 'out') ?? join('runs', modelName)
  const resume = values.resume === true
  const augment = values['no-augment'] !== true
  const limit = limitOption(values)
  const tensorboard = stringOption(values, 'tensorboard')
  if (tensorboard === '') throw new UsageError('--tensorboard must not be empty')
  const earlyStop = values['early-stop'] === undefined ? undefined : integerOption(values, 'early-stop', 0, 1)

  const log = (line: string) => io.stdout.write(`${line}\n`)
  const trainSet = loadSplit(data, true, trainTransform(augment), limit)
  const testSet = loadSplit(data, false, testTransform(), limit)
  ft.manualSeed(seed)
  const model = MODELS[modelName].build().to(device)
  try {
    const optimizer = createOptimizer(optimizerName, model, lr, momentum, weightDecay)
    const trainLoader = new ft.data.DataLoader(trainSet, { batchSize, shuffle: true, seed })
    const testLoader = new ft.data.DataLoader(testSet, { batchSize, shuffle: false })
    createOutputFolder(out)
    const checkpoint = join(out, 'checkpoint.safetensors')
    log(String(model))
    log(
      `Training ${modelName} on ${trainSet.length} images (testing on ${testSet.length}) for ${epochs} epoch(s): ` +
        `${optimizerName} lr=${lr}${optimizerName === 'sgd' ? ` momentum=${momentum}` : ''} weight decay=${weightDecay}, ` +
        `batch size ${batchSize}, ${augment ? 'augmented' : 'no augmentation'}, seed ${seed}, ${device} with ${ft.getNumThreads()} threads, ` +
        describePrecision(precision, device),
    )
    if (resume && !existsSync(checkpoint)) log(`No checkpoint at ${checkpoint}; starting from scratch`)
    const history = await fitNamingCheckpoint(model, {
      epochs,
      optimizer,
      trainLoader,
      testLoader,
      device,
      precision,
      checkpoint,
      resume,
      log,
      progress: io.stdout === process.stdout && process.stdout.isTTY === true,
      callbacks: [
        ft.callbacks.plotCurves(join(out, 'curves.png')),
        ...(earlyStop === undefined ? [] : [ft.callbacks.earlyStopping({ monitor: 'testAccuracy', patience: earlyStop, restoreBest: true })]),
        ...(tensorboard === undefined ? [] : [ft.callbacks.tensorBoard(tensorboard)]),
      ],
    })
    ft.saveModel(model, join(out, 'model.safetensors'))
    const best = Math.max(...history.testAccuracy)
    const summary = {
      model: modelName,
      ferrite: version(),
      options: { data, epochs, optimizer: optimizerName, lr, momentum: optimizerName === 'sgd' ? momentum : null, weightDecay, batchSize, device, precision, seed, out, resume, augment, limit: limit ?? null, tensorboard: tensorboard ?? null, earlyStop: earlyStop ?? null },
      threads: ft.getNumThreads(),
      ...history,
      secondsPerEpoch: mean(history.epochSeconds),
      bestTestAccuracy: best,
      bestEpoch: history.testAccuracy.indexOf(best) + 1,
      finalTestAccuracy: history.testAccuracy.at(-1) ?? null,
    }
    writeFileSync(join(out, 'history.json'), `${JSON.stringify(summary, null, 2)}\n`)
    log(
      `Best test accuracy ${percent(best)} (epoch ${summary.bestEpoch}), final ${percent(summary.finalTestAccuracy ?? 0)}, ` +
        `${mean(history.imagesPerSecond).toFixed(1)} images/s, ${summary.secondsPerEpoch.toFixed(1)} s/epoch; saved to ${out}`,
    )
  } finally {
    model.dispose()
  }
}

/** The precision for the log line, saying whether bfloat16 kernels run (autocast falls back to float32 where not). */
function describePrecision(precision: ft.Precision, device: string): string {
  if (precision === 'fp32') return 'float32'
  const why = device.startsWith('cuda') ? ft.backends.cuda.float32Reason() : ft.backends.cpu.float32Reason()
  return why === null ? 'bf16 mixed precision' : `bf16 mixed precision requested, running float32 (${why})`
}

/** Creates `--out`'s folder, naming the option and the path when it cannot be one. */
function createOutputFolder(out: string): void {
  try {
    mkdirSync(out, { recursive: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'EEXIST' ? 'it is a file' : code === 'ENOTDIR' ? 'a folder above it is a file' : (error as Error).message
    throw new ft.IoError(`--out ${out}: cannot create the output folder: ${reason}; expected a folder, or a path where one can be created`, { cause: error })
  }
}

/** `ft.fit`, reporting a checkpoint that does not fit the model by its file name. */
async function fitNamingCheckpoint(model: ft.nn.Module, options: ft.FitOptions): Promise<ft.History> {
  try {
    return await ft.fit(model, options)
  } catch (error) {
    // IoErrors name their file already.
    if (options.resume && error instanceof ft.FerriteError && !(error instanceof ft.IoError) && /loadStateDict|loadCheckpoint/.test(error.message)) {
      throw new ft.IoError(`cannot resume from ${options.checkpoint}: ${shortenKeyLists(error.message)}`, { cause: error })
    }
    throw error
  }
}
