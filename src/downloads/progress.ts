// yt-dlp stdout → progress. Reads our own template lines (args.ts) and, as a
// fallback for builds that ignore the template, the default "[download]  42.0% of
// ~10.00MiB at 1.2MiB/s ETA 00:05" lines. A split download (video then audio)
// is folded into one monotonic percentage.
import { DONE_PREFIX, FORMATS_PREFIX, PROGRESS_PREFIX } from './args.ts'

export interface ProgressSample {
  status: 'downloading' | 'finished' | 'error'
  downloaded: number | null
  total: number | null
  speed: number | null
  eta: number | null
  formatId: string | null
}

export type OutputLine =
  | { kind: 'progress', sample: ProgressSample }
  | { kind: 'formats', parts: string[] }
  | { kind: 'done', path: string, title: string | null }
  | { kind: 'other' }

export interface Progress {
  percent: number
  downloaded_bytes: number
  total_bytes: number | null
  speed: number | null
  eta: number | null
}

const NA = (v: string | undefined): boolean => v === undefined || v === '' || v === 'NA' || v === 'None'

function num (v: string | undefined): number | null {
  if (NA(v)) return null
  const n = Number(v)
  return Number.isFinite(n) && n >= 0 ? n : null
}

const UNITS: Readonly<Record<string, number>> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }

function size (text: string | undefined): number | null {
  const m = /^~?\s*([\d.]+)\s*([KMGT]?i?B)$/.exec(text?.trim() ?? '')
  const unit = m?.[2] === undefined ? undefined : UNITS[m[2]]
  return m === null || unit === undefined ? null : Math.round(Number(m[1]) * unit)
}

function clock (text: string | undefined): number | null {
  if (text === undefined || !/^\d+(?::\d+){0,2}$/.test(text)) return null
  return text.split(':').reduce((acc, part) => acc * 60 + Number(part), 0)
}

function jsonString (text: string | undefined): string | null {
  if (text === undefined || NA(text)) return null
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'string' ? value : null
  } catch {
    return null
  }
}

// "[download]  42.0% of ~  10.00MiB at    1.20MiB/s ETA 00:05 (frag 3/10)"
const DEFAULT_LINE = /^\[download\]\s+([\d.]+)%\s+of\s+(~?\s*[\d.]+\s*[KMGT]?i?B)(?:\s+at\s+(\S+?)\/s)?(?:\s+ETA\s+(\S+))?/

export function parseOutputLine (line: string): OutputLine {
  const fields = line.split('\t')
  const head = fields[0]
  if (head === PROGRESS_PREFIX) {
    const status = fields[1]
    const downloaded = num(fields[2])
    return {
      kind: 'progress',
      sample: {
        status: status === 'finished' ? 'finished' : status === 'error' ? 'error' : 'downloading',
        downloaded,
        total: num(fields[3]) ?? num(fields[4]),
        speed: num(fields[5]),
        eta: num(fields[6]),
        formatId: NA(fields[9]) ? null : fields.slice(9).join('\t')
      }
    }
  }
  if (head === FORMATS_PREFIX) {
    let parts: string[] = []
    try {
      const value: unknown = JSON.parse(fields[2] ?? 'null')
      if (Array.isArray(value)) parts = value.filter((x): x is string => typeof x === 'string')
    } catch {}
    if (parts.length === 0 && !NA(fields[1])) parts = (fields[1] ?? '').split('+')
    return { kind: 'formats', parts }
  }
  if (head === DONE_PREFIX) {
    const path = jsonString(fields[1])
    return path === null ? { kind: 'other' } : { kind: 'done', path, title: jsonString(fields[2]) }
  }
  const m = DEFAULT_LINE.exec(line.trim())
  if (m !== null) {
    const percent = Number(m[1])
    const total = size(m[2])
    return {
      kind: 'progress',
      sample: {
        status: percent >= 100 ? 'finished' : 'downloading',
        downloaded: total === null ? null : Math.round(total * percent / 100),
        total,
        speed: size(m[3] === undefined ? undefined : m[3]),
        eta: clock(m[4]),
        formatId: null
      }
    }
  }
  return { kind: 'other' }
}

// The download phase covers 0–99 %; the last point is reached when the file is in place.
const DOWNLOAD_SHARE = 99

export interface ProgressTracker {
  setParts: (parts: readonly string[]) => void
  add: (sample: ProgressSample) => Progress
  current: () => Progress
}

export function createProgressTracker (): ProgressTracker {
  let parts: readonly string[] = []
  let partIndex = 0
  let partKey: string | null = null
  let finishedBytes = 0
  let lastPartBytes = 0
  let state: Progress = { percent: 0, downloaded_bytes: 0, total_bytes: null, speed: null, eta: null }

  return {
    setParts (list) { parts = list },
    add (sample) {
      const key = sample.formatId
      if (partKey !== null && key !== null && key !== partKey) {
        // the next part of a split download started
        finishedBytes += lastPartBytes
        lastPartBytes = 0
        partIndex++
      }
      if (key !== null) partKey = key
      const indexed = key === null ? -1 : parts.indexOf(key)
      if (indexed >= partIndex) partIndex = indexed
      const count = Math.max(parts.length, partIndex + 1, 1)
      const done = sample.downloaded ?? 0
      lastPartBytes = Math.max(lastPartBytes, done)
      const fraction = sample.status === 'finished' ? 1 : sample.total !== null && sample.total > 0 ? Math.min(1, done / sample.total) : 0
      const percent = Math.min(DOWNLOAD_SHARE, ((partIndex + fraction) / count) * DOWNLOAD_SHARE)
      const lastPart = partIndex >= count - 1
      state = {
        percent: Math.max(state.percent, Math.round(percent * 10) / 10),
        downloaded_bytes: Math.round(Math.max(state.downloaded_bytes, finishedBytes + done)),
        // whole bytes: yt-dlp's total_bytes_estimate and its "12.3MiB" lines are fractional
        total_bytes: lastPart && sample.total !== null ? Math.round(finishedBytes + Math.max(sample.total, done)) : state.total_bytes,
        speed: sample.status === 'finished' ? null : sample.speed,
        eta: sample.status === 'finished' ? null : sample.eta === null ? null : Math.round(sample.eta)
      }
      return state
    },
    current: () => state
  }
}
