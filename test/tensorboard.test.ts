// TensorBoard event files: TFRecord framing with masked CRC32Cs, bytes identical to TensorBoard's
// own writer (test/fixtures/gen_tensorboard.py), and a `ferrite train --tensorboard` log read
// back by TensorBoard's EventAccumulator (test/fixtures/check_tensorboard.py) against the run's history.
import { crc32c } from '@node-rs/crc32'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const ROOT = join(__dirname, '..')
const FIXTURES = join(__dirname, 'fixtures')
// The generated protobuf module as the package ships it, to decode what the writer wrote.
const { tensorboard: proto } = createRequire(import.meta.url)(join(ROOT, 'dist', 'cjs', 'tensorboard', 'proto.js')) as typeof import('../ts/tensorboard/proto')

/** TensorFlow's mask, written out again here rather than imported from the writer. */
const masked = (bytes: Uint8Array) => {
  const crc = crc32c(Buffer.from(bytes))
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0
}

/** The records of a TFRecord file, each checked: the length's CRC, the data's CRC, and nothing left over. */
function readRecords(file: Buffer): Buffer[] {
  const records: Buffer[] = []
  let offset = 0
  while (offset < file.length) {
    const length = Number(file.readBigUInt64LE(offset))
    if (file.readUInt32LE(offset + 8) !== masked(file.subarray(offset, offset + 8))) throw new Error(`bad length CRC at byte ${offset}`)
    const data = file.subarray(offset + 12, offset + 12 + length)
    if (data.length !== length || file.readUInt32LE(offset + 12 + length) !== masked(data)) throw new Error(`bad data CRC at byte ${offset}`)
    records.push(data)
    offset += 16 + length
  }
  return records
}

const eventFile = (dir: string) => {
  const files = readdirSync(dir)
  expect(files).toHaveLength(1)
  expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\..+\.\d+\.\d+$/)
  return readFileSync(join(dir, files[0]))
}

describe('TensorBoard event files', () => {
  it('SummaryWriter frames each Event as a TFRecord with masked CRC32Cs, the file version first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-tb-'))
    const writer = new ft.tensorboard.SummaryWriter(dir)
    writer.addScalar('loss/train', 2.5, 1)
    writer.addScalar('loss/train', 1.25, 2)
    writer.close()
    expect(() => writer.addScalar('loss/train', 1, 3)).toThrow(/closed/)
    const file = eventFile(dir)
    const events = readRecords(file).map((r) => proto.Event.decode(r))
    expect(events.map((e) => e.what)).toEqual(['fileVersion', 'summary', 'summary'])
    expect(events[0].fileVersion).toBe('brain.Event:2')
    expect(events[0].sourceMetadata?.writer).toBe('ferrite')
    expect(Math.abs(events[0].wallTime - Date.now() / 1000)).toBeLessThan(60)
    expect(events.slice(1).map((e) => [Number(e.step), e.summary?.value?.[0].tag, e.summary?.value?.[0].simpleValue])).toEqual([
      [1, 'loss/train', 2.5],
      [2, 'loss/train', 1.25],
    ])
    // The checks above can fail: one flipped bit of data breaks its CRC.
    const damaged = Buffer.from(file)
    damaged[damaged.length - 6] ^= 1
    expect(() => readRecords(damaged)).toThrow(/bad data CRC/)
    expect(() => writer.addScalar('x', Number('1'), -1)).toThrow(ft.InvalidArgumentError)
  })

  it("scalar and image events are byte for byte those of TensorBoard's writer", () => {
    const golden = JSON.parse(readFileSync(join(FIXTURES, 'tensorboard_golden.json'), 'utf8')) as {
      scalars: { tag: string; value: number | string; step: number; wallTime: number }[]
      images: { tag: string; step: number; wallTime: number; png: string }[]
    }
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-tb-'))
    const writer = new ft.tensorboard.SummaryWriter(dir, { maxQueue: 3 })
    for (const s of golden.scalars) writer.addScalar(s.tag, Number(s.value), s.step, s.wallTime)
    for (const i of golden.images) writer.addImage(i.tag, Buffer.from(i.png, 'hex'), i.step, i.wallTime)
    writer.close()
    const [, ...records] = readRecords(eventFile(dir))
    const expected = readRecords(readFileSync(join(FIXTURES, 'tensorboard_golden.tfevents')))
    expect(records).toHaveLength(golden.scalars.length + golden.images.length)
    records.forEach((record, i) => expect(record.toString('hex'), `event ${i}`).toBe(expected[i].toString('hex')))
    expect(Buffer.concat(records.map((r) => encodeAgain(r)))).toEqual(readFileSync(join(FIXTURES, 'tensorboard_golden.tfevents')))
    expect(() => new ft.tensorboard.SummaryWriter(dir).addImage('x', Buffer.from('not a png'))).toThrow(/bytes of a PNG file/)
  })

  it("TensorBoard's EventAccumulator reads what ferrite train --tensorboard wrote, matching the run's history", () => {
    const run = join(FIXTURES, 'tensorboard_run')
    const history = JSON.parse(readFileSync(join(run, 'history.json'), 'utf8'))
    const read = JSON.parse(readFileSync(join(run, 'read_by_tensorboard.json'), 'utf8'))
    const epochs = history.trainLoss.length
    const stepsPerEpoch = history.options.limit / history.options.batchSize
    expect(read.fileVersion).toBe(2)
    expect(Object.keys(read.scalars)).toEqual(['epoch/imagesPerSecond', 'epoch/lr', 'epoch/testAccuracy', 'epoch/testLoss', 'epoch/trainLoss', 'step/lr', 'step/trainLoss'])
    const epochSteps = Array.from({ length: epochs }, (_, i) => i + 1)
    for (const [tag, series] of [
      ['epoch/trainLoss', history.trainLoss],
      ['epoch/testLoss', history.testLoss],
      ['epoch/testAccuracy', history.testAccuracy],
      ['epoch/imagesPerSecond', history.imagesPerSecond],
      ['epoch/lr', epochSteps.map(() => history.options.lr)],
    ] as [string, number[]][]) {
      expect(read.scalars[tag].map((e: { step: number }) => e.step), tag).toEqual(epochSteps)
      expect(read.scalars[tag].map((e: { value: number }) => e.value), tag).toEqual(series.map(Math.fround))
    }
    // Every step's loss, and each epoch's mean of them is the epoch's train loss.
    const stepLosses = read.scalars['step/trainLoss']
    expect(stepLosses.map((e: { step: number }) => e.step)).toEqual(Array.from({ length: epochs * stepsPerEpoch }, (_, i) => i + 1))
    for (let epoch = 0; epoch < epochs; epoch++) {
      const losses = stepLosses.slice(epoch * stepsPerEpoch, (epoch + 1) * stepsPerEpoch).map((e: { value: number }) => e.value)
      expect(losses.reduce((a: number, b: number) => a + b) / stepsPerEpoch).toBeCloseTo(history.trainLoss[epoch], 5)
    }
    expect(read.scalars['step/lr'].every((e: { value: number }) => e.value === Math.fround(history.options.lr))).toBe(true)
    // The curves chart as at the end: two panels of 420 pixels.
    expect(read.images.curves).toEqual([expect.objectContaining({ step: epochs, width: 840 })])
    // The committed file is what the reader read: its events, decoded here, give the same numbers.
    const events = readRecords(eventFile(join(run, 'tb'))).map((r) => proto.Event.decode(r))
    const trainLoss = events.filter((e) => e.summary?.value?.[0].tag === 'epoch/trainLoss')
    expect(trainLoss.map((e) => [Number(e.step), e.summary!.value![0].simpleValue, e.wallTime])).toEqual(
      read.scalars['epoch/trainLoss'].map((e: { step: number; value: number; wallTime: number }) => [e.step, e.value, e.wallTime]),
    )
  })

  it('the tensorBoard callback writes the step scalars every `every` steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-tb-'))
    const set = new ft.data.Subset(new ft.data.CIFAR10({ root: join(ROOT, 'data', 'cifar10-sample'), transform: ft.transforms.compose([ft.transforms.toTensor()]) }), [0, 1, 2, 3, 4, 5, 6, 7])
    const model = new ft.models.MyCNN(32, 10)
    const optimizer = new ft.optim.SGD(model.parameters(), { lr: 0.01 })
    const trainLoader = new ft.data.DataLoader(set, { batchSize: 2 })
    const history = await ft.fit(model, { epochs: 2, optimizer, trainLoader, log: () => {}, progress: false, callbacks: [ft.callbacks.tensorBoard(dir, { every: 3 })] })
    const values = readRecords(eventFile(dir))
      .map((r) => proto.Event.decode(r))
      .filter((e) => e.what === 'summary')
      .map((e) => `${e.summary!.value![0].tag}@${Number(e.step)}`)
    expect(values).toEqual([
      'step/trainLoss@3',
      'step/lr@3',
      'epoch/trainLoss@1',
      'epoch/lr@1',
      'epoch/imagesPerSecond@1',
      'step/trainLoss@6',
      'step/lr@6',
      'epoch/trainLoss@2',
      'epoch/lr@2',
      'epoch/imagesPerSecond@2',
      'curves@2',
    ])
    expect(history.testLoss).toEqual([])
    model.dispose()
  })
})

/** A record framed again from its data, as TensorBoard's RecordWriter frames it. */
function encodeAgain(data: Buffer): Buffer {
  const header = Buffer.alloc(8)
  header.writeBigUInt64LE(BigInt(data.length))
  const crc = (bytes: Uint8Array) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(masked(bytes))
    return b
  }
  return Buffer.concat([header, crc(header), data, crc(data)])
}
