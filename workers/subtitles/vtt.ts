// WebVTT in and out. Reading keeps only cues (timing, checked settings, text
// as style runs); headers, identifiers, NOTE, STYLE and REGION blocks are
// dropped. Writing re-serializes from that model with the text escaped.
import { SubtitleError, makeCue, pushCue, timestamp, writeRuns } from './cues.ts'
import type { Cue } from './cues.ts'
import { parseMarkup } from './markup.ts'

const TIME = /^(?:(\d{2,3}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/
const TIMING = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$/
const SETTINGS: ReadonlyArray<readonly [string, RegExp]> = [
  ['vertical', /^(?:rl|lr)$/],
  ['line', /^(?:-?\d{1,3}|\d{1,3}(?:\.\d{1,3})?%)(?:,(?:start|center|end))?$/],
  ['position', /^\d{1,3}(?:\.\d{1,3})?%(?:,(?:line-left|center|line-right))?$/],
  ['size', /^\d{1,3}(?:\.\d{1,3})?%$/],
  ['align', /^(?:start|center|end|left|right)$/]
]

export function parseVttTime (text: string): number | null {
  const m = TIME.exec(text)
  if (m === null) return null
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4])
}

// Known settings with valid values, each name once (the last wins); everything else is dropped.
export function checkSettings (raw: string): string {
  const kept = new Map<string, string>()
  for (const token of raw.split(/[ \t]+/)) {
    const colon = token.indexOf(':')
    if (colon <= 0) continue
    const name = token.slice(0, colon)
    const value = token.slice(colon + 1)
    const rule = SETTINGS.find(([n]) => n === name)
    if (rule !== undefined && rule[1].test(value)) kept.set(name, value)
  }
  return [...kept].map(([n, v]) => `${n}:${v}`).join(' ')
}

// text: decoded, newlines as \n
export function parseVtt (text: string): Cue[] {
  if (!/^WEBVTT(?:[ \t][^\n]*)?(?:\n|$)/.test(text)) throw new SubtitleError('not a WebVTT file (no WEBVTT header)')
  const lines = text.split('\n')
  const cues: Cue[] = []
  let i = 1
  // the header runs to the first blank line
  while (i < lines.length && (lines[i] ?? '').trim() !== '') i++
  while (i < lines.length) {
    const line = lines[i] ?? ''
    const timing = line.includes('-->') ? TIMING.exec(line.trim()) : null
    if (timing === null) { i++; continue }
    i++
    const start = parseVttTime(timing[1] ?? '')
    const end = parseVttTime(timing[2] ?? '')
    const body: string[] = []
    // the text runs to a blank line, or to a line with "-->" (which starts the next cue)
    while (i < lines.length && (lines[i] ?? '').trim() !== '' && !(lines[i] ?? '').includes('-->')) body.push(lines[i++] ?? '')
    if (start === null || end === null) continue
    pushCue(cues, makeCue(start, end, parseMarkup(body.join('\n'), true), checkSettings(timing[3] ?? '')))
  }
  return cues
}

const escapeVtt = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function writeVtt (cues: readonly Cue[]): string {
  let out = 'WEBVTT\n\n'
  for (const c of cues) {
    out += `${timestamp(c.start, '.')} --> ${timestamp(c.end, '.')}${c.settings === '' ? '' : ` ${c.settings}`}\n${writeRuns(c.runs, escapeVtt)}\n\n`
  }
  return out
}
