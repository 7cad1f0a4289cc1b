// Rewrites a playlist so that every URI in it is one of ours. Nothing of the
// input is passed through: each line is parsed strictly (hls-lex.ts) and the
// output is serialized again from what was parsed, tag by tag, attribute by
// attribute, in the input's order. What this file does not model is dropped
// (comments, unknown tags, unknown attributes, titles, content steering,
// date ranges with their client attributes); what it cannot read one way only
// is refused with a ManifestError. Free text that survives (rendition names,
// session data values) is reduced to letters, digits and a little punctuation,
// and group ids are renamed, so no value can carry an address either.
import { ManifestError } from '../manifest-error.ts'
import { strictAttributes, strictLines, trimSpaces } from './hls-lex.ts'
import type { StrictAttribute } from './hls-lex.ts'
import { encodeUnsafeUriChars } from './hls-syntax.ts'
import type { HlsUriKind } from './hls-types.ts'

export type MapUri = (absoluteUrl: string, kind: HlsUriKind) => string

// The output: parts[0], the link of uris[slots[0]], parts[1], … parts[slots.length].
export interface HlsRewrite {
  parts: string[]
  slots: number[]
  uris: Array<{ url: string, kind: HlsUriKind }>
}

// Distinct URIs per playlist (each becomes a signed link): ten hours of 2 s segments.
export const HLS_MAX_URIS = 20_000

type Piece = string | number
type Line = Piece[]
type Attrs = Map<string, StrictAttribute>

const MASTER_ONLY: ReadonlySet<string> = new Set(['#EXT-X-STREAM-INF', '#EXT-X-I-FRAME-STREAM-INF', '#EXT-X-MEDIA', '#EXT-X-SESSION-DATA', '#EXT-X-SESSION-KEY', '#EXT-X-CONTENT-STEERING'])
const MEDIA_ONLY: ReadonlySet<string> = new Set([
  '#EXTINF', '#EXT-X-TARGETDURATION', '#EXT-X-MEDIA-SEQUENCE', '#EXT-X-DISCONTINUITY-SEQUENCE', '#EXT-X-PLAYLIST-TYPE', '#EXT-X-ENDLIST',
  '#EXT-X-I-FRAMES-ONLY', '#EXT-X-KEY', '#EXT-X-MAP', '#EXT-X-BYTERANGE', '#EXT-X-DISCONTINUITY', '#EXT-X-PROGRAM-DATE-TIME', '#EXT-X-GAP',
  '#EXT-X-BITRATE', '#EXT-X-PART', '#EXT-X-PART-INF', '#EXT-X-SERVER-CONTROL', '#EXT-X-PRELOAD-HINT', '#EXT-X-RENDITION-REPORT', '#EXT-X-SKIP',
  '#EXT-X-DATERANGE'
])

const INT = /^\d{1,15}$/
const FLOAT = /^\d{1,15}(?:\.\d{0,15})?$/
const SIGNED_FLOAT = /^-?\d{1,15}(?:\.\d{0,15})?$/
const HEX = /^0[xX][0-9A-Fa-f]{1,64}$/
const RESOLUTION = /^\d{1,6}x\d{1,6}$/
const BYTERANGE = /^\d{1,15}(?:@\d{1,15})?$/
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}(?::?\d{2})?)$/
const CODECS = /^[A-Za-z0-9.+-]{1,64}(?:, ?[A-Za-z0-9.+-]{1,64}){0,15}$/
const LANGUAGE = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,5}$/
const CHANNELS = /^[A-Za-z0-9-]{1,16}(?:\/[A-Za-z0-9,-]{1,64}){0,3}$/
const CHARACTERISTICS = /^[A-Za-z0-9._-]{1,64}(?:,[A-Za-z0-9._-]{1,64}){0,15}$/
const INSTREAM_ID = /^(?:CC[1-4]|SERVICE(?:[1-9]|[1-5][0-9]|6[0-3]))$/
const DATA_ID = /^[A-Za-z0-9._-]{1,128}$/
const KEYFORMATVERSIONS = /^\d{1,5}(?:\/\d{1,5}){0,15}$/
const VARIABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/
const VARIABLE_REF = /\{\$([A-Za-z0-9_-]*)\}/g
const KEY_METHODS: ReadonlySet<string> = new Set(['NONE', 'AES-128', 'SAMPLE-AES', 'SAMPLE-AES-CTR'])

function invalid (message: string): ManifestError {
  return new ManifestError('MANIFEST_INVALID', message)
}

function unsupported (message: string): ManifestError {
  return new ManifestError('MANIFEST_UNSUPPORTED', message)
}

// Letters, marks, digits, spaces and . , ( ) _ + ' & ! - only: no ":", "/",
// "\", "@", "%", quotes or "#", so no URI, path or escape survives.
function freeText (value: string, max = 64): string {
  const kept = value.replace(/[^\p{L}\p{M}\p{N} .,()_+'&!-]/gu, '').replace(/ {2,}/g, ' ')
  return Array.from(trimSpaces(kept)).slice(0, max).join('')
}

// "4." is a decimal-floating-point to some readers and not to others.
const decimal = (value: string): string => value.endsWith('.') ? value.slice(0, -1) : value

class TagLine {
  private readonly pieces: Piece[]
  private first = true
  constructor (name: string) { this.pieces = [name + ':'] }
  private sep (): string {
    const s = this.first ? '' : ','
    this.first = false
    return s
  }

  plain (name: string, value: string | null): this {
    if (value !== null) this.pieces.push(`${this.sep()}${name}=${value}`)
    return this
  }

  quoted (name: string, value: string | null): this {
    if (value !== null) this.pieces.push(`${this.sep()}${name}="${value}"`)
    return this
  }

  uri (name: string, slot: number): this {
    this.pieces.push(`${this.sep()}${name}="`, slot, '"')
    return this
  }

  empty (): boolean { return this.first }
  line (): Line { return this.pieces }
}

class Rewriter {
  readonly uris: HlsRewrite['uris'] = []
  private readonly index = new Map<string, number>()
  private readonly groups = new Map<string, string>()
  private readonly variables = new Map<string, string>()
  where = ''

  constructor (private readonly baseUrl: URL) {}

  // A variable reference ({$name}) is replaced once the playlist defines variables.
  substitute (value: string): string {
    if (this.variables.size === 0) return value
    return value.replace(VARIABLE_REF, (_, name: string) => {
      const defined = this.variables.get(name)
      if (defined === undefined) throw invalid(`${this.where}: undefined variable reference`)
      return defined
    })
  }

  define (attrs: Attrs): void {
    const name = attrs.get('NAME')
    const queryParam = attrs.get('QUERYPARAM')
    if (attrs.has('IMPORT')) throw unsupported(`${this.where}: variables imported from a multivariant playlist`)
    const key = name?.value ?? queryParam?.value ?? ''
    if (!VARIABLE_NAME.test(key) || (name !== undefined) === (queryParam !== undefined)) throw invalid(`${this.where}: malformed #EXT-X-DEFINE`)
    if (this.variables.has(key)) throw invalid(`${this.where}: a variable defined twice`)
    let value: string | null
    if (name !== undefined) {
      value = attrs.get('VALUE')?.value ?? null
    } else {
      value = this.baseUrl.searchParams.get(key)
    }
    if (value === null) throw invalid(`${this.where}: a variable without a value`)
    this.variables.set(key, value)
  }

  // An http(s) URI, resolved against the playlist's URL, as a slot.
  uri (raw: string, kind: HlsUriKind): number {
    const value = trimSpaces(this.substitute(raw))
    if (value === '') throw invalid(`${this.where}: empty URI`)
    let url: URL
    try { url = new URL(value, this.baseUrl) } catch { throw invalid(`${this.where}: a URI that does not resolve`) }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unsupported(`${this.where}: a URI that is not http(s)`)
    const key = `${kind} ${url.href}`
    let slot = this.index.get(key)
    if (slot === undefined) {
      if (this.uris.length >= HLS_MAX_URIS) throw new ManifestError('MANIFEST_TOO_LARGE', `more than ${HLS_MAX_URIS} URIs`)
      slot = this.uris.length
      this.uris.push({ url: url.href, kind })
      this.index.set(key, slot)
    }
    return slot
  }

  group (value: string): string {
    const original = this.substitute(value)
    let renamed = this.groups.get(original)
    if (renamed === undefined) {
      renamed = `g${this.groups.size}`
      this.groups.set(original, renamed)
    }
    return renamed
  }

  text (attr: StrictAttribute | undefined, max = 64): string | null {
    if (attr === undefined) return null
    const text = freeText(this.substitute(attr.value), max)
    return text === '' ? null : text
  }

  // A typed value: absent → null; present but malformed → refused.
  typed (attrs: Attrs, name: string, pattern: RegExp): string | null {
    const attr = attrs.get(name)
    if (attr === undefined) return null
    if (!pattern.test(attr.value)) throw invalid(`${this.where}: malformed ${name}`)
    return attr.value
  }

  // A value from a known set or of a known shape: anything else drops the attribute.
  token (attrs: Attrs, name: string, allowed: ReadonlySet<string> | RegExp): string | null {
    const attr = attrs.get(name)
    if (attr === undefined) return null
    const value = this.substitute(attr.value)
    const ok = allowed instanceof RegExp ? allowed.test(value) : allowed.has(value)
    return ok ? value : null
  }
}

const YES: ReadonlySet<string> = new Set(['YES'])
const YES_NO: ReadonlySet<string> = new Set(['YES', 'NO'])
const HDCP: ReadonlySet<string> = new Set(['TYPE-0', 'TYPE-1', 'NONE'])
const VIDEO_RANGE: ReadonlySet<string> = new Set(['SDR', 'HLG', 'PQ'])
const RENDITION_TYPES: ReadonlySet<string> = new Set(['AUDIO', 'VIDEO', 'SUBTITLES', 'CLOSED-CAPTIONS'])

function key (r: Rewriter, name: string, attrs: Attrs, kind: 'key' | 'session-key'): Line | null {
  const method = attrs.get('METHOD')?.value
  if (method === undefined) throw invalid(`${r.where}: ${name} without METHOD`)
  if (!KEY_METHODS.has(method)) throw unsupported(`${r.where}: ${name} with an unknown METHOD`)
  if (method === 'NONE') return kind === 'key' ? ['#EXT-X-KEY:METHOD=NONE'] : null
  const format = attrs.get('KEYFORMAT')
  // DRM systems' keys (FairPlay skd:, Widevine data: …) are not ours to serve.
  if (format !== undefined && format.value !== 'identity') return null
  const uri = attrs.get('URI')
  if (uri === undefined) throw invalid(`${r.where}: ${name} without URI`)
  const line = new TagLine(name).plain('METHOD', method).uri('URI', r.uri(uri.value, kind))
  const iv = attrs.get('IV')
  if (iv !== undefined) {
    const value = r.substitute(iv.value)
    if (!HEX.test(value)) throw invalid(`${r.where}: malformed IV`)
    line.plain('IV', value)
  }
  if (format !== undefined) line.quoted('KEYFORMAT', 'identity')
  return line.quoted('KEYFORMATVERSIONS', r.token(attrs, 'KEYFORMATVERSIONS', KEYFORMATVERSIONS)).line()
}

function streamAttributes (r: Rewriter, line: TagLine, attrs: Attrs): TagLine {
  const codecs = r.token(attrs, 'CODECS', CODECS)
  return line
    .plain('BANDWIDTH', r.typed(attrs, 'BANDWIDTH', INT))
    .plain('AVERAGE-BANDWIDTH', r.typed(attrs, 'AVERAGE-BANDWIDTH', INT))
    .plain('SCORE', r.typed(attrs, 'SCORE', FLOAT))
    .quoted('CODECS', codecs)
    .plain('RESOLUTION', r.typed(attrs, 'RESOLUTION', RESOLUTION))
    .plain('HDCP-LEVEL', r.token(attrs, 'HDCP-LEVEL', HDCP))
    .plain('VIDEO-RANGE', r.token(attrs, 'VIDEO-RANGE', VIDEO_RANGE))
}

function groupRef (r: Rewriter, attrs: Attrs, name: string): string | null {
  const attr = attrs.get(name)
  return attr === undefined ? null : r.group(attr.value)
}

function streamInf (r: Rewriter, attrs: Attrs): Line {
  const line = streamAttributes(r, new TagLine('#EXT-X-STREAM-INF'), attrs)
  const frameRate = r.typed(attrs, 'FRAME-RATE', FLOAT)
  line.plain('FRAME-RATE', frameRate === null ? null : decimal(frameRate))
  for (const name of ['AUDIO', 'VIDEO', 'SUBTITLES']) line.quoted(name, groupRef(r, attrs, name))
  const cc = attrs.get('CLOSED-CAPTIONS')
  if (cc !== undefined) {
    if (!cc.quoted && cc.value === 'NONE') line.plain('CLOSED-CAPTIONS', 'NONE')
    else line.quoted('CLOSED-CAPTIONS', r.group(cc.value))
  }
  return line.line()
}

function iFrameStreamInf (r: Rewriter, attrs: Attrs): Line | null {
  const uri = attrs.get('URI')
  if (uri === undefined) return null
  const line = streamAttributes(r, new TagLine('#EXT-X-I-FRAME-STREAM-INF'), attrs)
  line.quoted('VIDEO', groupRef(r, attrs, 'VIDEO'))
  return line.uri('URI', r.uri(uri.value, 'iframe')).line()
}

function media (r: Rewriter, attrs: Attrs): Line | null {
  const type = r.token(attrs, 'TYPE', RENDITION_TYPES)
  const group = attrs.get('GROUP-ID')
  const name = attrs.get('NAME')
  if (type === null || group === undefined || name === undefined) return null
  const uri = attrs.get('URI')
  const instream = r.token(attrs, 'INSTREAM-ID', INSTREAM_ID)
  // closed captions live in the video; a URI on them is not allowed (RFC 8216 4.3.4.1)
  if (type === 'CLOSED-CAPTIONS' && (uri !== undefined || instream === null)) return null
  const line = new TagLine('#EXT-X-MEDIA')
    .plain('TYPE', type)
    .quoted('GROUP-ID', r.group(group.value))
    .quoted('NAME', r.text(name) ?? `${type.toLowerCase()} ${r.group(group.value)}`)
    .quoted('LANGUAGE', r.token(attrs, 'LANGUAGE', LANGUAGE))
    .quoted('ASSOC-LANGUAGE', r.token(attrs, 'ASSOC-LANGUAGE', LANGUAGE))
    .plain('DEFAULT', r.token(attrs, 'DEFAULT', YES_NO))
    .plain('AUTOSELECT', r.token(attrs, 'AUTOSELECT', YES_NO))
    .plain('FORCED', r.token(attrs, 'FORCED', YES_NO))
    .quoted('INSTREAM-ID', instream)
    .quoted('CHARACTERISTICS', r.token(attrs, 'CHARACTERISTICS', CHARACTERISTICS))
    .quoted('CHANNELS', r.token(attrs, 'CHANNELS', CHANNELS))
    .plain('BIT-DEPTH', r.typed(attrs, 'BIT-DEPTH', INT))
    .plain('SAMPLE-RATE', r.typed(attrs, 'SAMPLE-RATE', INT))
  if (uri !== undefined) line.uri('URI', r.uri(uri.value, 'media'))
  return line.line()
}

function sessionData (r: Rewriter, attrs: Attrs): Line | null {
  const id = r.token(attrs, 'DATA-ID', DATA_ID)
  if (id === null) return null
  const line = new TagLine('#EXT-X-SESSION-DATA').quoted('DATA-ID', id)
  const uri = attrs.get('URI')
  if (uri !== undefined) line.uri('URI', r.uri(uri.value, 'session-data'))
  else {
    const value = r.text(attrs.get('VALUE'), 256)
    if (value === null) return null
    line.quoted('VALUE', value)
  }
  return line.quoted('LANGUAGE', r.token(attrs, 'LANGUAGE', LANGUAGE)).line()
}

function start (r: Rewriter, attrs: Attrs): Line | null {
  const offset = r.typed(attrs, 'TIME-OFFSET', SIGNED_FLOAT)
  if (offset === null) return null
  return new TagLine('#EXT-X-START').plain('TIME-OFFSET', decimal(offset)).plain('PRECISE', r.token(attrs, 'PRECISE', YES_NO)).line()
}

function map (r: Rewriter, attrs: Attrs): Line {
  const uri = attrs.get('URI')
  if (uri === undefined) throw invalid(`${r.where}: #EXT-X-MAP without URI`)
  return new TagLine('#EXT-X-MAP').uri('URI', r.uri(uri.value, 'map')).quoted('BYTERANGE', r.typed(attrs, 'BYTERANGE', BYTERANGE)).line()
}

function part (r: Rewriter, attrs: Attrs): Line | null {
  const uri = attrs.get('URI')
  const duration = r.typed(attrs, 'DURATION', FLOAT)
  if (uri === undefined || duration === null) return null
  return new TagLine('#EXT-X-PART')
    .plain('DURATION', decimal(duration))
    .uri('URI', r.uri(uri.value, 'segment'))
    .plain('INDEPENDENT', r.token(attrs, 'INDEPENDENT', YES))
    .quoted('BYTERANGE', r.typed(attrs, 'BYTERANGE', BYTERANGE))
    .plain('GAP', r.token(attrs, 'GAP', YES))
    .line()
}

function preloadHint (r: Rewriter, attrs: Attrs): Line | null {
  const type = r.token(attrs, 'TYPE', new Set(['PART', 'MAP']))
  const uri = attrs.get('URI')
  if (type === null || uri === undefined) return null
  return new TagLine('#EXT-X-PRELOAD-HINT')
    .plain('TYPE', type)
    .uri('URI', r.uri(uri.value, type === 'MAP' ? 'map' : 'segment'))
    .plain('BYTERANGE-START', r.typed(attrs, 'BYTERANGE-START', INT))
    .plain('BYTERANGE-LENGTH', r.typed(attrs, 'BYTERANGE-LENGTH', INT))
    .line()
}

function renditionReport (r: Rewriter, attrs: Attrs): Line | null {
  const uri = attrs.get('URI')
  if (uri === undefined) return null
  return new TagLine('#EXT-X-RENDITION-REPORT')
    .uri('URI', r.uri(uri.value, 'media'))
    .plain('LAST-MSN', r.typed(attrs, 'LAST-MSN', INT))
    .plain('LAST-PART', r.typed(attrs, 'LAST-PART', INT))
    .line()
}

// Only the hold-back distances: blocking reloads and delta updates need
// query parameters our signed links do not carry.
function serverControl (r: Rewriter, attrs: Attrs): Line | null {
  const line = new TagLine('#EXT-X-SERVER-CONTROL')
  for (const name of ['HOLD-BACK', 'PART-HOLD-BACK']) {
    const value = r.typed(attrs, name, FLOAT)
    line.plain(name, value === null ? null : decimal(value))
  }
  return line.empty() ? null : line.line()
}

function partInf (r: Rewriter, attrs: Attrs): Line | null {
  const target = r.typed(attrs, 'PART-TARGET', FLOAT)
  return target === null ? null : [`#EXT-X-PART-INF:PART-TARGET=${decimal(target)}`]
}

// A tag that carries one value (or none) rather than an attribute list.
function simple (r: Rewriter, name: string, value: string | null): Line | null {
  const need = (): string => {
    if (value === null) throw invalid(`${r.where}: ${name} without a value`)
    return trimSpaces(value)
  }
  const none = (): Line => {
    if (value !== null) throw invalid(`${r.where}: ${name} takes no value`)
    return [name]
  }
  const int = (): Line => {
    const v = need()
    if (!INT.test(v)) throw invalid(`${r.where}: malformed ${name}`)
    return [`${name}:${v}`]
  }
  switch (name) {
    case '#EXT-X-VERSION':
    case '#EXT-X-MEDIA-SEQUENCE':
    case '#EXT-X-DISCONTINUITY-SEQUENCE':
    case '#EXT-X-BITRATE':
      return int()
    case '#EXT-X-TARGETDURATION': {
      const v = need()
      if (!FLOAT.test(v)) throw invalid(`${r.where}: malformed ${name}`)
      return [`${name}:${Math.ceil(Number(v))}`]
    }
    case '#EXT-X-PLAYLIST-TYPE': {
      const v = need()
      return v === 'VOD' || v === 'EVENT' ? [`${name}:${v}`] : null
    }
    case '#EXT-X-INDEPENDENT-SEGMENTS':
    case '#EXT-X-ENDLIST':
    case '#EXT-X-I-FRAMES-ONLY':
    case '#EXT-X-DISCONTINUITY':
    case '#EXT-X-GAP':
      return none()
    case '#EXTINF': {
      const v = need()
      const comma = v.indexOf(',')
      const duration = trimSpaces(comma === -1 ? v : v.slice(0, comma))
      if (!FLOAT.test(duration)) throw invalid(`${r.where}: malformed #EXTINF duration`)
      return [`#EXTINF:${decimal(duration)},`]
    }
    case '#EXT-X-BYTERANGE': {
      const v = need()
      if (!BYTERANGE.test(v)) throw invalid(`${r.where}: malformed #EXT-X-BYTERANGE`)
      return [`${name}:${v}`]
    }
    case '#EXT-X-PROGRAM-DATE-TIME': {
      const v = need()
      return DATE_TIME.test(v) ? [`${name}:${v}`] : null
    }
  }
  return null
}

const ATTRIBUTE_TAGS: ReadonlySet<string> = new Set([
  '#EXT-X-STREAM-INF', '#EXT-X-I-FRAME-STREAM-INF', '#EXT-X-MEDIA', '#EXT-X-SESSION-DATA', '#EXT-X-SESSION-KEY', '#EXT-X-KEY', '#EXT-X-MAP',
  '#EXT-X-START', '#EXT-X-DEFINE', '#EXT-X-PART', '#EXT-X-PART-INF', '#EXT-X-SERVER-CONTROL', '#EXT-X-PRELOAD-HINT', '#EXT-X-RENDITION-REPORT'
])

function attributeTag (r: Rewriter, name: string, attrs: Attrs): Line | null {
  switch (name) {
    case '#EXT-X-STREAM-INF': return streamInf(r, attrs)
    case '#EXT-X-I-FRAME-STREAM-INF': return iFrameStreamInf(r, attrs)
    case '#EXT-X-MEDIA': return media(r, attrs)
    case '#EXT-X-SESSION-DATA': return sessionData(r, attrs)
    case '#EXT-X-SESSION-KEY': return key(r, name, attrs, 'session-key')
    case '#EXT-X-KEY': return key(r, name, attrs, 'key')
    case '#EXT-X-MAP': return map(r, attrs)
    case '#EXT-X-START': return start(r, attrs)
    case '#EXT-X-DEFINE': r.define(attrs); return null
    case '#EXT-X-PART': return part(r, attrs)
    case '#EXT-X-PART-INF': return partInf(r, attrs)
    case '#EXT-X-SERVER-CONTROL': return serverControl(r, attrs)
    case '#EXT-X-PRELOAD-HINT': return preloadHint(r, attrs)
    case '#EXT-X-RENDITION-REPORT': return renditionReport(r, attrs)
  }
  return null
}

interface Parsed { tag: string, value: string | null }

function splitTagLine (text: string): Parsed {
  const colon = text.indexOf(':')
  return colon === -1 ? { tag: text, value: null } : { tag: text.slice(0, colon), value: text.slice(colon + 1) }
}

// The parsed form of one tag line, serialized again; null: the tag is dropped.
function tagLine (r: Rewriter, { tag, value }: Parsed): Line | null {
  if (tag === '#EXT-X-SKIP') throw unsupported(`${r.where}: a playlist delta update (#EXT-X-SKIP)`)
  if (ATTRIBUTE_TAGS.has(tag)) {
    if (value === null) throw invalid(`${r.where}: ${tag} without attributes`)
    return attributeTag(r, tag, strictAttributes(value, r.where))
  }
  return simple(r, tag, value)
}

function finish (lines: readonly Line[], uris: HlsRewrite['uris']): HlsRewrite {
  const parts: string[] = []
  const slots: number[] = []
  let text = ''
  for (const line of lines) {
    for (const piece of line) {
      if (typeof piece === 'string') text += piece
      else { parts.push(text); slots.push(piece); text = '' }
    }
    text += '\n'
  }
  parts.push(text)
  return { parts, slots, uris }
}

export function rewriteHlsParts (text: string, baseUrl: string): HlsRewrite {
  let base: URL
  try { base = new URL(baseUrl) } catch { throw invalid('base URL must be absolute') }
  const lines = strictLines(text)
  const tags = lines.map((raw) => {
    const line = trimSpaces(raw)
    if (line !== raw && line.startsWith('#') && raw.startsWith(' ')) return null
    return line.startsWith('#EXT') ? splitTagLine(line) : undefined
  })
  const bad = tags.indexOf(null)
  if (bad !== -1) throw invalid(`line ${bad + 2}: a tag or comment after leading spaces (a URI to some readers)`)
  const master = tags.some((t) => t !== undefined && t !== null && MASTER_ONLY.has(t.tag))
  if (master && tags.some((t) => t !== undefined && t !== null && MEDIA_ONLY.has(t.tag))) {
    throw invalid('both multivariant (master) and media playlist tags')
  }

  const r = new Rewriter(base)
  const out: Line[] = [['#EXTM3U']]
  // media: a segment's tags wait for its URI; master: a variant's tag waits for its URI
  let pending: Array<{ line: Line, inf: boolean }> = []
  let hasInf = false
  let variant: Line | null = null
  for (let i = 0; i < lines.length; i++) {
    const raw = trimSpaces(lines[i] ?? '')
    if (raw === '') continue
    r.where = `line ${i + 2}`
    const parsed = tags[i]
    if (parsed === undefined || parsed === null) {
      if (raw.startsWith('#')) continue // a comment
      if (master) {
        if (variant === null) continue // a URI no #EXT-X-STREAM-INF announced: readers skip it
        out.push(variant, [r.uri(raw, 'variant')])
        variant = null
      } else {
        if (!hasInf) continue // a URI without #EXTINF: readers skip it
        for (const p of pending) out.push(p.line)
        out.push([r.uri(raw, 'segment')])
        pending = []
        hasInf = false
      }
      continue
    }
    const line = tagLine(r, parsed)
    if (line === null) continue
    if (master) {
      if (parsed.tag !== '#EXT-X-STREAM-INF') { out.push(line); continue }
      if (variant !== null) throw invalid(`${r.where}: #EXT-X-STREAM-INF follows one without its URI`)
      variant = line
    } else {
      const inf = parsed.tag === '#EXTINF'
      if (inf && hasInf) throw invalid(`${r.where}: a second #EXTINF for one segment`)
      hasInf ||= inf
      pending.push({ line, inf })
    }
  }
  // what follows the last segment (parts of the next one, hints, reports) stays; a lone #EXTINF does not
  for (const p of pending) if (!p.inf) out.push(p.line)
  return finish(out, r.uris)
}

export function rewriteHls (text: string, baseUrl: string, mapUri: MapUri): string {
  const { parts, slots, uris } = rewriteHlsParts(text, baseUrl)
  const mapped = uris.map(({ url, kind }) => mapSafely(mapUri, url, kind))
  let out = parts[0] ?? ''
  for (let i = 0; i < slots.length; i++) out += (mapped[slots[i] ?? -1] ?? '') + (parts[i + 1] ?? '')
  return out
}

function mapSafely (mapUri: MapUri, absoluteUrl: string, kind: HlsUriKind): string {
  const mapped = encodeUnsafeUriChars(mapUri(absoluteUrl, kind)).replace(/ /g, '%20')
  if (mapped === '' || mapped.startsWith('#')) {
    throw new TypeError(`mapUri returned an unusable URI for a ${kind}`)
  }
  return mapped
}
