// Round trip per serializer: fast-json-stringify silently drops fields that the
// type has and the schema lacks, so JSON.parse(serialize(full)) must equal full.
// The serializers are found by listing this folder, so a new `serialize*`
// export without a fixture here fails the suite.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ErrorBody } from '../errors.ts'
import type { AuthStatus, ClusterStats, HealthReport, PlatformCookieState, RootInfo, VersionInfo, WorkerStats } from './system.ts'
import type { BatchOut, FormatOut, FormatsOut, PlatformsOut, PlaylistOut, VideoInfoOut } from './videos.ts'

const TS = '2024-05-06T07:08:09.010Z'

const cookie: PlatformCookieState = {
  platform: 'youtube',
  authenticated: true,
  cookies_configured: true,
  cookie_file_valid: true,
  cookie_count: 12,
  last_updated: TS,
  problem: null
}
const cookieInvalid: PlatformCookieState = { ...cookie, platform: 'bilibili', authenticated: false, cookie_file_valid: false, cookie_count: 0, last_updated: null, problem: 'line 3 does not have 7 tab-separated fields' }

const worker: WorkerStats = {
  event_loop_delay_max_ms: 12.5,
  event_loop_delay_p99_ms: 3.25,
  pid: 4242,
  requests: 1000,
  errors: 3,
  cache_hits: 70,
  cache_misses: 30,
  extraction_queued: 2,
  extraction_active: 1,
  extractions: 31,
  rss_bytes: 80_000_000,
  heap_used_bytes: 20_000_000,
  uptime_seconds: 12.5
}

const health: HealthReport = {
  status: 'degraded',
  timestamp: TS,
  version: '0.1.0',
  uptime_seconds: 3.25,
  checks: {
    cache: { status: 'degraded', backend: 'redis', detail: 'redis unreachable' },
    ytdlp: { status: 'ok', version: '2024.05.06', mode: 'warm', detail: null },
    storage: { status: 'ok', path: '/data/downloads', free_bytes: 123456789, detail: null },
    workers: { status: 'ok', alive: 2, expected: 2 }
  }
}

const stats: ClusterStats = {
  workers: { alive: 2, expected: 2, restarts: 1 },
  requests: 2000,
  errors: 6,
  cache: { backend: 'memory', hits: 140, misses: 60, hit_ratio: 0.7 },
  extraction: { queued: 4, active: 2, completed: 62 },
  memory: { rss_bytes: 160_000_000, heap_used_bytes: 40_000_000 },
  uptime_seconds: 12.5,
  per_worker: [worker, { ...worker, pid: 4243 }],
  timestamp: TS
}

const format: FormatOut = {
  format_id: '18',
  ext: 'mp4',
  protocol: 'https',
  width: 640,
  height: 360,
  fps: 29.97,
  vcodec: 'avc1.42001E',
  acodec: 'mp4a.40.2',
  has_audio: true,
  has_video: true,
  bitrate: 568.5,
  filesize: 12345678,
  format_note: '360p',
  language: 'en',
  needs_headers: false
}
const audioOnly: FormatOut = { ...format, format_id: '140', ext: 'm4a', width: null, height: null, fps: null, vcodec: null, has_video: false, bitrate: null, filesize: null, format_note: null, language: null, needs_headers: true }

const video: VideoInfoOut = {
  id: 'dQw4w9WgXcQ',
  platform: 'youtube',
  url: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
  title: 'Never Gonna Give You Up',
  description: 'The official video',
  duration: 212.5,
  uploader: 'Rick Astley',
  uploader_id: '@RickAstleyYT',
  upload_date: '2009-10-25',
  view_count: 1_500_000_000,
  like_count: 17_000_000,
  thumbnail: 'https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg',
  thumbnails: [{ url: 'https://i.ytimg.com/vi/dQw4w9WgXcQ/hq.jpg', width: 480, height: 360 }, { url: 'https://i.ytimg.com/x.jpg', width: null, height: null }],
  is_live: false,
  webpage_url: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
  formats: [format, audioOnly],
  subtitles: ['en', 'de'],
  automatic_captions: ['fr'],
  expires_at: TS,
  cached: true
}
const videoBare: VideoInfoOut = { ...video, description: null, duration: null, uploader: null, uploader_id: null, upload_date: null, view_count: null, like_count: null, thumbnail: null, thumbnails: [], webpage_url: null, formats: [], subtitles: [], automatic_captions: [], expires_at: null, cached: false }

// Each serializer name → fixtures that set every field (nullable ones both ways where it matters).
const FIXTURES: Readonly<Record<string, readonly unknown[]>> = {
  serializeError: [
    { error: 'No endpoint at /nope', code: 'NOT_FOUND', detail: null, request_id: 'abc-1', timestamp: TS },
    { error: 'Rate limit exceeded', code: 'RATE_LIMITED', detail: 'retry in 3 s', request_id: 'abc-2', timestamp: TS }
  ] satisfies ErrorBody[],
  serializeRoot: [{
    name: 'vidgate',
    version: '0.1.0',
    description: 'video API',
    docs_url: '/docs',
    openapi_url: '/openapi.json',
    health_url: '/api/v2/system/health',
    endpoints: { health: '/api/v2/system/health', metrics: '/metrics' },
    supported_platforms: ['youtube', 'bilibili'],
    timestamp: TS
  }] satisfies RootInfo[],
  serializeHealth: [health, { ...health, status: 'unhealthy', checks: { ...health.checks, ytdlp: { status: 'failed', version: null, mode: 'spawn', detail: 'not runnable' }, storage: { status: 'failed', path: 'x', free_bytes: null, detail: 'EACCES' } } }] satisfies HealthReport[],
  serializeVersion: [
    { name: 'vidgate', version: '0.1.0', node: 'v20.0.0', ytdlp: '2024.05.06', hyper_express: '6.8.2', uws: '20.30.0' },
    { name: 'vidgate', version: '0.1.0', node: 'v20.0.0', ytdlp: null, hyper_express: 'unknown', uws: 'unknown' }
  ] satisfies VersionInfo[],
  serializeStats: [stats, { ...stats, cache: { ...stats.cache, hit_ratio: null }, per_worker: [] }] satisfies ClusterStats[],
  serializeAuthStatus: [{
    auth_status: { youtube: cookie, bilibili: cookieInvalid },
    summary: { total_platforms: 2, authenticated_platforms: 1, platforms_with_cookies: 2 },
    api_keys_required: false,
    admin_requires_key: true,
    timestamp: TS
  }] satisfies AuthStatus[],
  serializePlatformCookies: [cookie, cookieInvalid] satisfies PlatformCookieState[],
  serializeVideoInfo: [video, videoBare] satisfies VideoInfoOut[],
  serializeFormats: [{
    id: 'dQw4w9WgXcQ',
    platform: 'youtube',
    title: 'Never Gonna Give You Up',
    formats: [format, audioOnly],
    qualities: [{ quality: '360p', height: 360, serving: 'direct' }, { quality: 'audio', height: null, serving: 'split' }],
    default_quality: 'best',
    expires_at: TS,
    cached: false
  }] satisfies FormatsOut[],
  serializePlaylist: [{
    id: 'PL123',
    platform: 'youtube',
    title: 'A playlist',
    uploader: null,
    entry_count: 2,
    page: 1,
    page_size: 50,
    entries: [{ id: 'a', title: 'A', duration: 10.5, url: 'https://www.youtube.com/watch?v=a' }, { id: 'b', title: null, duration: null, url: 'https://www.youtube.com/watch?v=b' }],
    cached: true
  }] satisfies PlaylistOut[],
  serializeBatch: [{
    count: 2,
    succeeded: 1,
    failed: 1,
    results: [
      { index: 0, ok: true, input: 'youtube/dQw4w9WgXcQ', info: video, error: null },
      { index: 1, ok: false, input: 'https://example.com/x', info: null, error: { code: 'UNSUPPORTED_URL', error: 'not supported', detail: null } }
    ]
  }] satisfies BatchOut[],
  serializePlatforms: [{
    count: 1,
    platforms: [{ name: 'twitter', aliases: ['x'], display_name: 'X (Twitter)', domains: ['x.com', 'twitter.com'], example_urls: ['https://x.com/u/status/1'], features: ['info', 'stream'], notes: null, enabled: true }]
  }] satisfies PlatformsOut[]
}

interface Found { file: string, name: string, fn: (value: unknown) => string, schema: Record<string, unknown> }

async function findSerializers (): Promise<Found[]> {
  const dir = fileURLToPath(new URL('.', import.meta.url))
  const files = readdirSync(dir).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js')).sort()
  const found: Found[] = []
  for (const file of files) {
    const mod: Record<string, unknown> = await import(new URL(file, import.meta.url).href)
    for (const [name, value] of Object.entries(mod)) {
      if (!name.startsWith('serialize')) continue
      assert.equal(typeof value, 'function', `${file}: ${name} is not a function`)
      const fn = value as Found['fn'] & { schema?: unknown }
      assert.ok(typeof fn.schema === 'object' && fn.schema !== null, `${file}: ${name} has no schema (use compile())`)
      found.push({ file, name, fn, schema: fn.schema as Record<string, unknown> })
    }
  }
  return found
}

test('every exported serializer has a fixture, and every fixture a serializer', async () => {
  const found = await findSerializers()
  assert.ok(found.length >= Object.keys(FIXTURES).length)
  const missing = found.filter((s) => FIXTURES[s.name] === undefined).map((s) => `${s.file}: ${s.name}`)
  assert.deepEqual(missing, [], 'add a full fixture to src/schemas/schemas.test.ts for each of these')
  const stale = Object.keys(FIXTURES).filter((name) => !found.some((s) => s.name === name))
  assert.deepEqual(stale, [])
})

test('JSON.parse(serialize(fixture)) deep-equals the fixture', async (t) => {
  for (const s of await findSerializers()) {
    const fixtures = FIXTURES[s.name] ?? []
    await t.test(s.name, () => {
      assert.ok(fixtures.length > 0)
      for (const fixture of fixtures) assert.deepEqual(JSON.parse(s.fn(fixture)), fixture)
    })
  }
})

test('a missing required top-level field throws instead of vanishing', async (t) => {
  for (const s of await findSerializers()) {
    const required = Array.isArray(s.schema.required) ? s.schema.required.filter((k): k is string => typeof k === 'string') : []
    const fixture = FIXTURES[s.name]?.[0]
    if (required.length === 0 || typeof fixture !== 'object' || fixture === null) continue
    await t.test(s.name, () => {
      for (const key of required) {
        const partial: Record<string, unknown> = { ...fixture }
        delete partial[key]
        assert.throws(() => s.fn(partial), Error, `${s.name} without ${key}`)
      }
    })
  }
})
