/**
 * TFRecord framing, the container of TensorBoard's event files: each record is its length
 * (uint64, little-endian), the masked CRC32C of those 8 bytes, the data, and the masked CRC32C
 * of the data.
 */
import { crc32c } from '@node-rs/crc32'

/** TensorFlow's masked CRC32C: the checksum rotated right by 15 bits plus a constant, so CRCs of CRCs stay distinct. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0
}

/** `data` framed as one TFRecord. */
export function encodeRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(data.length + 16)
  record.writeBigUInt64LE(BigInt(data.length), 0)
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8)
  record.set(data, 12)
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length)
  return record
}
