// Runs the tutorial examples and compares their whole stdout with the expected text, so they
// cannot drift from the tutorial ("使用Pytorch搭建CNN", the numbers and strings it printed).
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brotliDecompressSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TIMEOUT_MS = 180_000

async function runExample(file: string, args: string[] = []): Promise<string> {
  const { stdout } = await promisify(execFile)('npx', ['tsx', file, ...args], { cwd: ROOT, timeout: TIMEOUT_MS })
  return stdout
}

// Printed by the tutorial for myconv2d(input_data, weights_data, padding=3, stride=3).
const MYCONV2D = `[[[ 0.  0.  0.  0.]
  [ 0.  8. 10.  0.]
  [ 0. -5.  2.  0.]
  [ 0.  0.  0.  0.]]]`

// Printed by the tutorial for F.conv2d(input_tensor, weight, bias=None, stride=3, padding=3).
const F_CONV2D = `tensor([[[[ 0.,  0.,  0.,  0.],
          [ 0.,  8., 10.,  0.],
          [ 0., -5.,  2.,  0.],
          [ 0.,  0.,  0.,  0.]]]])`

// Printed by the tutorial for convolutionV2 with padding (1, 0), stride (1, 1) and padding (2, 1), stride (1, 2).
const CONV_V2_A = `[[1. 2. 1.]
 [2. 1. 4.]
 [2. 1. 2.]
 [4. 4. 1.]
 [5. 4. 5.]]`
const CONV_V2_B = `[[0. 0. 0.]
 [1. 2. 0.]
 [0. 1. 1.]
 [2. 1. 2.]
 [2. 4. 2.]
 [2. 4. 1.]
 [0. 3. 3.]]`

// The same results as PyTorch prints them (torch.nn.functional.conv2d on the tutorial's test_input).
const F_CONV_V2_A = `tensor([[[[1., 2., 1.],
          [2., 1., 4.],
          [2., 1., 2.],
          [4., 4., 1.],
          [5., 4., 5.]]]])`
const F_CONV_V2_B = `tensor([[[[0., 0., 0.],
          [1., 2., 0.],
          [0., 1., 1.],
          [2., 1., 2.],
          [2., 4., 2.],
          [2., 4., 1.],
          [0., 3., 3.]]]])`

const EXAMPLE_01 = `laplace on an impulse, padding=1, stride=1:
[[ 0.  0.  0.  0.  0.]
 [ 0. -1. -1. -1.  0.]
 [ 0. -1.  8. -1.  0.]
 [ 0. -1. -1. -1.  0.]
 [ 0.  0.  0.  0.  0.]]
gauss kernel_size=3 on an impulse, padding=1, stride=1:
[[0.     0.     0.     0.     0.    ]
 [0.     0.0625 0.125  0.0625 0.    ]
 [0.     0.125  0.25   0.125  0.    ]
 [0.     0.0625 0.125  0.0625 0.    ]
 [0.     0.     0.     0.     0.    ]]

myconv2d(input_data, weights_data, padding=3, stride=3):
${MYCONV2D}
convolutionV2(test_input, test_kernel, padding=(1, 0), stride=(1, 1)):
${CONV_V2_A}
convolutionV2(test_input, test_kernel, padding=(2, 1), stride=(1, 2)):
${CONV_V2_B}

F.conv2d(inputTensor, weights, { stride: 3, padding: 3 }):
${F_CONV2D}
F.conv2d(testInput, testKernel, { padding: [1, 0], stride: [1, 1] }):
${F_CONV_V2_A}
F.conv2d(testInput, testKernel, { padding: [2, 1], stride: [1, 2] }):
${F_CONV_V2_B}

identical to the loops: true
filters agree with F.conv2d within 1e-6: true
`

// Printed by the tutorial for print(x), print(maxpool(x)), print(avgpool(x)) on its 4x4 input.
const POOL_INPUT = `tensor([[[[ 0.5812,  0.9751, -2.0219, -0.0226],
          [-0.3074,  1.6527,  1.6691, -0.1447],
          [-2.2628, -0.2452,  0.9177,  0.1994],
          [-0.7505, -0.3979,  0.1795,  0.2845]]]])`
const MAX_POOLED = `tensor([[[[ 1.6527,  1.6691],
          [-0.2452,  0.9177]]]])`
const AVG_POOLED = `tensor([[[[ 0.7254, -0.1300],
          [-0.9141,  0.3953]]]])`

// Shapes as the tutorial printed them (torch.Size([1, 3, 30, 30]) and torch.Size([1, 3, 16, 16]));
// the layer reprs and the formula table are PyTorch's print of the same layers and shapes.
const EXAMPLE_03 = `Conv2d(1, 3, kernel_size=(3, 3), stride=(1, 1))
x [1, 1, 32, 32] -> y [1, 3, 30, 30]
parameters: 30
Conv2d(1, 3, kernel_size=(5, 5), stride=(2, 2), padding=(2, 2))
x [1, 1, 32, 32] -> y [1, 3, 16, 16]
parameters: 78

output size = floor((H + 2p - k) / s) + 1, for a [2, 3, 28, 20] input:
  k=3 s=1 p=0: formula [2, 4, 26, 18], layer [2, 4, 26, 18] agrees
  k=5 s=2 p=2: formula [2, 4, 14, 10], layer [2, 4, 14, 10] agrees
  k=3 s=2 p=1: formula [2, 4, 14, 10], layer [2, 4, 14, 10] agrees
  k=4 s=3 p=1: formula [2, 4, 9, 7], layer [2, 4, 9, 7] agrees
  k=7 s=1 p=3: formula [2, 4, 28, 20], layer [2, 4, 28, 20] agrees
  k=1 s=2 p=0: formula [2, 4, 14, 10], layer [2, 4, 14, 10] agrees

MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
AvgPool2d(kernel_size=2, stride=2, padding=0)
${POOL_INPUT}
${MAX_POOLED}
${AVG_POOLED}
`

describe('tutorial examples print the tutorial results', () => {
  it('01-convolution: from-scratch loops and F.conv2d', { timeout: TIMEOUT_MS }, async () => {
    const out = await runExample('examples/01-convolution.ts')
    for (const block of [MYCONV2D, CONV_V2_A, CONV_V2_B, F_CONV2D]) expect(out).toContain(block)
    expect(out).toBe(EXAMPLE_01)
  })

  it('03-layers: Conv2d shapes and parameter counts, pooling', { timeout: TIMEOUT_MS }, async () => {
    const out = await runExample('examples/03-layers.ts')
    for (const block of ['[1, 3, 30, 30]', '[1, 3, 16, 16]', POOL_INPUT, MAX_POOLED, AVG_POOLED]) expect(out).toContain(block)
    expect(out).toBe(EXAMPLE_03)
  })
})

describe('05-fine-tune: your own photos', () => {
  it('makes mixed-size JPEGs, loads torchvision weights, trains the new head and layer4, saves the model', { timeout: TIMEOUT_MS }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-fine-tune-'))
    try {
      // torchvision's resnet18 (10 classes) from the models fixture, stored as bfloat16 as a pretrained file may be.
      const fixture = join(dir, 'fixture.safetensors')
      writeFileSync(fixture, brotliDecompressSync(readFileSync(join(ROOT, 'test', 'fixtures', 'torchvision', 'resnet18.safetensors.br'))))
      const state = ft.load(fixture)
      const rounded = (key: string) => state[key].to({ dtype: 'bfloat16' }).float()
      const weights = join(dir, 'resnet18.safetensors')
      ft.save(Object.fromEntries(Object.entries(state).map(([k, v]) => [k, v.dtype === 'float32' ? v.to({ dtype: 'bfloat16' }) : v])), weights)
      const photos = join(dir, 'photos')
      const args = ['--photos', photos, '--weights', weights, '--classes', '3', '--per-class', '8', '--size', '64', '--epochs', '2', '--out', join(dir, 'model')]
      const out = await runExample('examples/05-fine-tune.ts', args)
      expect(out).toContain('24 training and 6 validation photos of 3 classes: airplane, automobile, bird')
      expect(out).toContain(`loaded ${weights}`)
      expect(out).toMatch(/Epoch 2\/2:\nStep \[1\/1\] Train Loss: \d+\.\d{4}\nAccuracy on Test Set: \d+\.\d{4} %/)
      const sizes = readdirSync(join(photos, 'train', 'bird')).map((f) => ft.vision.readImage(join(photos, 'train', 'bird', f)).shape.join('x'))
      expect(new Set(sizes).size).toBeGreaterThan(2)
      for (const size of sizes) expect(['3x375x500', '3x500x375', '3x320x320', '3x360x640', '3x180x240']).toContain(size)
      const saved = ft.load(join(dir, 'model', 'model.safetensors'))
      expect(saved['fc.weight'].shape).toEqual([3, 512])
      // Frozen layers kept the loaded weights and layer4 trained; batch norms' running statistics
      // still follow the data in training mode, frozen or not, as in PyTorch.
      const maxDiff = (key: string) => saved[key].sub(rounded(key)).abs().max().item()
      expect(maxDiff('layer1.0.conv1.weight')).toBe(0)
      expect(maxDiff('layer1.0.bn1.weight')).toBe(0)
      expect(maxDiff('bn1.running_mean')).toBeGreaterThan(0)
      expect(maxDiff('layer4.1.conv2.weight')).toBeGreaterThan(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
