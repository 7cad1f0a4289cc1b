// Byte ranges (RFC 9110 §14). Only one range is served: a request for several
// ranges gets the whole representation with 200, which §14.2 allows and which
// every media player handles; multipart/byteranges buys nothing for video.

export type RangeSpec =
  | { kind: 'none' }
  | { kind: 'multi' }
  | { kind: 'from', start: number, end: number | null }
  | { kind: 'suffix', length: number }

export interface ByteRange { start: number, end: number }

export interface ContentRange { start: number, end: number, size: number | null }

const NONE: RangeSpec = { kind: 'none' }
const SPEC = /^(\d*)-(\d*)$/
const CONTENT_RANGE = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i
const UNSATISFIED = /^bytes\s+\*\/(\d+)$/i

function int (text: string): number | null {
  if (text.length === 0 || text.length > 15) return null
  return Number(text)
}

// A header we cannot parse is ignored, as §14.2 requires: the client gets 200.
export function parseRange (header: string | undefined): RangeSpec {
  if (header === undefined) return NONE
  const eq = header.indexOf('=')
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return NONE
  const parts = header.slice(eq + 1).split(',').map((p) => p.trim()).filter((p) => p !== '')
  if (parts.length === 0) return NONE
  const specs: RangeSpec[] = []
  for (const part of parts) {
    const m = SPEC.exec(part)
    if (m === null) return NONE
    const first = int(m[1] ?? '')
    const last = int(m[2] ?? '')
    if (first === null && last === null) return NONE
    if (first === null && last !== null) specs.push({ kind: 'suffix', length: last })
    else if (first !== null && (last === null || last >= first)) specs.push({ kind: 'from', start: first, end: last })
    else return NONE
  }
  return specs.length === 1 && specs[0] !== undefined ? specs[0] : { kind: 'multi' }
}

export type SingleRange = Extract<RangeSpec, { kind: 'from' | 'suffix' }>

// null: unsatisfiable for a representation of this size (answer 416).
export function resolveRange (spec: SingleRange, size: number): ByteRange | null {
  if (spec.kind === 'from') {
    if (spec.start >= size) return null
    return { start: spec.start, end: spec.end === null ? size - 1 : Math.min(spec.end, size - 1) }
  }
  if (spec.length === 0 || size === 0) return null
  return { start: Math.max(0, size - spec.length), end: size - 1 }
}

// The Range header we send upstream for a client spec.
export function rangeHeader (spec: RangeSpec): string | null {
  if (spec.kind === 'from') return `bytes=${spec.start}-${spec.end ?? ''}`
  if (spec.kind === 'suffix') return `bytes=-${spec.length}`
  return null
}

export function parseContentRange (value: string | undefined): ContentRange | null {
  if (value === undefined) return null
  const m = CONTENT_RANGE.exec(value.trim())
  if (m === null) return null
  const start = int(m[1] ?? '')
  const end = int(m[2] ?? '')
  const size = m[3] === '*' ? null : int(m[3] ?? '')
  if (start === null || end === null || end < start || (m[3] !== '*' && (size === null || end >= size))) return null
  return { start, end, size }
}

export function parseUnsatisfiedSize (value: string | undefined): number | null {
  const m = value === undefined ? null : UNSATISFIED.exec(value.trim())
  return m === null ? null : int(m[1] ?? '')
}

export function formatContentRange (range: ByteRange, size: number | null): string {
  return `bytes ${range.start}-${range.end}/${size ?? '*'}`
}
