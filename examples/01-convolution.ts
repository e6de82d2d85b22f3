// The tutorial's convolution section: `convolution`, `myconv2d` and `convolutionV2` written from
// scratch with plain loops over number arrays (the point is to see every multiply-add), run on
// the tutorial's inputs, then the same computations with `ft.functional.conv2d`.
// Run with `npx tsx examples/01-convolution.ts`.
import * as ft from 'ferrite-ml'

type Matrix = number[][]
type Pair = [number, number]

function zeros(h: number, w: number): Matrix {
  return Array.from({ length: h }, () => new Array<number>(w).fill(0))
}

/** The image with `ph` rows and `pw` columns of zeros added on each side. */
function pad(img: Matrix, [ph, pw]: Pair): Matrix {
  const out = zeros(img.length + 2 * ph, img[0].length + 2 * pw)
  img.forEach((row, i) => row.forEach((v, j) => (out[i + ph][j + pw] = v)))
  return out
}

/** numpy's `np.sum(roi * kernel)` for the window whose top-left corner is (i, j). */
function windowSum(img: Matrix, kernel: Matrix, i: number, j: number): number {
  let sum = 0
  kernel.forEach((row, u) => row.forEach((k, v) => (sum += img[i + u][j + v] * k)))
  return sum
}

/** One channel in, one channel out; a square kernel, the same padding and stride on both axes. */
function convolution(img: Matrix, kernel: Matrix, padding = 1, stride = 1): Matrix {
  const [h, w] = [img.length, img[0].length]
  const kernelSize = kernel.length
  const paddingImg = pad(img, [padding, padding])
  const resultH = Math.floor((h + 2 * padding - kernelSize) / stride) + 1
  const resultW = Math.floor((w + 2 * padding - kernelSize) / stride) + 1
  const result = zeros(resultH, resultW)
  let x = 0
  for (let i = 0; i + kernelSize <= paddingImg.length; i += stride) {
    let y = 0
    for (let j = 0; j + kernelSize <= paddingImg[0].length; j += stride) result[x][y++] = windowSum(paddingImg, kernel, i, j)
    x++
  }
  return result
}

/** Many channels in and out: features [inChannels, h, w], weights [outChannels, inChannels, k, k]. */
function myconv2d(features: Matrix[], weights: Matrix[][], padding = 0, stride = 1): Matrix[] {
  return weights.map((weight) => {
    // each output channel sums the convolutions of every input channel with its own kernel
    const maps = features.map((featureMap, j) => convolution(featureMap, weight[j], padding, stride))
    const output = zeros(maps[0].length, maps[0][0].length)
    for (const m of maps) m.forEach((row, i) => row.forEach((v, k) => (output[i][k] += v)))
    return output
  })
}

/** `convolution` with a rectangular kernel and per-axis padding and stride, given as [h, w]. */
function convolutionV2(img: Matrix, kernel: Matrix, padding: Pair = [0, 0], stride: Pair = [1, 1]): Matrix {
  const [h, w] = [img.length, img[0].length]
  const [kh, kw] = [kernel.length, kernel[0].length]
  const paddingImg = pad(img, padding)
  const resultH = Math.floor((h + 2 * padding[0] - kh) / stride[0]) + 1
  const resultW = Math.floor((w + 2 * padding[1] - kw) / stride[1]) + 1
  const result = zeros(resultH, resultW)
  let x = 0
  for (let i = 0; i + kh <= paddingImg.length; i += stride[0]) {
    let y = 0
    for (let j = 0; j + kw <= paddingImg[0].length; j += stride[1]) result[x][y++] = windowSum(paddingImg, kernel, i, j)
    x++
  }
  return result
}

type Nested = number | Nested[]

const flatten = (x: Nested): number[] => (Array.isArray(x) ? x.flatMap(flatten) : [x])

/**
 * Formats a float array the way `print(np_array)` does for the arrays here: numbers in fixed
 * notation with at most 8 decimals, aligned on the decimal point; nested rows indented.
 */
function formatArray(a: Nested[]): string {
  const flat = flatten(a)
  const allIntegers = flat.every(Number.isInteger)
  const texts = flat.map((v) => (allIntegers ? `${v}.` : v.toFixed(8).replace(/0+$/, '')))
  const left = Math.max(...texts.map((t) => t.indexOf('.')))
  const right = Math.max(...texts.map((t) => t.length - t.indexOf('.') - 1))
  const cells = texts.map((t) => (' '.repeat(left - t.indexOf('.')) + t).padEnd(left + 1 + right))
  const depth = (x: Nested): number => (Array.isArray(x) ? 1 + depth(x[0]) : 0)
  const ndim = depth(a)
  let next = 0
  const format = (x: Nested[], d: number): string => {
    if (d === ndim - 1) return `[${x.map(() => cells[next++]).join(' ')}]`
    return `[${x.map((child) => format(child as Nested[], d + 1)).join('\n'.repeat(ndim - d - 1) + ' '.repeat(d + 1))}]`
  }
  return format(a, 0)
}

// ------------------------------------------------------------------ filters on a tiny image
// The tutorial filters a photo; here an impulse (one bright pixel) shows what each kernel does:
// correlating an impulse with a symmetric kernel draws the kernel itself.
const laplaceKernel = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
const gaussKernel3 = [[1, 2, 1], [2, 4, 2], [1, 2, 1]].map((row) => row.map((v) => v / 16))
const impulse = zeros(5, 5)
impulse[2][2] = 1
console.log('laplace on an impulse, padding=1, stride=1:')
console.log(formatArray(convolution(impulse, laplaceKernel, 1, 1)))
console.log('gauss kernel_size=3 on an impulse, padding=1, stride=1:')
console.log(formatArray(convolution(impulse, gaussKernel3, 1, 1)))

// ------------------------------------------------------------------ the tutorial's inputs
const inputData = [
  [[0, 0, 2, 2, 0, 1], [0, 2, 2, 0, 0, 2], [1, 1, 0, 2, 0, 0], [2, 2, 1, 1, 0, 0], [2, 0, 1, 2, 0, 1], [2, 0, 2, 1, 0, 1]],
  [[2, 0, 2, 1, 1, 1], [0, 1, 0, 0, 2, 2], [1, 0, 0, 2, 1, 0], [1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 1, 2], [2, 1, 2, 1, 0, 2]],
]
const weightsData = [[
  [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
  [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
]]
const testInput = [[1, 1, 2, 1], [0, 1, 0, 2], [2, 2, 0, 2], [2, 2, 2, 1], [2, 3, 2, 3]]
const testKernel = [[1, 0], [0, 1], [0, 0]]

console.log('\nmyconv2d(input_data, weights_data, padding=3, stride=3):')
const mine = myconv2d(inputData, weightsData, 3, 3)
console.log(formatArray(mine))
console.log('convolutionV2(test_input, test_kernel, padding=(1, 0), stride=(1, 1)):')
const mineV2a = convolutionV2(testInput, testKernel, [1, 0], [1, 1])
console.log(formatArray(mineV2a))
console.log('convolutionV2(test_input, test_kernel, padding=(2, 1), stride=(1, 2)):')
const mineV2b = convolutionV2(testInput, testKernel, [2, 1], [1, 2])
console.log(formatArray(mineV2b))

// ------------------------------------------------------------------ the same with Ferrite
const F = ft.functional
const inputTensor = ft.tensor(inputData).unsqueeze(0)
const testInputTensor = ft.tensor(testInput).reshape([1, 1, 5, 4])
const testKernelTensor = ft.tensor(testKernel).reshape([1, 1, 3, 2])

console.log('\nF.conv2d(inputTensor, weights, { stride: 3, padding: 3 }):')
const theirs = F.conv2d(inputTensor, ft.tensor(weightsData), { stride: 3, padding: 3 })
console.log(String(theirs))
console.log('F.conv2d(testInput, testKernel, { padding: [1, 0], stride: [1, 1] }):')
const theirsV2a = F.conv2d(testInputTensor, testKernelTensor, { padding: [1, 0], stride: [1, 1] })
console.log(String(theirsV2a))
console.log('F.conv2d(testInput, testKernel, { padding: [2, 1], stride: [1, 2] }):')
const theirsV2b = F.conv2d(testInputTensor, testKernelTensor, { padding: [2, 1], stride: [1, 2] })
console.log(String(theirsV2b))

const same = (loops: Nested[], t: ft.Tensor) => JSON.stringify(flatten(loops)) === JSON.stringify(Array.from(t.toTypedArray() as Float32Array))
console.log('\nidentical to the loops:', same(mine, theirs) && same(mineV2a, theirsV2a) && same(mineV2b, theirsV2b))
const imp = ft.tensor(impulse).reshape([1, 1, 5, 5])
const filterCheck = [laplaceKernel, gaussKernel3].every((k) => {
  const loops = convolution(impulse, k, 1, 1).flat()
  const values = F.conv2d(imp, ft.tensor(k).reshape([1, 1, 3, 3]), { padding: 1 }).toTypedArray()
  return loops.every((v, i) => Math.abs(v - Number(values[i])) < 1e-6)
})
console.log('filters agree with F.conv2d within 1e-6:', filterCheck)
