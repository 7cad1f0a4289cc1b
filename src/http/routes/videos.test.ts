import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApp } from '../../testing/helpers.ts'

type Json = Record<string, unknown>

async function call (url: string, init?: RequestInit): Promise<{ status: number, body: Json }> {
  const res = await fetch(url, init)
  return { status: res.status, body: await res.json() as Json }
}

const COOKIES = '# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\tsecret-value\n'

test('platform-shaped fixtures are normalized through the info and formats endpoints', async (t) => {
  const app = await startApp({ RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })

  const yt = await call(`${app.url}/api/v2/videos/youtube/dQw4w9WgXcQ`)
  assert.equal(yt.status, 200, JSON.stringify(yt.body))
  assert.equal(yt.body.platform, 'youtube')
  assert.equal(yt.body.url, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ')
  assert.match(String(yt.body.expires_at), /^\d{4}-\d\d-\d\dT/)
  const ytFormats = yt.body.formats as Json[]
  assert.ok(ytFormats.some((f) => f.has_video === true && f.has_audio === false), 'split video-only formats are listed')
  assert.ok(ytFormats.some((f) => f.has_video === false && f.has_audio === true), 'audio-only formats are listed')

  const q = await call(`${app.url}/api/v2/videos/youtube/dQw4w9WgXcQ/formats`)
  assert.equal(q.status, 200)
  const qualities = q.body.qualities as Json[]
  assert.ok(qualities.some((x) => x.quality === '360p' && x.serving === 'direct'))
  assert.ok(qualities.some((x) => x.quality === '1080p' && x.serving === 'hls'), 'an MP4 video+audio pair: HLS for HLS players, a remux for others')

  const bili = await call(`${app.url}/api/v2/videos?url=${encodeURIComponent('https://www.bilibili.com/video/BV1GJ411x7h7/')}`)
  assert.equal(bili.status, 200, JSON.stringify(bili.body))
  assert.equal(bili.body.platform, 'bilibili')
  assert.ok((bili.body.formats as Json[]).every((f) => f.needs_headers === true), 'BiliBili media needs its Referer')

  for (const url of ['https://x.com/someone/status/1234567890123456789', 'https://www.instagram.com/reel/Cabc123XYZ/', 'https://www.twitch.tv/videos/123456789']) {
    const r = await call(`${app.url}/api/info?url=${encodeURIComponent(url)}`)
    assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`)
    assert.ok((r.body.formats as Json[]).length > 0)
  }
})

test('bad targets are 4xx with a clear error', async (t) => {
  const app = await startApp({ RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })
  const unsupported = await call(`${app.url}/api/v2/videos?url=${encodeURIComponent('https://evil.example/youtube.com/watch?v=dQw4w9WgXcQ')}`)
  assert.equal(unsupported.status, 422)
  assert.equal(unsupported.body.code, 'UNSUPPORTED_URL')
  assert.match(String(unsupported.body.detail), /youtube/)
  const badId = await call(`${app.url}/api/v2/videos/youtube/${encodeURIComponent('--exec=rm -rf /')}`)
  assert.equal(badId.status, 400)
  const noUrl = await call(`${app.url}/api/info`)
  assert.equal(noUrl.status, 400)
  assert.equal(noUrl.body.detail, 'url')
  const twice = await call(`${app.url}/api/info?url=a&url=b`)
  assert.equal(twice.status, 400)
  const platform = await call(`${app.url}/api/v2/videos/myspace/abc`)
  assert.equal(platform.status, 400)
  assert.equal(platform.body.code, 'UNSUPPORTED_PLATFORM')
})

test('playlists are paged and batch answers per item', async (t) => {
  const app = await startApp({ RATE_LIMIT_ENABLED: 'false', BATCH_MAX: '5' })
  t.after(async () => { await app.close() })
  const list = await call(`${app.url}/api/v2/playlists/youtube/PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf?page=1&page_size=2`)
  assert.equal(list.status, 200, JSON.stringify(list.body))
  assert.equal((list.body.entries as Json[]).length, 2)
  assert.ok(Number(list.body.entry_count) >= 2)

  const batch = await call(`${app.url}/api/v2/videos/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ platform: 'youtube', id: 'dQw4w9WgXcQ' }, { url: 'https://nope.example/x' }, 'garbage', { platform: 'bilibili', id: 'BV1GJ411x7h7' }] })
  })
  assert.equal(batch.status, 200, JSON.stringify(batch.body))
  const results = batch.body.results as Json[]
  assert.deepEqual(results.map((r) => r.ok), [true, false, false, true])
  assert.equal((results[1]?.error as Json).code, 'UNSUPPORTED_URL')
  const tooMany = await call(`${app.url}/api/v2/videos/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: new Array(6).fill({ url: 'x' }) }) })
  assert.equal(tooMany.status, 400)
  const notJson = await call(`${app.url}/api/v2/videos/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"items": [' })
  assert.equal(notJson.status, 400)
})

test('uploaded cookies reach yt-dlp on the next extraction, and can be removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-cookies-'))
  const log = join(dir, 'argv.log')
  process.env.FAKE_YTDLP_LOG = log
  const app = await startApp({ RATE_LIMIT_ENABLED: 'false', CACHE_L1_TTL: '0' })
  t.after(async () => { delete process.env.FAKE_YTDLP_LOG; await app.close(); rmSync(dir, { recursive: true, force: true }) })

  const bad = await call(`${app.url}/api/v2/auth/cookies/youtube`, { method: 'PUT', body: 'not a cookie file' })
  assert.equal(bad.status, 400)
  const put = await call(`${app.url}/api/v2/auth/cookies/youtube`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: COOKIES })
  assert.equal(put.status, 200, JSON.stringify(put.body))
  assert.equal((put.body.state as Json).cookie_count, 1)
  const status = await call(`${app.url}/api/v2/auth/platforms/youtube`)
  assert.equal(status.body.cookie_file_valid, true)
  assert.equal(JSON.stringify(status.body).includes('secret-value'), false, 'cookie values are never served')

  await call(`${app.url}/api/v2/videos/youtube/dQw4w9WgXcQ`)
  const argv = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[])
  const last = argv.at(-1) ?? []
  assert.ok(last.includes('--cookies'), JSON.stringify(last))
  assert.ok(last.indexOf('--') < last.length - 1 && last.at(-1) === 'https://www.youtube.com/watch?v=dQw4w9WgXcQ')

  const del = await call(`${app.url}/api/v2/auth/cookies/youtube`, { method: 'DELETE' })
  assert.equal(del.body.removed, true)
  const guide = await call(`${app.url}/api/v2/auth/guide`)
  assert.equal(guide.status, 200)
  const unknown = await call(`${app.url}/api/v2/auth/cookies/myspace`, { method: 'PUT', body: COOKIES })
  assert.equal(unknown.status, 400)
})

test('/api/platforms lists every platform with domains and examples', async (t) => {
  const app = await startApp({})
  t.after(async () => { await app.close() })
  const res = await call(`${app.url}/api/platforms`)
  const names = (res.body.platforms as Json[]).map((p) => p.name)
  for (const name of ['youtube', 'bilibili', 'twitter', 'instagram', 'twitch']) assert.ok(names.includes(name), name)
})

test('cached info is answered by the fast lane with the pipeline’s headers, limits and body', async (t) => {
  // the X fixture's media URLs carry no expiry, so its info is cached
  // a day-long fixed window, so that no window ends mid-test
  const app = await startApp({ RATE_LIMIT_EXTRACT_MAX_REQUESTS: '12', RATE_LIMIT_WINDOW: '86400' })
  t.after(async () => { await app.close() })
  const origin = 'https://app.example'
  const get = async (path: string, method = 'GET'): Promise<Response> => await fetch(`${app.url}${path}`, { method, headers: { origin } })
  // Each lane generates its request ids from its own random prefix: the first
  // (uncached) answer comes from the pipeline and shows the pipeline's.
  let pipelinePrefix = ''
  const lane = (res: Response): string => (res.headers.get('x-request-id') ?? '').startsWith(pipelinePrefix) ? 'pipeline' : 'fast'
  const names = (res: Response): string[] => [...res.headers.keys()].filter((k) => k !== 'date').sort()

  const first = await get('/api/v2/videos/twitter/1234567890123456789')
  const firstBody = await first.json() as Json
  assert.equal(first.status, 200)
  assert.equal(firstBody.cached, false)
  pipelinePrefix = (first.headers.get('x-request-id') ?? '').replace(/-[0-9a-z]+$/, '-')
  assert.ok(pipelinePrefix.length > 4)

  const second = await get('/api/v2/videos/twitter/1234567890123456789')
  const secondText = await second.text()
  assert.equal(second.status, 200)
  assert.equal(lane(second), 'fast')
  assert.deepEqual(JSON.parse(secondText), { ...firstBody, cached: true })
  assert.deepEqual(names(second), names(first), 'the same headers on both lanes')
  for (const h of ['content-type', 'access-control-allow-origin', 'access-control-expose-headers', 'x-ratelimit-limit', 'content-security-policy']) {
    assert.equal(second.headers.get(h), first.headers.get(h), h)
  }
  // one count across both lanes
  assert.equal(Number(second.headers.get('x-ratelimit-remaining')), Number(first.headers.get('x-ratelimit-remaining')) - 1)

  // the same video by page URL: no new extraction, the same body; a query's
  // first request resolves it in the pipeline, then the fast lane knows it
  // (/api/info answers the original's fields beside these: compat.test.ts)
  for (const [path, expected] of [['/api/v2/videos', 'pipeline'], ['/api/v2/videos', 'fast']]) {
    const res = await get(`${path}?url=${encodeURIComponent('https://x.com/someone/status/1234567890123456789')}`)
    assert.equal(res.status, 200, path)
    assert.equal(lane(res), expected, path)
    assert.equal(await res.text(), secondText, path)
  }

  const head = await get('/api/v2/videos/twitter/1234567890123456789', 'HEAD')
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(secondText)))
  assert.equal((await head.arrayBuffer()).byteLength, 0)

  // not cached, or not a valid target: the pipeline answers as before
  const bad = await get('/api/v2/videos/youtube/not-an-id')
  assert.equal(bad.status, 400)
  assert.equal(lane(bad), 'pipeline')
  await bad.arrayBuffer()

  // the limit holds on the fast lane too: 12 per window, then 429 with Retry-After
  let limited: Response | null = null
  for (let i = 0; i < 12 && limited === null; i++) {
    const res = await get('/api/v2/videos/twitter/1234567890123456789')
    if (res.status === 429) limited = res
    else await res.arrayBuffer()
  }
  assert.ok(limited !== null, 'no 429 after the limit')
  assert.equal(lane(limited), 'fast')
  assert.ok(Number(limited.headers.get('retry-after')) >= 1)
  assert.equal(((await limited.json()) as Json).code, 'RATE_LIMITED')
})
