// Builds data/cifar10-sample (the small data set the README's main command trains on) from a
// cifar10-mini folder: the first 200 training and 100 test records of each class, in the same
// CIFAR-10 binary record format. Run once by a maintainer:
//
//   node scripts/make-cifar-sample.mjs ../shared/data/cifar10-mini
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const RECORD = 3073
const [source = '../shared/data/cifar10-mini'] = process.argv.slice(2)
const target = join(import.meta.dirname, '..', 'data', 'cifar10-sample')
mkdirSync(target, { recursive: true })

/** The first `keep` records of each class from a file holding `perClass` records per class, class by class. */
function sample(file, perClass, keep) {
  const bytes = readFileSync(join(source, file))
  const parts = []
  for (let label = 0; label < 10; label++) {
    const start = label * perClass * RECORD
    const part = bytes.subarray(start, start + keep * RECORD)
    for (let r = 0; r < keep; r++) {
      if (part[r * RECORD] !== label) throw new Error(`${file}: record ${label * perClass + r} is not of class ${label}`)
    }
    parts.push(part)
  }
  writeFileSync(join(target, file), Buffer.concat(parts))
}

sample('train.bin', 1000, 200)
sample('test.bin', 500, 100)
copyFileSync(join(source, 'batches.meta.txt'), join(target, 'batches.meta.txt'))
console.log(`wrote ${target}`)
