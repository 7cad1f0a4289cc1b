// The one cue model every subtitle format is read into and written from. Cue
// text is kept as style runs (plain text plus bold/italic/underline), never as
// upstream markup: a served track holds no byte of upstream text that could be
// a tag, an entity, a timing line or a block (NOTE, STYLE, REGION) of its own.

export class SubtitleError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SubtitleError'
  }
}

export interface Run { text: string, b: boolean, i: boolean, u: boolean }

export interface Cue {
  // milliseconds
  start: number
  end: number
  // WebVTT cue settings that passed the checks in vtt.ts ('' when none)
  settings: string
  runs: Run[]
}

export const SUBTITLE_LIMITS = Object.freeze({
  maxCues: 100_000,
  maxCueChars: 4096,
  // 100 hours
  maxMs: 100 * 3600 * 1000
})

// C0 controls other than tab and newline, DEL, C1 controls, and the line/paragraph separators.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g

// Text as a cue may hold it: newlines only as line breaks, no controls, no blank lines.
// A run may start or end mid-line, so only the lines it holds whole lose their
// trailing blanks, and whole lines of whitespace (by String.trim's measure, which
// the readers use for blank lines) go.
export function cleanText (text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').replace(CONTROLS, '').split('\n')
  const last = lines.length - 1
  return lines
    .map((l, n) => n > 0 && n < last && l.trim() === '' ? '' : n < last ? l.replace(/[ \t]+$/, '') : l)
    .join('\n').replace(/\n{2,}/g, '\n')
}

// Input bytes → text: UTF-8 (invalid sequences become U+FFFD), BOM removed, newlines as \n.
export function decodeText (bytes: Uint8Array): string {
  const text = new TextDecoder('utf-8').decode(bytes)
  return (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).replace(/\r\n?/g, '\n')
}

export function plainRuns (text: string): Run[] {
  return [{ text, b: false, i: false, u: false }]
}

// Drops empty runs, joins neighbours of the same style, trims the cue's ends and cleans the text.
export function tidyRuns (runs: readonly Run[]): Run[] {
  const out: Run[] = []
  for (const r of runs) {
    const text = cleanText(r.text)
    if (text === '') continue
    const last = out.at(-1)
    if (last !== undefined && last.b === r.b && last.i === r.i && last.u === r.u) last.text = cleanText(last.text + text)
    else out.push({ text, b: r.b, i: r.i, u: r.u })
  }
  const first = out[0]
  if (first !== undefined) first.text = first.text.replace(/^\s+/, '')
  const last = out.at(-1)
  if (last !== undefined) last.text = last.text.replace(/\s+$/, '')
  return out.filter((r) => r.text !== '')
}

export function cueLength (runs: readonly Run[]): number {
  return runs.reduce((n, r) => n + r.text.length, 0)
}

// A cue that passes every bound, or null for one to drop (empty, reversed or out of range).
export function makeCue (start: number, end: number, runs: readonly Run[], settings = ''): Cue | null {
  if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || end <= start || end > SUBTITLE_LIMITS.maxMs) return null
  const tidy = tidyRuns(runs)
  if (tidy.length === 0) return null
  if (cueLength(tidy) > SUBTITLE_LIMITS.maxCueChars) throw new SubtitleError(`a cue is longer than ${SUBTITLE_LIMITS.maxCueChars} characters`)
  return { start: Math.round(start), end: Math.round(end), settings, runs: tidy }
}

export function pushCue (cues: Cue[], cue: Cue | null): void {
  if (cue === null) return
  if (cues.length >= SUBTITLE_LIMITS.maxCues) throw new SubtitleError(`more than ${SUBTITLE_LIMITS.maxCues} cues`)
  cues.push(cue)
}

// "hh:mm:ss.ttt" with the given separator before the milliseconds (hours at least two digits)
export function timestamp (ms: number, sep: '.' | ','): string {
  const h = Math.floor(ms / 3_600_000)
  const m = Math.floor(ms / 60_000) % 60
  const s = Math.floor(ms / 1000) % 60
  const t = ms % 1000
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(h)}:${two(m)}:${two(s)}${sep}${String(t).padStart(3, '0')}`
}

// Runs → cue text with <b>, <i>, <u> where the style changes; escape() writes the text itself.
export function writeRuns (runs: readonly Run[], escape: (text: string) => string): string {
  let out = ''
  for (const r of runs) {
    const open = (r.b ? '<b>' : '') + (r.i ? '<i>' : '') + (r.u ? '<u>' : '')
    const close = (r.u ? '</u>' : '') + (r.i ? '</i>' : '') + (r.b ? '</b>' : '')
    out += open + escape(r.text) + close
  }
  return out
}
