// Bounds and refusals of one in-process app: URL and body size, rate limit,
// and health turning 503 when yt-dlp cannot run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp, raw, json, assertCommonHeaders, assertErrorBody } from '../testing/helpers.ts'

const COOKIE_LINE = '.youtube.com\tTRUE\t/\tTRUE\t1893456000\tSID\t'

test('a URL longer than MAX_URL_LENGTH: 414 JSON', async (t) => {
  const s = await startApp({ MAX_URL_LENGTH: '256' })
  t.after(s.close)
  const { res, body } = await json(`${s.url}/api/v2/system/version?pad=${'a'.repeat(300)}`)
  assert.equal(res.status, 414)
  assertCommonHeaders(res)
  assertErrorBody(res, body, 'URL_TOO_LONG')
  assert.equal((await fetch(`${s.url}/api/v2/system/version?pad=${'a'.repeat(100)}`)).status, 200)
  // the fast lane (/, health, auth status) bounds the same length: "/health?pad=" + 244 is 256
  const limit = await json(`${s.url}/health?pad=${'a'.repeat(245)}`)
  assert.equal(limit.res.status, 414)
  assertErrorBody(limit.res, limit.body, 'URL_TOO_LONG')
  assert.equal((await fetch(`${s.url}/health?pad=${'a'.repeat(244)}`)).status, 200)
})

test('a body larger than MAX_REQUEST_BODY_SIZE: 413 JSON, and the connection stays usable', async (t) => {
  const s = await startApp({ MAX_REQUEST_BODY_SIZE: '1024' })
  t.after(s.close)
  const { res, body } = await json(`${s.url}/api/v2/videos/info`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'x'.repeat(4096) }) })
  assert.equal(res.status, 413)
  assertCommonHeaders(res)
  assertErrorBody(res, body, 'PAYLOAD_TOO_LARGE')
  // any method: a GET carrying a large body is refused the same way
  const big = 'x'.repeat(4096)
  const text = await raw(s.port, `GET /api/v2/system/version HTTP/1.1\r\nHost: t\r\nContent-Length: ${big.length}\r\n\r\n${big}GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`)
  assert.match(text, /^HTTP\/1\.1 413 [^]*"code":"PAYLOAD_TOO_LARGE"[^]*HTTP\/1\.1 200 /)
})

test('bodies above 16 KB are read (hyper-express highWaterMark stall)', async (t) => {
  const s = await startApp()
  t.after(s.close)
  const { res, body } = await json(`${s.url}/api/v2/videos/info`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://unsupported.example/watch', pad: 'x'.repeat(200_000) })
  })
  assert.equal(res.status, 422, JSON.stringify(body))
  assert.equal(body.code, 'UNSUPPORTED_URL')

  const cookies = Array.from({ length: 400 }, (_, i) => `${COOKIE_LINE}${'v'.repeat(60)}${i}`).join('\n')
  assert.ok(cookies.length > 16 * 1024)
  const put = await json(`${s.url}/api/v2/auth/cookies/youtube`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: cookies })
  assert.equal(put.res.status, 200, JSON.stringify(put.body))
  assert.equal((put.body.state as Record<string, unknown>).cookie_count, 400)
})

test('rate limit: X-RateLimit-* on every limited response, then 429 with Retry-After', async (t) => {
  // an hour-long fixed window: one ending mid-test (which would reset the count) is unlikely
  const s = await startApp({ RATE_LIMIT_MAX_REQUESTS: '3', RATE_LIMIT_WINDOW: '3600' })
  t.after(s.close)
  const remaining: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${s.url}/api/v2/system/version`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-ratelimit-limit'), '3')
    remaining.push(res.headers.get('x-ratelimit-remaining') ?? '')
    const reset = Number(res.headers.get('x-ratelimit-reset'))
    assert.ok(reset * 1000 > Date.now() && reset * 1000 <= Date.now() + 3_601_000, `reset ${reset}`)
  }
  assert.deepEqual(remaining, ['2', '1', '0'])
  const { res, body } = await json(`${s.url}/api/v2/system/version`)
  assert.equal(res.status, 429)
  assertCommonHeaders(res)
  assertErrorBody(res, body, 'RATE_LIMITED')
  const retry = Number(res.headers.get('retry-after'))
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3600, `retry-after ${retry}`)
  assert.equal(res.headers.get('x-ratelimit-remaining'), '0')
  // other endpoints share the client's budget; health and metrics are never limited
  assert.equal((await fetch(`${s.url}/`)).status, 429)
  assert.equal((await fetch(`${s.url}/health`)).status, 200)
  assert.equal((await fetch(`${s.url}/metrics`)).status, 200)
})

test('RATE_LIMIT_ENABLED=false sends no limit headers', async (t) => {
  const s = await startApp({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_MAX_REQUESTS: '1' })
  t.after(s.close)
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${s.url}/api/v2/system/version`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-ratelimit-limit'), null)
  }
})

test('health is 503 unhealthy when yt-dlp cannot run', async (t) => {
  const s = await startApp({ YTDLP_PATH: '/nonexistent/yt-dlp' })
  t.after(s.close)
  for (const path of ['/health', '/api/v2/system/health', '/api/health']) {
    const { res, body } = await json(`${s.url}${path}`)
    assert.equal(res.status, 503, path)
    assertCommonHeaders(res)
    assert.equal(body.status, 'unhealthy')
    const ytdlp = (body.checks as Record<string, Record<string, unknown>>).ytdlp
    assert.equal(ytdlp?.status, 'failed')
    assert.equal(ytdlp?.version, null)
    assert.match(String(ytdlp?.detail), /\/nonexistent\/yt-dlp/)
  }
  const head = await fetch(`${s.url}/health`, { method: 'HEAD' })
  assert.equal(head.status, 503)
  const version = await json(`${s.url}/api/v2/system/version`)
  assert.equal(version.res.status, 200)
  assert.equal(version.body.ytdlp, null)
})
