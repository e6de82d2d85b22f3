// Damage for valid files: byte flips, truncations, extensions and splices anywhere, and edits
// that know the format: a safetensors header's length and JSON, PNG chunks (with their CRCs
// recomputed, so the decoder gets past the checksum to the edited field), JPEG segments and
// CIFAR-10 records. Each returns the new bytes and what it did, for the case's description.
import { crc32 } from 'node:zlib'
import type { Random } from './random'

export interface Mutation {
  bytes: Buffer
  what: string
}

/** Sizes that a reader must refuse before allocating: used only with FERRITE_FUZZ_HUGE. */
const HUGE_COUNTS = [2 ** 31 - 1, 2 ** 32 - 1, 2 ** 40, 2 ** 53]

function flip(rng: Random, bytes: Buffer): Mutation {
  const out = Buffer.from(bytes)
  const at = Array.from({ length: rng.int(1, 8) }, () => rng.int(0, Math.max(0, out.length - 1)))
  for (const i of at) out[i] = rng.chance(0.5) ? out[i] ^ (1 << rng.int(0, 7)) : rng.int(0, 255)
  return { bytes: out, what: `flip bytes at ${at.join(',')}` }
}

function truncate(rng: Random, bytes: Buffer): Mutation {
  const length = rng.chance(0.5) ? rng.int(0, bytes.length) : Math.max(0, bytes.length - rng.int(1, 16))
  return { bytes: bytes.subarray(0, length), what: `truncate to ${length} of ${bytes.length}` }
}

function extend(rng: Random, bytes: Buffer): Mutation {
  const extra = rng.chance(0.7) ? Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255))) : bytes
  return { bytes: Buffer.concat([bytes, extra]), what: `append ${extra.length} bytes` }
}

function splice(rng: Random, bytes: Buffer): Mutation {
  const a = rng.int(0, bytes.length)
  const b = rng.int(a, Math.min(bytes.length, a + 256))
  const out = rng.chance(0.5) ? Buffer.concat([bytes.subarray(0, a), bytes.subarray(b)]) : Buffer.concat([bytes.subarray(0, b), bytes.subarray(a, b), bytes.subarray(b)])
  return { bytes: out, what: `${out.length < bytes.length ? 'cut' : 'repeat'} bytes ${a}..${b}` }
}

/** One of the format-blind mutations. */
export function blind(rng: Random, bytes: Buffer): Mutation {
  return rng.pick([flip, flip, truncate, extend, splice])(rng, bytes)
}

const ODD_VALUES: unknown[] = [-1, 0, 1.5, 'x', null, [], {}, true, 2 ** 63, 1e300]

/** Edits a safetensors file's 8-byte header length or one field of its JSON header. */
export function safetensorsHeader(rng: Random, bytes: Buffer, huge: boolean): Mutation {
  const n = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, Record<string, unknown>>
  const data = bytes.subarray(8 + n)
  const names = Object.keys(header).filter((k) => k !== '__metadata__')
  const name = rng.pick(names)
  const entry = header[name]
  let what: string
  switch (rng.int(0, 6)) {
    case 0: {
      const length = rng.pick([0, 1, n - 1, n + 1, n + rng.int(2, 100), bytes.length, ...(huge ? HUGE_COUNTS : [])])
      const out = Buffer.from(bytes)
      out.writeBigUInt64LE(BigInt(length), 0)
      return { bytes: out, what: `header length ${n} -> ${length}` }
    }
    case 1:
      entry.dtype = rng.pick(['F16', 'BF16', 'F64', 'I32', 'I8', 'U8', 'BOOL', 'F32', 'I64', 'F8_E4M3', 'nope', 7])
      what = `${name}.dtype = ${JSON.stringify(entry.dtype)}`
      break
    case 2: {
      const shape = [...(entry.shape as number[])]
      const edit = rng.int(0, 3)
      if (edit === 0) shape.push(rng.int(0, 3))
      else if (edit === 1) shape.pop()
      else if (shape.length > 0) shape[rng.int(0, shape.length - 1)] = rng.pick([0, 2, 3, 1000, ...(huge ? HUGE_COUNTS : []), ...(ODD_VALUES as number[])])
      entry.shape = rng.chance(0.1) ? (rng.pick(ODD_VALUES) as number[]) : shape
      what = `${name}.shape = ${JSON.stringify(entry.shape)}`
      break
    }
    case 3: {
      const offsets = [...(entry.data_offsets as number[])]
      const i = rng.int(0, 1)
      offsets[i] = rng.pick([0, offsets[1 - i], offsets[i] + rng.int(-8, 8), data.length, data.length + 1, ...(huge ? HUGE_COUNTS : []), ...(ODD_VALUES as number[])])
      entry.data_offsets = rng.chance(0.1) ? (rng.pick(ODD_VALUES) as number[]) : offsets
      what = `${name}.data_offsets = ${JSON.stringify(entry.data_offsets)}`
      break
    }
    case 4:
      header.__metadata__ = rng.pick([{ a: 1 }, { a: ['x'] }, 'text', [], { [name]: null }, { ok: 'yes' }]) as Record<string, unknown>
      what = `__metadata__ = ${JSON.stringify(header.__metadata__)}`
      break
    case 5:
      if (rng.chance(0.5)) delete header[name]
      else header[rng.pick(['', 'a'.repeat(300), '__metadata__x', name + '\u0000'])] = { ...entry }
      what = `remove or copy ${name}`
      break
    default:
      header[name] = rng.pick(ODD_VALUES) as Record<string, unknown>
      what = `${name} = ${JSON.stringify(header[name])}`
  }
  const json = Buffer.from(JSON.stringify(header))
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(json.length))
  return { bytes: Buffer.concat([length, json, data]), what }
}

interface Chunk {
  type: string
  data: Buffer
}

function pngChunks(bytes: Buffer): Chunk[] {
  const chunks: Chunk[] = []
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at)
    chunks.push({ type: bytes.toString('latin1', at + 4, at + 8), data: bytes.subarray(at + 8, at + 8 + length) })
    at += 12 + length
  }
  return chunks
}

function pngBytes(chunks: Chunk[]): Buffer {
  const parts: Uint8Array[] = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])]
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'latin1')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0)
    parts.push(head, data, crc)
  }
  return Buffer.concat(parts)
}

/** Edits a PNG's header fields or chunks, with valid CRCs. */
export function pngChunk(rng: Random, bytes: Buffer, huge: boolean): Mutation {
  const chunks = pngChunks(bytes)
  const ihdr = Buffer.from(chunks[0].data)
  chunks[0] = { type: 'IHDR', data: ihdr }
  switch (rng.int(0, 4)) {
    case 0: {
      const field = rng.int(0, 1)
      const size = rng.pick([0, 1, 2, 17, 255, 2000, ...(huge ? [65535, 100_000, 2 ** 31 - 1, 2 ** 32 - 1] : [])])
      ihdr.writeUInt32BE(size, field * 4)
      return { bytes: pngBytes(chunks), what: `IHDR ${field ? 'height' : 'width'} = ${size}` }
    }
    case 1: {
      const at = rng.int(8, 12)
      ihdr[at] = rng.pick([0, 1, 2, 3, 4, 6, 7, 8, 16, 255])
      return { bytes: pngBytes(chunks), what: `IHDR byte ${at} (depth, colour, compression, filter, interlace) = ${ihdr[at]}` }
    }
    case 2: {
      const i = rng.int(1, chunks.length - 1)
      const data = Buffer.from(chunks[i].data)
      for (let k = 0; k < rng.int(1, 4) && data.length > 0; k++) data[rng.int(0, data.length - 1)] = rng.int(0, 255)
      chunks[i] = { type: chunks[i].type, data }
      return { bytes: pngBytes(chunks), what: `corrupt ${chunks[i].type} data (CRC fixed)` }
    }
    case 3: {
      const i = rng.int(1, chunks.length - 1)
      const removed = chunks.splice(i, 1)[0]
      return { bytes: pngBytes(chunks), what: `remove ${removed.type}` }
    }
    default: {
      const i = rng.int(1, chunks.length - 1)
      chunks.splice(rng.int(1, chunks.length), 0, chunks[i])
      return { bytes: pngBytes(chunks), what: `repeat ${chunks[i].type}` }
    }
  }
}

/** The start of each JPEG marker segment that carries a length (SOI and EOI do not). */
function jpegSegments(bytes: Buffer): { at: number; marker: number }[] {
  const segments: { at: number; marker: number }[] = []
  for (let at = 2; at + 4 <= bytes.length && bytes[at] === 0xff; ) {
    const marker = bytes[at + 1]
    segments.push({ at, marker })
    if (marker === 0xda) break // SOS: entropy-coded data follows
    at += 2 + bytes.readUInt16BE(at + 2)
  }
  return segments
}

/** Edits a JPEG's frame header (size, components, sampling), a segment length, or its entropy-coded data. */
export function jpegSegment(rng: Random, bytes: Buffer, huge: boolean): Mutation {
  const out = Buffer.from(bytes)
  const segments = jpegSegments(out)
  const sof = segments.find((s) => s.marker === 0xc0 || s.marker === 0xc2)
  const sos = segments.find((s) => s.marker === 0xda)
  switch (rng.int(0, 4)) {
    case 0:
      if (sof) {
        const field = rng.int(0, 1)
        const size = rng.pick([0, 1, 7, 255, 2000, ...(huge ? [65535] : [])])
        out.writeUInt16BE(size, sof.at + 5 + 2 * field)
        return { bytes: out, what: `SOF ${field ? 'width' : 'height'} = ${size}` }
      }
      break
    case 1:
      if (sof) {
        const at = sof.at + rng.int(4, 4 + 2 + 4 + 3 * 3)
        out[at] = rng.pick([0, 1, 2, 3, 4, 0x11, 0x22, 0x44, 0xff])
        return { bytes: out, what: `SOF byte ${at - sof.at} = ${out[at]}` }
      }
      break
    case 2: {
      const s = rng.pick(segments)
      const length = rng.pick([0, 1, 2, out.readUInt16BE(s.at + 2) + rng.int(-4, 4), 0xffff])
      out.writeUInt16BE(Math.max(0, Math.min(0xffff, length)), s.at + 2)
      return { bytes: out, what: `segment 0x${s.marker.toString(16)} length = ${length}` }
    }
    case 3:
      if (sos) {
        // Corrupt entropy-coded data in a file of full length.
        const start = sos.at + 2 + out.readUInt16BE(sos.at + 2)
        const at = Array.from({ length: rng.int(1, 16) }, () => rng.int(start, out.length - 3))
        for (const i of at) out[i] = rng.int(0, 255)
        return { bytes: out, what: `corrupt scan data at ${at.join(',')}` }
      }
      break
  }
  const s = rng.pick(segments)
  const end = s.at + 2 + out.readUInt16BE(s.at + 2)
  return { bytes: Buffer.concat([out.subarray(0, s.at), out.subarray(end)]), what: `remove segment 0x${s.marker.toString(16)}` }
}

/** Edits CIFAR-10 records: a label byte, or a length that is not a whole number of records. */
export function cifarRecords(rng: Random, bytes: Buffer): Mutation {
  const out = Buffer.from(bytes)
  const record = rng.int(0, out.length / 3073 - 1)
  if (rng.chance(0.5)) {
    out[record * 3073] = rng.pick([9, 10, 11, 128, 255])
    return { bytes: out, what: `record ${record} label = ${out[record * 3073]}` }
  }
  const length = rng.pick([0, 1, 3072, 3074, out.length - 1, out.length + 1])
  return { bytes: length <= out.length ? out.subarray(0, length) : Buffer.concat([out, Buffer.alloc(length - out.length)]), what: `length ${length}` }
}
