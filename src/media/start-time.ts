// t= on stream requests: where a remuxed (merged) stream starts, for players
// that cannot send Range. Seconds (90, 90.5) or YouTube's form (1h2m3s, 1m30s, 45s).
import { AppError } from '../errors.ts'

// a week: longer than any video a platform serves
export const MAX_START_SEC = 7 * 86400
const FORM = /^(?:(\d{1,3})h)?(?:(\d{1,5})m)?(?:(\d{1,7}(?:\.\d{1,3})?)s?)?$/

const invalid = (why: string): AppError => new AppError('INVALID_INPUT', `t ${why}`, { detail: 't' })

// undefined (absent or empty): 0
export function parseStartTime (raw: string | undefined): number {
  if (raw === undefined) return 0
  const m = FORM.exec(raw.trim().toLowerCase())
  if (m === null || raw.trim() === '') throw invalid('must be seconds (90, 90.5) or 1h2m3s')
  const sec = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
  if (!Number.isFinite(sec) || sec > MAX_START_SEC) throw invalid(`must be at most ${MAX_START_SEC} seconds`)
  return Math.round(sec * 1000) / 1000
}

// A start at or past the end of the video (when its duration is known) is refused.
export function checkStart (startSec: number, duration: number | null): number {
  if (startSec > 0 && duration !== null && duration > 0 && startSec >= duration) throw invalid(`(${startSec} s) is past the end of the video (${duration} s)`)
  return startSec
}
