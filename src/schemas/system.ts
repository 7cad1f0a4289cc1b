import { compile, nullable, object } from './compile.ts'

export interface RootInfo {
  name: string
  version: string
  description: string
  docs_url: string
  openapi_url: string
  health_url: string
  endpoints: Record<string, string>
  supported_platforms: string[]
  timestamp: string
}

export const rootSchema = object({
  name: { type: 'string' },
  version: { type: 'string' },
  description: { type: 'string' },
  docs_url: { type: 'string' },
  openapi_url: { type: 'string' },
  health_url: { type: 'string' },
  endpoints: { type: 'object', additionalProperties: { type: 'string' } },
  supported_platforms: { type: 'array', items: { type: 'string' } },
  timestamp: { type: 'string', format: 'date-time' }
})

export type CheckStatus = 'ok' | 'degraded' | 'failed'

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy'
  timestamp: string
  version: string
  uptime_seconds: number
  checks: {
    cache: { status: CheckStatus, backend: 'memory' | 'redis', detail: string | null }
    ytdlp: YtDlpCheck
    ffmpeg: { status: CheckStatus, path: string | null, version: string | null, detail: string | null }
    storage: { status: CheckStatus, path: string, free_bytes: number | null, detail: string | null }
    workers: { status: CheckStatus, alive: number, expected: number }
  }
}

// mode: the one in effect (warm only while warm processes serve); warm_processes: live ones in this worker
export interface YtDlpCheck {
  status: CheckStatus
  version: string | null
  age_days: number | null
  mode: string
  warm_processes: number
  js_runtime: string | null
  detail: string | null
}

const checkStatus = { type: 'string', enum: ['ok', 'degraded', 'failed'] }

export const healthSchema = object({
  status: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] },
  timestamp: { type: 'string', format: 'date-time' },
  version: { type: 'string' },
  uptime_seconds: { type: 'number' },
  checks: object({
    cache: object({ status: checkStatus, backend: { type: 'string', enum: ['memory', 'redis'] }, detail: nullable('string') }),
    ytdlp: object({
      status: checkStatus,
      version: nullable('string'),
      age_days: nullable('integer'),
      mode: { type: 'string', enum: ['warm', 'spawn'] },
      warm_processes: { type: 'integer' },
      js_runtime: nullable('string'),
      detail: nullable('string')
    }),
    ffmpeg: object({ status: checkStatus, path: nullable('string'), version: nullable('string'), detail: nullable('string') }),
    storage: object({ status: checkStatus, path: { type: 'string' }, free_bytes: nullable('integer'), detail: nullable('string') }),
    workers: object({ status: checkStatus, alive: { type: 'integer' }, expected: { type: 'integer' } })
  })
})

export interface VersionInfo {
  name: string
  version: string
  node: string
  ytdlp: string | null
  ytdlp_age_days: number | null
  // what the yt-dlp in use sees: the JavaScript runtime it would solve YouTube's challenges with
  js_runtime: { name: string, version: string | null, path: string | null } | null
  yt_dlp_ejs: boolean
  curl_cffi: boolean
  ffmpeg: string | null
  hyper_express: string
  uws: string
}

export const versionSchema = object({
  name: { type: 'string' },
  version: { type: 'string' },
  node: { type: 'string' },
  ytdlp: nullable('string'),
  ytdlp_age_days: nullable('integer'),
  js_runtime: { type: ['object', 'null'], properties: { name: { type: 'string' }, version: nullable('string'), path: nullable('string') }, required: ['name', 'version', 'path'] },
  yt_dlp_ejs: { type: 'boolean' },
  curl_cffi: { type: 'boolean' },
  ffmpeg: nullable('string'),
  hyper_express: { type: 'string' },
  uws: { type: 'string' }
})

export interface WorkerStats {
  pid: number
  requests: number
  errors: number
  cache_hits: number
  cache_misses: number
  extraction_queued: number
  extraction_active: number
  extractions: number
  rss_bytes: number
  heap_used_bytes: number
  uptime_seconds: number
  event_loop_delay_max_ms: number
  event_loop_delay_p99_ms: number
}

const workerStatsSchema = object({
  pid: { type: 'integer' },
  requests: { type: 'integer' },
  errors: { type: 'integer' },
  cache_hits: { type: 'integer' },
  cache_misses: { type: 'integer' },
  extraction_queued: { type: 'integer' },
  extraction_active: { type: 'integer' },
  extractions: { type: 'integer' },
  rss_bytes: { type: 'integer' },
  heap_used_bytes: { type: 'integer' },
  uptime_seconds: { type: 'number' },
  event_loop_delay_max_ms: { type: 'number' },
  event_loop_delay_p99_ms: { type: 'number' }
})

export interface ClusterStats {
  workers: { alive: number, expected: number, restarts: number }
  requests: number
  errors: number
  cache: { backend: 'memory' | 'redis', hits: number, misses: number, hit_ratio: number | null }
  extraction: { queued: number, active: number, completed: number }
  memory: { rss_bytes: number, heap_used_bytes: number }
  uptime_seconds: number
  per_worker: WorkerStats[]
  timestamp: string
}

export const statsSchema = object({
  workers: object({ alive: { type: 'integer' }, expected: { type: 'integer' }, restarts: { type: 'integer' } }),
  requests: { type: 'integer' },
  errors: { type: 'integer' },
  cache: object({ backend: { type: 'string' }, hits: { type: 'integer' }, misses: { type: 'integer' }, hit_ratio: nullable('number') }),
  extraction: object({ queued: { type: 'integer' }, active: { type: 'integer' }, completed: { type: 'integer' } }),
  memory: object({ rss_bytes: { type: 'integer' }, heap_used_bytes: { type: 'integer' } }),
  uptime_seconds: { type: 'number' },
  per_worker: { type: 'array', items: workerStatsSchema },
  timestamp: { type: 'string', format: 'date-time' }
})

// POST /api/v2/system/ytdlp/reload: each worker's outcome. failed: why the new yt-dlp did
// not start there (its old warm processes keep serving), null when it reloaded.
export interface YtDlpWorkerReload {
  pid: number
  replaced: number
  failed: string | null
  version: string | null
}

// version: the yt-dlp every worker now uses (null when they differ or none could say)
export interface YtDlpReloadAnswer {
  version: string | null
  workers: YtDlpWorkerReload[]
  timestamp: string
}

export const ytdlpReloadSchema = object({
  version: nullable('string'),
  workers: {
    type: 'array',
    items: object({
      pid: { type: 'integer' },
      replaced: { type: 'integer' },
      failed: nullable('string'),
      version: nullable('string')
    })
  },
  timestamp: { type: 'string', format: 'date-time' }
})

export interface PlatformCookieState {
  platform: string
  authenticated: boolean
  cookies_configured: boolean
  cookie_file_valid: boolean
  cookie_count: number
  last_updated: string | null
  problem: string | null
}

export const platformCookieSchema = object({
  platform: { type: 'string' },
  authenticated: { type: 'boolean' },
  cookies_configured: { type: 'boolean' },
  cookie_file_valid: { type: 'boolean' },
  cookie_count: { type: 'integer' },
  last_updated: nullable('string'),
  problem: nullable('string')
})

export interface AuthStatus {
  auth_status: Record<string, PlatformCookieState>
  summary: { total_platforms: number, authenticated_platforms: number, platforms_with_cookies: number }
  api_keys_required: boolean
  admin_requires_key: boolean
  timestamp: string
}

export const authStatusSchema = object({
  auth_status: { type: 'object', additionalProperties: platformCookieSchema },
  summary: object({ total_platforms: { type: 'integer' }, authenticated_platforms: { type: 'integer' }, platforms_with_cookies: { type: 'integer' } }),
  api_keys_required: { type: 'boolean' },
  admin_requires_key: { type: 'boolean' },
  timestamp: { type: 'string', format: 'date-time' }
})

export const serializeRoot = compile<RootInfo>(rootSchema)
export const serializeHealth = compile<HealthReport>(healthSchema)
export const serializeVersion = compile<VersionInfo>(versionSchema)
export const serializeStats = compile<ClusterStats>(statsSchema)
export const serializeAuthStatus = compile<AuthStatus>(authStatusSchema)
export const serializeYtDlpReload = compile<YtDlpReloadAnswer>(ytdlpReloadSchema)
export const serializePlatformCookies = compile<PlatformCookieState>(platformCookieSchema)
