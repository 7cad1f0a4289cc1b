// The strict lexer behind the rewriter (hls-rewrite.ts). Players and ffmpeg
// read playlists with lexers of their own (ffmpeg ends a line at NUL, JavaScript
// regexes at U+2028, some trim U+FEFF); whatever could be read two ways is
// refused here instead of guessed at: control characters anywhere, a header
// other than #EXTM3U, and attribute lists that are not NAME=VALUE[,NAME=VALUE]…
// with upper-case names, one value each and closed quotes.
import { ManifestError } from '../manifest-error.ts'
import { HLS_MAX_CHARS, HLS_MAX_LINE_CHARS } from './hls-syntax.ts'

// C0 controls but CR and LF, DEL, C1 controls (NEL among them), the Unicode
// line and paragraph separators, and a byte order mark past the first character.
const FORBIDDEN = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\ufeff]/

export interface StrictAttribute { value: string, quoted: boolean }

function invalid (message: string): ManifestError {
  return new ManifestError('MANIFEST_INVALID', message)
}

// ASCII spaces only: String.prototype.trim would also eat U+00A0, U+3000…,
// which other readers keep.
export function trimSpaces (text: string): string {
  let start = 0
  let end = text.length
  while (start < end && text.charCodeAt(start) === 32) start++
  while (end > start && text.charCodeAt(end - 1) === 32) end--
  return text.slice(start, end)
}

// The playlist's lines (terminators CRLF, LF or CR), without the header line.
export function strictLines (text: string): string[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text
  if (body.length > HLS_MAX_CHARS) throw new ManifestError('MANIFEST_TOO_LARGE', `playlist exceeds ${HLS_MAX_CHARS} characters`)
  const bad = FORBIDDEN.exec(body)
  if (bad !== null) {
    const code = (bad[0] ?? '').charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')
    throw invalid(`control character U+${code} at offset ${bad.index}`)
  }
  const lines = body.split(/\r\n|\n|\r/)
  for (const line of lines) {
    if (line.length > HLS_MAX_LINE_CHARS) throw new ManifestError('MANIFEST_TOO_LARGE', `playlist line exceeds ${HLS_MAX_LINE_CHARS} characters`)
  }
  if (trimSpaces(lines[0] ?? '') !== '#EXTM3U') throw invalid('not an HLS playlist: the first line is not #EXTM3U')
  return lines.slice(1)
}

const isNameChar = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45

// NAME=VALUE pairs (RFC 8216 4.2). Spaces around the commas are tolerated;
// anything else out of the grammar is an error, and so is a repeated name
// (readers disagree on which one wins).
export function strictAttributes (input: string, where: string): Map<string, StrictAttribute> {
  const out = new Map<string, StrictAttribute>()
  const n = input.length
  let i = 0
  const skipSpaces = (): void => { while (i < n && input.charCodeAt(i) === 32) i++ }
  skipSpaces()
  if (i === n) return out
  for (;;) {
    const start = i
    while (i < n && isNameChar(input.charCodeAt(i))) i++
    if (i === start) throw invalid(`${where}: malformed attribute list (an attribute name expected at ${i})`)
    const name = input.slice(start, i)
    if (input[i] !== '=') throw invalid(`${where}: malformed attribute list ("=" expected after ${name})`)
    i++
    let value: string
    let quoted = false
    if (input[i] === '"') {
      const close = input.indexOf('"', i + 1)
      if (close === -1) throw invalid(`${where}: malformed attribute list (unterminated quoted string in ${name})`)
      value = input.slice(i + 1, close)
      quoted = true
      i = close + 1
    } else {
      const valueStart = i
      while (i < n && input[i] !== ',' && input[i] !== '"' && input[i] !== ' ') i++
      value = input.slice(valueStart, i)
      if (value === '') throw invalid(`${where}: malformed attribute list (${name} has no value)`)
    }
    if (out.has(name)) throw invalid(`${where}: malformed attribute list (${name} given twice)`)
    out.set(name, { value, quoted })
    skipSpaces()
    if (i === n) return out
    if (input[i] !== ',') throw invalid(`${where}: malformed attribute list (unexpected character after ${name})`)
    i++
    skipSpaces()
    if (i === n) throw invalid(`${where}: malformed attribute list (trailing comma)`)
  }
}
