/**
 * The tutorial's training loop: `train` (one epoch), `evaluate`, `fit` (epochs of both, with
 * checkpoints, resume and callbacks), `saveModel` and `plotCurves`. Log lines match the
 * tutorial's; on a terminal a progress bar shows images/s and the time left.
 */
import { existsSync } from 'node:fs'
import { noGrad } from './autograd'
import { autocast } from './autocast'
import { progressLogger } from './callbacks/builtin'
import { type BatchLogs, type Callback, type CallbackContext, CallbackList, checkCallbacks, type EpochLogs } from './callbacks/callback'
import { getRngState, setRngState, stack } from './creation'
import { autoDevice } from './cuda'
import { FerriteError, InvalidArgumentError, IoError } from './errors'
import { load, loadMetadata, save } from './io'
import { native } from './native'
import { CrossEntropyLoss, type Module } from './nn'
import type { Optimizer, OptimizerStateDict, LRScheduler } from './optim'
import { StepLogger } from './progress'
import { tidy } from './scope'
import { Tensor } from './tensor'
import type { DeviceName } from './types'
import type { DataLoader } from './data'

/** Per-epoch results of {@link fit}. */
export interface History {
  /** Mean training loss of each epoch. */
  trainLoss: number[]
  /** Test accuracy (a fraction) after each epoch; empty without a test loader. */
  testAccuracy: number[]
  /**
   * Mean loss over the test batches after each epoch; empty without a test loader. `fit` always
   * fills it (NaN for the epochs of a checkpoint written before Ferrite recorded it); optional so
   * that histories written by hand, for `saveCheckpoint` or `plotCurves`, need not have it.
   */
  testLoss?: number[]
  /** Wall-clock seconds of each epoch's training pass. */
  epochSeconds: number[]
  /** Training images per second in each epoch. */
  imagesPerSecond: number[]
}

/** A function that computes the loss from the model's output and the targets. */
export type LossFunction = Module | ((output: Tensor, targets: Tensor) => Tensor)

/** Options of {@link train}; {@link fit} takes them too. */
export interface TrainOptions {
  /** Where to run (default `'auto'`: the GPU with the most free memory when CUDA is available, else the CPU). */
  device?: DeviceName | 'auto'
  /** Print `Step [i/n] Train Loss: x` every this many steps (the tutorial's 100), and at the end of shorter epochs. */
  logEvery?: number
  /** Where log lines go (default `console.log`). */
  log?: (line: string) => void
  /** Show a progress bar (default: when stdout is a terminal). */
  progress?: boolean
  /** Label of the progress bar, e.g. `Epoch 3/10`. */
  label?: string
  /**
   * `'bf16'` runs the forward pass and the loss under {@link autocast} (bfloat16 products, float32
   * sums, parameters and optimizer state kept float32), like `torch.autocast('cpu',
   * dtype=torch.bfloat16)` around a PyTorch training step; `'fp32'` (default) runs all in float32.
   */
  precision?: Precision
}

/** A training precision: float32 throughout, or bfloat16 mixed precision (autocast). */
export type Precision = 'fp32' | 'bf16'

/** `fn` under autocast for `device`'s type when `precision` is `'bf16'`. */
function withPrecision<T>(precision: Precision, device: DeviceName, fn: () => T): T {
  if (precision === 'fp32') return fn()
  return autocast({ deviceType: device.startsWith('cuda') ? 'cuda' : 'cpu' }, fn)
}

function checkPrecision(op: string, precision: unknown): asserts precision is Precision {
  if (precision !== 'fp32' && precision !== 'bf16') {
    throw new InvalidArgumentError(`${op}: precision must be 'fp32' or 'bf16', got ${JSON.stringify(precision)}`)
  }
}

/** Options of {@link fit}: the training setup, plus {@link TrainOptions} for each epoch. */
export interface FitOptions extends TrainOptions {
  /** Total epochs to train, counting any already done when resuming. */
  epochs: number
  /** The optimizer stepping the model's parameters. */
  optimizer: Optimizer<{
    /** Learning rate, read and set by `scheduler`. */
    lr: number
  }>
  /** Batches for training; with `checkpoint`, its seed and epoch are saved so a resumed run sees the same data order. */
  trainLoader: DataLoader
  /** Batches for the accuracy check after each epoch; none skips it. */
  testLoader?: DataLoader
  /** Default: `new nn.CrossEntropyLoss()`. */
  lossFn?: LossFunction
  /** Stepped once per epoch, after the epoch's optimizer steps. */
  scheduler?: LRScheduler
  /** Write a checkpoint (model, optimizer, scheduler, epoch, data order, history) here after every epoch. */
  checkpoint?: string
  /** Continue from `checkpoint` if it exists. */
  resume?: boolean
  /**
   * Hooks run during training, in order, after the built-in one that prints the log lines and the
   * progress bar: `ft.callbacks.earlyStopping(...)`, `ft.callbacks.modelCheckpoint(...)`,
   * `ft.callbacks.tensorBoard(...)`, or plain objects with some of the {@link Callback} hooks.
   */
  callbacks?: Callback[]
}

function resolveDevice(device: DeviceName | 'auto' | undefined): DeviceName {
  return device === undefined || device === 'auto' ? autoDevice() : device
}

function lossOf(lossFn: LossFunction, output: Tensor, targets: Tensor): Tensor {
  return typeof lossFn === 'function' ? lossFn(output, targets) : lossFn.forward(output, targets)
}

/** What {@link train} returns: one training pass's results. */
export interface TrainResult {
  /** Mean loss over the epoch's steps. */
  loss: number
  /** Images trained on. */
  images: number
  /** Wall-clock seconds of the pass. */
  seconds: number
}

/**
 * Trains `model` for one pass over `loader` and returns the mean loss, like the tutorial's
 * `train`. Each step's tensors are released as soon as the step ends.
 */
export async function train(
  model: Module,
  loader: DataLoader,
  lossFn: LossFunction,
  optimizer: Optimizer<object>,
  { device, logEvery = 100, log = console.log, progress = process.stdout.isTTY === true, label = 'train', precision = 'fp32' }: TrainOptions = {},
): Promise<TrainResult> {
  checkPrecision('train', precision)
  const steps = new StepLogger(loader.length, label, { log, logEvery, progress })
  try {
    return await trainPass(model, loader, lossFn, optimizer, resolveDevice(device), precision, 'train', (batch, loss, images) => steps.update(batch + 1, loss, images))
  } finally {
    steps.clear()
  }
}

/** Called after each step of a training pass with the batch's index, loss and image count; a returned promise is awaited. */
type StepHook = (batch: number, loss: number, images: number) => void | Promise<void>

/** One epoch of training: the loop of {@link train} and {@link fit}, calling `afterStep` (when given) after each optimizer step. */
async function trainPass(
  model: Module,
  loader: DataLoader,
  lossFn: LossFunction,
  optimizer: Optimizer<object>,
  target: DeviceName,
  precision: Precision,
  op: string,
  afterStep: StepHook | undefined,
): Promise<TrainResult> {
  model.train()
  const start = performance.now()
  let total = 0
  let images = 0
  let step = 0
  for await (const [batchImages, batchTargets] of loader) {
    const loss = tidy(() => {
      const x = batchImages.to(target)
      const y = batchTargets.to(target)
      const l = withPrecision(precision, target, () => lossOf(lossFn, model.forward(x), y))
      optimizer.zeroGrad()
      l.backward()
      optimizer.step()
      return l.item()
    })
    const size = batchImages.shape[0]
    images += size
    batchImages.dispose()
    batchTargets.dispose()
    total += loss
    step += 1
    const pending = afterStep?.(step - 1, loss, size)
    if (pending) await pending
  }
  if (step === 0) throw new InvalidArgumentError(`${op}: the data loader produced no batches`)
  return { loss: total / step, images, seconds: (performance.now() - start) / 1000 }
}

/** The model's accuracy (a fraction) on `loader`, in eval mode without gradients; prints the tutorial's line. */
export async function evaluate(
  model: Module,
  loader: DataLoader,
  { device, log = console.log, precision = 'fp32' }: Pick<TrainOptions, 'device' | 'log' | 'precision'> = {},
): Promise<number> {
  checkPrecision('evaluate', precision)
  const { accuracy } = await testPass(model, loader, resolveDevice(device), precision, undefined)
  log(`Accuracy on Test Set: ${(100 * accuracy).toFixed(4)} %`)
  return accuracy
}

/**
 * Accuracy on `loader` and, with `lossFn`, the mean of the batches' losses, in eval mode without
 * gradients; one read from the device per batch either way.
 */
async function testPass(
  model: Module,
  loader: DataLoader,
  target: DeviceName,
  precision: Precision,
  lossFn: LossFunction | undefined,
): Promise<{ accuracy: number; loss: number }> {
  const wasTraining = model.training
  model.eval()
  let correct = 0
  let totalLoss = 0
  let seen = 0
  let batches = 0
  try {
    for await (const [images, targets] of loader) {
      const [batchCorrect, batchLoss] = noGrad(() =>
        tidy(() => {
          const y = targets.to(target)
          const output = withPrecision(precision, target, () => model.forward(images.to(target)))
          const hits = output.argmax(1).eq(y).sum()
          if (lossFn === undefined) return [hits.item(), 0]
          const loss = withPrecision(precision, target, () => lossOf(lossFn, output, y))
          return Array.from(stack([hits.to('float32'), loss.to('float32')]).toTypedArray() as Float32Array)
        }),
      )
      correct += batchCorrect
      totalLoss += batchLoss
      seen += targets.shape[0]
      batches += 1
      images.dispose()
      targets.dispose()
    }
  } finally {
    model.train(wasTraining)
  }
  if (seen === 0) throw new InvalidArgumentError('evaluate: the data loader produced no batches')
  return { accuracy: correct / seen, loss: totalLoss / batches }
}

/**
 * Trains for `epochs` epochs, evaluating after each, like the tutorial's `fit`, and returns the
 * history. With `checkpoint`, everything needed to continue is saved atomically after every
 * epoch; with `resume`, training continues from that file and ends where an uninterrupted run
 * would have. `callbacks` run at the start and end of training and of each epoch, and after
 * each step; one may stop training early.
 */
export async function fit(model: Module, options: FitOptions): Promise<History> {
  const { epochs, optimizer, trainLoader, testLoader, scheduler, checkpoint, resume = false, log = console.log } = options
  if (!Number.isInteger(epochs) || epochs < 1) throw new InvalidArgumentError(`fit: epochs must be a positive integer, got ${epochs}`)
  const lossFn = options.lossFn ?? new CrossEntropyLoss()
  const precision = options.precision ?? 'fp32'
  checkPrecision('fit', precision)
  const callbacks = new CallbackList([
    progressLogger({ log, logEvery: options.logEvery ?? 100, progress: options.progress ?? process.stdout.isTTY === true }),
    ...checkCallbacks(options.callbacks),
  ])
  const device = resolveDevice(options.device)
  model.to(device)
  let history: Required<History> = { trainLoss: [], testAccuracy: [], testLoss: [], epochSeconds: [], imagesPerSecond: [] }
  let first = 0
  if (resume && checkpoint !== undefined && existsSync(checkpoint)) {
    const restored = loadCheckpoint(checkpoint, model, optimizer, scheduler)
    history = { ...restored.history, testLoss: restored.history.testLoss ?? [] }
    first = restored.epoch
    trainLoader.epoch = restored.loader.epoch
    trainLoader.seed = restored.loader.seed
    if (restored.rngState) setRngState(restored.rngState)
    log(`Resuming from ${checkpoint} after epoch ${first}`)
  }
  const batches = trainLoader.length
  let stopped = false
  const context = (epoch: number, step: number): CallbackContext => ({
    model,
    optimizer,
    history,
    epochs,
    epoch,
    batches,
    step,
    log,
    stopTraining: () => {
      stopped = true
    },
  })
  let logs: EpochLogs | undefined
  let epoch = first
  await callbacks.call('onTrainBegin', context(epoch, epoch * batches))
  for (; epoch < epochs && !stopped; epoch++) {
    const epochStart = epoch * batches
    await callbacks.call('onEpochBegin', context(epoch, epochStart))
    const lr = optimizer.paramGroups[0].lr
    // Contexts are built only when some callback wants each step.
    const afterStep: StepHook | undefined = callbacks.has('onBatchEnd')
      ? (batch, loss, size) => callbacks.call('onBatchEnd', { ...context(epoch, epochStart + batch + 1), batch, logs: { loss, lr: optimizer.paramGroups[0].lr, size } satisfies BatchLogs })
      : undefined
    const { loss, images, seconds } = await trainPass(model, trainLoader, lossFn, optimizer, device, precision, 'train', afterStep)
    logs = { trainLoss: loss, lr, seconds, imagesPerSecond: images / seconds }
    history.trainLoss.push(loss)
    history.epochSeconds.push(seconds)
    history.imagesPerSecond.push(images / seconds)
    if (testLoader) {
      const test = await testPass(model, testLoader, device, precision, lossFn)
      logs = { ...logs, testLoss: test.loss, testAccuracy: test.accuracy }
      history.testAccuracy.push(test.accuracy)
      history.testLoss.push(test.loss)
    }
    scheduler?.step()
    if (checkpoint !== undefined) saveCheckpoint(checkpoint, { model, optimizer, scheduler, epoch: epoch + 1, history, loader: { epoch: trainLoader.epoch, seed: trainLoader.seed } })
    await callbacks.call('onEpochEnd', { ...context(epoch, epochStart + batches), logs })
  }
  await callbacks.call('onTrainEnd', { ...context(epoch, epoch * batches), logs, stopped: stopped && epoch < epochs })
  return history
}

/** Saves the model's state dict as safetensors (loadable by PyTorch's `load_file` into the same model). */
export function saveModel(model: Module, path: string): void {
  save(model.stateDict(), path, { metadata: { format: 'pt' } })
}

/** Writes the train-loss and test-accuracy curves, one panel each, as a PNG chart. */
export async function plotCurves(history: Pick<History, 'trainLoss' | 'testAccuracy'>, path: string): Promise<void> {
  const panels = [{ title: 'train loss curve', xLabel: 'epoch', yLabel: 'train loss', values: history.trainLoss }]
  if (history.testAccuracy.length > 0) {
    panels.push({ title: 'test accuracy curve', xLabel: 'epoch', yLabel: 'test accuracy', values: history.testAccuracy })
  }
  native.saveLineCharts(panels, path)
}

/** What {@link saveCheckpoint} writes and {@link loadCheckpoint} restores. */
export interface CheckpointState {
  /** The model, saved as its `stateDict()`. */
  model: Module
  /** The optimizer, saved as its `stateDict()` (hyper-parameters and per-parameter state). */
  optimizer: Optimizer<object>
  /** The scheduler, if any, saved as its `stateDict()`. */
  scheduler?: LRScheduler
  /** Epochs completed. */
  epoch: number
  /** The per-epoch results so far. */
  history: History
  /** The state of the generator behind `rand`, `randn` and `randint`; saved as {@link getRngState} returns it when absent, restored by `fit`. */
  rngState?: Uint8Array
  /** The training loader's position: its seed and epochs started fix the data order and augmentation. */
  loader: {
    /** The loader's `epoch`: epochs started. */
    epoch: number
    /** The loader's `seed`. */
    seed: number
  }
}

const CHECKPOINT_FORMAT = 'ferrite-checkpoint-4'
/**
 * Formats `loadCheckpoint` still reads: version 2 had no generator state; versions 2 and 3 stored
 * the optimizer under camelCase names (`paramGroups`, `weightDecay`, `expAvg`), version 4 under
 * PyTorch's (`param_groups`, `weight_decay`, `exp_avg`).
 */
const READABLE_FORMATS = ['ferrite-checkpoint-2', 'ferrite-checkpoint-3', CHECKPOINT_FORMAT]
const CAMEL_CASE_FORMATS = new Set(['ferrite-checkpoint-2', 'ferrite-checkpoint-3'])

/**
 * Writes model and optimizer tensors plus the rest as JSON metadata, atomically. The optimizer is
 * stored as PyTorch's `optimizer.state_dict()` lays it out: its state tensors as
 * `optimizer.<index>.<name>` (`optimizer.0.exp_avg`), and `{ param_groups, scalars }` (the
 * numbers of the state, such as `step`) in the metadata field `optimizer`.
 */
export function saveCheckpoint(path: string, { model, optimizer, scheduler, epoch, history, loader, rngState = getRngState() }: CheckpointState): void {
  const tensors: Record<string, Tensor> = {}
  for (const [k, v] of Object.entries(model.stateDict())) tensors[`model.${k}`] = v
  const { state, param_groups } = optimizer.stateDict()
  const scalars: Record<string, Record<string, number | null>> = {}
  for (const [index, s] of Object.entries(state)) {
    scalars[index] = {}
    for (const [name, value] of Object.entries(s)) {
      if (value instanceof Tensor) tensors[`optimizer.${index}.${name}`] = value
      else scalars[index][name] = value
    }
  }
  save(tensors, path, {
    metadata: {
      format: CHECKPOINT_FORMAT,
      epoch: String(epoch),
      loader: JSON.stringify(loader),
      rngState: Buffer.from(rngState).toString('hex'),
      history: JSON.stringify(history),
      optimizer: JSON.stringify({ param_groups, scalars }),
      scheduler: JSON.stringify(scheduler?.stateDict() ?? null),
    },
  })
}

/**
 * Restores what {@link saveCheckpoint} wrote into the given model, optimizer and scheduler. The
 * metadata is checked first: a damaged field is an `IoError` naming the file and the field.
 */
export function loadCheckpoint(
  path: string,
  model: Module,
  optimizer: Optimizer<object>,
  scheduler?: LRScheduler,
): Pick<CheckpointState, 'epoch' | 'history' | 'loader' | 'rngState'> {
  const meta = readCheckpointMetadata(path)
  const tensors = load(path)
  try {
    const modelState: Record<string, Tensor> = {}
    const state: Record<number, Record<string, Tensor | number | null>> = {}
    const stateName = meta.camelCase ? camelToSnake : (name: string) => name
    for (const [index, s] of Object.entries(meta.optimizer.scalars)) state[Number(index)] = { ...s }
    for (const [key, t] of Object.entries(tensors)) {
      const optimizerState = /^optimizer\.(\d+)\.([^.]+)$/.exec(key)
      if (key.startsWith('model.')) modelState[key.slice('model.'.length)] = t
      else if (optimizerState) (state[Number(optimizerState[1])] ??= {})[stateName(optimizerState[2])] = t
      else throw new IoError(`loadCheckpoint: ${path}: unexpected tensor '${key}'; expected 'model.<name>' or 'optimizer.<index>.<name>'`)
    }
    model.loadStateDict(modelState)
    try {
      optimizer.loadStateDict({ state, param_groups: meta.optimizer.param_groups })
    } catch (error) {
      if (!(error instanceof FerriteError)) throw error
      throw new IoError(`loadCheckpoint: ${path}: metadata field 'optimizer' does not fit this optimizer: ${error.message}`, { cause: error })
    }
    if (scheduler && meta.scheduler) scheduler.loadStateDict(meta.scheduler)
  } finally {
    for (const t of Object.values(tensors)) t.dispose()
  }
  return { epoch: meta.epoch, history: meta.history, loader: meta.loader, rngState: meta.rngState }
}

/** The checkpoint's metadata, parsed. */
interface CheckpointMetadata extends Pick<CheckpointState, 'epoch' | 'history' | 'loader' | 'rngState'> {
  optimizer: { param_groups: OptimizerStateDict<object>['param_groups']; scalars: Record<string, Record<string, number | null>> }
  /** Written before version 4: the optimizer's tensor names are camelCase (`expAvg`). */
  camelCase: boolean
  scheduler: { lastEpoch: number } | null
}

const camelToSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const renameKeys = (o: Record<string, unknown>, rename: (key: string) => string) => Object.fromEntries(Object.entries(o).map(([k, v]) => [rename(k), v]))
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0
const isNumberOrNull = (x: unknown) => typeof x === 'number' || x === null

/**
 * Reads and checks every metadata field before anything is restored: a damaged or hand-edited
 * checkpoint is an IoError naming the file, the field and what it should hold.
 */
function readCheckpointMetadata(path: string): CheckpointMetadata {
  const meta = loadMetadata(path)
  if (!READABLE_FORMATS.includes(meta.format)) {
    throw new IoError(`loadCheckpoint: ${path} is not a Ferrite checkpoint (format ${meta.format ?? 'missing'}; expected ${READABLE_FORMATS.join(' or ')})`)
  }
  const invalid = (field: string, expected: string) => {
    const got = meta[field] === undefined ? 'nothing' : JSON.stringify(meta[field].length > 80 ? `${meta[field].slice(0, 80)}...` : meta[field])
    return new IoError(`loadCheckpoint: ${path}: metadata field '${field}' must hold ${expected}, got ${got}`)
  }
  const json = (field: string): unknown => {
    try {
      return JSON.parse(meta[field])
    } catch {
      throw invalid(field, 'JSON')
    }
  }

  if (!/^\d+$/.test(meta.epoch ?? '') || !Number.isSafeInteger(Number(meta.epoch))) throw invalid('epoch', 'a non-negative integer')
  const epoch = Number(meta.epoch)

  const loader = json('loader')
  if (!isObject(loader) || !isCount(loader.epoch) || !isCount(loader.seed)) throw invalid('loader', 'an object { epoch, seed } of non-negative integers')

  let rngState: Uint8Array | undefined
  if (meta.rngState !== undefined) {
    const bytes = getRngState().length
    if (!new RegExp(`^[0-9a-f]{${2 * bytes}}$`).test(meta.rngState)) throw invalid('rngState', `${bytes} bytes in hex`)
    rngState = new Uint8Array(Buffer.from(meta.rngState, 'hex'))
  }

  // JSON writes NaN (a diverged loss) as null; it is read back as NaN.
  const history = json('history')
  const series = ['trainLoss', 'testAccuracy', 'testLoss', 'epochSeconds', 'imagesPerSecond'] as const
  // Checkpoints written before Ferrite recorded the test loss lack it: NaN, one per test accuracy.
  if (isObject(history) && history.testLoss === undefined && Array.isArray(history.testAccuracy)) history.testLoss = history.testAccuracy.map(() => null)
  if (!isObject(history) || !series.every((k) => Array.isArray(history[k]) && (history[k] as unknown[]).every(isNumberOrNull))) {
    throw invalid('history', `an object of number arrays ${series.join(', ')}`)
  }
  const restored = Object.fromEntries(series.map((k) => [k, (history[k] as (number | null)[]).map((x) => x ?? NaN)])) as unknown as History
  if (restored.trainLoss.length !== epoch) throw invalid('history', `${epoch} epochs of trainLoss, as field 'epoch' says`)

  const camelCase = CAMEL_CASE_FORMATS.has(meta.format)
  const groupsKey = camelCase ? 'paramGroups' : 'param_groups'
  const saved = json('optimizer')
  if (
    !isObject(saved) ||
    !Array.isArray(saved[groupsKey]) ||
    !saved[groupsKey].every((g) => isObject(g) && Array.isArray(g.params) && g.params.every(isCount)) ||
    !isObject(saved.scalars) ||
    !Object.entries(saved.scalars).every(([k, s]) => /^\d+$/.test(k) && isObject(s) && Object.values(s).every(isNumberOrNull))
  ) {
    throw invalid('optimizer', `an object { ${groupsKey}, scalars } as saveCheckpoint writes it`)
  }
  const optimizer = {
    param_groups: camelCase ? (saved.paramGroups as Record<string, unknown>[]).map((g) => renameKeys(g, camelToSnake)) : saved.param_groups,
    scalars: camelCase ? Object.fromEntries(Object.entries(saved.scalars).map(([k, s]) => [k, renameKeys(s as Record<string, unknown>, camelToSnake)])) : saved.scalars,
  } as CheckpointMetadata['optimizer']

  const scheduler = json('scheduler')
  if (scheduler !== null && !(isObject(scheduler) && Number.isSafeInteger(scheduler.lastEpoch) && (scheduler.lastEpoch as number) >= -1)) {
    throw invalid('scheduler', 'null or an object { lastEpoch } with an integer lastEpoch >= -1')
  }

  return {
    epoch,
    loader: loader as CheckpointState['loader'],
    rngState,
    history: restored,
    optimizer,
    camelCase,
    scheduler: scheduler as CheckpointMetadata['scheduler'],
  }
}
