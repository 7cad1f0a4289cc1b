import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { startApp, startRedis } from '../testing/helpers.ts'
import { startOrigin } from '../testing/origin.ts'

// '' is the shipped default (the project's current yt-dlp); startApp's base env points at the fake
const YTDLP = process.env.VIDGATE_TEST_YTDLP ?? ''

async function getJson (url: string): Promise<{ status: number, body: Record<string, unknown>, headers: Headers }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers }
}

test('real yt-dlp (warm pool) extracts a local page, then serves it from the cache', async (t) => {
  const origin = await startOrigin()
  const app = await startApp({ GENERIC_HOSTS: origin.host, YTDLP_PATH: YTDLP, YTDLP_MODE: 'warm', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); await origin.close() })
  const page = `${origin.url}/page.html`

  const first = await getJson(`${app.url}/api/v2/videos?url=${encodeURIComponent(page)}`)
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.match(String(first.body.title), /^Local Test Clip/)
  assert.equal(first.body.platform, 'generic')
  assert.equal(first.body.cached, false)
  const formats = first.body.formats as Array<Record<string, unknown>>
  assert.ok(formats.some((f) => f.has_audio === true && f.has_video === true), 'a progressive format with audio')
  assert.equal(JSON.stringify(first.body).includes('http://127.0.0.1'), true, 'the page URL is echoed')
  assert.equal(formats.some((f) => 'url' in f), false, 'media URLs are not exposed in info')

  const second = await getJson(`${app.url}/api/v2/videos/generic/${String(first.body.id)}`)
  assert.equal(second.status, 200)
  assert.equal(second.body.cached, true)
  assert.equal(origin.hits('/page.html'), 1, 'the origin saw exactly one page fetch')

  const formatsRes = await getJson(`${app.url}/api/formats?url=${encodeURIComponent(page)}`)
  assert.equal(formatsRes.status, 200)
  assert.ok(Array.isArray(formatsRes.body.formats))
})

test('1,000 concurrent requests for one uncached video run one extraction', async (t) => {
  const origin = await startOrigin({ pageDelayMs: 200 })
  const app = await startApp({ GENERIC_HOSTS: origin.host, YTDLP_PATH: YTDLP, YTDLP_MODE: 'warm', RATE_LIMIT_ENABLED: 'false' })
  const agent = new Agent({ connections: 200 })
  t.after(async () => { await agent.close(); await app.close(); await origin.close() })
  const url = `${app.url}/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`
  const statuses = await Promise.all(Array.from({ length: 1000 }, async () => {
    const res = await request(url, { dispatcher: agent })
    await res.body.dump()
    return res.statusCode
  }))
  assert.deepEqual([...new Set(statuses)], [200])
  assert.equal(origin.hits('/page.html'), 1)
})

test('with Redis, two instances share the cache and run one extraction between them', async (t) => {
  const redis = await startRedis()
  const origin = await startOrigin({ pageDelayMs: 300 })
  const env = { GENERIC_HOSTS: origin.host, YTDLP_PATH: YTDLP, YTDLP_MODE: 'warm', RATE_LIMIT_ENABLED: 'false', REDIS_URL: redis.url }
  const a = await startApp(env)
  const b = await startApp(env)
  let c: Awaited<ReturnType<typeof startApp>> | null = null
  // every app closes before Redis stops (their queues would otherwise wait for it)
  t.after(async () => { await c?.close(); await a.close(); await b.close(); await origin.close(); await redis.stop() })
  const path = `/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`
  const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => await getJson(`${i % 2 === 0 ? a.url : b.url}${path}`)))
  assert.ok(results.every((r) => r.status === 200))
  assert.equal(origin.hits('/page.html'), 1, 'one page fetch across both instances')
  // b serves from Redis after its L1 is bypassed by a fresh instance
  c = await startApp(env)
  const fromL2 = await getJson(`${c.url}${path}`)
  assert.equal(fromL2.body.cached, true)
  assert.equal(origin.hits('/page.html'), 1)
})

test('Redis down is a cache miss, never a hang or a 5xx', { timeout: 120_000 }, async (t) => {
  const redis = await startRedis()
  const origin = await startOrigin()
  const app = await startApp({ GENERIC_HOSTS: origin.host, YTDLP_PATH: YTDLP, YTDLP_MODE: 'warm', RATE_LIMIT_ENABLED: 'false', REDIS_URL: redis.url })
  t.after(async () => { await app.close(); await origin.close(); await redis.stop() })
  await redis.stop()
  // a hang fails by the test's own timeout (timing is bench/'s business)
  const res = await getJson(`${app.url}/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`)
  assert.equal(res.status, 200)
  // health notices within its refresh period and reports degraded (still 200)
  let cacheStatus: unknown = 'ok'
  for (let i = 0; i < 40 && cacheStatus === 'ok'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 150))
    const health = await getJson(`${app.url}/health`)
    assert.equal(health.status, 200)
    cacheStatus = (health.body.checks as Record<string, Record<string, unknown>>).cache?.status
    if (cacheStatus !== 'ok') assert.equal(health.body.status, 'degraded')
  }
  assert.equal(cacheStatus, 'degraded')
})

// path of fake yt-dlp, status, code, and what the detail must name (the remedy, then yt-dlp's words)
const ERROR_CASES: ReadonlyArray<[string, number, string, RegExp?]> = [
  ['notfound', 404, 'VIDEO_NOT_FOUND'],
  ['unavailable', 404, 'VIDEO_NOT_FOUND', /^Check the URL.* yt-dlp: \[youtube\] dQw4w9WgXcQ: Video unavailable/],
  ['private', 404, 'VIDEO_NOT_FOUND', /cookies\/youtube.* yt-dlp: \[youtube\] dQw4w9WgXcQ: Private video\. Sign in if you've been granted access to this video$/],
  ['geo', 451, 'GEO_BLOCKED', /YTDLP_PROXY \(or YOUTUBE_PROXY\)/],
  ['login', 403, 'LOGIN_REQUIRED', /PUT \/api\/v2\/auth\/cookies\/twitch\. yt-dlp: \[twitch:vod\] v2005583201: You must be logged into/],
  ['members', 403, 'LOGIN_REQUIRED', /PUT \/api\/v2\/auth\/cookies\/youtube\. yt-dlp: .*members-only/],
  ['age', 403, 'AGE_RESTRICTED', /age-verified account with PUT \/api\/v2\/auth\/cookies\/youtube\..* Sign in to confirm your age\. This video may be inappropriate for some users$/],
  ['bot', 503, 'BOT_CHECK', /PUT \/api\/v2\/auth\/cookies\/youtube.*YTDLP_PROXY \(or YOUTUBE_PROXY\).*YTDLP_EXTRACTOR_ARGS.*POST \/api\/v2\/system\/ytdlp\/reload.* yt-dlp: \[youtube\] dQw4w9WgXcQ: Sign in to confirm you’re not a bot$/],
  ['captcha', 503, 'CAPTCHA_REQUIRED', /captcha.*PUT \/api\/v2\/auth\/cookies\/youtube.*YOUTUBE_PROXY.* requiring a captcha challenge/],
  ['drm', 422, 'DRM_PROTECTED', /yt-dlp does not download DRM-protected media.* This video is DRM protected$/],
  ['format', 502, 'FORMAT_NOT_AVAILABLE', /POST \/api\/v2\/system\/ytdlp\/reload.*YTDLP_AUTO_UPDATE.* Requested format is not available/],
  ['live', 409, 'LIVE_NOT_STARTED', /once the stream or premiere is live\. yt-dlp: .*This live event will begin in 3 hours\.$/],
  ['ratelimit', 429, 'UPSTREAM_RATE_LIMITED', /Retry later.*YOUTUBE_PROXY.* rate-limited by YouTube/],
  ['ffmpeg', 503, 'FFMPEG_MISSING', /FFMPEG_PATH.* yt-dlp: Postprocessing: ffprobe and ffmpeg not found/],
  ['429', 429, 'UPSTREAM_RATE_LIMITED'],
  ['crash', 502, 'EXTRACTION_FAILED'],
  ['garbage', 502, 'EXTRACTION_FAILED']
]

test('yt-dlp failures map to the error table', async (t) => {
  // A generous EXTRACT_TIMEOUT: on a loaded machine the fake yt-dlp may take seconds to start.
  const app = await startApp({ GENERIC_HOSTS: 'fake.test', EXTRACT_TIMEOUT: '60', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })
  for (const [path, status, code, detail] of ERROR_CASES) {
    const res = await getJson(`${app.url}/api/info?url=${encodeURIComponent(`http://fake.test/${path}`)}`)
    assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`)
    assert.equal(res.body.code, code, path)
    if (detail !== undefined) assert.match(String(res.body.detail), detail, path)
    assert.equal(typeof res.body.request_id, 'string')
  }
  // the pool recovered after the crash
  const ok = await getJson(`${app.url}/api/info?url=${encodeURIComponent('http://fake.test/ok')}`)
  assert.equal(ok.status, 200)
})

test('a hung yt-dlp is killed at EXTRACT_TIMEOUT and the pool recovers', async (t) => {
  const app = await startApp({ GENERIC_HOSTS: 'fake.test', EXTRACT_TIMEOUT: '5', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })
  const res = await getJson(`${app.url}/api/info?url=${encodeURIComponent('http://fake.test/hang')}`)
  assert.equal(res.status, 504, JSON.stringify(res.body))
  assert.equal(res.body.code, 'EXTRACTION_TIMEOUT')
  const ok = await getJson(`${app.url}/api/info?url=${encodeURIComponent('http://fake.test/ok')}`)
  assert.equal(ok.status, 200, JSON.stringify(ok.body))
})

test('a full extraction queue answers 503 EXTRACTION_BUSY with Retry-After', async (t) => {
  const app = await startApp({ GENERIC_HOSTS: 'fake.test', EXTRACT_CONCURRENCY: '1', EXTRACT_QUEUE: '1', EXTRACT_TIMEOUT: '3', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })
  const slow = Array.from({ length: 4 }, async (_, i) => await fetch(`${app.url}/api/info?url=${encodeURIComponent(`http://fake.test/ok?delay=1500&n=${i}`)}`))
  const responses = await Promise.all(slow)
  const statuses = responses.map((r) => r.status)
  assert.ok(statuses.includes(200), String(statuses))
  const busy = responses.find((r) => r.status === 503)
  assert.ok(busy !== undefined, `expected a 503 among ${statuses.join(',')}`)
  assert.equal(busy.headers.get('retry-after'), '2')
  assert.equal((await busy.json() as Record<string, unknown>).code, 'EXTRACTION_BUSY')
})
