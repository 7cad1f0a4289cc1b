// The HTTP contract of one in-process app on 127.0.0.1 port 0: system
// endpoints, headers on every response, errors in the JSON shape, HEAD, CORS.
// Limits (414, 413, 429, 503) are in limits.test.ts.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { PLATFORM_NAMES } from '../app.ts'
import { startApp, raw, json, assertCommonHeaders, assertErrorBody } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'

const pkg = createRequire(import.meta.url)('../../../package.json') as { name: string, version: string }
let s: StartedApp
before(async () => { s = await startApp() })
after(async () => { await s.close() })

test('GET / names the API and links the docs', async () => {
  const { res, body } = await json(`${s.url}/`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
  assertCommonHeaders(res)
  assert.equal(body.name, pkg.name)
  assert.equal(body.version, pkg.version)
  assert.equal(body.docs_url, '/docs')
  assert.equal(body.openapi_url, '/openapi.json')
  assert.equal(typeof body.endpoints, 'object')
  assert.deepEqual(body.supported_platforms, [...PLATFORM_NAMES])
})

test('the three health paths report the same checks', async () => {
  for (const path of ['/health', '/api/v2/system/health', '/api/health']) {
    const { res, body } = await json(`${s.url}${path}`)
    assert.equal(res.status, 200, path)
    assertCommonHeaders(res)
    assert.ok(['healthy', 'degraded'].includes(String(body.status)), path)
    const checks = body.checks as Record<string, Record<string, unknown>>
    assert.deepEqual(checks.workers, { status: 'ok', alive: 1, expected: 1 })
    assert.equal(checks.cache?.backend, 'memory')
    assert.equal(checks.ytdlp?.status, 'ok')
    assert.equal(checks.ytdlp?.version, '2099.01.01-fake')
    assert.equal(checks.ytdlp?.mode, 'spawn')
    assert.equal(typeof checks.storage?.free_bytes, 'number')
  }
})

test('version, stats and auth status', async () => {
  const version = await json(`${s.url}/api/v2/system/version`)
  assert.equal(version.res.status, 200)
  assert.equal(version.body.node, process.version)
  assert.equal(version.body.ytdlp, '2099.01.01-fake')
  assert.equal(version.body.name, pkg.name)

  const stats = await json(`${s.url}/api/v2/system/stats`)
  assert.equal(stats.res.status, 200)
  assert.deepEqual(stats.body.workers, { alive: 1, expected: 1, restarts: 0 })
  const per = stats.body.per_worker as Array<Record<string, unknown>>
  assert.equal(per.length, 1)
  assert.equal(per[0]?.pid, process.pid)
  assert.ok(Number(stats.body.requests) >= 1)

  const auth = await json(`${s.url}/api/v2/auth/status`)
  assert.equal(auth.res.status, 200)
  assert.deepEqual(Object.keys(auth.body.auth_status as object).sort(), [...PLATFORM_NAMES].sort())
  assert.deepEqual(auth.body.summary, { total_platforms: PLATFORM_NAMES.length, authenticated_platforms: 0, platforms_with_cookies: 0 })
  assert.equal(auth.body.api_keys_required, false)
})

test('/metrics is Prometheus text that counts requests', async () => {
  await fetch(`${s.url}/health`)
  const res = await fetch(`${s.url}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  assertCommonHeaders(res)
  const text = await res.text()
  assert.match(text, /# TYPE vidgate_http_requests_total counter/)
  assert.match(text, /vidgate_http_requests_total\{route="\/health",method="GET",status="200"\} [1-9]/)
  assert.match(text, /vidgate_http_request_duration_seconds_bucket\{/)
})

test('/openapi.json is OpenAPI 3.1 and documents every registered route', async () => {
  const { res, body } = await json(`${s.url}/openapi.json`)
  assert.equal(res.status, 200)
  assert.equal(body.openapi, '3.1.0')
  const paths = body.paths as Record<string, Record<string, { responses?: object }>>
  assert.ok(s.app.routes.length >= 10)
  for (const route of s.app.routes) {
    const path = route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')
    assert.ok(paths[path]?.[route.method]?.responses !== undefined, `${route.method.toUpperCase()} ${route.path} is missing`)
  }
  assert.ok(paths['/api/v2/system/health']?.get !== undefined)
})

test('X-Request-Id is echoed when sane and generated when not', async () => {
  const echoed = await fetch(`${s.url}/health`, { headers: { 'x-request-id': 'abc-123.X:y_z' } })
  assert.equal(echoed.headers.get('x-request-id'), 'abc-123.X:y_z')
  const ids = new Set<string>()
  for (const bad of ['has space', '<script>', 'x'.repeat(129), '']) {
    const res = await fetch(`${s.url}/health`, { headers: { 'x-request-id': bad } })
    const id = res.headers.get('x-request-id') ?? ''
    assert.notEqual(id, bad)
    assert.match(id, /^[A-Za-z0-9._:-]{1,128}$/)
    ids.add(id)
  }
  assert.equal(ids.size, 4, 'generated ids are unique')
  const err = await json(`${s.url}/nope`, { headers: { 'x-request-id': 'trace-7' } })
  assert.equal(err.body.request_id, 'trace-7')
})

test('unknown path: 404 in the JSON error shape', async () => {
  const { res, body } = await json(`${s.url}/no/such/thing?x=1`)
  assert.equal(res.status, 404)
  assertCommonHeaders(res)
  assertErrorBody(res, body, 'NOT_FOUND')
})

test('docs files: only the listed ones, never an Object.prototype name', async () => {
  for (const name of ['valueOf', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 'nope.css']) {
    const { res, body } = await json(`${s.url}/docs/${name}`)
    assert.equal(res.status, 404, name)
    assertErrorBody(res, body, 'NOT_FOUND')
  }
  const css = await fetch(`${s.url}/docs/swagger-ui.css`)
  assert.equal(css.status, 200)
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/)
  await css.arrayBuffer()
})

test('wrong method: 405 with Allow', async () => {
  const post = await json(`${s.url}/health`, { method: 'POST', body: '{}' })
  assert.equal(post.res.status, 405)
  assert.equal(post.res.headers.get('allow'), 'GET, HEAD, OPTIONS')
  assertErrorBody(post.res, post.body, 'METHOD_NOT_ALLOWED')
  const get = await json(`${s.url}/api/v2/auth/cookies/youtube`)
  assert.equal(get.res.status, 405)
  assert.equal(get.res.headers.get('allow'), 'PUT, DELETE, OPTIONS')
})

test('HEAD on GET routes: same status and length, no body (keep-alive stays in sync)', async () => {
  for (const path of ['/', '/health', '/api/v2/system/version', '/metrics', '/openapi.json', '/docs', '/docs/init.js', '/nope']) {
    // HEAD then GET on one connection: a body after the HEAD response would be read as the next response.
    const text = await raw(s.port, `HEAD ${path} HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`)
    const [head = '', rest = ''] = text.split('\r\n\r\n', 2)
    assert.match(head, path === '/nope' ? /^HTTP\/1\.1 404/ : /^HTTP\/1\.1 200/, path)
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1])
    assert.ok(length > 0, `${path}: HEAD announces the GET length`)
    assert.match(rest, /^HTTP\/1\.1 200 /, `${path}: HEAD sent a body`)
  }
})

test('security headers on success, error and preflight', async () => {
  for (const init of [{ path: '/health' }, { path: '/nope' }, { path: '/health', method: 'OPTIONS' }]) {
    const res = await fetch(`${s.url}${init.path}`, { method: init.method ?? 'GET' })
    assertCommonHeaders(res)
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'")
  }
  const docs = await fetch(`${s.url}/docs`)
  assert.match(docs.headers.get('content-security-policy') ?? '', /script-src 'self'/)
  assert.equal(docs.headers.get('x-frame-options'), 'DENY')
})

test('CORS with the default "*"', async () => {
  const res = await fetch(`${s.url}/health`, { headers: { origin: 'https://site.example' } })
  assert.equal(res.headers.get('access-control-allow-origin'), '*')
  assert.match(res.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/)
  assert.match(res.headers.get('access-control-expose-headers') ?? '', /Retry-After/)
  assert.equal(res.headers.get('access-control-allow-credentials'), null)
  const noOrigin = await fetch(`${s.url}/health`)
  assert.equal(noOrigin.headers.get('access-control-allow-origin'), null)

  const pre = await fetch(`${s.url}/api/v2/videos/batch`, {
    method: 'OPTIONS',
    headers: { origin: 'https://site.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-api-key' }
  })
  assert.equal(pre.status, 204)
  assertCommonHeaders(pre)
  assert.equal(pre.headers.get('access-control-allow-origin'), '*')
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/)
  assert.equal(pre.headers.get('access-control-allow-headers'), 'content-type, x-api-key')
  assert.equal(pre.headers.get('access-control-max-age'), '86400')
  assert.equal(await pre.text(), '')
})

test('CORS with explicit origins and credentials', async (t) => {
  const app = await startApp({ CORS_ORIGINS: 'https://a.example,https://B.example', CORS_ALLOW_CREDENTIALS: 'true' })
  t.after(app.close)
  const ok = await fetch(`${app.url}/health`, { headers: { origin: 'https://a.example' } })
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://a.example')
  assert.equal(ok.headers.get('access-control-allow-credentials'), 'true')
  assert.match(ok.headers.get('vary') ?? '', /Origin/)
  const caseless = await fetch(`${app.url}/health`, { headers: { origin: 'https://b.example' } })
  assert.equal(caseless.headers.get('access-control-allow-origin'), 'https://b.example')
  const other = await fetch(`${app.url}/health`, { headers: { origin: 'https://evil.example' } })
  assert.equal(other.status, 200)
  assert.equal(other.headers.get('access-control-allow-origin'), null)
  assert.equal(other.headers.get('access-control-allow-credentials'), null)
  assert.match(other.headers.get('vary') ?? '', /Origin/)
  const pre = await fetch(`${app.url}/api/v2/videos/batch`, { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } })
  assert.equal(pre.status, 204)
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://a.example')
  const preEvil = await fetch(`${app.url}/api/v2/videos/batch`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  assert.equal(preEvil.headers.get('access-control-allow-origin'), null)
})
