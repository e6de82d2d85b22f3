// A tour of Ferrite's tensors: creation, printing, broadcasting, reductions, views and errors.
// Run with `npm run example`.
import * as ft from 'ferrite-ml'

ft.manualSeed(0)

const x = ft.tensor([[1, 2], [3, 4]])
console.log('x =', String(x))
console.log('shape', x.shape, 'dtype', x.dtype, 'device', x.device)
console.log('x @ x =', String(x.matmul(x)))
console.log('x + [10, 20] =', String(x.add(ft.tensor([10, 20]))))
console.log('sum over dim 1, keepDim:', String(x.sum(1, { keepDim: true })))
console.log('mean:', x.mean().item(), ' argmax(1):', String(x.argmax(1)))

const labels = ft.tensor([3, 1, 4], { dtype: 'int64' })
console.log('labels =', String(labels), labels.dtype)

const image = ft.randn([1, 1, 32, 32])
console.log('randn image', image.shape, 'mean', image.mean().item().toFixed(4), 'std', image.sub(image.mean()).pow(2).mean().sqrt().item().toFixed(4))
console.log('flattened', image.flatten(1).shape, 'transposed view is contiguous?', x.transpose(0, 1).isContiguous())

try {
  ft.zeros([2, 3]).matmul(ft.zeros([2, 3]))
} catch (e) {
  if (e instanceof ft.FerriteError) console.log(`${e.name} [${e.code}]: ${e.message}`)
}

{
  using big = ft.zeros([1000, 1000])
  console.log('native memory with a 4 MB tensor alive:', ft.memory().bytes, 'bytes')
  void big
}
console.log('after `using` released it:', ft.memory().bytes, 'bytes;', ft.getNumThreads(), 'threads')
