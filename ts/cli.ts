/**
 * The `ferrite` command: trains, evaluates and inspects the tutorial's models on CIFAR-10.
 *
 * ```sh
 * ferrite train --model resnet --data data/cifar10 --epochs 10
 * ferrite evaluate --model resnet --weights runs/resnet/model.safetensors --data data/cifar10
 * ```
 *
 * {@link main} is the whole program with injectable output streams, so it can be tested in
 * process; `bin/ferrite.js` only calls it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus, freemem, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from './index'

/** Where the CLI writes; `process.stdout` and `process.stderr` fit. */
export interface Writer {
  write(text: string): unknown
}

/** The output streams of {@link main}. */
export interface CliIO {
  stdout: Writer
  stderr: Writer
}

/** Exit statuses of {@link main}. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** Bad command-line input: reported with a usage hint and exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

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

const OPTIMIZERS = ['adam', 'sgd', 'adamw'] as const
type OptimizerName = (typeof OPTIMIZERS)[number]

// The tutorial's CIFAR-10 statistics and augmentation.
const MEAN = [0.49, 0.48, 0.45]
const STD = [0.25, 0.24, 0.26]
const T = ft.transforms
const trainTransform = (augment: boolean) =>
  T.compose([...(augment ? [T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32)] : []), T.toTensor(), T.normalize(MEAN, STD)])
const testTransform = () => T.compose([T.toTensor(), T.normalize(MEAN, STD)])

/** One command-line option; `value` names its argument, and options without one are flags. */
interface OptionSpec {
  name: string
  value?: string
  help: string
}

type Values = Record<string, string | boolean | undefined>

interface Command {
  name: string
  summary: string
  usage: string
  description: string
  options: OptionSpec[]
  run(values: Values, io: CliIO): Promise<void>
}

const HELP: OptionSpec = { name: 'help', help: 'show this help' }
const MODEL_NAMES = Object.keys(MODELS).join(', ')
const DATA_HELP =
  'CIFAR-10 binary batches (train.bin and test.bin, or data_batch_1..5.bin and test_batch.bin, also in cifar-10-batches-bin/), ' +
  "or the tutorial's image folders: train/<class>/*.png and test/<class>/*.png"
const DEVICE_HELP = 'cpu, cuda or cuda:N (default cpu)'
const LIMIT_HELP = 'use only n images of each split, the same number from each class (n/10 for CIFAR-10), for quick runs'

const EXIT_STATUS = `Exit status:
  0  success
  1  runtime failure (missing data, unreadable or mismatched weights, training error)
  2  usage error (unknown command or option, missing or invalid value)`

const COMMANDS: Command[] = [
  {
    name: 'train',
    summary: 'train a model on CIFAR-10 and save its weights, history and curves',
    usage: 'ferrite train --model <name> --data <dir> [options]',
    description: `Trains with the tutorial's recipe (cross-entropy, Adam, batches of 100, pad + flip + crop
augmentation, normalized inputs), printing the model, then a loss line every 100 steps and the
test accuracy after every epoch. Writes to the output folder:
  model.safetensors        the trained weights (PyTorch's safetensors load_file reads them)
  checkpoint.safetensors   model, optimizer and history after the latest epoch, for --resume
  history.json             per-epoch loss, accuracy, seconds and images/s, and the options used
  curves.png               the train-loss and test-accuracy curves`,
    options: [
      { name: 'model', value: '<name>', help: `${MODEL_NAMES} (required)` },
      { name: 'data', value: '<dir>', help: `${DATA_HELP} (required)` },
      { name: 'epochs', value: '<n>', help: 'epochs to train in all, counting resumed ones (default 10)' },
      { name: 'optimizer', value: '<name>', help: 'adam, sgd or adamw (default adam)' },
      { name: 'lr', value: '<rate>', help: "learning rate (default the tutorial's: mycnn 0.01, resnet 0.002, se-resnet 0.001, vgg* 0.001)" },
      { name: 'momentum', value: '<m>', help: 'momentum, for sgd only (default 0.9)' },
      { name: 'weight-decay', value: '<w>', help: 'L2 penalty, decoupled for adamw (default 0; adamw 0.01 as in PyTorch)' },
      { name: 'batch-size', value: '<n>', help: 'images per batch (default 100)' },
      { name: 'device', value: '<name>', help: DEVICE_HELP },
      { name: 'seed', value: '<n>', help: 'seeds the initial weights, the shuffling and the augmentation (default 0)' },
      { name: 'out', value: '<dir>', help: 'output folder (default runs/<model>)' },
      { name: 'resume', help: 'continue from <out>/checkpoint.safetensors when it exists' },
      { name: 'no-augment', help: 'train without padding, flipping and cropping' },
      { name: 'limit', value: '<n>', help: LIMIT_HELP },
      HELP,
    ],
    run: runTrain,
  },
  {
    name: 'evaluate',
    summary: "measure saved weights' accuracy on the CIFAR-10 test set",
    usage: 'ferrite evaluate --model <name> --weights <file> --data <dir> [options]',
    description: "Loads the weights into the model and prints the tutorial's line, `Accuracy on Test Set: xx.xxxx %`.",
    options: [
      { name: 'model', value: '<name>', help: `${MODEL_NAMES} (required)` },
      { name: 'weights', value: '<file>', help: "a .safetensors state dict (ferrite train's model.safetensors or checkpoint.safetensors, or PyTorch's save_file) (required)" },
      { name: 'data', value: '<dir>', help: `${DATA_HELP} (required)` },
      { name: 'batch-size', value: '<n>', help: 'images per batch (default 100)' },
      { name: 'device', value: '<name>', help: DEVICE_HELP },
      { name: 'limit', value: '<n>', help: `${LIMIT_HELP}; the same images as train --limit n` },
      HELP,
    ],
    run: runEvaluate,
  },
  {
    name: 'summary',
    summary: "print a model's layers and parameter counts",
    usage: 'ferrite summary --model <name>',
    description: 'Prints the model as PyTorch prints it, then its total and trainable parameter counts.',
    options: [{ name: 'model', value: '<name>', help: `${MODEL_NAMES} (required)` }, HELP],
    run: runSummary,
  },
  {
    name: 'devices',
    summary: 'list the CPU and the GPUs, with memory use, utilisation and temperature',
    usage: 'ferrite devices',
    description:
      'Prints a table like nvidia-smi\'s: each device\'s id, name, memory used / total, utilisation and temperature, ' +
      'then the CUDA libraries found and, where GPUs cannot be used, why.',
    options: [HELP],
    run: runDevices,
  },
]

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

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) throw new UsageError(`unknown command '${name}'; expected one of ${COMMANDS.map((c) => c.name).join(', ')}`)
  return command
}

/** Ferrite's version, from package.json (two levels up when compiled to dist/cjs/, one from ts/). */
export function version(): string {
  const file = join(__dirname, __filename.endsWith('.ts') ? '..' : '../..', 'package.json')
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}

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
    const values = parseOptions(command, rest)
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

/** `parseArgs` with the command's options, its errors turned into {@link UsageError}s. */
function parseOptions(command: Command, args: string[]): Values {
  const options = Object.fromEntries(
    command.options.map((o) => [o.name, { type: o.value ? ('string' as const) : ('boolean' as const), ...(o.name === 'help' ? { short: 'h' } : {}) }]),
  )
  try {
    return parseArgs({ args: joinNegativeValues(command, args), options, strict: true, allowPositionals: false }).values as Values
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const quoted = /'([^']*)'/.exec((error as Error).message)?.[1] ?? ''
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${quoted}'`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = quoted.split(' ')[0]
      const spec = command.options.find((o) => `--${o.name}` === name)
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
function joinNegativeValues(command: Command, args: string[]): string[] {
  const takesValue = new Set(command.options.filter((o) => o.value).map((o) => `--${o.name}`))
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

function stringOption(values: Values, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

function requiredOption(values: Values, name: string): string {
  const v = stringOption(values, name)
  if (v === undefined) throw new UsageError(`missing required option --${name}`)
  if (v === '') throw new UsageError(`--${name} must not be empty`)
  return v
}

function integerOption(values: Values, name: string, fallback: number, min: number): number {
  const v = stringOption(values, name)
  if (v === undefined) return fallback
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got '${v}'`)
  if (!Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be an integer from ${min} to ${Number.MAX_SAFE_INTEGER}, got '${v}'`)
  return Number(v)
}

function numberOption(values: Values, name: string, fallback: number, { positive = false } = {}): number {
  const v = stringOption(values, name)
  if (v === undefined) return fallback
  const x = Number(v)
  if (v.trim() === '' || !Number.isFinite(x) || x < 0 || (positive && x === 0)) {
    throw new UsageError(`--${name} must be a ${positive ? 'positive' : 'non-negative'} number, got '${v}'`)
  }
  return x
}

function modelOption(values: Values): string {
  const name = requiredOption(values, 'model')
  if (!Object.hasOwn(MODELS, name)) throw new UsageError(`unknown model '${name}'; expected one of ${MODEL_NAMES}`)
  return name
}

function deviceOption(values: Values): ft.DeviceName {
  const device = stringOption(values, 'device') ?? 'cpu'
  if (!/^(cpu|cuda|cuda:\d+)$/.test(device)) throw new UsageError(`unknown device '${device}'; expected cpu, cuda or cuda:N`)
  return device as ft.DeviceName
}

/** The first `n` indices taking classes in turn (class 0's first image, class 1's first, ...), in file order. */
export function balancedIndices(targets: readonly number[], n: number): number[] {
  if (n >= targets.length) return targets.map((_, i) => i)
  const byClass = new Map<number, number[]>()
  targets.forEach((t, i) => {
    const list = byClass.get(t)
    if (list) list.push(i)
    else byClass.set(t, [i])
  })
  const queues = [...byClass.entries()].sort(([a], [b]) => a - b).map(([, indices]) => indices)
  const picked: number[] = []
  for (let round = 0; picked.length < n; round++) {
    for (const queue of queues) if (round < queue.length && picked.length < n) picked.push(queue[round])
  }
  return picked.sort((a, b) => a - b)
}

const isFolder = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true

/**
 * One split of the data under `root`, cut to `limit` images when given: CIFAR-10's binary batches
 * when `root` holds any, else the tutorial's `train/` and `test/` image folders when present.
 */
function loadSplit(root: string, train: boolean, transform: ft.transforms.Compose, limit: number | undefined): ft.data.Dataset {
  if (!existsSync(root)) throw new ft.IoError(`data folder not found: ${root}`)
  if (!isFolder(root)) throw new ft.IoError(`--data ${root} is not a folder; expected a folder holding ${DATA_HELP}`)
  const hasBatches = [root, join(root, 'cifar-10-batches-bin')].some((dir) => isFolder(dir) && readdirSync(dir).some((f) => f.endsWith('.bin')))
  const folder = join(root, train ? 'train' : 'test')
  const dataset = !hasBatches && isFolder(folder) ? new ft.data.ImageFolder(folder, { transform }) : new ft.data.CIFAR10({ root, train, transform })
  if (dataset.classes.length > 10) throw new ft.IoError(`${root}: ${dataset.classes.length} classes found, but the models classify 10`)
  return limit === undefined || limit >= dataset.length ? dataset : new ft.data.Subset(dataset, balancedIndices(dataset.targets, limit))
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
  const seed = integerOption(values, 'seed', 0, 0)
  const out = stringOption(values, 'out') ?? join('runs', modelName)
  const resume = values.resume === true
  const augment = values['no-augment'] !== true
  const limit = values.limit === undefined ? undefined : integerOption(values, 'limit', 0, 1)

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
        `batch size ${batchSize}, ${augment ? 'augmented' : 'no augmentation'}, seed ${seed}, ${device} with ${ft.getNumThreads()} threads`,
    )
    if (resume && !existsSync(checkpoint)) log(`No checkpoint at ${checkpoint}; starting from scratch`)
    const history = await fitNamingCheckpoint(model, {
      epochs,
      optimizer,
      trainLoader,
      testLoader,
      device,
      checkpoint,
      resume,
      log,
      progress: io.stdout === process.stdout && process.stdout.isTTY === true,
    })
    ft.saveModel(model, join(out, 'model.safetensors'))
    await ft.plotCurves(history, join(out, 'curves.png'))
    const best = Math.max(...history.testAccuracy)
    const summary = {
      model: modelName,
      ferrite: version(),
      options: { data, epochs, optimizer: optimizerName, lr, momentum: optimizerName === 'sgd' ? momentum : null, weightDecay, batchSize, device, seed, out, resume, augment, limit: limit ?? null },
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

/** Loads `file` into `model`: a state dict, or the model part of a `ferrite train` checkpoint. */
function loadWeights(model: ft.nn.Module, file: string, modelName: string): void {
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
function shortenKeyLists(message: string, shown = 5): string {
  return message.replace(/"[^"]*"(?:, "[^"]*")+/g, (list) => {
    const keys = list.split(', ')
    return keys.length <= shown ? list : `${keys.slice(0, shown).join(', ')}, ... (${keys.length} in all)`
  })
}

async function runEvaluate(values: Values, io: CliIO): Promise<void> {
  const modelName = modelOption(values)
  const weights = requiredOption(values, 'weights')
  const data = requiredOption(values, 'data')
  const batchSize = integerOption(values, 'batch-size', 100, 1)
  const device = deviceOption(values)
  const limit = values.limit === undefined ? undefined : integerOption(values, 'limit', 0, 1)
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

async function runDevices(_values: Values, io: CliIO): Promise<void> {
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)}MiB`
  const cores = cpus()
  const rows = [
    ['ID', 'NAME', 'MEMORY-USAGE', 'UTIL', 'TEMP', 'THREADS'],
    ['cpu', cores[0]?.model.trim() || 'unknown CPU', `${mib(totalmem() - freemem())} / ${mib(totalmem())}`, '-', '-', String(ft.getNumThreads())],
  ]
  const gpus = ft.cuda.devices()
  for (const gpu of gpus) {
    rows.push([
      `cuda:${gpu.index}`,
      gpu.name,
      `${gpu.memoryUsed === null ? 'N/A' : mib(gpu.memoryUsed)} / ${mib(gpu.memoryTotal)}`,
      gpu.utilization === null ? 'N/A' : `${gpu.utilization}%`,
      gpu.temperature === null ? 'N/A' : `${gpu.temperature}C`,
      '-',
    ])
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  for (const row of rows) io.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()}\n`)
  const info = ft.cuda.info()
  const found = info.libraries.filter((l) => l.path !== null).map((l) => `${l.name} ${l.version ?? '(version unknown)'}`)
  io.stdout.write(`\nCUDA libraries found: ${found.length > 0 ? found.join(', ') : 'none'}\n`)
  if (info.driverVersion !== null) io.stdout.write(`Driver ${info.driverVersion}, CUDA ${info.cudaVersion ?? 'unknown'}\n`)
  if (!info.available) {
    const what = gpus.length > 0 ? 'Ferrite cannot place tensors on these GPUs' : 'no usable NVIDIA GPU'
    io.stdout.write(`${what}: ${info.unavailableReason}\n`)
  } else {
    io.stdout.write(`device 'auto' picks ${ft.cuda.autoDevice()} (the most free memory)\n`)
  }
  io.stdout.write('CPU threads: set RAYON_NUM_THREADS to change.\n')
}
