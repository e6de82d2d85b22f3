// Fuzz: valid safetensors, PNG, JPEG and CIFAR-10 files with random byte flips, truncations,
// extensions and header edits, loaded through ft.load, ft.vision.readImage, data.CIFAR10 and
// data.ImageFolder in a child process; each load must give well-formed tensors or a typed
// FerriteError, never a crash. test/fuzz/spawn.ts lists the settings.
import { expect, it } from 'vitest'
import { runChild, seed, timeoutMs } from './spawn'

it(`files: a typed error or well-formed tensors for damaged files (seed ${seed})`, async () => {
  const { problems, summary } = await runChild('files.child.ts')
  console.log(summary)
  expect(problems.join('\n\n')).toBe('')
}, timeoutMs)
