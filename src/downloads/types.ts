// The download task as stored (Redis or state files) and the interfaces the
// stores and queues implement. Types and code-string constants only.
import type { ErrorCode } from '../errors.ts'

export const TASK_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const
export type TaskState = typeof TASK_STATES[number]

export const DOWNLOAD_QUALITIES = ['best', 'worst', '2160p', '1440p', '1080p', '720p', '480p', '360p', '240p', '144p', 'audio'] as const
export type DownloadQuality = typeof DOWNLOAD_QUALITIES[number]

export const DOWNLOAD_FORMATS = ['mp4', 'webm', 'mkv', 'mp3', 'm4a'] as const
export type DownloadFormat = typeof DOWNLOAD_FORMATS[number]
export const AUDIO_FORMATS: readonly DownloadFormat[] = ['mp3', 'm4a']

export function isTerminal (state: TaskState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled'
}

// What was asked for, after validation and platform resolution.
export interface DownloadSpec {
  url: string
  platform: string
  video_id: string
  quality: DownloadQuality
  format: DownloadFormat
  audio_only: boolean
  filename: string | null
  // subtitle languages to embed (absent in records written before subtitles existed)
  subtitles?: string[]
  // one item of a multi-item post (absent: the post's video)
  item?: number
}

export interface TaskError {
  code: ErrorCode
  message: string
}

// Who a task belongs to (owner.ts): its owner sees and cancels it; quota is the
// client it counts against for the per-client cap.
export interface TaskClient {
  owner: string
  quota: string
}

export interface TaskRecord {
  id: string
  spec: DownloadSpec
  // null for tasks from before owners were recorded: only admins see them
  client: TaskClient | null
  dedupe_key: string
  state: TaskState
  // bumped by every write; watchers drop anything not newer than what they sent
  seq: number
  attempt: number
  percent: number
  downloaded_bytes: number
  total_bytes: number | null
  speed: number | null
  eta: number | null
  title: string | null
  file: string | null
  file_size: number | null
  error: TaskError | null
  // the process (host-pid-random) that holds the task while queued locally or running
  owner: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
}

export type TaskListener = (task: TaskRecord | null) => void

// An index entry whose record is missing may be a task being created this long;
// after it, listings drop the entry (its record expired or a crash lost it).
export const ENTRY_GRACE_MS = 60_000

// One owner's tasks (all of them: null), optionally in one state, newest first.
export interface TaskScope {
  owner: string | null
  state: TaskState | null
}

// A page of a scope: `total` counts the scope (entries whose record expired
// without cleanup may be counted until a listing passes them).
export interface TaskPage {
  tasks: TaskRecord[]
  total: number
}

// The caps a new task must fit in (0 = none); the first one it would exceed.
export interface TaskCaps {
  perClient: number
  global: number
}
export type Reservation = 'ok' | 'client' | 'global'

// Task state shared by every process that serves the API: state files on one
// host, or Redis across hosts. A running task has exactly one writer, its owner.
export interface TaskStore {
  readonly kind: 'files' | 'redis'
  get: (id: string) => Promise<TaskRecord | null>
  save: (task: TaskRecord) => Promise<void>
  // writes only if the stored record still has `expectedSeq` (another writer did not get there first)
  saveIf: (task: TaskRecord, expectedSeq: number) => Promise<boolean>
  remove: (id: string) => Promise<void>
  // every record: housekeeping only (cleanup), never a request path
  list: () => Promise<TaskRecord[]>
  // a page of a scope: costs the page, not the store (listings)
  page: (scope: TaskScope, offset: number, limit: number) => Promise<TaskPage>
  // Counts a new task against its client and the store before its record is
  // saved; a task that is not saved after all gives its place back (release).
  reserve: (id: string, client: TaskClient, createdMs: number, caps: TaskCaps) => Promise<Reservation>
  release: (id: string, client: TaskClient, createdMs: number) => Promise<void>
  // the oldest task of a client (what frees a place first), for Retry-After
  oldest: (quota: string) => Promise<TaskRecord | null>
  // Maps a dedupe key to a task id atomically: returns null when `id` now owns
  // the key, otherwise the id that holds it. `replace` swaps out a stale holder.
  claim: (key: string, id: string) => Promise<string | null>
  replace: (key: string, staleId: string, id: string) => Promise<boolean>
  unclaim: (key: string, id: string) => Promise<void>
  requestCancel: (id: string) => Promise<void>
  cancelRequested: (id: string) => Promise<boolean>
  // Immediate cancel notices for tasks this process runs (Redis pub/sub); the
  // files store has none, the owner polls cancelRequested instead.
  onCancel: (handler: (id: string) => void) => void
  heartbeat: (owner: string) => Promise<void>
  ownerAlive: (owner: string) => Promise<boolean>
  watch: (id: string, listener: TaskListener) => () => void
  // removes leftovers that expire on their own in Redis (old heartbeats, cancel requests of removed tasks)
  prune: () => Promise<void>
  close: () => Promise<void>
}

export type RunOutcome = 'done' | 'requeue'

// Runs a task id to completion; resolves 'requeue' when the task was stopped by
// a shutdown and should be picked up again by another process.
export type TaskRunner = (id: string, signal: AbortSignal) => Promise<RunOutcome>

export type QueueJobState = 'waiting' | 'active' | 'gone'

export interface DownloadQueue {
  readonly kind: 'local' | 'bullmq'
  enqueue: (id: string) => Promise<void>
  // removes a task that has not started; false when it is running or unknown
  dequeue: (id: string) => Promise<boolean>
  // aborts a task this process is running
  abort: (id: string, reason: AbortReason) => boolean
  jobState: (id: string) => Promise<QueueJobState>
  // tasks this process holds: its local waiting list and what it runs
  localIds: () => string[]
  running: () => number
  waiting: () => number
  // stops taking work, aborts running tasks with 'shutdown' and waits for them;
  // resolves the ids that never started and now need settling (none with BullMQ)
  close: () => Promise<string[]>
}

export type AbortReason = 'cancel' | 'shutdown' | 'storage' | 'timeout' | 'stalled'
