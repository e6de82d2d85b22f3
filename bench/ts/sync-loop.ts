// A PyTorch-style training loop written as a PyTorch user writes it: synchronous, no `tidy`, no
// `dispose`, no `await`, against the same loop with each step inside `ft.tidy`. Each loop runs in
// a process of its own (RSS is then the loop's), on fresh random batches every step, as a data
// loader hands them out. Targets (issue 18): the plain loop's RSS stays within 1.5x of its RSS at
// step 50, and it trains at 0.95x or more of the tidy loop's speed.
//
//   npm run bench:sync-loop -- [--models mycnn,resnet] [--steps 500] [--rounds 1]
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'
import { printMachine, printTable, randomBatchStep, runInChild } from '../machine'

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'mycnn,resnet' },
    steps: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '1' },
    child: { type: 'string' },
    loop: { type: 'string' },
  },
})

/** Step 50 is the reference point: by then every buffer and pool has reached its working size. */
const WARM_UP = 50
const SAMPLE_EVERY = 25

const plans: Record<string, { make: () => ft.nn.Module; batch: number; label: string }> = {
  mycnn: { make: () => new ft.models.MyCNN(), batch: 32, label: 'MyCNN, batch 32' },
  resnet: { make: () => new ft.models.ResNet(ft.models.ResidualBlock, [2, 2, 2]), batch: 100, label: 'ResNet [2, 2, 2], batch 100' },
}

interface LoopResult {
  imagesPerSecond: number
  /** RSS every SAMPLE_EVERY steps, bytes. */
  rss: { step: number; bytes: number }[]
  nativeBytesAtEnd: number
}

/** The child: trains `model` for `steps` steps with or without tidy and prints a LoopResult. */
function runLoop(name: string, loop: 'plain' | 'tidy', steps: number): void {
  const { make, batch } = plans[name]
  ft.manualSeed(0)
  const model = make()
  const optimizer = new ft.optim.Adam(model.parameters(), { lr: 0.001 })
  const step = () => randomBatchStep(model, optimizer, batch)
  const rss: LoopResult['rss'] = []
  let start = 0
  for (let i = 1; i <= steps; i++) {
    if (loop === 'tidy') ft.tidy(step)
    else step()
    if (i === WARM_UP) start = performance.now()
    if (i % SAMPLE_EVERY === 0) rss.push({ step: i, bytes: process.memoryUsage().rss })
  }
  const seconds = (performance.now() - start) / 1000
  const result: LoopResult = { imagesPerSecond: ((steps - WARM_UP) * batch) / seconds, rss, nativeBytesAtEnd: ft.memory().bytes }
  console.log(JSON.stringify(result))
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0)

function main(): void {
  const steps = Number(values.steps)
  const rounds = Number(values.rounds)
  printMachine(`Synchronous training loop without tidy vs with tidy, ${steps} steps, Adam, random batches`)
  for (const name of values.models.split(',')) {
    const rows: string[][] = []
    const speed: Record<string, number[]> = { plain: [], tidy: [] }
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so that neither always meets a warmer (or busier) machine.
      const order: ('plain' | 'tidy')[] = round % 2 === 0 ? ['plain', 'tidy'] : ['tidy', 'plain']
      for (const loop of order) {
        const r = runInChild<LoopResult>(['--child', name, '--loop', loop, '--steps', String(steps)])
        const atWarmUp = r.rss.find((s) => s.step === WARM_UP)!.bytes
        const peak = Math.max(...r.rss.filter((s) => s.step >= WARM_UP).map((s) => s.bytes))
        speed[loop].push(r.imagesPerSecond)
        rows.push([
          String(round + 1),
          loop === 'plain' ? 'plain loop (no tidy)' : 'each step in tidy',
          r.imagesPerSecond.toFixed(0),
          mb(atWarmUp),
          mb(peak),
          mb(r.rss.at(-1)!.bytes),
          `${(peak / atWarmUp).toFixed(2)}x`,
          mb(r.nativeBytesAtEnd),
        ])
      }
    }
    console.log(`\n${plans[name].label}`)
    printTable(['round', 'loop', 'images/s', `RSS @${WARM_UP} MB`, 'peak RSS MB', `RSS @${steps} MB`, `peak ÷ @${WARM_UP}`, 'native MB at end'], rows)
    const best = (xs: number[]) => Math.max(...xs)
    console.log(`plain ÷ tidy speed (best of ${rounds}): ${(best(speed.plain) / best(speed.tidy)).toFixed(2)}x (target >= 0.95x)`)
  }
}

if (values.child) runLoop(values.child, values.loop as 'plain' | 'tidy', Number(values.steps))
else main()
