// A fuzz child process (started by ops.test.ts): random shapes, dtypes, scalars and dims into
// every public tensor op, creation function and functional op.
import { runFuzz } from './harness'
import { FUNCTIONAL_OPS } from './functional-ops'
import { TENSOR_OPS } from './tensor-ops'

const makers = Object.values({ ...TENSOR_OPS, ...FUNCTIONAL_OPS })

runFuzz('ops', (rng, settings) => rng.pick(makers)(rng, settings))
