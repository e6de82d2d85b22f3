import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { IoError } from '../errors'
import { native } from '../native'
import type { Compose } from '../transforms'
import { ImageDataset } from './dataset'
import { downloadAndExtract } from './download'

/** The ten class names, index = label; used when `root` has no `batches.meta.txt`. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']

/** The official binary archive, and its MD5 as torchvision checks it. */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'
/** The MD5 (hex) of {@link CIFAR10_URL}'s archive, checked after a download. */
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530'

const ARCHIVE_FOLDER = 'cifar-10-batches-bin'
const ARCHIVE_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']

/** Options of {@link CIFAR10} and {@link CIFAR10.create}. */
export interface CIFAR10Options {
  /** A folder holding the batch files, or the official archive's `cifar-10-batches-bin/` folder. */
  root: string
  /** The training split (default) or the test split. */
  train?: boolean
  /** Transforms applied to each 32x32 RGB image, e.g. `T.compose([T.toTensor()])`; none gives raw 0-255 floats. */
  transform?: Compose
  /**
   * Download the official archive into `root` when the batches are missing. A download has to be
   * awaited, so this works with {@link CIFAR10.create}; the constructor only loads files present.
   */
  download?: boolean
  /** Where to download the archive from (a mirror, or a local server in tests); default {@link CIFAR10_URL}. */
  url?: string
  /** The archive's MD5, hex; default {@link CIFAR10_MD5}. */
  md5?: string
}

/** The batch files of one split under `root`, in the layouts CIFAR-10 comes in, if present. */
function findSplit(root: string, train: boolean): string[] | undefined {
  for (const dir of [join(root, ARCHIVE_FOLDER), root]) {
    const official = train ? [1, 2, 3, 4, 5].map((i) => join(dir, `data_batch_${i}.bin`)) : [join(dir, 'test_batch.bin')]
    if (official.every((f) => existsSync(f))) return official
    const single = join(dir, train ? 'train.bin' : 'test.bin')
    if (existsSync(single)) return [single]
  }
  return undefined
}

function missingSplit(root: string, train: boolean, download: boolean): IoError {
  if (download) {
    return new IoError(
      `CIFAR10: ${root}: no CIFAR-10 batches yet, and a constructor cannot wait for a download; use \`await ft.data.CIFAR10.create({ root, download: true })\``,
    )
  }
  const wanted = train ? 'data_batch_1.bin ... data_batch_5.bin or train.bin' : 'test_batch.bin or test.bin'
  return new IoError(`CIFAR10: ${root}: no CIFAR-10 ${train ? 'training' : 'test'} batches found (looked for ${wanted}, also in cifar-10-batches-bin/)`)
}

/**
 * CIFAR-10 from its binary batch files (`data_batch_1..5.bin`, `test_batch.bin`), or from single
 * files in the same record format (`train.bin`, `test.bin`, as in cifar10-mini). To download the
 * official archive when it is missing, await {@link CIFAR10.create}:
 *
 * ```ts
 * const train = await ft.data.CIFAR10.create({ root: 'data', download: true })
 * ```
 */
export class CIFAR10 extends ImageDataset {
  /** The folder the batches were loaded from. */
  readonly root: string
  /** True for the training split (50,000 images in the official files), false for the test split. */
  readonly train: boolean

  /**
   * Loads the split from `root`; with `download: true`, first downloads and extracts the official
   * archive (both splits, about 160 MB) into `root/cifar-10-batches-bin/` when the split is
   * missing. The archive's MD5 is checked, and nothing is left in `root` if anything fails.
   */
  static async create(options: CIFAR10Options): Promise<CIFAR10> {
    const { root, train = true, download = false, url = CIFAR10_URL, md5 = CIFAR10_MD5 } = options
    if (download && findSplit(root, train) === undefined) {
      await downloadAndExtract({ op: 'CIFAR10', url, md5, root, folder: ARCHIVE_FOLDER, required: ARCHIVE_FILES })
    }
    return new CIFAR10(options)
  }

  /** Loads the split from `root`, which must hold it already: to download it, use {@link CIFAR10.create}. */
  constructor({ root, train = true, transform, download = false }: CIFAR10Options) {
    const files = findSplit(root, train)
    if (files === undefined) throw missingSplit(root, train, download)
    const metaFile = [join(root, 'batches.meta.txt'), join(root, ARCHIVE_FOLDER, 'batches.meta.txt')].find((f) => existsSync(f))
    const classes = metaFile ? readFileSync(metaFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : CIFAR10_CLASSES
    super(native.NativeImageSet.fromCifarFiles(files), classes, transform)
    this.root = root
    this.train = train
  }
}
