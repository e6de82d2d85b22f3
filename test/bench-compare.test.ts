// bench:compare's report (bench/compare/report.ts) and the peers' shared helpers
// (bench/compare/peer.ts): the onnxruntime column, its ratio over rounds, tables per thread count
// and batch, the output checks and the per-layer profile.
import { describe, expect, it } from 'vitest'
import { byLayerType, CHECK_TOLERANCE, relativeError } from '../bench/compare/peer'
import { renderReport, type ModelRow, type Outcome, type Report } from '../bench/compare/report'

function measured(rounds: number[]): Outcome {
  return { kind: 'measured', value: Math.max(...rounds.filter(Number.isFinite)), runs: 5, seconds: 1, backend: 'cpu', rounds }
}

function inferRow(model: string, threads: number, batch: number, ferrite: [number[], number[]], ort: number[]): ModelRow {
  return {
    workload: 'infer',
    model,
    threads,
    batch,
    outcomes: { 'ferrite:fp32': measured(ferrite[0]), 'ferrite:bf16': measured(ferrite[1]), 'ort:fp32': measured(ort) },
    memory: { 'ferrite:fp32': { peakKb: 200 * 1024 }, 'ort:fp32': { peakKb: 100 * 1024 } },
  }
}

function baseReport(models: ModelRow[]): Report {
  return {
    date: '2026-12-07 20:00 UTC',
    command: 'npm run bench:compare',
    quick: false,
    budgetS: 20,
    targetS: 3,
    rounds: 2,
    threads: [1, 2],
    batches: [100, 1],
    machine: { cpu: 'test CPU', cores: 2, simd: 'avx2', bf16: {}, os: 'Linux', node: 'v20', ferrite: 'ferrite 0.1.0' },
    load: { average: [0, 0], busy: [0, 0] },
    selected: ['ferrite', 'ort'],
    modes: { ferrite: ['fp32', 'bf16'], ort: ['fp32'], torch: [], tfjs: [] },
    peers: {
      ferrite: { version: 'ferrite 0.1.0', threads: [1, 2], inference: 'ft.inference.optimize(model).forward(x) under ft.noGrad' },
      ort: { version: 'onnxruntime-node 1.31.1', threads: [1, 2] },
    },
    skipped: {},
    notes: [],
    conv: [],
    models,
  }
}

/** The lines of the section whose heading starts with `heading`, up to the next `## `. */
function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n')
  const start = lines.findIndex((l) => l.startsWith(heading))
  expect(start, `no section '${heading}'`).toBeGreaterThanOrEqual(0)
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '))
  return lines.slice(start, end < 0 ? undefined : end)
}

function cells(line: string): string[] {
  return line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim())
}

describe('bench:compare report', () => {
  it('has an inference table per thread count and batch, with the ratio of Ferrite\'s fastest mode to onnxruntime and its per-round range', () => {
    const rows = [
      // Round 1: Ferrite's fastest is fp32 250 against 100; round 2: bf16 300 against 200.
      inferRow('mycnn', 1, 100, [[250, 100], [200, 300]], [100, 200]),
      inferRow('mycnn', 1, 1, [[50, 60], [40, 45]], [120, 100]),
      inferRow('mycnn', 2, 100, [[400, 380], [390, 410]], [200, 205]),
      inferRow('mycnn', 2, 1, [[70, 72], [71, 73]], [140, 150]),
    ]
    rows[0].checks = { ort: { maxAbsDiff: 4e-7, magnitude: 0.5, relative: 8e-7 }, optimized: { maxAbsDiff: 0, magnitude: 0.5, relative: 0 } }
    const markdown = renderReport(baseReport(rows))
    expect(markdown).toContain('# Ferrite against onnxruntime on the CPU')
    expect(markdown).toContain("- **Ferrite's inference:** ft.inference.optimize(model).forward(x) under ft.noGrad.")
    for (const [batch, threads] of [[100, 1], [1, 1], [100, 2], [1, 2]]) {
      section(markdown, `## Inference, images/s (eval mode, no grad, batch ${batch}, ${threads} thread${threads === 1 ? '' : 's'};`)
    }
    const table = section(markdown, '## Inference, images/s (eval mode, no grad, batch 100, 1 thread;')
    expect(cells(table[2])).toEqual(['model', 'Ferrite fp32', 'Ferrite bf16', 'onnxruntime', "Ferrite's fastest ÷ onnxruntime"])
    // Best figures 300 (bf16) and 200; rounds pair 250 / 100 and 300 / 200.
    expect(cells(table[4])).toEqual(['MyCNN', '250', '300', '200', '1.50× (1.50–2.50)'])
    expect(table.join('\n')).toContain('MyCNN 8.0e-7 (4.0e-7 of 0.50)')
    expect(table.join('\n')).toContain("`ft.inference.optimize`'s output against the plain eval forward")
    const perRound = table.find((l) => l.startsWith('| MyCNN | 2.50×'))
    expect(perRound && cells(perRound)).toEqual(['MyCNN', '2.50× (fp32)', '1.50× (bf16)', '1.50×'])
    const slow = section(markdown, '## Inference, images/s (eval mode, no grad, batch 1, 1 thread;')
    expect(cells(slow[4])[4]).toBe('0.50× (0.42–0.60)')
    // The lowest ratio first: 73 / 150 at batch 1 on 2 threads.
    expect(section(markdown, '## Furthest behind')[2]).toBe("- MyCNN inference, batch 1, 2 threads (Ferrite bf16, onnxruntime): 0.49× onnxruntime's speed")
  })

  it('leaves onnxruntime out of the training tables and shows its memory beside Ferrite\'s', () => {
    const train: ModelRow = { workload: 'train', model: 'resnet', threads: 2, batch: 100, outcomes: { 'ferrite:fp32': measured([600, 650]) }, memory: {} }
    const report = { ...baseReport([train, inferRow('resnet', 2, 100, [[1000, 900], [1100, 1000]], [1000, 1000])]), threads: [2], batches: [100] }
    const markdown = renderReport(report)
    const table = section(markdown, '## Training step, images/s')
    expect(cells(table[2])).toEqual(['model', 'Ferrite fp32', 'Ferrite bf16'])
    expect(markdown).not.toContain('thread;')
    const memory = section(markdown, '## Peak resident memory')
    expect(cells(memory[2])).toEqual(['model', 'workload', 'Ferrite fp32', 'Ferrite bf16', 'onnxruntime', 'Ferrite fp32 ÷ onnxruntime'])
    expect(cells(memory.find((l) => l.includes('inference'))!)).toEqual(['ResNet [2,2,2]', 'inference', '200', '', '100', '2.00×'])
  })

  it('puts both sides of a profile side by side, costliest first, with their totals', () => {
    const row = inferRow('mycnn', 1, 100, [[100, 100], [90, 90]], [300, 300])
    row.profiles = {
      'ferrite:fp32': {
        runs: 4,
        totalMs: 10,
        layers: [
          { name: 'Conv2d', ms: 6, calls: 2 },
          { name: 'MaxPool2d', ms: 3, calls: 2 },
          { name: 'Linear', ms: 0.5, calls: 1 },
        ],
      },
      'ort:fp32': { runs: 8, totalMs: 4, layers: [{ name: 'Conv', ms: 3, calls: 2 }] },
    }
    const markdown = renderReport({ ...baseReport([row]), threads: [1], batches: [100] })
    const table = section(markdown, '## Where inference time goes').slice(4)
    expect(table[0]).toBe('### MyCNN, batch 100, 1 thread')
    expect(cells(table[2])).toEqual(['Ferrite fp32', 'ms', 'share', 'onnxruntime', 'ms', 'share'])
    expect(table[3]).toMatch(/^\|:-+\|-+:\|-+:\|:-+\|-+:\|-+:\|$/)
    expect(cells(table[4])).toEqual(['Conv2d ×2', '6.00', '60 %', 'Conv ×2', '3.00', '75 %'])
    expect(cells(table[6])).toEqual(['Linear', '0.50', '5 %', '', '', ''])
    expect(cells(table[7])).toEqual(['total (4 calls)', '10.0', '', 'total (8 calls)', '4.00', ''])
    expect(table[8]).toBe('')
  })

  it("labels Ferrite's layers as the unfused forward's where the timed path is ft.inference.optimize, with the optimized call beside them", () => {
    const row = inferRow('resnet', 1, 1, [[100, 100], [90, 90]], [300, 300])
    row.profiles = {
      'ferrite:fp32': { runs: 4, totalMs: 10, layers: [{ name: 'Conv2d', ms: 6, calls: 15 }], optimizedMs: 7.5 },
      'ort:fp32': { runs: 8, totalMs: 4, layers: [{ name: 'Conv', ms: 3, calls: 15 }] },
    }
    const markdown = renderReport({ ...baseReport([row]), threads: [1], batches: [1] })
    const table = section(markdown, '## Where inference time goes').slice(4)
    expect(cells(table[2])).toEqual(['Ferrite fp32, unfused layers', 'ms', 'share', 'onnxruntime', 'ms', 'share'])
    expect(cells(table[5])).toEqual(['total (4 calls)', '10.0', '', 'total (8 calls)', '4.00', ''])
    expect(cells(table[6])).toEqual(['optimized call, as timed', '7.50', '', '', '', ''])
  })
})

describe('bench:compare peer helpers', () => {
  it('measures an output against the expected one relative to its magnitude, NaN failing the check', () => {
    const expected = new Float32Array([0.5, -2, 1])
    const close = relativeError(new Float32Array([0.5, -2.0001, 1]), expected)
    expect(close.maxAbsDiff).toBeCloseTo(1e-4, 6)
    expect(close.magnitude).toBe(2)
    expect(close.relative).toBeCloseTo(5e-5, 6)
    expect(close.relative <= CHECK_TOLERANCE).toBe(true)
    expect(relativeError(new Float32Array([0.5, -2, 1.01]), expected).relative <= CHECK_TOLERANCE).toBe(false)
    expect(relativeError(new Float32Array([Number.NaN, -2, 1]), expected).relative <= CHECK_TOLERANCE).toBe(false)
    expect(() => relativeError(new Float32Array(2), expected)).toThrow(/differ in size/)
  })

  it('sums profile entries by name into per-call figures, costliest first', () => {
    const entries = [
      { name: 'ReLU', ms: 1 },
      { name: 'Conv2d', ms: 4 },
      { name: 'ReLU', ms: 1 },
      { name: 'Conv2d', ms: 6 },
    ]
    expect(byLayerType(entries, 2)).toEqual([
      { name: 'Conv2d', ms: 5, calls: 1 },
      { name: 'ReLU', ms: 1, calls: 1 },
    ])
  })
})
