// Fuzz: random shapes (0-sized dims, rank 0..5), dtypes, scalars and dims into every public op,
// in a child process; each call must give a correct result or a typed FerriteError, never a
// crash. test/fuzz/spawn.ts lists the settings (seed, seconds, replay of one case).
import { expect, it } from 'vitest'
import { runChild, seed, timeoutMs } from './spawn'

it(`ops: a typed error or a correct result for random arguments (seed ${seed})`, async () => {
  const { problems, summary } = await runChild('ops.child.ts')
  console.log(summary)
  expect(problems.join('\n\n')).toBe('')
}, timeoutMs)
