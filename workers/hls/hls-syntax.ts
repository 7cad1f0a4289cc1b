// Shared lexical rules for HLS playlists: size limits, the #EXTM3U header,
// line splitting, tag splitting and attribute lists (RFC 8216 section 4.2).
import { ManifestError, resolveUrl } from '../manifest-error.ts'
import type { ByteRange, HlsKey, Resolution } from './hls-types.ts'

export const HLS_MAX_CHARS = 16 * 1024 * 1024
export const HLS_MAX_LINE_CHARS = 1024 * 1024

export interface HlsLine {
  text: string
  eol: string
}

export interface HlsAttribute {
  name: string
  value: string
  quoted: boolean
  // Span of the raw value in the attribute list, quotes included.
  rawStart: number
  rawEnd: number
}

export interface HlsTag {
  name: string
  value: string
  // Offset of value within the line (after the colon).
  valueStart: number
}

const LINE_BREAK = /\r\n|\n|\r/g
const BOM = '\uFEFF'

// Splits into lines that keep their exact terminators, so joining text + eol
// reproduces the input byte for byte. A leading BOM stays in the first line.
export function splitPlaylist (text: string): HlsLine[] {
  if (text.length > HLS_MAX_CHARS) {
    throw new ManifestError('MANIFEST_TOO_LARGE', `playlist exceeds ${HLS_MAX_CHARS} characters`)
  }
  const lines: HlsLine[] = []
  let start = 0
  for (const match of text.matchAll(LINE_BREAK)) {
    lines.push({ text: text.slice(start, match.index), eol: match[0] })
    start = match.index + match[0].length
  }
  if (start < text.length) lines.push({ text: text.slice(start), eol: '' })
  for (const line of lines) {
    if (line.text.length > HLS_MAX_LINE_CHARS) {
      throw new ManifestError('MANIFEST_TOO_LARGE', `playlist line exceeds ${HLS_MAX_LINE_CHARS} characters`)
    }
  }
  const first = lines[0]?.text ?? ''
  const header = first.startsWith(BOM) ? first.slice(1) : first
  if (!header.trimEnd().startsWith('#EXTM3U')) {
    throw new ManifestError('MANIFEST_INVALID', 'not an HLS playlist: missing #EXTM3U header')
  }
  return lines
}

export function splitTag (line: string): HlsTag {
  const colon = line.indexOf(':')
  if (colon === -1) return { name: line.trimEnd(), value: '', valueStart: line.length }
  return { name: line.slice(0, colon), value: line.slice(colon + 1), valueStart: colon + 1 }
}

export function parseAttributeList (input: string): HlsAttribute[] {
  const out: HlsAttribute[] = []
  const n = input.length
  let i = 0
  while (i < n) {
    while (i < n && (input[i] === ',' || input[i] === ' ' || input[i] === '\t')) i++
    if (i >= n) break
    let j = i
    while (j < n && input[j] !== '=' && input[j] !== ',') j++
    const name = input.slice(i, j).trim()
    if (j >= n || input[j] === ',') {
      i = j
      continue
    }
    j++
    while (j < n && (input[j] === ' ' || input[j] === '\t')) j++
    if (input[j] === '"') {
      const close = input.indexOf('"', j + 1)
      const rawEnd = close === -1 ? n : close + 1
      out.push({ name, value: input.slice(j + 1, close === -1 ? n : close), quoted: true, rawStart: j, rawEnd })
      i = rawEnd
      while (i < n && input[i] !== ',') i++
    } else {
      const comma = input.indexOf(',', j)
      const rawEnd = comma === -1 ? n : comma
      out.push({ name, value: input.slice(j, rawEnd).trim(), quoted: false, rawStart: j, rawEnd })
      i = rawEnd
    }
  }
  return out
}

// First occurrence wins; a Map keeps names like __proto__ inert.
export function attributeMap (input: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const attr of parseAttributeList(input)) {
    if (attr.name !== '' && !map.has(attr.name)) map.set(attr.name, attr.value)
  }
  return map
}

export function parseNonNegativeInt (value: string | undefined): number | null {
  if (value === undefined) return null
  const trimmed = value.trim()
  if (!/^\d{1,15}$/.test(trimmed)) return null
  return Number(trimmed)
}

export function parseNonNegativeNumber (value: string | undefined): number | null {
  if (value === undefined) return null
  const trimmed = value.trim()
  if (!/^(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})$/.test(trimmed)) return null
  return Number(trimmed)
}

export function parseResolution (value: string | undefined): Resolution | null {
  const match = /^(\d{1,6})x(\d{1,6})$/i.exec(value?.trim() ?? '')
  if (match === null) return null
  return { width: Number(match[1]), height: Number(match[2]) }
}

// "<length>[@<offset>]"; offset is null when absent (the implicit-offset rule
// is applied by the caller, which knows the previous segment).
export function parseByteRangeSpec (value: string): { length: number, offset: number | null } | null {
  const match = /^\s*(\d{1,15})(?:@(\d{1,15}))?\s*$/.exec(value)
  if (match === null) return null
  return { length: Number(match[1]), offset: match[2] === undefined ? null : Number(match[2]) }
}

export function parseMapByteRange (value: string | undefined): ByteRange | null {
  if (value === undefined) return null
  const spec = parseByteRangeSpec(value)
  if (spec === null) throw new ManifestError('MANIFEST_INVALID', 'invalid EXT-X-MAP BYTERANGE')
  return { length: spec.length, offset: spec.offset ?? 0 }
}

export function isUriLine (text: string): boolean {
  const trimmed = text.trim()
  return trimmed !== '' && !trimmed.startsWith('#')
}

export function parseKey (attrs: Map<string, string>, baseUrl: string, tagName: string): HlsKey {
  const method = attrs.get('METHOD')
  if (method === undefined || method === '') {
    throw new ManifestError('MANIFEST_INVALID', `${tagName} without METHOD`)
  }
  const uri = attrs.get('URI')
  return {
    method,
    uri: uri === undefined ? null : resolveUrl(uri, baseUrl),
    iv: attrs.get('IV') ?? null,
    keyFormat: attrs.get('KEYFORMAT') ?? null,
    keyFormatVersions: attrs.get('KEYFORMATVERSIONS') ?? null
  }
}

// Quotes and control characters are percent-encoded so a URI can sit inside a
// quoted-string or on its own line without changing the playlist structure.
export function encodeUnsafeUriChars (uri: string): string {
  return uri.replace(/["\u0000-\u001f\u007f]/g, ch => '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}
