// A cache record as L2 stores it: the value's expiry and named parts (the
// encoded value, and what a hit is answered with, as it is sent), in one
// buffer that is read without parsing the parts:
//   "VGR1" | expiresAt (float64, ms) | n (uint8) | n × (name length uint8, name, size uint32) | the parts' bytes
// Names are ASCII. Parts read back are views into the record, never copies.
const MAGIC = Buffer.from('VGR1')
const FIXED = MAGIC.length + 8 + 1

export function packRecord (expiresAt: number, parts: ReadonlyArray<readonly [string, Buffer]>): Buffer {
  if (parts.length > 255) throw new RangeError('a cache record holds at most 255 parts')
  let headerBytes = FIXED
  for (const [name] of parts) headerBytes += 1 + Buffer.byteLength(name, 'latin1') + 4
  const total = parts.reduce((n, [, bytes]) => n + bytes.length, headerBytes)
  const out = Buffer.allocUnsafe(total)
  MAGIC.copy(out, 0)
  out.writeDoubleBE(expiresAt, MAGIC.length)
  out.writeUInt8(parts.length, MAGIC.length + 8)
  let at = FIXED
  for (const [name, bytes] of parts) {
    const n = out.write(name, at + 1, 'latin1')
    out.writeUInt8(n, at)
    out.writeUInt32BE(bytes.length, at + 1 + n)
    at += 1 + n + 4
  }
  for (const [, bytes] of parts) at += bytes.copy(out, at)
  return out
}

// null for bytes that are not a whole record
export function unpackRecord (record: Buffer): { expiresAt: number, parts: Map<string, Buffer> } | null {
  if (record.length < FIXED || !record.subarray(0, MAGIC.length).equals(MAGIC)) return null
  const expiresAt = record.readDoubleBE(MAGIC.length)
  const count = record.readUInt8(MAGIC.length + 8)
  const sizes: Array<[string, number]> = []
  let at = FIXED
  for (let i = 0; i < count; i++) {
    if (at + 1 > record.length) return null
    const n = record.readUInt8(at)
    if (at + 1 + n + 4 > record.length) return null
    sizes.push([record.toString('latin1', at + 1, at + 1 + n), record.readUInt32BE(at + 1 + n)])
    at += 1 + n + 4
  }
  const parts = new Map<string, Buffer>()
  for (const [name, size] of sizes) {
    if (at + size > record.length) return null
    parts.set(name, record.subarray(at, at + size))
    at += size
  }
  return at === record.length && Number.isFinite(expiresAt) ? { expiresAt, parts } : null
}
