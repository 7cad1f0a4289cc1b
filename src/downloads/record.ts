// Task records: creation, the guard for records read back from disk or Redis,
// and the public view (links included).
import { isErrorCode } from '../errors.ts'
import { DOWNLOAD_FORMATS, DOWNLOAD_QUALITIES, TASK_STATES } from './types.ts'
import type { DownloadSpec, TaskClient, TaskRecord } from './types.ts'
import type { TaskView } from './schemas.ts'

export const TASKS_PATH = '/api/v2/videos/tasks'
export const FILES_PATH = '/api/v2/files'

export function newRecord (id: string, spec: DownloadSpec, dedupeKey: string, owner: string | null, client: TaskClient | null, now = new Date()): TaskRecord {
  const at = now.toISOString()
  return {
    id,
    spec,
    client,
    dedupe_key: dedupeKey,
    state: 'queued',
    seq: 1,
    attempt: 0,
    percent: 0,
    downloaded_bytes: 0,
    total_bytes: null,
    speed: null,
    eta: null,
    title: null,
    file: null,
    file_size: null,
    error: null,
    owner,
    created_at: at,
    updated_at: at,
    started_at: null,
    finished_at: null
  }
}

// The next version of a record: seq bumped, updated_at stamped.
export function revise (task: TaskRecord, changes: Partial<TaskRecord>, now = new Date()): TaskRecord {
  return { ...task, ...changes, seq: task.seq + 1, updated_at: now.toISOString() }
}

const str = (v: unknown): v is string => typeof v === 'string'
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string'
const numOrNull = (v: unknown): v is number | null => v === null || (typeof v === 'number' && Number.isFinite(v))
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const oneOf = (list: readonly string[], v: unknown): boolean => typeof v === 'string' && list.includes(v)

function isSpec (v: unknown): v is DownloadSpec {
  if (typeof v !== 'object' || v === null) return false
  const s = v as Record<string, unknown>
  return str(s.url) && str(s.platform) && str(s.video_id) && oneOf(DOWNLOAD_QUALITIES, s.quality) &&
    oneOf(DOWNLOAD_FORMATS, s.format) && typeof s.audio_only === 'boolean' && strOrNull(s.filename) &&
    (s.subtitles === undefined || (Array.isArray(s.subtitles) && s.subtitles.every(str)))
}

const OWNER_ID = /^[a-z0-9-]{1,80}$/

function isClient (v: unknown): v is TaskClient | null {
  if (v === null) return true
  if (typeof v !== 'object') return false
  const c = v as Record<string, unknown>
  return typeof c.owner === 'string' && OWNER_ID.test(c.owner) && typeof c.quota === 'string' && OWNER_ID.test(c.quota)
}

export function isTaskRecord (v: unknown): v is TaskRecord {
  if (typeof v !== 'object' || v === null) return false
  const t = v as Record<string, unknown>
  if (!isClient(t.client)) return false
  const error = t.error
  const errorOk = error === null || (typeof error === 'object' && isErrorCode((error as Record<string, unknown>).code) && str((error as Record<string, unknown>).message))
  return str(t.id) && isSpec(t.spec) && str(t.dedupe_key) && oneOf(TASK_STATES, t.state) && isNum(t.seq) && isNum(t.attempt) &&
    isNum(t.percent) && isNum(t.downloaded_bytes) && numOrNull(t.total_bytes) && numOrNull(t.speed) && numOrNull(t.eta) &&
    strOrNull(t.title) && strOrNull(t.file) && numOrNull(t.file_size) && errorOk && strOrNull(t.owner) &&
    str(t.created_at) && str(t.updated_at) && strOrNull(t.started_at) && strOrNull(t.finished_at)
}

export function parseRecord (text: string): TaskRecord | null {
  try {
    const value: unknown = JSON.parse(text)
    // records written before owners were recorded have no client
    if (typeof value === 'object' && value !== null && !('client' in value)) Object.assign(value, { client: null })
    return isTaskRecord(value) ? value : null
  } catch {
    return null
  }
}

export function fileLink (name: string): string {
  return `${FILES_PATH}/${encodeURIComponent(name)}`
}

export function toView (t: TaskRecord): TaskView {
  const file = t.state === 'completed' && t.file !== null ? t.file : null
  return {
    task_id: t.id,
    status: t.state,
    url: t.spec.url,
    platform: t.spec.platform,
    video_id: t.spec.video_id,
    quality: t.spec.quality,
    format: t.spec.format,
    audio_only: t.spec.audio_only,
    percent: t.percent,
    downloaded_bytes: t.downloaded_bytes,
    total_bytes: t.total_bytes,
    speed: t.speed,
    eta: t.eta,
    title: t.title,
    filename: file,
    file_size: file === null ? null : t.file_size,
    attempt: t.attempt,
    error: t.error,
    links: { self: `${TASKS_PATH}/${t.id}`, events: `${TASKS_PATH}/${t.id}/events`, file: file === null ? null : fileLink(file) },
    created_at: t.created_at,
    updated_at: t.updated_at,
    started_at: t.started_at,
    finished_at: t.finished_at
  }
}
