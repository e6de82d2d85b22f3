// The tutorial's accuracy table: MyCNN, ResNet, SE-ResNet and VGG11 trained for 10 epochs on
// cifar10-mini (1000 train / 500 test images per class) with the tutorial's transforms, batch
// 100 and Adam at the tutorial's learning rates, in float32 or bf16 mixed precision (`fit`'s
// `precision`). Each precision has a section of its own in bench/accuracy/RESULTS.md, between
// markers: a run replaces its precision's section (appending it the first time) and leaves the
// rest of the file, the other precision's figures and any notes, as they are. results.json keeps
// the latest rows of both precisions; a bf16 run is checked against the tutorial's figures and
// against the float32 run of the same model (from results.json, else from RESULTS.md's fp32 table).
//
//   npm run bench:accuracy -- [--data ../shared/data/cifar10-mini] [--models mycnn,resnet,se-resnet,vgg11] [--epochs 10]
//                             [--precision fp32|bf16] [--seed 0]
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'cifar10-mini') },
    models: { type: 'string', default: 'mycnn,resnet,se-resnet,vgg11' },
    epochs: { type: 'string', default: '10' },
    seed: { type: 'string', default: '0' },
    precision: { type: 'string', default: 'fp32' },
  },
})

type Precision = ft.Precision
const precision = values.precision as Precision
if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`--precision must be fp32 or bf16, got '${values.precision}'`)

const { data, transforms: T, models, optim } = ft
const mean = [0.49, 0.48, 0.45]
const std = [0.25, 0.24, 0.26]

/** The tutorial's reported test accuracy after 10 epochs, and the learning rate it used. */
const plans: Record<string, { make: () => ft.nn.Module; lr: number; tutorial: number; label: string }> = {
  mycnn: { make: () => new models.MyCNN(32, 10), lr: 0.01, tutorial: 55.32, label: 'MyCNN' },
  resnet: { make: () => new models.ResNet(models.ResidualBlock, [2, 2, 2]), lr: 0.002, tutorial: 58.18, label: 'ResNet [2, 2, 2]' },
  'se-resnet': { make: () => models.seResNet([2, 2, 2]), lr: 0.001, tutorial: 56.18, label: 'SE-ResNet [2, 2, 2]' },
  vgg11: { make: () => new models.VGG('VGG11'), lr: 0.001, tutorial: 64.2, label: 'VGG11' },
}
/** bf16 targets (issue 21): above the tutorial's figure, and within this many points of the float32 run. */
const BF16_MARGIN = 1

interface Row {
  name: string
  model: string
  precision: Precision
  lr: number
  epochs: number
  seed: number
  finalAccuracy: number
  bestAccuracy: number
  tutorial: number
  secondsPerEpoch: number
  imagesPerSecond: number
  totalSeconds: number
  history: ft.History
}

/** results.json: the latest rows of each precision, by model, with the run each came from. */
interface Results {
  runs: Partial<Record<Precision, { date: string; machine: string; revision: string; rows: Record<string, Row> }>>
}

const names = values.models!.split(',').filter(Boolean)
for (const name of names) if (!plans[name]) throw new Error(`unknown model '${name}'; expected ${Object.keys(plans).join(', ')}`)
const epochs = Number(values.epochs)
const seed = Number(values.seed)
const rows: Row[] = []
for (const name of names) {
  const plan = plans[name]
  ft.manualSeed(seed)
  const trainSet = new data.CIFAR10({
    root: values.data!,
    transform: T.compose([T.pad(4), T.randomHorizontalFlip(), T.randomCrop(32), T.toTensor(), T.normalize(mean, std)]),
  })
  const testSet = new data.CIFAR10({ root: values.data!, train: false, transform: T.compose([T.toTensor(), T.normalize(mean, std)]) })
  const trainLoader = new data.DataLoader(trainSet, { batchSize: 100, shuffle: true, seed })
  const testLoader = new data.DataLoader(testSet, { batchSize: 100 })
  const model = plan.make()
  const optimizer = new optim.Adam(model.parameters(), { lr: plan.lr })
  console.log(`\n== ${plan.label}: Adam lr ${plan.lr}, ${epochs} epochs, ${precision}`)
  const started = performance.now()
  const history = await ft.fit(model, { epochs, optimizer, trainLoader, testLoader, precision })
  const seconds = (performance.now() - started) / 1000
  const final = 100 * history.testAccuracy[history.testAccuracy.length - 1]
  const row: Row = {
    name,
    model: plan.label,
    precision,
    lr: plan.lr,
    epochs,
    seed,
    finalAccuracy: final,
    bestAccuracy: 100 * Math.max(...history.testAccuracy),
    tutorial: plan.tutorial,
    secondsPerEpoch: history.epochSeconds.reduce((a, b) => a + b, 0) / history.epochSeconds.length,
    imagesPerSecond: history.imagesPerSecond.reduce((a, b) => a + b, 0) / history.imagesPerSecond.length,
    totalSeconds: seconds,
    history,
  }
  rows.push(row)
  console.log(`${plan.label} (${precision}): ${final.toFixed(2)} % after ${epochs} epochs (tutorial ${plan.tutorial} %), ${row.secondsPerEpoch.toFixed(1)} s/epoch`)
  // The committed curves are float32's; bf16 gets its own files beside them.
  await ft.plotCurves(history, join(import.meta.dirname, `curves-${name}${precision === 'fp32' ? '' : `-${precision}`}.png`))
  model.dispose()
}

const kernels = `Ferrite's bf16 kernels ${ft.backends.cpu.hasBf16Kernels() ? 'on' : 'off (autocast computes in float32)'}`
const machine = `${cpus()[0]?.model ?? 'unknown CPU'} (${bf16Flags()}; ${kernels}), ${cpus().length} logical cores, ${ft.getNumThreads()} threads, Node ${process.version}`
const date = new Date().toISOString().slice(0, 10)
const revision = gitRevision()

const resultsPath = join(import.meta.dirname, 'results.json')
const results = readResults(resultsPath)
const previous = results.runs[precision]
// A run of some models keeps the other models' rows of the same precision only when they came from the same revision.
const kept = previous && previous.revision === revision ? previous.rows : {}
results.runs[precision] = { date, machine, revision, rows: { ...kept, ...Object.fromEntries(rows.map((r) => [r.name, r])) } }
writeFileSync(resultsPath, JSON.stringify(results, null, 2))

const resultsMdPath = join(import.meta.dirname, 'RESULTS.md')
const existing = existsSync(resultsMdPath) ? readFileSync(resultsMdPath, 'utf8') : '# Accuracy benchmark\n'
const rendered = renderSection(existing)
writeFileSync(resultsMdPath, replaceSection(existing, rendered))
console.log(`\n${rendered}`)

/** This precision's section of RESULTS.md: the run's table, the checks (bf16: against fp32 as well), per-epoch accuracy. */
function renderSection(markdown: string): string {
  const command = `npm run bench:accuracy -- --models ${names.join(',')}${epochs !== 10 ? ` --epochs ${epochs}` : ''}${seed !== 0 ? ` --seed ${seed}` : ''}${precision !== 'fp32' ? ` --precision ${precision}` : ''}`
  const title = precision === 'fp32' ? 'float32' : 'bf16 mixed precision (autocast: conv, linear and matmul in bf16 with float32 accumulation; float32 parameters and optimizer state)'
  const lines = [
    `## ${title}`,
    '',
    `${date}, ${machine}, at ${revision}: \`${command}\`. cifar10-mini (10,000 train / 5,000 test images), batch 100, the tutorial's transforms, seed ${seed}.`,
    '',
    '| model | precision | optimizer | test accuracy after ' + epochs + ' epochs | best epoch | tutorial | s / epoch (train) | images / s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.precision} | Adam lr ${r.lr} | ${r.finalAccuracy.toFixed(2)} % | ${r.bestAccuracy.toFixed(2)} % | ${r.tutorial} % | ${r.secondsPerEpoch.toFixed(1)} | ${r.imagesPerSecond.toFixed(0)} |`,
    ),
    '',
    ...checks(markdown),
    '',
    `Test accuracy per epoch (%):`,
    '',
    `| model | ${Array.from({ length: epochs }, (_, i) => i + 1).join(' | ')} |`,
    `| --- | ${Array.from({ length: epochs }, () => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.model} | ${r.history.testAccuracy.map((a) => (100 * a).toFixed(2)).join(' | ')} |`),
    '',
    `Curves: ${rows.map((r) => `\`curves-${r.name}${precision === 'fp32' ? '' : `-${precision}`}.png\``).join(', ')}.`,
  ]
  return lines.join('\n')
}

/**
 * The targets, per model: above the tutorial's figure after the last epoch; for bf16 also within
 * BF16_MARGIN points of the float32 run of the same model, seed and epochs.
 */
function checks(markdown: string): string[] {
  const yes = (ok: boolean) => (ok ? 'yes' : '**no**')
  if (precision === 'fp32') {
    return [
      '| model | after ' + epochs + ' epochs | tutorial | above the tutorial |',
      '| --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.model} | ${r.finalAccuracy.toFixed(2)} % | ${r.tutorial} % | ${yes(r.finalAccuracy > r.tutorial)} (${signed(r.finalAccuracy - r.tutorial)}) |`),
    ]
  }
  const lines = [
    `Targets: above the tutorial's figure, and within ${BF16_MARGIN} point of the float32 run:`,
    '',
    '| model | bf16 after ' + epochs + ' epochs | tutorial | above the tutorial | fp32 after ' + epochs + ' epochs (from) | bf16 − fp32 | within ' + BF16_MARGIN + ' point |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const r of rows) {
    const fp32 = fp32Reference(r, markdown)
    const difference = fp32 ? r.finalAccuracy - fp32.accuracy : undefined
    lines.push(
      `| ${r.model} | ${r.finalAccuracy.toFixed(2)} % | ${r.tutorial} % | ${yes(r.finalAccuracy > r.tutorial)} (${signed(r.finalAccuracy - r.tutorial)}) | ${fp32 ? `${fp32.accuracy.toFixed(2)} % (${fp32.from})` : 'none: run `--precision fp32` first'} | ${difference === undefined ? '' : signed(difference)} | ${difference === undefined ? '' : yes(Math.abs(difference) <= BF16_MARGIN)} |`,
    )
    console.log(`${r.model} bf16: ${r.finalAccuracy.toFixed(2)} % (tutorial ${r.tutorial} %${fp32 ? `, fp32 ${fp32.accuracy.toFixed(2)} % from ${fp32.from}` : ', no fp32 run to compare'})`)
  }
  return lines
}

/**
 * The float32 accuracy after the same epochs at the same seed: results.json's fp32 run if it has
 * the model, else the row of the model in RESULTS.md's float32 table (the committed figures).
 */
function fp32Reference(row: Row, markdown: string): { accuracy: number; from: string } | undefined {
  const run = results.runs.fp32
  const same = run?.rows[row.name]
  if (same && same.epochs === row.epochs && same.seed === row.seed) return { accuracy: same.finalAccuracy, from: `results.json, ${run!.date} at ${run!.revision}` }
  if (row.epochs !== 10 || row.seed !== 0) return undefined
  // RESULTS.md's fp32 section if it has one, else the file outside the bf16 section (the committed
  // table): `| MyCNN | Adam lr 0.01 | 55.84 % | ...`, or with a precision column `| MyCNN | fp32 | Adam lr ...`.
  const escaped = row.model.replace(/[[\]]/g, '\\$&')
  const pattern = new RegExp(`^\\| ${escaped} \\|(?: fp32 \\|)? Adam lr [\\d.]+ \\| ([\\d.]+) % \\|`, 'm')
  for (const [text, from] of [
    [section(markdown, 'fp32'), "RESULTS.md's fp32 section"],
    [replaceSection(markdown, '', 'bf16'), 'RESULTS.md'],
  ] as const) {
    const match = text === undefined ? null : pattern.exec(text)
    if (match) return { accuracy: Number(match[1]), from }
  }
  return undefined
}

/** The text between the markers of precision `p`'s section, if RESULTS.md has one. */
function section(markdown: string, p: Precision): string | undefined {
  const [begin, end] = markers(p)
  const start = markdown.indexOf(begin)
  const stop = markdown.indexOf(end)
  return start >= 0 && stop > start ? markdown.slice(start + begin.length, stop) : undefined
}

function markers(p: Precision): [string, string] {
  return [`<!-- bench:accuracy ${p}: written by \`npm run bench:accuracy -- --precision ${p}\`; a rerun replaces this section -->`, `<!-- end of bench:accuracy ${p} -->`]
}

/** `markdown` with the section of precision `p` replaced by `body`, or `body` appended where there is none yet. */
function replaceSection(markdown: string, body: string, p: Precision = precision): string {
  const [begin, end] = markers(p)
  const start = markdown.indexOf(begin)
  const stop = markdown.indexOf(end)
  const block = body ? `${begin}\n\n${body}\n\n${end}` : ''
  if (start >= 0 && stop > start) return `${markdown.slice(0, start)}${block}${markdown.slice(stop + end.length)}`
  return body ? `${markdown.trimEnd()}\n\n${block}\n` : markdown
}

function readResults(path: string): Results {
  if (!existsSync(path)) return { runs: {} }
  const parsed = JSON.parse(readFileSync(path, 'utf8'))
  // Files from before precisions had no `runs`: their rows were float32 and are not reused.
  return parsed && typeof parsed === 'object' && 'runs' in parsed ? (parsed as Results) : { runs: {} }
}

/** The CPU's bf16 instructions, from /proc/cpuinfo where there is one. */
function bf16Flags(): string {
  try {
    const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/))
    return ['avx512_bf16', 'amx_bf16'].map((f) => `${f} ${flags.has(f) ? 'yes' : 'no'}`).join(', ')
  } catch {
    return 'bf16 instructions unknown'
  }
}

function gitRevision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: import.meta.dirname, encoding: 'utf8' }).trim()
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' with uncommitted changes' : ''}`
  } catch {
    return 'unknown revision'
  }
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`
}
