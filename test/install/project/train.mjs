// The same user in ESM: named imports, a hand-written training loop and a saved model.
import { data, transforms as T, models, optim, nn, manualSeed, noGrad, randn, save, load } from 'ferrite-ml'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = process.argv[2]
const transform = T.compose([T.toTensor(), T.normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26])])
const loader = new data.DataLoader(new data.CIFAR10({ root, transform }), { batchSize: 100, shuffle: true, seed: 0 })
manualSeed(0)
const model = new models.MyCNN(32, 10)
const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 })
const lossFn = new nn.CrossEntropyLoss()
const losses = []
model.train()
for await (const [images, targets] of loader) {
  const output = model.forward(images)
  const loss = lossFn.forward(output, targets)
  optimizer.zeroGrad()
  loss.backward()
  optimizer.step()
  losses.push(loss.item())
  for (const t of [images, targets, output, loss]) t.dispose()
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
const [early, late] = [mean(losses.slice(0, 5)), mean(losses.slice(-5))]
if (!(late < early)) throw new Error(`the training loss did not fall: ${early} -> ${late}`)
const file = join(mkdtempSync(join(tmpdir(), 'ferrite-esm-')), 'model.safetensors')
save(model.stateDict(), file)
const restored = new models.MyCNN(32, 10)
restored.loadStateDict(load(file))
model.eval()
restored.eval()
const probe = randn([4, 3, 32, 32])
const same = noGrad(() => model.forward(probe).sub(restored.forward(probe)).abs().max().item())
if (same !== 0) throw new Error(`the reloaded model differs by ${same}`)
console.log(`esm: loss ${early.toFixed(3)} -> ${late.toFixed(3)} over ${losses.length} steps; saved and reloaded model agree`)
