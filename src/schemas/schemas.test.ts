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
  serializePlatformCookies: [cookie, cookieInvalid] satisfies PlatformCookieState[]
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
