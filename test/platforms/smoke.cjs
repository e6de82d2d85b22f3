// The first run of a cross-built addon on its platform (or emulator): it loads, its convolutions
// agree with a float64 loop written here, and MyCNN trains on a few images of the bundled sample.
// Usage: node test/platforms/smoke.cjs <expected process.arch>. Needs the built dist/.
const { join } = require('node:path')
const ft = require('../../dist/cjs/index.js')

const root = join(__dirname, '..', '..')
const expectedArch = process.argv[2]
if (process.arch !== expectedArch) throw new Error(`running on ${process.arch}, expected ${expectedArch}`)

/** conv2d over float64 for [n, c, h, w] x [o, c / groups, kh, kw], zero padding. */
function naiveConv2d(x, xs, w, ws, bias, { stride, padding, dilation, groups }) {
  const [n, c, h, wd] = xs
  const [o, cg, kh, kw] = ws
  const oh = Math.floor((h + 2 * padding - dilation * (kh - 1) - 1) / stride) + 1
  const ow = Math.floor((wd + 2 * padding - dilation * (kw - 1) - 1) / stride) + 1
  const og = o / groups
  const out = new Float64Array(n * o * oh * ow)
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let sum = bias[oc]
          const g = Math.floor(oc / og)
          for (let ic = 0; ic < cg; ic++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const iy = y * stride - padding + i * dilation
                const ix = xo * stride - padding + j * dilation
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue
                sum += x[((b * c + g * cg + ic) * h + iy) * wd + ix] * w[((oc * cg + ic) * kh + i) * kw + j]
              }
          out[((b * o + oc) * oh + y) * ow + xo] = sum
        }
  return out
}

function checkConv(name, xs, ws, options) {
  const x = ft.randn(xs)
  const w = ft.randn(ws)
  const bias = ft.randn([ws[0]])
  const got = ft.functional.conv2d(x, w, { bias, ...options }).toTypedArray()
  const expected = naiveConv2d(x.toTypedArray(), xs, w.toTypedArray(), ws, bias.toTypedArray(), options)
  if (got.length !== expected.length) throw new Error(`conv2d ${name}: ${got.length} outputs, expected ${expected.length}`)
  const scale = Math.max(...expected.map(Math.abs))
  let worst = 0
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]) / scale)
  if (!(worst < 1e-5)) throw new Error(`conv2d ${name}: worst error ${worst} of the largest output ${scale}`)
  return `${name} ${worst.toExponential(1)}`
}

async function main() {
  ft.manualSeed(0)
  const plain = { stride: 1, padding: 0, dilation: 1, groups: 1 }
  const convs = [
    checkConv('3x3 pad 1', [2, 16, 12, 12], [32, 16, 3, 3], { ...plain, padding: 1 }),
    checkConv('3x3 stride 2', [2, 8, 11, 11], [16, 8, 3, 3], { ...plain, stride: 2, padding: 1 }),
    checkConv('5x5 dilated grouped', [1, 6, 13, 13], [4, 3, 5, 5], { ...plain, dilation: 2, groups: 2, padding: 2 }),
    checkConv('1x1', [3, 7, 5, 5], [9, 7, 1, 1], plain),
  ]

  // A few steps on one shuffled batch of 32 sample images (the file is sorted by class): the loss must fall.
  const { data, transforms: T, models, optim, functional: F } = ft
  const transform = T.compose([T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])
  const set = new data.CIFAR10({ root: join(root, 'data', 'cifar10-sample'), transform })
  const loader = new data.DataLoader(set, { batchSize: 32, shuffle: true, seed: 0 })
  let batch
  for await (const b of loader) {
    batch = b
    break
  }
  const [images, labels] = batch
  const classes = new Set(labels.toTypedArray()).size
  if (classes < 5) throw new Error(`the batch holds ${classes} classes; a loss on fewer is too easy to lower`)
  const model = new models.MyCNN(32, 10)
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.001 })
  const losses = []
  for (let step = 0; step < 5; step++) {
    optimizer.zeroGrad()
    const loss = F.crossEntropy(model.forward(images), labels)
    loss.backward()
    optimizer.step()
    losses.push(loss.item())
  }
  if (!losses.every(Number.isFinite) || !(losses[4] < losses[0])) throw new Error(`MyCNN's loss did not fall: ${losses.join(', ')}`)
  console.log(`smoke: ${process.arch}, conv2d worst errors: ${convs.join(', ')}; MyCNN loss ${losses[0].toFixed(3)} -> ${losses[4].toFixed(3)} in 5 steps on ${classes} classes`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
