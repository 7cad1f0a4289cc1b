// /openapi.json covers the contract: every route (method and path) of the route
// tables in ../shared/API.md is documented, and the ones API.md marks (compat)
// carry the 'compat' tag. API.md lives outside this repository (a fresh clone
// has no ../shared), so its tables are copied here as data: source
// /work/shared/API.md (sections System, Platform credentials, Videos, Streams,
// Downloads and files, Additions (December 2026), and the page-URL twins of
// Conventions), plus issue 17's compat paths. When API.md changes, change this.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { json, startCluster } from '../testing/helpers.ts'

interface ContractRoute { method: string, path: string, compat: boolean }

const c = (line: string): ContractRoute => {
  const [method = '', path = '', mark] = line.split(' ')
  return { method: method.toLowerCase(), path, compat: mark === '(compat)' }
}

const API_MD: readonly ContractRoute[] = [
  // System
  'GET /', 'GET /health', 'GET /api/v2/system/health', 'GET /api/health (compat)',
  'GET /api/v2/system/version', 'GET /api/v2/system/stats',
  'GET /api/v2/system/storage', 'POST /api/v2/system/storage/cleanup',
  'GET /metrics', 'GET /openapi.json', 'GET /docs',
  // Platform credentials (compat: /api/v2/auth)
  'GET /api/v2/auth/status (compat)', 'GET /api/v2/auth/guide (compat)', 'GET /api/v2/auth/platforms/{platform} (compat)',
  'PUT /api/v2/auth/cookies/{platform} (compat)', 'DELETE /api/v2/auth/cookies/{platform} (compat)',
  // Videos
  'GET /api/v2/videos/{platform}/{id}', 'GET /api/v2/videos/{platform}/{id}/formats',
  'GET /api/v2/playlists/{platform}/{id}', 'POST /api/v2/videos/batch',
  'GET /api/info (compat)', 'GET /api/formats (compat)', 'GET /api/platforms (compat)',
  // Conventions: every {platform}/{id} route's twin by page URL (the examples given)
  'GET /api/v2/videos', 'GET /api/v2/stream', 'GET /api/v2/stream/hls',
  // Streams
  'GET /api/v2/stream/{platform}/{id}',
  'GET /api/v2/stream/direct/{platform}/{id} (compat)', 'GET /api/v2/stream/proxy/{platform}/{id} (compat)',
  'GET /api/v2/stream/info/{platform}/{id} (compat)', 'GET /api/v2/stream/url (compat)',
  'GET /api/v2/stream/auto/{platform}/{id} (compat)',
  'POST /api/v2/videos/info (compat)', 'POST /api/v2/videos/stream (compat)',
  'POST /api/v2/stream/batch (compat)',
  'GET /api/v2/stream/embed/{platform}/{id} (compat)', 'GET /api/embed (compat)',
  'GET /api/v2/stream/hls/{platform}/{id}',
  'GET /api/stream (compat)', 'GET /api/download (compat)', 'GET /api/v1/ (compat)',
  'GET /api/vrchat/stream (compat)', 'GET /api/vrchat/info (compat)',
  // Downloads and files
  'POST /api/v2/videos/download', 'POST /api/v2/videos/batch-download',
  'GET /api/v2/videos/tasks', 'GET /api/v2/videos/tasks/{id}', 'DELETE /api/v2/videos/tasks/{id}',
  'GET /api/v2/videos/tasks/{id}/events',
  'GET /api/v2/files/{name}', 'HEAD /api/v2/files/{name}',
  // Additions (December 2026)
  'POST /api/v2/system/ytdlp/reload',
  'GET /api/v2/videos/{platform}/{id}/subtitles', 'GET /api/v2/videos/{platform}/{id}/subtitles/{lang}',
  'GET /api/v2/images/{token}',
  // issue 17: the original's clients
  'GET /api/v1 (compat)', 'GET /api/vrchat/download (compat)', 'GET /api/vrchat/health (compat)',
  'GET /api/v2/videos/download/vrchat (compat)', 'GET /api/v2/stream/cache/stats (compat)'
].map(c)

test('every route of API.md is in /openapi.json, the compat ones tagged compat', async (t) => {
  const srv = await startCluster({ workers: 1, timeoutMs: 60_000 })
  t.after(async () => { await srv.stop() })
  const { res, body } = await json(`${srv.url}/openapi.json`)
  assert.equal(res.status, 200)
  const paths = body.paths as Record<string, Record<string, { tags?: string[], responses?: object }>>
  const missing: string[] = []
  const untagged: string[] = []
  for (const r of API_MD) {
    const op = paths[r.path]?.[r.method]
    if (op?.responses === undefined) { missing.push(`${r.method.toUpperCase()} ${r.path}`); continue }
    if (r.compat && !(op.tags ?? []).includes('compat')) untagged.push(`${r.method.toUpperCase()} ${r.path}`)
  }
  assert.deepEqual(missing, [], 'routes of API.md missing from /openapi.json')
  assert.deepEqual(untagged, [], 'compat routes without the compat tag')
  // and the tag means something: a route API.md does not mark is not tagged compat
  for (const r of API_MD.filter((x) => !x.compat && x.method !== 'head')) {
    assert.ok(!(paths[r.path]?.[r.method]?.tags ?? []).includes('compat'), `${r.method.toUpperCase()} ${r.path} is tagged compat`)
  }
  // the new compat bodies are documented by their schemas
  const schemaOf = (path: string, method = 'get'): Record<string, unknown> | undefined =>
    ((paths[path]?.[method]?.responses as Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }> | undefined)?.['200']?.content?.['application/json']?.schema)
  const info = schemaOf('/api/info')
  assert.ok(info !== undefined && 'video_id' in (info.properties as object) && 'stream_available' in (info.properties as object))
  const batch = schemaOf('/api/v2/stream/batch', 'post')
  assert.ok(Array.isArray(batch?.oneOf) && batch.oneOf.length === 2, 'both batch bodies')
  assert.ok('cache_stats' in ((schemaOf('/api/v2/stream/cache/stats')?.properties ?? {}) as object))
})
