// The tutorial's layer section: nn.Conv2d output shapes and parameter counts, the output-size
// formula checked against real layers, and max / average pooling of a 4x4 input.
// Run with `npx tsx examples/03-layers.ts`.
import * as ft from 'ferrite-ml'

const { nn } = ft
const shape = (t: ft.Tensor) => `[${t.shape.join(', ')}]`
const parameterCount = (m: { parameters(): Iterable<ft.Tensor> }) => [...m.parameters()].reduce((n, p) => n + p.numel(), 0)

ft.manualSeed(0)
const x = ft.randn([1, 1, 32, 32])

let convLayer = new nn.Conv2d(1, 3, 3, { stride: 1, padding: 0 })
let y = convLayer.forward(x)
console.log(String(convLayer))
console.log('x', shape(x), '-> y', shape(y))
// 3 kernels of 1 x 3 x 3 weights plus 3 biases (the tutorial's answer, 27, leaves out the biases)
console.log('parameters:', parameterCount(convLayer))

convLayer = new nn.Conv2d(1, 3, 5, { stride: 2, padding: 2 })
y = convLayer.forward(x)
console.log(String(convLayer))
console.log('x', shape(x), '-> y', shape(y))
console.log('parameters:', parameterCount(convLayer))

// For an N x C x H x W input, Conv2d(C, Cout, k, { stride: s, padding: p }) gives
// N x Cout x (floor((H + 2p - k) / s) + 1) x (floor((W + 2p - k) / s) + 1).
const outputSize = (size: number, k: number, s: number, p: number) => Math.floor((size + 2 * p - k) / s) + 1
console.log('\noutput size = floor((H + 2p - k) / s) + 1, for a [2, 3, 28, 20] input:')
const input = ft.randn([2, 3, 28, 20])
for (const [k, s, p] of [[3, 1, 0], [5, 2, 2], [3, 2, 1], [4, 3, 1], [7, 1, 3], [1, 2, 0]]) {
  const actual = new nn.Conv2d(3, 4, k, { stride: s, padding: p }).forward(input)
  const formula = [2, 4, outputSize(28, k, s, p), outputSize(20, k, s, p)]
  const agrees = formula.join() === actual.shape.join() ? 'agrees' : 'DIFFERS'
  console.log(`  k=${k} s=${s} p=${p}: formula [${formula.join(', ')}], layer ${shape(actual)} ${agrees}`)
}

// The tutorial's x = torch.randn(1, 1, 4, 4), with the values it printed.
const image = ft.tensor([[[
  [0.5812, 0.9751, -2.0219, -0.0226],
  [-0.3074, 1.6527, 1.6691, -0.1447],
  [-2.2628, -0.2452, 0.9177, 0.1994],
  [-0.7505, -0.3979, 0.1795, 0.2845],
]]])
const maxpool = new nn.MaxPool2d(2, { stride: 2 })
const avgpool = new nn.AvgPool2d(2, { stride: 2 })
console.log(`\n${String(maxpool)}\n${String(avgpool)}`)
console.log(String(image))
console.log(String(maxpool.forward(image)))
console.log(String(avgpool.forward(image)))
