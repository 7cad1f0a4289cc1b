// A cached video's 302 and cached info on the uWS lane: the same answer as
// hyper-express gives (status and every header but those that differ per
// request), from L1, and from Redis (L2) after one read; a request the lane
// took whose L2 read misses is handed to hyper-express and served there,
// counted once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { rmSync } from 'node:fs'
import { startApp, startRedis } from '../../testing/helpers.ts'
import { writeLocalFixtures } from '../../testing/fixtures.ts'
import { cacheKey } from '../../extract/cache.ts'
import type { StartedApp } from '../../testing/helpers.ts'

interface Reply { status: number, headers: Array<[string, string]>, body: string }

async function send (port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const list: Array<[string, string]> = []
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) list.push([(res.rawHeaders[i] ?? '').toLowerCase(), res.rawHeaders[i + 1] ?? ''])
        resolve({ status: res.statusCode ?? 0, headers: list, body: Buffer.concat(chunks).toString() })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

const header = (r: Reply, name: string): string | undefined => r.headers.find(([k]) => k === name)?.[1]
// policy.ts: "_" before the counter on uWS, "-" on hyper-express
const lane = (r: Reply): string => /_[0-9a-z]+$/.test(header(r, 'x-request-id') ?? '') ? 'uws' : 'hyper'
// every header line, sorted, but those that differ per request
const PER_REQUEST = new Set(['x-request-id', 'x-process-time', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'date'])
const shape = (r: Reply): unknown => ({
  status: r.status,
  body: r.body,
  headers: r.headers.filter(([k]) => !PER_REQUEST.has(k)).map(([k, v]) => `${k}: ${v}`).sort()
})

const VIDEO = '/api/v2/stream/youtube/dQw4w9WgXcQ'
const PAGE = encodeURIComponent('https://www.youtube.com/watch?v=dQw4w9WgXcQ')
const TWEET = '/api/v2/stream/twitter/1234567890123456789'
// Paths whose plan is a redirect: mode=redirect (YouTube's URLs are IP-bound, so
// only on request; at 1080p and best the single 360p file, a split pair being no
// redirect), the compat forms, and mode=auto for media any client can fetch.
const REDIRECTS = [
  `${VIDEO}?quality=360p&mode=redirect`,
  `${VIDEO}?quality=1080p&mode=redirect`,
  `${VIDEO}?mode=redirect`,
  `/api/v2/stream/url?url=${PAGE}&quality=360p&mode=redirect`,
  `/api/v2/stream?url=${PAGE}&quality=360p&mode=redirect`,
  '/api/v2/stream/direct/youtube/dQw4w9WgXcQ?quality=360p',
  `/api/stream?url=${PAGE}&quality=sd&format=redirect`,
  `/api/v1/?yt=${PAGE}&quality=360p&mode=redirect`,
  `/api/v1/?yt=${PAGE}`,
  TWEET,
  `${TWEET}?quality=best&mode=auto`
]
const VARIANTS: Array<{ method: string, headers: Record<string, string> }> = [
  { method: 'GET', headers: {} },
  { method: 'HEAD', headers: {} },
  { method: 'GET', headers: { origin: 'https://ok.example', 'user-agent': 'AppleCoreMedia/1.0' } },
  { method: 'GET', headers: { origin: 'https://elsewhere.example', 'x-request-id': 'trace-1' } }
]

// the media is on loopback, which the egress policy refuses unless the operator lists it
const MEDIA_HOST = '127.0.0.1:9'

async function withFixtures (t: { after: (fn: () => Promise<void> | void) => void }): Promise<void> {
  // the media is never fetched for a redirect: the origin's address only has to parse
  const dir = writeLocalFixtures(`http://${MEDIA_HOST}`)
  const previous = process.env.FAKE_YTDLP_FIXTURE_DIR
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  t.after(() => {
    if (previous === undefined) delete process.env.FAKE_YTDLP_FIXTURE_DIR
    else process.env.FAKE_YTDLP_FIXTURE_DIR = previous
    rmSync(dir, { recursive: true, force: true })
  })
}

test('a cached video\'s 302 from the uWS lane has the status, headers and body of the hyper-express 302', async (t) => {
  await withFixtures(t)
  // the limiter runs (its headers are compared too) but never refuses these 64 requests
  const app = await startApp({ GENERIC_HOSTS: MEDIA_HOST, CORS_ORIGINS: 'https://ok.example', CORS_ALLOW_CREDENTIALS: 'true', RATE_LIMIT_EXTRACT_MAX_REQUESTS: '1000' })
  t.after(async () => { await app.close() })
  let n = 0
  for (const path of REDIRECTS) {
    for (const v of VARIANTS) {
      // a query the route has not seen goes to hyper-express (the video is cached after the first)
      const unseen = `${path}${path.includes('?') ? '&' : '?'}n=${++n}`
      const slow = await send(app.port, unseen, v.method, v.headers)
      const fast = await send(app.port, unseen, v.method, v.headers)
      const what = `${v.method} ${unseen} ${JSON.stringify(v.headers)}`
      assert.equal(slow.status, 302, `${what}: ${slow.body}`)
      // a sane X-Request-Id is echoed, so the lane only shows in generated ones
      if (v.headers['x-request-id'] === undefined) assert.deepEqual([lane(slow), lane(fast)], ['hyper', 'uws'], what)
      assert.deepEqual(shape(fast), shape(slow), what)
      assert.equal(header(fast, 'x-stream-mode'), 'redirect')
      assert.match(header(fast, 'location') ?? '', /^http:\/\/127\.0\.0\.1:9\//)
      assert.match(header(fast, 'cache-control') ?? '', /^private, max-age=\d+$/)
      assert.equal(header(fast, 'content-length'), '0')
      assert.equal(header(fast, 'content-type'), undefined)
      if (v.headers['x-request-id'] !== undefined) assert.deepEqual([header(slow, 'x-request-id'), header(fast, 'x-request-id')], ['trace-1', 'trace-1'])
    }
  }
})

test('a plan that is not a redirect, or a request the route has not checked, stays with the route\'s handler', async (t) => {
  await withFixtures(t)
  const app = await startApp({ GENERIC_HOSTS: MEDIA_HOST })
  t.after(async () => { await app.close() })
  const route = app.app.routes.find((r) => r.path === '/api/v2/stream/:platform/:id' && r.method === 'get')
  assert.ok(route?.peek !== undefined)
  const params = { platform: 'youtube', id: 'dQw4w9WgXcQ' }
  const peek = (query: string): unknown => route.peek?.({ params, query, header: () => '' })
  assert.equal(peek('quality=360p&mode=redirect'), null, 'not seen yet')
  assert.equal((await send(app.port, `${VIDEO}?quality=360p&mode=redirect`)).status, 302)
  assert.notEqual(peek('quality=360p&mode=redirect'), null, 'seen, cached, a redirect: the lane answers')
  assert.equal(peek('quality=360p&mode=redirect&n=2'), null, 'another query is another request')
  // seen, whatever they answered (the media origin here refuses connections): proxy (IP-bound
  // media with mode=auto), json, and a split quality with mode=auto (a remux or HLS)
  for (const query of ['quality=360p', 'quality=360p&mode=json', 'quality=1080p']) {
    await send(app.port, `${VIDEO}?${query}`, 'HEAD')
    assert.equal(peek(query), null, query)
  }
  // mode=redirect where no single file exists: a 409 from the handler, never from the lane
  const bili = { platform: 'bilibili', id: 'BV1GJ411x7h7' }
  for (let i = 0; i < 2; i++) {
    const r = await send(app.port, '/api/v2/stream/bilibili/BV1GJ411x7h7?quality=720p&mode=redirect')
    assert.equal(r.status, 409, r.body)
    assert.equal(lane(r), 'hyper')
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'NO_SINGLE_FILE')
  }
  assert.equal(route.peek?.({ params: bili, query: 'quality=720p&mode=redirect', header: () => '' }), null)
  assert.equal(peek('quality=auto&mode=redirect'), null, 'quality=auto is planned per request')
})

// The metrics line of a route's answers
async function served (app: StartedApp, route: string, status: number): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`vidgate_http_requests_total{route="${route}",method="GET",status="${status}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

async function cacheCount (app: StartedApp, layer: string, result: string): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`vidgate_cache_requests_total{cache="info",layer="${layer}",result="${result}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

test('with Redis: a hit fills L1; with L1 off the uWS lane answers from one L2 read, and hands a miss to hyper-express', async (t) => {
  await withFixtures(t)
  const redis = await startRedis()
  t.after(async () => { await redis.stop() })
  const env = { GENERIC_HOSTS: MEDIA_HOST, REDIS_URL: redis.url, RATE_LIMIT_ENABLED: 'false' }
  const writer = await startApp(env)
  const reader = await startApp(env)
  const off = await startApp({ ...env, CACHE_L1_TTL: '0' })
  t.after(async () => { await writer.close(); await reader.close(); await off.close() })
  const INFO = '/api/v2/videos/twitter/1234567890123456789'
  const ROUTE = '/api/v2/videos/:platform/:id'

  const extracted = await send(writer.port, INFO)
  assert.equal(extracted.status, 200)
  assert.match(extracted.body, /"cached":false/)
  const cachedBody = (await send(writer.port, INFO)).body
  assert.match(cachedBody, /"cached":true/)
  // each host's answer carries its own signed image links, on its own base: the rest is the body stored in L2
  const images = /http:\/\/127\.0\.0\.1:\d+\/api\/v2\/images\/[A-Za-z0-9._/-]+/g
  const unlinked = (body: string): string => body.replace(images, '(image link)')
  assert.match(cachedBody, images, 'the fixture has images, behind this server\'s links')

  // another host: its first request reads L2 and fills L1; the next is an L1 hit on the uWS lane
  const l2Before = await cacheCount(reader, 'l2', 'hit')
  const first = await send(reader.port, INFO)
  assert.equal(lane(first), 'hyper', 'a request the host has not seen')
  assert.equal(unlinked(first.body), unlinked(cachedBody))
  assert.ok(first.body.includes(`http://127.0.0.1:${reader.port}/api/v2/images/`), 'links on the host\'s own base')
  assert.equal(await cacheCount(reader, 'l2', 'hit'), l2Before + 1)
  const second = await send(reader.port, INFO)
  assert.equal(lane(second), 'uws')
  assert.equal(second.body, first.body, 'the same answer from either lane')
  assert.equal(await cacheCount(reader, 'l2', 'hit'), l2Before + 1, 'served from L1: no L2 read')

  // L1 off: every answer is one L2 read, on the uWS lane once the route has seen the request
  const seen = await send(off.port, INFO)
  assert.equal(lane(seen), 'hyper')
  assert.equal(unlinked(seen.body), unlinked(cachedBody))
  const l2Hits = await cacheCount(off, 'l2', 'hit')
  for (let i = 0; i < 3; i++) {
    const r = await send(off.port, INFO, i === 2 ? 'HEAD' : 'GET')
    assert.equal(lane(r), 'uws')
    assert.equal(r.status, 200)
    if (i < 2) assert.equal(r.body, seen.body, 'the body the record keeps, with the links hyper-express gave')
    else assert.equal(header(r, 'content-length'), String(Buffer.byteLength(seen.body)))
  }
  assert.equal(await cacheCount(off, 'l2', 'hit'), l2Hits + 3)

  // the same for a 302, against the one hyper-express sent
  const slow = await send(off.port, TWEET)
  const fast = await send(off.port, TWEET)
  assert.equal(slow.status, 302)
  assert.deepEqual([lane(slow), lane(fast)], ['hyper', 'uws'])
  assert.deepEqual(shape(fast), shape(slow))

  // gone from L2: the lane took the request, the read missed, and hyper-express extracted it (counted once)
  const before = await served(off, ROUTE, 200)
  const admin = (off.redis ?? assert.fail('the app has a Redis client'))
  assert.equal(await admin.del(cacheKey('info', 'twitter', '1234567890123456789')), 1)
  const handed = await send(off.port, INFO)
  assert.equal(handed.status, 200)
  assert.match(handed.body, /"cached":false/, 'extracted again')
  assert.equal(lane(handed), 'uws', 'admitted by the uWS lane, which handed it over')
  assert.equal(await served(off, ROUTE, 200), before + 1, 'counted once')
})
