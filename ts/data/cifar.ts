import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { IoError } from '../errors'
import { native } from '../native'
import type { Compose } from '../transforms'
import { ImageDataset } from './dataset'

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']

export interface CIFAR10Options {
  /** A folder holding the batch files, or the official archive's `cifar-10-batches-bin/` folder. */
  root: string
  /** The training split (default) or the test split. */
  train?: boolean
  transform?: Compose
}

/** The batch files of one split under `root`, in the layouts CIFAR-10 comes in. */
function findSplit(root: string, train: boolean): string[] {
  for (const dir of [join(root, 'cifar-10-batches-bin'), root]) {
    const official = train ? [1, 2, 3, 4, 5].map((i) => join(dir, `data_batch_${i}.bin`)) : [join(dir, 'test_batch.bin')]
    if (official.every((f) => existsSync(f))) return official
    const single = join(dir, train ? 'train.bin' : 'test.bin')
    if (existsSync(single)) return [single]
  }
  const wanted = train ? 'data_batch_1.bin ... data_batch_5.bin or train.bin' : 'test_batch.bin or test.bin'
  throw new IoError(`CIFAR10: ${root}: no CIFAR-10 ${train ? 'training' : 'test'} batches found (looked for ${wanted}, also in cifar-10-batches-bin/)`)
}

/**
 * CIFAR-10 from its binary batch files (`data_batch_1..5.bin`, `test_batch.bin`), or from single
 * files in the same record format (`train.bin`, `test.bin`, as in cifar10-mini).
 */
export class CIFAR10 extends ImageDataset {
  readonly root: string
  readonly train: boolean

  constructor({ root, train = true, transform }: CIFAR10Options) {
    const files = findSplit(root, train)
    const metaFile = [join(root, 'batches.meta.txt'), join(root, 'cifar-10-batches-bin', 'batches.meta.txt')].find((f) => existsSync(f))
    const classes = metaFile ? readFileSync(metaFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : CIFAR10_CLASSES
    super(native.NativeImageSet.fromCifarFiles(files), classes, transform)
    this.root = root
    this.train = train
  }
}
