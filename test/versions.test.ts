// Version counters, as in PyTorch: every in-place change bumps the version of a tensor's storage,
// every tensor saved for backward remembers the version it had, and backward() refuses to use
// one changed since, instead of computing a wrong gradient from the new values.
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { thrown, valuesOf } from './helpers'

describe('tensors saved for backward', () => {
  it('refuses a saved input overwritten by copy_ (PyTorch raises the same message)', () => {
    // w = torch.tensor([1., 2., 3.], requires_grad=True); x = torch.tensor([4., 5., 6.])
    // y = w.mul(x); x.copy_(torch.zeros(3)); y.sum().backward()  # RuntimeError
    const w = ft.tensor([1, 2, 3]).requiresGrad_()
    const x = ft.tensor([4, 5, 6])
    const y = w.mul(x)
    x.copy_(ft.zeros([3]))
    const err = thrown(() => y.sum().backward())
    expect(err.code).toBe('InvalidArgument')
    expect(err.message).toContain(
      'one of the variables needed for gradient computation has been modified by an inplace operation: ' +
        '[MulBackward0] tensor of shape [3] is at version 1; expected version 0 instead',
    )
    expect(w.grad).toBeNull()
  })

  it('refuses a saved output changed through a view', () => {
    const x = ft.tensor([[0.5, -1], [2, 0]]).requiresGrad_()
    const y = ft.functional.sigmoid(x)
    const loss = y.mul(ft.tensor([[1, 2], [3, 4]])).sum()
    y.view([4]).copy_(ft.zeros([4]))
    expect(thrown(() => loss.backward()).message).toContain('[SigmoidBackward0] tensor of shape [2, 2] is at version 1')
  })

  it('lets values backward does not read change, and counts versions like PyTorch', () => {
    const a = ft.tensor([1, 2, 3]).requiresGrad_()
    const b = ft.tensor([1, 1, 1])
    const loss = a.add(b).sum()
    expect(b._version).toBe(0)
    b.copy_(ft.tensor([5, 5, 5]))
    b.view([3, 1]).copy_(ft.zeros([3, 1]))
    expect(b._version).toBe(2)
    loss.backward()
    expect(valuesOf(a.grad!)).toEqual([1, 1, 1])
  })

  it('still trains: an optimizer step after backward bumps the parameters, and the next step works', () => {
    ft.manualSeed(0)
    const model = new ft.nn.Linear(3, 2)
    const optimizer = new ft.optim.SGD(model.parameters(), { lr: 0.1 })
    const input = ft.randn([4, 3])
    const before = model.weight._version
    for (let step = 0; step < 2; step++) {
      optimizer.zeroGrad()
      model.forward(input).sum().backward()
      optimizer.step()
    }
    expect(model.weight._version).toBeGreaterThan(before)
  })
})
