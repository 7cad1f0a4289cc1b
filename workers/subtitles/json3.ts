// YouTube's json3 timed text: { events: [{ tStartMs, dDurationMs, segs: [{ utf8 }] }] }.
// Events without text (window definitions, appended line breaks) are skipped;
// styles and window positions are not kept.
import { SubtitleError, SUBTITLE_LIMITS, makeCue, plainRuns, pushCue } from './cues.ts'
import type { Cue } from './cues.ts'

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown): number | null => typeof v === 'number' && Number.isFinite(v) ? v : null

export function parseJson3 (text: string): Cue[] {
  let doc: unknown
  try { doc = JSON.parse(text) } catch { throw new SubtitleError('not a json3 file (not JSON)') }
  if (!isRecord(doc) || !Array.isArray(doc.events)) throw new SubtitleError('not a json3 file (no events)')
  if (doc.events.length > SUBTITLE_LIMITS.maxCues * 2) throw new SubtitleError(`more than ${SUBTITLE_LIMITS.maxCues * 2} events`)
  const cues: Cue[] = []
  for (const e of doc.events) {
    if (!isRecord(e) || !Array.isArray(e.segs)) continue
    const start = num(e.tStartMs)
    const duration = num(e.dDurationMs)
    if (start === null || duration === null) continue
    const words = e.segs.map((s) => isRecord(s) && typeof s.utf8 === 'string' ? s.utf8 : '').join('')
    pushCue(cues, makeCue(start, start + duration, plainRuns(words)))
  }
  return cues
}
