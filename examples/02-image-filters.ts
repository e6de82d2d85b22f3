// The tutorial's first picture: a grayscale photo through a Laplace edge detector and two Gauss
// blurs (3x3 and 5x5) with `ft.functional.conv2d`, shown side by side with titles.
// Run with `npx tsx examples/02-image-filters.ts [outDir]`; writes <outDir>/filters.png (default out/).
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import * as ft from 'ferrite-ml'

const F = ft.functional

// PIL: Image.open('astronaut.jpg').convert('L'), as a [1, H, W] tensor of 0..255 values.
const gray = ft.vision.readImage(new URL('./data/astronaut.jpg', import.meta.url), { mode: 'L' })
// conv2d takes a batch: [N, C, H, W] = [1, 1, H, W].
const input = gray.unsqueeze(0)

/** A single-channel kernel as a conv2d weight of shape [outChannels, inChannels, k, k] = [1, 1, k, k]. */
function kernel(rows: number[][], scale = 1): ft.Tensor {
  return ft.tensor([[rows]]).mul(scale)
}

const laplace = kernel([
  [-1, -1, -1],
  [-1, 8, -1],
  [-1, -1, -1],
])
const gauss3 = kernel(
  [
    [1, 2, 1],
    [2, 4, 2],
    [1, 2, 1],
  ],
  1 / 16,
)
const gauss5 = kernel(
  [
    [1, 2, 3, 2, 1],
    [2, 5, 6, 5, 2],
    [3, 6, 8, 6, 3],
    [2, 5, 6, 5, 2],
    [1, 2, 3, 2, 1],
  ],
  1 / 84,
)

// Padding keeps every result the size of the photo, as in the tutorial.
const results = [
  { title: 'laplace', image: F.conv2d(input, laplace, { padding: 1 }) },
  { title: 'gauss kernel_size=3', image: F.conv2d(input, gauss3, { padding: 1 }) },
  { title: 'gauss kernel_size=5', image: F.conv2d(input, gauss5, { padding: 2 }) },
]

const round = (x: number) => Number(x.toFixed(4))
const describe = (t: ft.Tensor) => `shape [${t.shape.join(', ')}], min ${round(t.min().item())}, max ${round(t.max().item())}`
console.log(`input: ${describe(input)}`)
for (const { title, image } of results) console.log(`${title}: ${describe(image)}`)

const outDir = process.argv[2] ?? 'out'
mkdirSync(outDir, { recursive: true })
const file = join(outDir, 'filters.png')
// Each picture is autoscaled to black..white on its own, like matplotlib's imshow(cmap='gray').
ft.vision.saveImageGrid([gray, ...results.map((r) => r.image.squeeze(0))], file, {
  titles: ['original', ...results.map((r) => r.title)],
})
console.log(`wrote ${file}`)
