// Response types of the download, file and storage endpoints, each with its
// schema; serializers are compiled once at import.
import { compile, nullable, object } from '../schemas/compile.ts'
import type { JsonSchema } from '../schemas/compile.ts'
import { DOWNLOAD_FORMATS, DOWNLOAD_QUALITIES, TASK_STATES } from './types.ts'
import type { DownloadFormat, DownloadQuality, TaskState } from './types.ts'

export interface TaskView {
  task_id: string
  status: TaskState
  url: string
  platform: string
  video_id: string
  quality: DownloadQuality
  format: DownloadFormat
  audio_only: boolean
  percent: number
  downloaded_bytes: number
  total_bytes: number | null
  speed: number | null
  eta: number | null
  title: string | null
  filename: string | null
  file_size: number | null
  attempt: number
  error: { code: string, message: string } | null
  links: { self: string, events: string, file: string | null }
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
}

const dateTime: JsonSchema = { type: 'string', format: 'date-time' }
const nullableDateTime: JsonSchema = { type: ['string', 'null'], format: 'date-time' }

const taskErrorSchema = object({ code: { type: 'string' }, message: { type: 'string' } })

const taskProperties: Record<string, JsonSchema> = {
  task_id: { type: 'string' },
  status: { type: 'string', enum: [...TASK_STATES] },
  url: { type: 'string' },
  platform: { type: 'string' },
  video_id: { type: 'string' },
  quality: { type: 'string', enum: [...DOWNLOAD_QUALITIES] },
  format: { type: 'string', enum: [...DOWNLOAD_FORMATS] },
  audio_only: { type: 'boolean' },
  percent: { type: 'number', minimum: 0, maximum: 100 },
  downloaded_bytes: { type: 'integer' },
  total_bytes: nullable('integer'),
  speed: { type: ['number', 'null'], description: 'bytes per second' },
  eta: { type: ['integer', 'null'], description: 'seconds' },
  title: nullable('string'),
  filename: nullable('string'),
  file_size: nullable('integer'),
  attempt: { type: 'integer' },
  error: { ...taskErrorSchema, type: ['object', 'null'] },
  links: object({ self: { type: 'string' }, events: { type: 'string' }, file: nullable('string') }),
  created_at: dateTime,
  updated_at: dateTime,
  started_at: nullableDateTime,
  finished_at: nullableDateTime
}

export const taskSchema = object(taskProperties)

// Anonymous clients get the token that makes them the task's owner (also in the
// X-Task-Token header); clients with an API key own their tasks by the key (null).
const ownerToken: JsonSchema = {
  type: ['string', 'null'],
  description: 'send it as X-Task-Token to read, follow, cancel, delete and download this task and to list your tasks; ' +
    'send it when creating more tasks to keep them under one token. null with an API key: the key owns the task'
}

export interface SubmitResult extends TaskView {
  reused: boolean
  owner_token: string | null
}

export const submitSchema = object({ ...taskProperties, reused: { type: 'boolean' }, owner_token: ownerToken })

export interface TaskList {
  total: number
  limit: number
  offset: number
  tasks: TaskView[]
}

export const taskListSchema = object({
  total: { type: 'integer', description: 'tasks of the caller (an admin: of every client) in this status' },
  limit: { type: 'integer' },
  offset: { type: 'integer' },
  tasks: { type: 'array', items: taskSchema }
})

export interface BatchItemResult {
  index: number
  ok: boolean
  reused: boolean
  task: TaskView | null
  error: { code: string, message: string, detail: string | null } | null
}

export interface BatchResult {
  total_count: number
  accepted: number
  failed: number
  owner_token: string | null
  results: BatchItemResult[]
}

export const batchSchema = object({
  total_count: { type: 'integer' },
  accepted: { type: 'integer' },
  failed: { type: 'integer' },
  owner_token: ownerToken,
  results: {
    type: 'array',
    items: object({
      index: { type: 'integer' },
      ok: { type: 'boolean' },
      reused: { type: 'boolean' },
      task: { ...taskSchema, type: ['object', 'null'] },
      error: { ...object({ code: { type: 'string' }, message: { type: 'string' }, detail: nullable('string') }), type: ['object', 'null'] }
    })
  }
})

export interface DeleteResult {
  action: 'cancelled' | 'removed'
  file_removed: boolean
  task: TaskView
}

export const deleteSchema = object({
  action: { type: 'string', enum: ['cancelled', 'removed'] },
  file_removed: { type: 'boolean' },
  task: taskSchema
})

export interface StorageReport {
  // admins only (null for everyone else), as oldest_file: our paths and other clients' file names
  directory: string | null
  used_bytes: number
  quota_bytes: number
  available_bytes: number
  usage_percent: number
  file_count: number
  temp_bytes: number
  temp_dirs: number
  free_disk_bytes: number | null
  total_disk_bytes: number | null
  oldest_file: string | null
  oldest_file_age_seconds: number | null
  retention_hours: number
  cleanup_interval_seconds: number
  timestamp: string
}

export const storageSchema = object({
  directory: { type: ['string', 'null'], description: 'the storage folder; null unless the caller is an admin' },
  used_bytes: { type: 'integer' },
  quota_bytes: { type: 'integer' },
  available_bytes: { type: 'integer' },
  usage_percent: { type: 'number' },
  file_count: { type: 'integer' },
  temp_bytes: { type: 'integer' },
  temp_dirs: { type: 'integer' },
  free_disk_bytes: nullable('integer'),
  total_disk_bytes: nullable('integer'),
  oldest_file: { type: ['string', 'null'], description: 'the oldest file\'s name; null unless the caller is an admin' },
  oldest_file_age_seconds: nullable('number'),
  retention_hours: { type: 'number' },
  cleanup_interval_seconds: { type: 'integer' },
  timestamp: dateTime
})

export interface CleanupResult {
  removed_files: number
  removed_bytes: number
  removed_temp_dirs: number
  removed_tasks: number
  storage: StorageReport
}

export const cleanupSchema = object({
  removed_files: { type: 'integer' },
  removed_bytes: { type: 'integer' },
  removed_temp_dirs: { type: 'integer' },
  removed_tasks: { type: 'integer' },
  storage: storageSchema
})

export const serializeTask = compile<TaskView>(taskSchema)
export const serializeSubmit = compile<SubmitResult>(submitSchema)
export const serializeTaskList = compile<TaskList>(taskListSchema)
export const serializeBatch = compile<BatchResult>(batchSchema)
export const serializeDelete = compile<DeleteResult>(deleteSchema)
export const serializeStorage = compile<StorageReport>(storageSchema)
export const serializeCleanup = compile<CleanupResult>(cleanupSchema)
