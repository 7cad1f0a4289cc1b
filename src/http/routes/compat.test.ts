// The original YouTuberBilBiliHelper's clients keep working: its compat forms
// answer with its field names and types (../shared/reference/seed-system.md),
// on the real server (node dist/src/main.js) with platform-shaped fixtures
// whose media is on a local origin.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { assertErrorBody, json, startCluster } from '../../testing/helpers.ts'
import { startMediaOrigin } from '../../testing/origin.ts'
import { writeLocalFixtures } from '../../testing/fixtures.ts'

type Json = Record<string, unknown>

// accents, CJK, CR/LF with a would-be header, a BEL, quotes and brackets
const TITLE = 'Ünïcödé 中文\r\nX-Injected: yes\u0007 it\'s (100%) *'
// X-Video-Title: ASCII-folded (accents dropped, other non-ASCII '?', controls a space)
const FOLDED = 'Unicode ??  X-Injected: yes  it\'s (100%) *'
// the original's VRChat file name rules
const VRCHAT_NAME = 'Unicode_X-Injected_yes_its_100.mp4'

const YT_ID = 'dQw4w9WgXcQ'
const YT_PAGE = `https://www.youtube.com/watch?v=${YT_ID}`
const TWEET_ID = '1234567890123456789'
const TWEET_PAGE = `https://x.com/someone/status/${TWEET_ID}`
const BILI_ID = 'BV1GJ411x7h7'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const q = encodeURIComponent

function assertTypes (value: Json, types: Record<string, string>, what: string): void {
  for (const [key, type] of Object.entries(types)) {
    const v = value[key]
    const actual = v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) && type.includes('integer') ? 'integer' : typeof v
    assert.ok(type.split('|').includes(actual), `${what}.${key}: ${type} expected, got ${JSON.stringify(v)}`)
  }
}

test('the original\'s compat forms answer as the original did', async (t) => {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url, { title: TITLE })
  // the origin is on loopback, which the egress policy allows only for GENERIC_HOSTS; no rate limit for ~40 requests
  const srv = await startCluster({ workers: 1, timeoutMs: 60_000, env: { FAKE_YTDLP_FIXTURE_DIR: dir, GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' } })
  t.after(async () => { await srv.stop(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  const base = srv.url
  const get = async (path: string, init: RequestInit = {}): Promise<Response> => await fetch(base + path, { redirect: 'manual', signal: AbortSignal.timeout(30_000), ...init })

  await t.test('cache stats before any lookup: nothing cached, no hit rate (original field names, epoch floats)', async () => {
    const { res, body } = await json(`${base}/api/v2/stream/cache/stats`)
    assert.equal(res.status, 200)
    assert.deepEqual(Object.keys(body).sort(), ['cache_stats', 'timestamp'])
    const stats = body.cache_stats as Json
    assert.deepEqual(Object.keys(stats).sort(), ['cache_hit_rate', 'platform_breakdown', 'timestamp', 'total_cached_streams'])
    assert.equal(stats.total_cached_streams, 0)
    assert.deepEqual(stats.platform_breakdown, {})
    assert.equal(stats.cache_hit_rate, 'N/A')
    assert.ok(Math.abs(Number(body.timestamp) - Date.now() / 1000) < 3600, 'epoch seconds')
  })

  await t.test('POST /api/v2/stream/batch with a bare array answers in the original\'s shape', async () => {
    const items = [
      { platform: 'youtube', video_id: YT_ID },
      { platform: 'bilibili', video_id: BILI_ID, quality: 'bestvideo' },
      { platform: 'youtube', video_id: 'not a valid id!' },
      { platform: 'youtube' },
      'not an object'
    ]
    const { res, body } = await json(`${base}/api/v2/stream/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) })
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.deepEqual(Object.keys(body).sort(), ['batch_results', 'processed_at', 'total_requests', 'valid_requests'])
    assert.equal(body.total_requests, 5)
    assert.equal(body.valid_requests, 3)
    assert.equal(typeof body.processed_at, 'number')
    const batch = body.batch_results as Json
    assert.deepEqual([batch.total, batch.successful, batch.failed], [5, 2, 1])
    const results = batch.results as Record<string, Json>
    assert.deepEqual(Object.keys(results).sort(), ['bilibili:BV1GJ411x7h7', 'youtube:dQw4w9WgXcQ', 'youtube:not a valid id!'])
    for (const key of ['youtube:dQw4w9WgXcQ', 'bilibili:BV1GJ411x7h7']) {
      const r = results[key] ?? {}
      assert.deepEqual(Object.keys(r).sort(), ['data', 'success'], key)
      assert.equal(r.success, true)
      const data = r.data as Json
      assertTypes(data, { stream_url: 'string', quality: 'string', platform: 'string', video_id: 'string', video_info: 'object', extracted_at: 'number|null', expires_at: 'number', cached_at: 'number|null' }, key)
      assert.match(String(data.stream_url), /^http:\/\//)
      assert.ok(Number(data.expires_at) > Date.now() / 1000, `${key}: expires in the future`)
      assertTypes(data.video_info as Json, { title: 'string', duration: 'number', thumbnail: 'string|null', uploader: 'string' }, `${key}.video_info`)
      assert.equal((data.video_info as Json).title, TITLE)
    }
    assert.equal(results['youtube:dQw4w9WgXcQ']?.data === undefined ? null : (results['youtube:dQw4w9WgXcQ'].data as Json).quality, 'best', 'the asked quality, default best')
    assert.equal((results['bilibili:BV1GJ411x7h7']?.data as Json).quality, 'bestvideo')
    const failed = results['youtube:not a valid id!'] ?? {}
    assert.deepEqual(Object.keys(failed).sort(), ['error', 'success'])
    assert.equal(failed.success, false)
    assert.equal(typeof failed.error, 'string')

    // ours is unchanged
    const v2 = await json(`${base}/api/v2/stream/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ platform: 'youtube', id: YT_ID }] }) })
    assert.equal(v2.res.status, 200)
    assert.deepEqual(Object.keys(v2.body).sort(), ['count', 'results'])

    // the original's 400s, in our error shape
    for (const bad of [[], [{ platform: 'youtube' }, { video_id: YT_ID }], Array.from({ length: 21 }, () => ({ platform: 'youtube', video_id: YT_ID }))]) {
      const r = await json(`${base}/api/v2/stream/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) })
      assert.equal(r.res.status, 400, JSON.stringify(r.body))
      assertErrorBody(r.res, r.body, 'INVALID_INPUT')
    }
  })

  await t.test('/api/v1?yt= without the trailing slash answers as /api/v1/?yt=', async () => {
    const slash = await get(`/api/v1/?yt=${q(TWEET_PAGE)}`)
    const bare = await get(`/api/v1?yt=${q(TWEET_PAGE)}`)
    assert.equal(slash.status, 302)
    assert.equal(bare.status, 302)
    assert.equal(bare.headers.get('location'), slash.headers.get('location'))
    assert.ok((bare.headers.get('location') ?? '').startsWith(`${origin.url}/`))
    const missing = await get('/api/v1')
    assert.equal(missing.status, 400)
  })

  await t.test('the original\'s quality names: bestvideo and custom are best, as highest is', async () => {
    const quality = async (value: string): Promise<Json> => {
      const { res, body } = await json(`${base}/api/v2/stream/info/youtube/${YT_ID}?quality=${value}`)
      assert.equal(res.status, 200, `${value}: ${JSON.stringify(body)}`)
      return body
    }
    const best = await quality('best')
    for (const name of ['bestvideo', 'custom', 'highest', 'BestVideo']) {
      const body = await quality(name)
      assert.equal(body.quality, best.quality, name)
      assert.deepEqual(body.video, best.video, name)
      assert.notEqual(body.audio, null, `${name}: never a silent stream unless video_only=true`)
    }
    const lowest = await quality('lowest')
    assert.notEqual(lowest.quality, best.quality)
    const bad = await json(`${base}/api/v2/stream/info/youtube/${YT_ID}?quality=ultra`)
    assert.equal(bad.res.status, 400)
    // the original's fields and types on this path: epoch-second times, video_id, video_info
    assertTypes(best, { platform: 'string', video_id: 'string', stream_url: 'string', quality: 'string', video_info: 'object', expires_at: 'number', cached_at: 'number|null', timestamp: 'number' }, 'stream/info')
    assert.equal(best.video_id, YT_ID)
    assert.ok(Number(best.expires_at) > Date.now() / 1000 && Number(best.timestamp) <= Date.now() / 1000 + 1)
    const v2 = await json(`${base}/api/v2/stream/youtube/${YT_ID}?mode=json`)
    assert.equal(typeof v2.body.expires_at, 'string', 'the v2 body keeps its ISO expiry')
  })

  await t.test('/api/info carries the original\'s fields and types beside ours; /api/v2/videos stays as it is', async () => {
    const { res, body } = await json(`${base}/api/info?url=${q(YT_PAGE)}`)
    assert.equal(res.status, 200, JSON.stringify(body))
    assertTypes(body, { platform: 'string', video_id: 'string', info: 'object', stream_available: 'boolean', success: 'boolean' }, 'body')
    assert.equal(body.platform, 'youtube')
    assert.equal(body.video_id, YT_ID)
    assert.equal(body.stream_available, true)
    assert.equal(body.success, true)
    const info = body.info as Json
    assert.deepEqual(Object.keys(info).sort(), ['description', 'duration', 'id', 'like_count', 'thumbnail', 'title', 'upload_date', 'uploader', 'view_count'])
    assertTypes(info, { id: 'string', title: 'string', description: 'string|null', duration: 'number', uploader: 'string', upload_date: 'string', view_count: 'integer', like_count: 'integer|null', thumbnail: 'string|null' }, 'info')
    assert.equal(info.title, TITLE)
    assert.match(String(info.upload_date), /^\d{8}$/)
    const v2 = await json(`${base}/api/v2/videos?url=${q(YT_PAGE)}`)
    assert.equal(v2.res.status, 200)
    for (const key of Object.keys(v2.body)) assert.ok(key in body, `/api/info keeps our ${key}`)
    for (const key of ['video_id', 'info', 'stream_available', 'success']) assert.ok(!(key in v2.body), `v2 has no ${key}`)
    assert.match(String(v2.body.upload_date), /^\d{4}-\d\d-\d\d$/, 'v2 keeps its own date')
    // POST /api/v2/videos/info: the original's VideoInfo date type on that path only
    const posted = await json(`${base}/api/v2/videos/info`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: YT_PAGE }) })
    assert.equal(posted.res.status, 200, JSON.stringify(posted.body))
    assert.equal(posted.body.upload_date, String(v2.body.upload_date).replaceAll('-', ''))
    assert.equal(posted.body.title, TITLE)
    // POST /api/v2/videos/stream: the original's video_info and expiry format beside ours
    const stream = await json(`${base}/api/v2/videos/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: YT_PAGE, quality: '360p' }) })
    assert.equal(stream.res.status, 200, JSON.stringify(stream.body))
    assert.match(String(stream.body.expires_at), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    assert.equal(typeof stream.body.stream_url, 'string')
    assert.equal((stream.body.video_info as Json).title, TITLE)
    assert.equal((stream.body.video_info as Json).id, YT_ID)
  })

  await t.test('/api/formats, /api/platforms and /api/stream?format=json carry the original\'s fields beside ours', async () => {
    const formats = await json(`${base}/api/formats?url=${q(YT_PAGE)}`)
    assert.equal(formats.res.status, 200, JSON.stringify(formats.body))
    assertTypes(formats.body, { platform: 'string', video_id: 'string', available_qualities: 'array', recommended_quality: 'string', video_info: 'object', success: 'boolean', qualities: 'array', formats: 'array' }, 'formats')
    assert.equal(formats.body.video_id, YT_ID)
    assert.deepEqual(formats.body.available_qualities, (formats.body.qualities as Json[]).map((x) => x.quality))
    assert.ok((formats.body.available_qualities as string[]).includes('360p'))
    assert.deepEqual(Object.keys(formats.body.video_info as Json).sort(), ['description', 'duration', 'id', 'like_count', 'thumbnail', 'title', 'upload_date', 'uploader', 'view_count'])
    assert.equal(formats.body.success, true)

    const platforms = await json(`${base}/api/platforms`)
    assert.equal(platforms.res.status, 200)
    assert.equal(platforms.body.total_platforms, platforms.body.count)
    const list = platforms.body.supported_platforms as Json[]
    const youtube = list.find((p) => p.platform_id === 'youtube') ?? {}
    assertTypes(youtube, { name: 'string', platform_id: 'string', domains: 'array', example_urls: 'array', features: 'array', notes: 'string|null' }, 'youtube')
    assert.ok((youtube.domains as string[]).includes('youtube.com') && (youtube.domains as string[]).includes('youtu.be'))
    assert.ok((youtube.features as string[]).includes('streaming'))
    for (const key of ['simple_endpoints', 'vrchat_endpoints', 'vrchat_features']) assert.ok(Array.isArray(platforms.body[key]), key)

    const stream = await json(`${base}/api/stream?url=${q(TWEET_PAGE)}&format=json`)
    assert.equal(stream.res.status, 200, JSON.stringify(stream.body))
    assertTypes(stream.body, { platform: 'string', video_id: 'string', stream_url: 'string', quality: 'string', success: 'boolean', delivery: 'string' }, 'stream')
    assert.equal(stream.body.video_id, TWEET_ID)
    assert.equal(stream.body.success, true)
    // ours is unchanged
    const v2 = await json(`${base}/api/v2/stream?url=${q(TWEET_PAGE)}&mode=json`)
    assert.ok(!('video_id' in v2.body) && !('success' in v2.body))
  })

  await t.test('/api/vrchat/info and /api/vrchat/stream?format=json carry the original\'s fields beside ours', async () => {
    const info = await json(`${base}/api/vrchat/info?url=${q(YT_PAGE)}&player=avpro`)
    assert.equal(info.res.status, 200, JSON.stringify(info.body))
    const infoTypes = { platform: 'string', video_id: 'string', info: 'object', vrchat_compatible: 'boolean', unity_compatible: 'boolean', player_type: 'string' }
    assertTypes(info.body, { ...infoTypes, compatibility_notes: 'array', performance_notes: 'array', recommended_quality: 'string', codec_recommendations: 'object', success: 'boolean', plays: 'string' }, 'vrchat info')
    assert.equal(info.body.player_type, 'avpro')
    // the original's rules: 212 s is at most 5 minutes, so 720p; the title's apostrophe is noted
    assert.equal(info.body.recommended_quality, '720p')
    assert.ok((info.body.compatibility_notes as string[]).some((n) => /apostrophe/.test(n)))
    assert.equal((info.body.info as Json).title, TITLE)
    const stream = await json(`${base}/api/vrchat/stream?url=${q(YT_PAGE)}&format=json&quality=480p`)
    assert.equal(stream.res.status, 200, JSON.stringify(stream.body))
    assertTypes(stream.body, { platform: 'string', video_id: 'string', stream_url: 'string', quality: 'string', player_type: 'string', vrchat_optimized: 'boolean', unity_optimized: 'boolean', success: 'boolean', notes: 'string', codec_info: 'object' }, 'vrchat json')
    assert.equal(stream.body.quality, '480p')
    assert.equal(stream.body.player_type, 'auto')
    assertTypes(stream.body.codec_info as Json, { avpro_compatible: 'boolean', unity_compatible: 'boolean', recommended_codecs: 'string' }, 'codec_info')
  })

  await t.test('/api/v2/stream/url?proxy=true proxies, as the original redirected to its proxy', async () => {
    const direct = await get(`/api/v2/stream/url?url=${q(TWEET_PAGE)}`, { method: 'HEAD' })
    assert.equal(direct.status, 302)
    const proxied = await get(`/api/v2/stream/url?url=${q(TWEET_PAGE)}&proxy=true`, { method: 'HEAD' })
    assert.equal(proxied.status, 200)
    assert.equal(proxied.headers.get('x-stream-mode'), 'proxy')
  })

  await t.test('/api/vrchat/download and /api/v2/videos/download/vrchat: 302 to the proxy with a VRChat-safe .mp4 name', async () => {
    const res = await get(`/api/vrchat/download?url=${q(YT_PAGE)}`)
    assert.equal(res.status, 302)
    const location = new URL(res.headers.get('location') ?? '')
    assert.equal(location.origin, base)
    assert.equal(location.pathname, `/api/v2/stream/proxy/youtube/${YT_ID}`)
    assert.deepEqual(Object.fromEntries(location.searchParams), { quality: '720p', format: 'mp4', download: 'true', filename: VRCHAT_NAME, player: 'auto' })
    // followed: 720p exists only as HLS here, and a download named .mp4 is one MP4 file (remuxed), never a playlist
    const hlsOnly = await fetch(location, { signal: AbortSignal.timeout(60_000) })
    assert.equal(hlsOnly.status, 200)
    assert.equal(hlsOnly.headers.get('content-type'), 'video/mp4')
    assert.equal(Buffer.from(await hlsOnly.arrayBuffer()).subarray(4, 8).toString('latin1'), 'ftyp')

    const named = await get(`/api/vrchat/download?url=${q(YT_PAGE)}&quality=480p&player=avpro&filename=${q('my vídeo\'s "cut".webm')}`)
    const namedAt = new URL(named.headers.get('location') ?? '')
    assert.deepEqual(Object.fromEntries(namedAt.searchParams), { quality: '480p', format: 'mp4', download: 'true', filename: 'my_videos_cut.webm.mp4', player: 'avpro' })
    // one item of a multi-item post is passed on; a bad one is refused here
    const second = await get(`/api/vrchat/download?url=${q(YT_PAGE)}&item=2&filename=x`)
    assert.equal(new URL(second.headers.get('location') ?? '').searchParams.get('item'), '2')
    const badItem = await json(`${base}/api/vrchat/download?url=${q(YT_PAGE)}&item=0`)
    assert.equal(badItem.res.status, 400)
    // followed: the progressive 360p MP4 (the best at or below 480p) through the proxy, as an attachment with that name
    const file = await fetch(namedAt, { signal: AbortSignal.timeout(30_000) })
    assert.equal(file.status, 200)
    assert.equal(file.headers.get('x-platform'), 'youtube')
    assert.match(file.headers.get('content-disposition') ?? '', /^attachment; filename="my_videos_cut\.webm\.mp4"/)
    assert.equal(sha(Buffer.from(await file.arrayBuffer())), sha(origin.set.files.get('progressive.mp4') ?? Buffer.alloc(0)))

    for (const [asked, mapped] of [['best', 'highest'], ['480p', '480p'], ['999p', '720p'], ['constructor', '720p']]) {
      const v2 = await get(`/api/v2/videos/download/vrchat?url=${q(TWEET_PAGE)}&quality=${asked}`)
      assert.equal(v2.status, 302, asked)
      const loc = new URL(v2.headers.get('location') ?? '')
      assert.equal(loc.pathname, `/api/v2/stream/proxy/twitter/${TWEET_ID}`)
      assert.equal(loc.searchParams.get('quality'), mapped, asked)
      assert.equal(loc.searchParams.get('filename'), VRCHAT_NAME)
    }
    const unsupported = await json(`${base}/api/vrchat/download?url=${q('https://evil.example/watch?v=1')}`)
    assert.equal(unsupported.res.status, 422)
    assertErrorBody(unsupported.res, unsupported.body, 'UNSUPPORTED_URL')
  })

  await t.test('X-Platform, X-Quality and X-Video-Title on /direct (both lanes), X-Platform on /proxy, X-Selected-Quality on /auto', async () => {
    const path = `/api/v2/stream/direct/twitter/${TWEET_ID}?quality=best`
    // the first request plans it in the handler; the second is the uWS lane's cached 302
    for (const lane of ['handler', 'cached']) {
      const res = await get(path)
      assert.equal(res.status, 302, lane)
      assert.equal(res.headers.get('x-platform'), 'twitter', lane)
      assert.equal(res.headers.get('x-quality'), 'best', lane)
      assert.equal(res.headers.get('x-video-title'), FOLDED, lane)
      const encoded = res.headers.get('x-video-title-encoded') ?? ''
      assert.match(encoded, /^UTF-8''[A-Za-z0-9%!#$&+\-.^_`|~]*$/, `${lane}: an RFC 8187 ext-value`)
      assert.equal(decodeURIComponent(encoded.slice("UTF-8''".length)), TITLE, lane)
      assert.equal(res.headers.get('x-injected'), null, lane)
    }

    const proxied = await get(`/api/v2/stream/proxy/youtube/${YT_ID}?quality=360p`, { method: 'HEAD' })
    assert.equal(proxied.status, 200)
    assert.equal(proxied.headers.get('x-platform'), 'youtube')

    const auto = await get(`/api/v2/stream/auto/twitter/${TWEET_ID}?device=mobile`, { method: 'HEAD' })
    assert.ok(auto.status === 302 || auto.status === 200, String(auto.status))
    assert.equal(auto.headers.get('x-platform'), 'twitter')
    assert.equal(auto.headers.get('x-device-type'), 'mobile')
    assert.match(auto.headers.get('x-selected-quality') ?? '', /^\d+p$/)
    assert.ok(Number.parseInt(auto.headers.get('x-selected-quality') ?? '', 10) <= 480, 'a phone gets at most 480p')
  })

  await t.test('/api/vrchat/health: the original\'s fields, status from our health checks', async () => {
    const { res, body } = await json(`${base}/api/vrchat/health`)
    assert.equal(res.status, 200)
    assertTypes(body, { status: 'string', service: 'string', version: 'string', features: 'object', endpoints: 'object', supported_players: 'array', supported_qualities: 'array', notes: 'string', checks: 'object' }, 'body')
    assert.equal(body.service, 'VRChat Video API')
    assert.deepEqual(Object.keys(body.features as Json).sort(), ['avpro_video_support', 'error_handling_enhanced', 'filename_sanitization', 'get_only_endpoints', 'unicode_filename_support', 'unity_player_optimization'])
    assert.deepEqual(Object.keys(body.endpoints as Json).sort(), ['download', 'health', 'info', 'stream'])
    const system = await json(`${base}/api/v2/system/health`)
    const checks = system.body.checks as Record<string, Json>
    assert.deepEqual(body.checks, { ytdlp: checks.ytdlp?.status, ffmpeg: checks.ffmpeg?.status, workers: checks.workers?.status })
    const expected = Object.values(body.checks as Json).every((s) => s === 'ok') ? 'healthy' : checks.ytdlp?.status === 'failed' ? 'unhealthy' : 'degraded'
    assert.equal(body.status, expected)
    const version = await json(`${base}/api/v2/system/version`)
    assert.equal(body.version, version.body.version)
  })

  await t.test('cache stats after those requests: the cached videos by platform and a hit rate', async () => {
    const { body } = await json(`${base}/api/v2/stream/cache/stats`)
    const stats = body.cache_stats as Json
    assert.equal(stats.total_cached_streams, 3, JSON.stringify(stats))
    assert.deepEqual(stats.platform_breakdown, { youtube: 1, bilibili: 1, twitter: 1 })
    assert.match(String(stats.cache_hit_rate), /^\d{1,3}\.\d%$/)
    assert.ok(Number.parseFloat(String(stats.cache_hit_rate)) > 0)
  })
})
