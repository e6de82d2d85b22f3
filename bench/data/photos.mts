// Loading photos for training: images/s of 224x224 training batches (batch 64) from a folder of
// 500x375 JPEGs, Ferrite's lazy ImageFolder + DataLoader against torchvision's ImageFolder +
// PyTorch's DataLoader, with the same transforms and the same number of workers (Ferrite's
// native threads, PyTorch's worker processes). The folder is made once (bench/data/make_photos.py,
// cifar10-mini upscaled) in a cache outside the repository. Each side runs in its own process,
// alternately, `ROUNDS` times; each figure is the best epoch of all rounds.
//
//   npx tsx bench/data/photos.mts [cifar10-mini dir] [workers (default 2)]
//   env FERRITE_BENCH_CACHE: where the photos go (default ~/.cache/ferrite-bench)
import { execFileSync, spawnSync } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'
import * as ft from 'ferrite-ml'
import { printMachine } from '../machine'

const ROOT = join(import.meta.dirname, '..', '..')
const PER_CLASS = 100
const EPOCHS = 2
const ROUNDS = 2
const T = ft.transforms

/**
 * The training pipelines measured, on both sides: ImageNet's usual one, and the with
 * colorJitter. Each is `randomResizedCrop(224)`, `randomHorizontalFlip`, [colorJitter],
 * `toTensor`, `normalize(ImageNet)`.
 */
const PIPELINES = ['random-resized-crop', 'random-resized-crop+color-jitter'] as const
type Pipeline = (typeof PIPELINES)[number]

async function ferriteEpochs(folder: string, pipeline: Pipeline): Promise<void> {
  const jitter = pipeline === 'random-resized-crop+color-jitter' ? [T.colorJitter({ brightness: 0.2, contrast: 0.2 })] : []
  const transform = T.compose([T.randomResizedCrop(224), T.randomHorizontalFlip(), ...jitter, T.toTensor(), T.normalize(T.IMAGENET_MEAN, T.IMAGENET_STD)])
  const loader = new ft.data.DataLoader(new ft.data.ImageFolder(folder, { transform }), { batchSize: 64, shuffle: true, seed: 0 })
  const epoch = async () => {
    const start = performance.now()
    let images = 0
    for await (const [batch, targets] of loader) {
      images += batch.shape[0]
      batch.dispose()
      targets.dispose()
    }
    return { seconds: (performance.now() - start) / 1000, images }
  }
  await epoch() // warm-up: page cache, thread pool
  for (let e = 0; e < EPOCHS; e++) console.log(JSON.stringify(await epoch()))
}

function bestRate(output: string): number {
  const epochs = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { seconds: number; images: number })
  if (epochs.length === 0) throw new Error(`no epoch was reported:\n${output}`)
  return Math.max(...epochs.map(({ seconds, images }) => images / seconds))
}

if (process.argv[2] === '--ferrite') {
  await ferriteEpochs(process.argv[3], process.argv[4] as Pipeline)
} else {
  const mini = process.argv[2] ?? join(ROOT, '..', 'shared', 'data', 'cifar10-mini')
  const workers = Number(process.argv[3] ?? 2)
  const python = join(ROOT, 'bench', '.venv', 'bin', 'python')
  const cache = process.env.FERRITE_BENCH_CACHE ?? join(homedir(), '.cache', 'ferrite-bench')
  const folder = join(cache, 'photos-500x375')
  execFileSync(python, [join(ROOT, 'bench', 'data', 'make_photos.py'), join(mini, 'train'), folder, String(PER_CLASS)], { stdio: 'ignore' })
  const env = { ...process.env, RAYON_NUM_THREADS: String(workers) }
  const run = (command: string, args: string[]) => {
    const r = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with ${r.status}`)
    return bestRate(r.stdout)
  }
  printMachine('photos: lazy ImageFolder + DataLoader vs torchvision ImageFolder + DataLoader')
  console.log(`data: ${10 * PER_CLASS} JPEGs of 500x375 (${folder}), batch 64, shuffled`)
  console.log(`workers: ${workers} (Ferrite: RAYON_NUM_THREADS; PyTorch: num_workers, persistent); best epoch of ${ROUNDS} x ${EPOCHS}, after a warm-up epoch`)
  console.log(`PyTorch: torch ${execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim()}`)
  for (const pipeline of PIPELINES) {
    const rates = { ferrite: 0, torch: 0 }
    for (let round = 0; round < ROUNDS; round++) {
      const sides = [
        () => (rates.ferrite = Math.max(rates.ferrite, run(process.execPath, ['--import', 'tsx', import.meta.filename, '--ferrite', folder, pipeline]))),
        () => (rates.torch = Math.max(rates.torch, run(python, [join(ROOT, 'bench', 'data', 'torch_photos.py'), folder, String(workers), pipeline, String(EPOCHS)]))),
      ]
      for (const side of round % 2 ? sides.reverse() : sides) side()
    }
    const ratio = (rates.ferrite / rates.torch).toFixed(2)
    console.log(`${pipeline}: Ferrite ${rates.ferrite.toFixed(0)} images/s, PyTorch ${rates.torch.toFixed(0)} images/s, ${ratio}x`)
  }
}
