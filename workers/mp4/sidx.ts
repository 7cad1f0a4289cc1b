// ISO BMFF segment index ('sidx', ISO/IEC 14496-12 8.16.3): locate the box in
// fetched bytes, read its references as absolute byte ranges, and turn them
// into byte-range segments for buildMediaPlaylist.
import { ManifestError } from '../manifest-error.ts'
import type { ByteRange } from '../hls/hls-types.ts'

export interface BoxLocation {
  type: string
  // offsets within the searched buffer; end is exclusive and may lie past the
  // buffer when the box was only partly fetched
  start: number
  end: number
  headerSize: number
}

export interface SidxReference {
  type: 'media' | 'index'
  size: number
  // seconds
  duration: number
  // absolute byte offset in the file
  offset: number
  startsWithSap: boolean
}

export interface Sidx {
  version: 0 | 1
  referenceId: number
  timescale: number
  // in timescale units, as stored; earliestPresentationTimeSec is the same in seconds
  earliestPresentationTime: number
  earliestPresentationTimeSec: number
  // absolute offsets of the sidx box itself; end is exclusive
  boxStart: number
  boxEnd: number
  references: SidxReference[]
}

export interface SidxSegment {
  duration: number
  byterange: ByteRange
}

function invalid (message: string): never {
  throw new ManifestError('MANIFEST_INVALID', `sidx: ${message}`)
}

function boxType (buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at] ?? 0, buf[at + 1] ?? 0, buf[at + 2] ?? 0, buf[at + 3] ?? 0)
}

// Walks top-level boxes from the start of buf; stops at the first box it
// cannot size (truncated header) or once it passes the end of buf.
export function findBox (buf: Uint8Array, type: string): BoxLocation | null {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let at = 0
  while (at + 8 <= buf.length) {
    let size = view.getUint32(at)
    let headerSize = 8
    if (size === 1) {
      if (at + 16 > buf.length) return null
      size = Number(view.getBigUint64(at + 8))
      headerSize = 16
    } else if (size === 0) {
      size = buf.length - at
    }
    if (size < headerSize || !Number.isSafeInteger(size)) return null
    const found = boxType(buf, at + 4)
    if (found === type) return { type, start: at, end: at + size, headerSize }
    at += size
  }
  return null
}

// sidxOffset: where the sidx box starts in buf. bufFileOffset: the absolute
// file offset of buf[0] (0 when buf is the file from its first byte, or the
// start of the fetched indexRange).
export function parseSidx (buf: Uint8Array, sidxOffset: number, bufFileOffset = 0): Sidx {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (!Number.isSafeInteger(sidxOffset) || sidxOffset < 0 || sidxOffset + 8 > buf.length) invalid('box header out of range')
  let size = view.getUint32(sidxOffset)
  let at = sidxOffset + 8
  if (size === 1) {
    if (sidxOffset + 16 > buf.length) invalid('box header out of range')
    size = Number(view.getBigUint64(sidxOffset + 8))
    at += 8
  }
  if (boxType(buf, sidxOffset + 4) !== 'sidx') invalid(`expected a sidx box, found ${JSON.stringify(boxType(buf, sidxOffset + 4))}`)
  const boxEnd = sidxOffset + size
  if (size === 0 || boxEnd > buf.length) invalid('box is truncated')
  const need = (bytes: number): void => {
    if (at + bytes > boxEnd) invalid('box is shorter than its fields')
  }
  need(12)
  const version = view.getUint8(at)
  if (version !== 0 && version !== 1) invalid(`unsupported version ${version}`)
  const referenceId = view.getUint32(at + 4)
  const timescale = view.getUint32(at + 8)
  if (timescale === 0) invalid('timescale is 0')
  at += 12
  let earliestPresentationTime: number
  let firstOffset: number
  if (version === 0) {
    need(8)
    earliestPresentationTime = view.getUint32(at)
    firstOffset = view.getUint32(at + 4)
    at += 8
  } else {
    need(16)
    earliestPresentationTime = safe(view.getBigUint64(at))
    firstOffset = safe(view.getBigUint64(at + 8))
    at += 16
  }
  need(4)
  const count = view.getUint16(at + 2)
  at += 4
  need(count * 12)
  const references: SidxReference[] = []
  let offset = bufFileOffset + boxEnd + firstOffset
  for (let i = 0; i < count; i++, at += 12) {
    const word = view.getUint32(at)
    const size = word & 0x7fffffff
    references.push({
      type: word >>> 31 === 1 ? 'index' : 'media',
      size,
      duration: view.getUint32(at + 4) / timescale,
      offset,
      startsWithSap: view.getUint8(at + 8) >>> 7 === 1
    })
    offset += size
  }
  return {
    version,
    referenceId,
    timescale,
    earliestPresentationTime,
    earliestPresentationTimeSec: earliestPresentationTime / timescale,
    boxStart: bufFileOffset + sidxOffset,
    boxEnd: bufFileOffset + boxEnd,
    references
  }
}

function safe (value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) invalid('64-bit field exceeds 2^53')
  return Number(value)
}

// indexRangeEnd is the MPD's inclusive indexRange end: media must start after
// it, which catches a sidxOffset/bufFileOffset mix-up. Hierarchical indexes
// ('index' references to further sidx boxes) are not followed.
export function segmentsFromSidx (sidx: Sidx, indexRangeEnd: number): SidxSegment[] {
  if (sidx.references.some(ref => ref.type === 'index')) {
    throw new ManifestError('MANIFEST_UNSUPPORTED', 'sidx: hierarchical segment indexes are not supported')
  }
  const first = sidx.references[0]
  if (first !== undefined && first.offset <= indexRangeEnd) {
    invalid(`first segment at byte ${first.offset} overlaps the index range ending at ${indexRangeEnd}`)
  }
  return sidx.references.map(ref => ({ duration: ref.duration, byterange: { length: ref.size, offset: ref.offset } }))
}
