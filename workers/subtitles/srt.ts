// SubRip in and out. Reading: blocks of an optional counter, a timing line and
// text lines; blocks without a valid timing line are dropped, and a file in
// which nothing is a cue is refused. Writing numbers the cues from 1.
import { SubtitleError, makeCue, pushCue, timestamp, writeRuns } from './cues.ts'
import type { Cue } from './cues.ts'
import { parseMarkup } from './markup.ts'

const TIMING = /^(\d{1,3}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})[ \t]*-->[ \t]*(\d{1,3}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})(?:[ \t].*)?$/

function ms (h: string, m: string, s: string, frac: string): number {
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(frac.padEnd(3, '0'))
}

export function parseSrt (text: string): Cue[] {
  const lines = text.split('\n')
  const cues: Cue[] = []
  let other = 0
  let i = 0
  while (i < lines.length) {
    const line = (lines[i] ?? '').trim()
    const t = TIMING.exec(line)
    if (t === null) {
      if (line !== '' && !/^\d+$/.test(line)) other++
      i++
      continue
    }
    i++
    const body: string[] = []
    while (i < lines.length && (lines[i] ?? '').trim() !== '') body.push(lines[i++] ?? '')
    const [, h1 = '', m1 = '', s1 = '', f1 = '', h2 = '', m2 = '', s2 = '', f2 = ''] = t
    if (Number(m1) > 59 || Number(s1) > 59 || Number(m2) > 59 || Number(s2) > 59) continue
    pushCue(cues, makeCue(ms(h1, m1, s1, f1), ms(h2, m2, s2, f2), parseMarkup(body.join('\n'), false)))
  }
  if (cues.length === 0 && other > 0) throw new SubtitleError('not a SubRip file (no cue has a valid timing line)')
  return cues
}

// SubRip has no escaping: what would read as a tag, an override or a timing arrow is defused.
const escapeSrt = (text: string): string => text.replace(/<(?=[/A-Za-z])/g, '\u2039').replace(/\{\\/g, '{ \\').replace(/-->/g, '--\u203a')

export function writeSrt (cues: readonly Cue[]): string {
  let out = ''
  cues.forEach((c, n) => {
    out += `${n + 1}\n${timestamp(c.start, ',')} --> ${timestamp(c.end, ',')}\n${writeRuns(c.runs, escapeSrt)}\n\n`
  })
  return out
}
