// Cue text markup (WebVTT's and SubRip's) → style runs. Only <b>, <i> and <u>
// survive, as styles; every other tag (classes, voices, ruby, inline
// timestamps, <font>) and SubRip's {\an8}-style overrides are dropped, keeping
// their text. Unbalanced tags cannot leak: styles are flags, not tags.
import type { Run } from './cues.ts'

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'', nbsp: '\u00a0', lrm: '\u200e', rlm: '\u200f' }

export function decodeEntities (text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]{2,6});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole
    }
    return NAMED[ref] ?? whole
  })
}

const STYLES = new Set(['b', 'i', 'u'])

// entities: WebVTT decodes character references; SubRip text is literal
export function parseMarkup (text: string, entities: boolean): Run[] {
  const runs: Run[] = []
  const depth = { b: 0, i: 0, u: 0 }
  const push = (raw: string): void => {
    if (raw === '') return
    runs.push({ text: entities ? decodeEntities(raw) : raw, b: depth.b > 0, i: depth.i > 0, u: depth.u > 0 })
  }
  // a tag: "<" then a name (or "/" and a name, or an inline timestamp) up to ">"; SubRip overrides: "{\" … "}"
  const token = /<(\/?)([A-Za-z][A-Za-z0-9]*|\d[\d:.]*)(?:[.\s][^<>]*)?>|\{\\[^{}]*\}/g
  let at = 0
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    push(text.slice(at, m.index))
    at = m.index + m[0].length
    const name = (m[2] ?? '').toLowerCase()
    if (!STYLES.has(name)) continue
    const key = name as 'b' | 'i' | 'u'
    if (m[1] === '/') depth[key] = Math.max(0, depth[key] - 1)
    else depth[key]++
  }
  push(text.slice(at))
  // a lone "<" or ">" that was no tag is text, and is written escaped (WebVTT) or as is (SubRip)
  return runs
}
