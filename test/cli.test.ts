// The `ferrite` command line, run in process through the built dist/cjs/cli/index.js (with captured
// output) and, for the launcher and its exit status, as a real `node bin/ferrite.js` process.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

type Cli = typeof import('../ts/cli')
const ROOT = join(__dirname, '..')
const { main, balancedIndices } = createRequire(import.meta.url)(join(ROOT, 'dist', 'cjs', 'cli', 'index.js')) as Cli
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }
const fixtures = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'module_models.json'), 'utf8')) as {
  models: Record<string, { repr: string; num_parameters: number }>
}

/** Runs `ferrite ...argv` in process and returns its exit status and output. */
async function ferrite(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const status = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } })
  return { status, stdout, stderr }
}

/**
 * A CIFAR-10 record file whose image of class `c` is a flat colour set by `c` plus a little
 * seeded noise, so that even a tiny run learns something.
 */
function writeRecords(path: string, count: number, seed: number): void {
  const bytes = new Uint8Array(count * 3073)
  let state = seed
  const noise = () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24) % 32
  for (let r = 0; r < count; r++) {
    const label = (r * 7 + seed) % 10
    bytes[r * 3073] = label
    for (let i = 0; i < 3072; i++) bytes[r * 3073 + 1 + i] = ((label * 25 + Math.floor(i / 1024) * 60 * (label % 3)) % 224) + noise()
  }
  writeFileSync(path, bytes)
}

describe('ferrite help, version and usage errors', () => {
  it('lists the commands and exit statuses', async () => {
    const { status, stdout } = await ferrite('--help')
    expect(status).toBe(0)
    expect(stdout).toContain('Usage: ferrite <command> [options]')
    for (const command of ['train', 'evaluate', 'summary', 'devices']) expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(stdout).toContain('2  usage error')
    expect((await ferrite()).status).toBe(2)
  })

  it("prints each command's options", async () => {
    const train = await ferrite('train', '--help')
    expect(train.status).toBe(0)
    expect(train.stdout).toContain('Usage: ferrite train --model <name> --data <dir> [options]')
    for (const flag of ['--model', '--data', '--epochs', '--optimizer', '--lr', '--momentum', '--weight-decay', '--batch-size', '--device', '--precision', '--seed', '--out', '--resume', '--tensorboard', '--early-stop', '--no-augment', '--limit']) {
      expect(train.stdout).toMatch(new RegExp(`^  ${flag} `, 'm'))
    }
    expect(train.stdout).toContain('1  runtime failure')
    expect((await ferrite('help', 'train')).stdout).toBe(train.stdout)
    expect((await ferrite('evaluate', '-h')).stdout).toContain('--weights <file>')
    expect((await ferrite('summary', '--help')).stdout).toContain('Usage: ferrite summary --model <name>')
    expect((await ferrite('devices', '--help')).stdout).toContain('Usage: ferrite devices')
  })

  it('prints the package version', async () => {
    expect(await ferrite('--version')).toEqual({ status: 0, stdout: `ferrite ${pkg.version}\n`, stderr: '' })
  })

  it('rejects unknown commands, options and bad values with status 2 and a usage hint', async () => {
    const cases: [string[], string, string][] = [
      [['frob'], "unknown command 'frob'", "'ferrite --help'"],
      [['--frob'], "unknown option '--frob'", "'ferrite --help'"],
      [['train', '--model', 'mycnn', '--epoch', '3'], "unknown option '--epoch'", "'ferrite train --help'"],
      [['train', '--model', 'mycnn', '--data'], "option '--data' needs a value <dir>", "'ferrite train --help'"],
      [['train', '--data', 'd'], 'missing required option --model', "'ferrite train --help'"],
      [['train', '--model', 'alexnet', '--data', 'd'], "unknown model 'alexnet'", 'mycnn, resnet, se-resnet, vgg11'],
      [['train', '--model', 'mycnn', '--data', 'd', '--epochs', '0'], "--epochs must be an integer of at least 1, got '0'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--lr', 'fast'], "--lr must be a positive number, got 'fast'", 'Run'],
      // Negative numbers are values, not options: the message gives the valid range.
      [['train', '--model', 'mycnn', '--data', 'd', '--epochs', '-1'], "--epochs must be an integer of at least 1, got '-1'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--batch-size', '-5'], "--batch-size must be an integer of at least 1, got '-5'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--seed', '-1'], "--seed must be an integer of at least 0, got '-1'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--seed', '9007199254740993'], "--seed must be an integer from 0 to 9007199254740991, got '9007199254740993'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--optimizer', 'sgd', '--momentum', '-1'], "--momentum must be a non-negative number, got '-1'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--lr', '-1e-3'], "--lr must be a positive number, got '-1e-3'", 'Run'],
      [['evaluate', '--model', 'mycnn', '--weights', 'w', '--data', 'd', '--limit', '-3'], "--limit must be an integer of at least 1, got '-3'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--optimizer', 'rmsprop'], "unknown optimizer 'rmsprop'", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--precision', 'fp16'], "unknown precision 'fp16'; expected one of fp32, bf16", 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--momentum', '0.5'], '--momentum applies only to --optimizer sgd', 'Run'],
      [['train', '--model', 'mycnn', '--data', 'd', '--resume=yes'], "option '--resume' takes no value", 'Run'],
      [['evaluate', '--model', 'mycnn', '--weights', 'w', '--data', 'd', '--device', 'tpu'], "unknown device 'tpu'", "'ferrite evaluate --help'"],
      [['summary', '--model', 'mycnn', 'extra'], "unexpected argument 'extra'", "'ferrite summary --help'"],
    ]
    for (const [argv, message, hint] of cases) {
      const { status, stdout, stderr } = await ferrite(...argv)
      expect({ argv, status, stdout }).toEqual({ argv, status: 2, stdout: '' })
      expect(stderr).toContain(message)
      expect(stderr).toContain(hint)
    }
  })

  it('fails with status 1 naming a missing data folder or weights file', async () => {
    const missing = join(tmpdir(), 'ferrite-no-such-folder')
    const train = await ferrite('train', '--model', 'mycnn', '--data', missing)
    expect(train.status).toBe(1)
    expect(train.stderr).toBe(`ferrite train: error: data folder not found: ${missing}\n`)
    const empty = mkdtempSync(join(tmpdir(), 'ferrite-cli-empty-'))
    const noBatches = await ferrite('evaluate', '--model', 'mycnn', '--weights', 'w.safetensors', '--data', empty)
    expect(noBatches.status).toBe(1)
    expect(noBatches.stderr).toContain(`${empty}: no CIFAR-10 test batches found`)
    const file = join(empty, 'train.bin')
    writeFileSync(file, '')
    const notFolder = await ferrite('train', '--model', 'mycnn', '--data', file)
    expect(notFolder.status).toBe(1)
    expect(notFolder.stderr).toMatch(new RegExp(`^ferrite train: error: --data ${file} is not a folder; expected a folder holding CIFAR-10 binary batches .*\n$`))
  })
})

describe('ferrite summary and devices', () => {
  it.each([
    ['mycnn', 'mycnn'],
    ['resnet', 'resnet'],
    ['se-resnet', 'se_resnet'],
    ['vgg11', 'vgg11'],
  ])("prints %s as PyTorch does, with PyTorch's parameter count", async (name, fixture) => {
    const { status, stdout } = await ferrite('summary', '--model', name)
    expect(status).toBe(0)
    const { repr, num_parameters: count } = fixtures.models[fixture]
    const grouped = count.toLocaleString('en-US')
    expect(stdout).toBe(`${repr}\nTotal parameters: ${grouped}\nTrainable parameters: ${grouped}\n`)
  })

  it('lists the CPU and every GPU like nvidia-smi, and says why GPUs cannot be used', async () => {
    const { status, stdout } = await ferrite('devices')
    expect(status).toBe(0)
    const lines = stdout.trimEnd().split('\n')
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'NAME', 'MEMORY-USAGE', 'UTIL', 'TEMP', 'THREADS'])
    // The CPU's model name may itself hold runs of spaces, so the row is read around it.
    const model = cpus()[0]?.model.trim() || 'unknown CPU'
    expect(lines[1]).toMatch(/^cpu +/)
    const [memory, util, temp, threads] = lines[1].slice(lines[1].indexOf(model) + model.length).trim().split(/\s{2,}/)
    expect(memory).toMatch(/^\d+MiB \/ \d+MiB$/)
    expect([util, temp]).toEqual(['-', '-'])
    expect(Number(threads)).toBe(ft.getNumThreads())
    const gpus = ft.cuda.devices()
    for (const [i, gpu] of gpus.entries()) {
      const cells = lines[2 + i].split(/\s{2,}/)
      expect(cells[0]).toBe(`cuda:${gpu.index}`)
      expect(cells[2]).toMatch(/^(\d+MiB|N\/A) \/ \d+MiB$/)
    }
    expect(lines[2 + gpus.length]).toBe('')
    expect(lines[3 + gpus.length]).toMatch(/^CUDA libraries found: /)
    const info = ft.cuda.info()
    if (!info.available) expect(stdout).toContain(info.unavailableReason!)
  })
})

describe('balancedIndices', () => {
  it('takes classes in turn and returns file order', () => {
    expect(balancedIndices([0, 0, 0, 1, 1, 2], 4)).toEqual([0, 1, 3, 5])
    expect(balancedIndices([2, 2, 2, 2], 3)).toEqual([0, 1, 2])
    expect(balancedIndices([1, 0], 5)).toEqual([0, 1])
  })
})

describe('ferrite train, evaluate and --resume', () => {
  let data: string
  let out: string
  let first: { status: number; stdout: string; stderr: string }
  const train = (epochs: number, ...extra: string[]) =>
    ferrite('train', '--model', 'mycnn', '--data', data, '--epochs', String(epochs), '--limit', '200', '--batch-size', '50', '--out', out, ...extra)

  beforeAll(async () => {
    data = mkdtempSync(join(tmpdir(), 'ferrite-cli-data-'))
    writeRecords(join(data, 'train.bin'), 300, 1)
    writeRecords(join(data, 'test.bin'), 250, 2)
    out = join(mkdtempSync(join(tmpdir(), 'ferrite-cli-run-')), 'mycnn')
    first = await train(1, '--lr', '0.001')
  })

  it('trains, printing the model and the tutorial lines, and writes its outputs', () => {
    expect(first.stderr).toBe('')
    expect(first.status).toBe(0)
    expect(first.stdout.startsWith(`${fixtures.models.mycnn.repr}\n`)).toBe(true)
    expect(first.stdout).toContain('Training mycnn on 200 images (testing on 200) for 1 epoch(s): adam lr=0.001')
    expect(first.stdout).toMatch(/, cpu with \d+ threads, float32\n/)
    expect(first.stdout).toMatch(/^Epoch 1\/1:\nStep \[4\/4\] Train Loss: \d+\.\d{4}\nAccuracy on Test Set: \d+\.\d{4} %\n/m)
    expect(first.stdout).toMatch(/^Best test accuracy \d+\.\d{4} % \(epoch 1\), final \d+\.\d{4} %, [\d.]+ images\/s/m)
    for (const file of ['model.safetensors', 'checkpoint.safetensors', 'history.json', 'curves.png']) expect(existsSync(join(out, file))).toBe(true)
    expect(readFileSync(join(out, 'curves.png')).subarray(1, 4).toString()).toBe('PNG')
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'))
    expect(history.model).toBe('mycnn')
    expect(history.options).toMatchObject({ epochs: 1, optimizer: 'adam', lr: 0.001, batchSize: 50, limit: 200, seed: 0, augment: true, device: 'cpu', precision: 'fp32' })
    expect(history.trainLoss).toHaveLength(1)
    expect(Number.isFinite(history.trainLoss[0])).toBe(true)
    expect(history.testAccuracy).toHaveLength(1)
    expect(history.testAccuracy[0]).toBeGreaterThanOrEqual(0)
    expect(history.testAccuracy[0]).toBeLessThanOrEqual(1)
    expect(history.finalTestAccuracy).toBe(history.testAccuracy[0])
    expect(history.secondsPerEpoch).toBeGreaterThan(0)
    expect(history.imagesPerSecond[0]).toBeGreaterThan(0)
  })

  it('evaluates the saved weights (or the checkpoint) to the accuracy training reported', async () => {
    const { testAccuracy } = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'))
    const expected = `Accuracy on Test Set: ${(100 * testAccuracy[0]).toFixed(4)} %\n`
    for (const weights of ['model.safetensors', 'checkpoint.safetensors']) {
      const { status, stdout } = await ferrite('evaluate', '--model', 'mycnn', '--weights', join(out, weights), '--data', data, '--limit', '200')
      expect({ status, stdout }).toEqual({ status: 0, stdout: expected })
    }
  })

  it('names the weights file when it is missing, corrupt or for another model', async () => {
    const corrupt = join(out, 'corrupt.safetensors')
    writeFileSync(corrupt, 'not a safetensors file')
    const cases: [string, string, string][] = [
      [join(out, 'missing.safetensors'), 'mycnn', `weights file not found: ${join(out, 'missing.safetensors')}`],
      [corrupt, 'mycnn', corrupt],
      [join(out, 'model.safetensors'), 'resnet', `${join(out, 'model.safetensors')} does not hold weights for model 'resnet'`],
    ]
    for (const [weights, model, message] of cases) {
      const { status, stderr } = await ferrite('evaluate', '--model', model, '--weights', weights, '--data', data)
      expect(status).toBe(1)
      expect(stderr).toContain(message)
    }
  })

  it('continues from the checkpoint with --resume, training only the missing epochs', async () => {
    const before = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'))
    const { status, stdout } = await train(2, '--lr', '0.001', '--resume')
    expect(status).toBe(0)
    expect(stdout).toContain(`Resuming from ${join(out, 'checkpoint.safetensors')} after epoch 1`)
    expect(stdout).not.toContain('Epoch 1/2:')
    expect(stdout.match(/^Epoch \d\/2:$/gm)).toEqual(['Epoch 2/2:'])
    const after = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'))
    expect(after.trainLoss).toHaveLength(2)
    expect(after.trainLoss[0]).toBe(before.trainLoss[0])
    expect(after.testAccuracy[0]).toBe(before.testAccuracy[0])
    expect(after.options).toMatchObject({ epochs: 2, resume: true })
  })

  it('trains in bf16 mixed precision with --precision bf16', async () => {
    const bf16Out = join(out, '..', 'bf16')
    const args = ['train', '--model', 'mycnn', '--data', data, '--epochs', '1', '--limit', '200', '--batch-size', '50', '--out', bf16Out]
    const { status, stdout, stderr } = await ferrite(...args, '--precision', 'bf16')
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' })
    const kernels = ft.backends.cpu.hasBf16Kernels() ? 'bf16 mixed precision' : 'bf16 mixed precision requested, running float32'
    expect(stdout).toContain(`threads, ${kernels}`)
    const history = JSON.parse(readFileSync(join(bf16Out, 'history.json'), 'utf8'))
    expect(history.options.precision).toBe('bf16')
    expect(Number.isFinite(history.trainLoss[0])).toBe(true)
  })

  it('fails with status 1 and one line naming the file and the field of a corrupt checkpoint', async () => {
    const corrupt = join(out, '..', 'corrupt')
    mkdirSync(corrupt, { recursive: true })
    const checkpoint = join(corrupt, 'checkpoint.safetensors')
    const cases: [string, string, string][] = [
      ['epoch', 'abc', `metadata field 'epoch' must hold a non-negative integer, got "abc"`],
      ['history', '{"trainLoss": [', `metadata field 'history' must hold JSON, got "{\\"trainLoss\\": ["`],
    ]
    for (const [field, value, message] of cases) {
      const tensors = ft.load(join(out, 'checkpoint.safetensors'))
      ft.save(tensors, checkpoint, { metadata: { ...ft.loadMetadata(join(out, 'checkpoint.safetensors')), [field]: value } })
      for (const t of Object.values(tensors)) t.dispose()
      const { status, stdout, stderr } = await ferrite('train', '--model', 'mycnn', '--data', data, '--epochs', '2', '--limit', '200', '--out', corrupt, '--resume')
      expect({ field, status }).toEqual({ field, status: 1 })
      expect(stdout).not.toContain('Epoch ')
      expect(stderr).toBe(`ferrite train: error: loadCheckpoint: ${checkpoint}: ${message}\n`)
    }
  })

  it('fails with status 1 naming --out when it is a file', async () => {
    const file = join(out, 'history.json')
    const { status, stderr } = await ferrite('train', '--model', 'mycnn', '--data', data, '--epochs', '1', '--limit', '20', '--out', file)
    expect(status).toBe(1)
    expect(stderr).toBe(`ferrite train: error: --out ${file}: cannot create the output folder: it is a file; expected a folder, or a path where one can be created\n`)
    const below = join(file, 'run')
    expect((await ferrite('train', '--model', 'mycnn', '--data', data, '--epochs', '1', '--limit', '20', '--out', below)).stderr).toContain(
      `--out ${below}: cannot create the output folder: a folder above it is a file`,
    )
  })

  it('fails with status 1 naming a checkpoint of another model', async () => {
    const { status, stderr } = await ferrite('train', '--model', 'resnet', '--data', data, '--epochs', '3', '--limit', '20', '--out', out, '--resume')
    expect(status).toBe(1)
    expect(stderr).toContain(`cannot resume from ${join(out, 'checkpoint.safetensors')}: loadStateDict: Error(s) in loading state_dict for ResNet`)
  })

  it('writes TensorBoard events with --tensorboard and stops with --early-stop, keeping the best weights', async () => {
    const early = join(out, '..', 'early')
    const { status, stdout } = await ferrite('train', '--model', 'mycnn', '--data', data, '--epochs', '8', '--limit', '200', '--batch-size', '50', '--out', early, '--tensorboard', join(early, 'tb'), '--early-stop', '1')
    expect(status).toBe(0)
    const { testAccuracy, options } = JSON.parse(readFileSync(join(early, 'history.json'), 'utf8'))
    const stoppedAfter = Number(/^Early stopping after epoch (\d+): testAccuracy has not improved for 1 epoch/m.exec(stdout)?.[1])
    expect(testAccuracy).toHaveLength(stoppedAfter)
    expect(options).toMatchObject({ tensorboard: join(early, 'tb'), earlyStop: 1 })
    expect(readdirSync(join(early, 'tb'))).toEqual([expect.stringMatching(/^events\.out\.tfevents\./)])
    const best = await ferrite('evaluate', '--model', 'mycnn', '--weights', join(early, 'model.safetensors'), '--data', data, '--limit', '200')
    expect(best.stdout).toBe(`Accuracy on Test Set: ${(100 * Math.max(...testAccuracy)).toFixed(4)} %\n`)
    expect((await train(1, '--early-stop', '0')).stderr).toContain("--early-stop must be an integer of at least 1, got '0'")
  })
})

describe('ferrite train on image folders', () => {
  it("reads the tutorial's train/<class>/ and test/<class>/ layout when there are no CIFAR-10 batches", async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferrite-cli-folders-'))
    for (const split of ['train', 'test']) {
      for (const [c, name] of ['cat', 'dog', 'frog'].entries()) {
        mkdirSync(join(root, split, name), { recursive: true })
        for (let i = 0; i < 4; i++) {
          using image = ft.full([3, 32, 32], 40 * c + 10 * i)
          ft.vision.writeImage(image, join(root, split, name, `${i}.png`))
        }
      }
    }
    const out = join(root, 'run')
    const args = ['--model', 'mycnn', '--data', root, '--batch-size', '4']
    const trained = await ferrite('train', ...args, '--epochs', '1', '--out', out)
    expect(trained.stderr).toBe('')
    expect(trained.stdout).toContain('Training mycnn on 12 images (testing on 12)')
    const { testAccuracy } = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'))
    const evaluated = await ferrite('evaluate', ...args, '--weights', join(out, 'model.safetensors'))
    expect(evaluated.stdout).toBe(`Accuracy on Test Set: ${(100 * testAccuracy[0]).toFixed(4)} %\n`)
  })
})

describe('bin/ferrite.js', () => {
  const run = (...argv: string[]) =>
    promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'ferrite.js'), ...argv], { cwd: ROOT }).then(
      ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ status: error.code, stdout: error.stdout, stderr: error.stderr }),
    )

  it('is the package bin and exits with the status of main', async () => {
    expect(pkg.bin.ferrite).toBe('bin/ferrite.js')
    expect(await run('--version')).toEqual({ status: 0, stdout: `ferrite ${pkg.version}\n`, stderr: '' })
    const usage = await run('train', '--epochs', '2', '--frob')
    expect(usage.status).toBe(2)
    expect(usage.stderr).toContain("unknown option '--frob'")
    const help = await run('summary', '--model', 'mycnn', '--help')
    expect(help.status).toBe(0)
    const missing = await run('evaluate', '--model', 'mycnn', '--weights', 'w.safetensors', '--data', 'no-such-folder')
    expect(missing).toEqual({ status: 1, stdout: '', stderr: 'ferrite evaluate: error: data folder not found: no-such-folder\n' })
  })
})
