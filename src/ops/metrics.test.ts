// The series an operator acts on, read from /metrics of a real server: every
// response under the status it was sent with, extractions by platform and
// outcome, cache lookups by layer, proxied bytes by platform, warm restarts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startApp, startRedis } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'
import { aggregateMetrics, createRequestMetrics } from './metrics.ts'
import { proxyRoutes } from '../http/routes/proxy.ts'
import { createLinkSigner } from '../proxy/signer.ts'
import { createUpstream } from '../proxy/upstream.ts'
import { get, mediaBytes, sha256, startOrigin, startProxyServer } from '../testing/proxy.ts'

interface Sample { name: string, labels: Record<string, string>, value: number }

function parse (text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? ''
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) })
  }
  return out
}

// The value of the one sample with exactly these labels; undefined when there is none.
function value (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels)
  const found = samples.filter((s) => s.name === name && Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k]))
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} appears ${found.length} times`)
  return found[0]?.value
}

async function scrape (url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers })
  assert.equal(res.status, 200)
  return parse(await res.text())
}

type MediaOrigin = Awaited<ReturnType<typeof startMediaOrigin>>
interface After { after: (fn: () => Promise<void>) => void }

// The fake yt-dlp's platform fixtures pointed at a local origin (their URLs expire in hours, so they are cached).
async function localMedia (t: After): Promise<MediaOrigin> {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  t.after(async () => { await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  return origin
}

async function setup (t: After): Promise<{ app: StartedApp, origin: MediaOrigin }> {
  const origin = await localMedia(t)
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })
  return { app, origin }
}

const STREAM_ROUTE = '/api/v2/stream/:platform/:id'
const YT = '/api/v2/stream/youtube/dQw4w9WgXcQ'
const requests = (route: string, status: number): Record<string, string> => ({ route, method: 'GET', status: String(status) })

test('a redirect is counted as 302, proxied bytes by platform, one extraction per real run, cache hits in L1', async (t) => {
  const { app, origin } = await setup(t)
  const file = origin.set.files.get('progressive.mp4') ?? Buffer.alloc(0)
  assert.ok(file.length > 2000)

  const redirect = await fetch(`${app.url}${YT}?quality=360p&mode=redirect`, { redirect: 'manual' })
  assert.equal(redirect.status, 302)
  let m = await scrape(app.url)
  assert.equal(value(m, 'vidgate_http_requests_total', requests(STREAM_ROUTE, 302)), 1)
  assert.equal(value(m, 'vidgate_http_requests_total', requests(STREAM_ROUTE, 200)), undefined, 'the redirect is not counted as 200')
  assert.equal(value(m, 'vidgate_http_request_duration_seconds_count', requests(STREAM_ROUTE, 302)), 1)
  assert.equal(value(m, 'vidgate_extractions_total', { platform: 'youtube', kind: 'video', outcome: 'ok' }), 1)
  assert.equal(value(m, 'vidgate_extraction_duration_seconds_count', { platform: 'youtube', kind: 'video' }), 1)
  assert.equal(value(m, 'vidgate_extraction_duration_seconds_bucket', { platform: 'youtube', kind: 'video', le: '+Inf' }), 1)
  assert.equal(value(m, 'vidgate_extraction_duration_seconds_bucket', { platform: 'youtube', kind: 'video', le: '60' }), 1)
  assert.equal(value(m, 'vidgate_proxy_bytes_total', { platform: 'youtube' }), undefined, 'a redirect proxies nothing')
  assert.equal(value(m, 'vidgate_ytdlp_warm_restarts_total'), 0)
  assert.equal(m.filter((s) => s.labels.layer === 'l2').length, 0, 'no L2 series without Redis')

  // The byte proxy: a whole body, a range and a HEAD (no body bytes).
  const full = await fetch(`${app.url}${YT}?quality=360p`)
  assert.equal(full.status, 200)
  assert.equal(full.headers.get('x-stream-mode'), 'proxy')
  assert.equal(sha256(Buffer.from(await full.arrayBuffer())), sha256(file))
  const part = await fetch(`${app.url}${YT}?quality=360p`, { headers: { range: 'bytes=1000-1999' } })
  assert.equal(part.status, 206)
  assert.equal((await part.arrayBuffer()).byteLength, 1000)
  const head = await fetch(`${app.url}${YT}?quality=360p`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  m = await scrape(app.url)
  assert.equal(value(m, 'vidgate_proxy_bytes_total', { platform: 'youtube' }), file.length + 1000)
  // HEAD is counted under its route's method, GET
  assert.equal(value(m, 'vidgate_http_requests_total', requests(STREAM_ROUTE, 200)), 2)
  assert.equal(value(m, 'vidgate_http_requests_total', requests(STREAM_ROUTE, 206)), 1)
  assert.equal(value(m, 'vidgate_http_requests_total', requests(STREAM_ROUTE, 302)), 1)
  assert.equal(value(m, 'vidgate_extractions_total', { platform: 'youtube', kind: 'video', outcome: 'ok' }), 1, 'the streams after the first were cache hits')

  // Info of the cached video: each request is one L1 hit (the second on the fast lane), no extraction.
  const hitsBefore = value(m, 'vidgate_cache_requests_total', { cache: 'info', layer: 'l1', result: 'hit' }) ?? 0
  const missesBefore = value(m, 'vidgate_cache_requests_total', { cache: 'info', layer: 'l1', result: 'miss' }) ?? 0
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${app.url}/api/v2/videos/youtube/dQw4w9WgXcQ`)).status, 200)
  m = await scrape(app.url)
  assert.equal(value(m, 'vidgate_cache_requests_total', { cache: 'info', layer: 'l1', result: 'hit' }), hitsBefore + 2)
  assert.equal(value(m, 'vidgate_cache_requests_total', { cache: 'info', layer: 'l1', result: 'miss' }), missesBefore)
  assert.equal(value(m, 'vidgate_http_requests_total', requests('/api/v2/videos/:platform/:id', 200)), 2)
  assert.equal(value(m, 'vidgate_extractions_total', { platform: 'youtube', kind: 'video', outcome: 'ok' }), 1)

  // A failing extraction: counted under its error code, an L1 miss, and the response as 404.
  const missing = await fetch(`${app.url}/api/v2/videos?url=${encodeURIComponent(`${origin.url}/notfound`)}`)
  assert.equal(missing.status, 404)
  assert.equal((await missing.json() as { code: string }).code, 'VIDEO_NOT_FOUND')
  m = await scrape(app.url)
  assert.equal(value(m, 'vidgate_extractions_total', { platform: 'generic', kind: 'video', outcome: 'VIDEO_NOT_FOUND' }), 1)
  assert.equal(value(m, 'vidgate_extractions_total', { platform: 'generic', kind: 'video', outcome: 'ok' }), undefined)
  assert.equal(value(m, 'vidgate_extraction_duration_seconds_count', { platform: 'generic', kind: 'video' }), 1)
  assert.equal(value(m, 'vidgate_cache_requests_total', { cache: 'info', layer: 'l1', result: 'miss' }), missesBefore + 1)
  assert.equal(value(m, 'vidgate_http_requests_total', requests('/api/v2/videos', 404)), 1)
})

test('with Redis, a value another app stored is an L2 hit after an L1 miss, and is not extracted again', async (t) => {
  const origin = await localMedia(t)
  const redis = await startRedis()
  t.after(async () => { await redis.stop() })
  const env = { REDIS_URL: redis.url, GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' }
  const a = await startApp(env)
  t.after(async () => { await a.close() })
  const b = await startApp(env)
  t.after(async () => { await b.close() })
  const page = '/api/v2/videos/youtube/dQw4w9WgXcQ'
  assert.equal((await fetch(`${a.url}${page}`)).status, 200)
  assert.equal((await fetch(`${b.url}${page}`)).status, 200)
  const ma = await scrape(a.url)
  const mb = await scrape(b.url)
  const cache = (layer: string, result: string): Record<string, string> => ({ cache: 'info', layer, result })
  assert.equal(value(ma, 'vidgate_extractions_total', { platform: 'youtube', kind: 'video', outcome: 'ok' }), 1)
  assert.equal(value(ma, 'vidgate_cache_requests_total', cache('l1', 'miss')), 1)
  assert.equal(value(ma, 'vidgate_cache_requests_total', cache('l2', 'miss')), 1)
  assert.equal(value(ma, 'vidgate_cache_requests_total', cache('l2', 'hit')), 0)
  assert.equal(value(mb, 'vidgate_extractions_total', { platform: 'youtube', kind: 'video', outcome: 'ok' }), undefined)
  assert.equal(value(mb, 'vidgate_cache_requests_total', cache('l1', 'miss')), 1)
  assert.equal(value(mb, 'vidgate_cache_requests_total', cache('l2', 'hit')), 1)
  assert.equal(value(mb, 'vidgate_cache_requests_total', cache('l2', 'miss')), 0)
})

test('the fast lane counts the statuses it sends (429 from the rate limit)', async (t) => {
  const s = await startApp({ RATE_LIMIT_MAX_REQUESTS: '1' })
  t.after(s.close)
  assert.equal((await fetch(`${s.url}/`)).status, 200)
  assert.equal((await fetch(`${s.url}/`)).status, 429)
  const m = await scrape(s.url)
  assert.equal(value(m, 'vidgate_http_requests_total', requests('/', 200)), 1)
  assert.equal(value(m, 'vidgate_http_requests_total', requests('/', 429)), 1)
})

test('proxied bytes are the bytes the client got, once each, across a resumed body', async (t) => {
  const size = 4 * 1024 * 1024
  const data = mediaBytes(size)
  const origin = await startOrigin(data)
  const metrics = createRequestMetrics()
  const signer = createLinkSigner('test-secret')
  const upstream = createUpstream({ headersTimeoutMs: 1500 })
  const proxy = await startProxyServer(proxyRoutes({ signer, upstream, allowHosts: [`127.0.0.1:${origin.port}`], proxyBytes: metrics.proxyBytes }))
  t.after(async () => { await proxy.close(); await upstream.close(); await origin.close() })
  const link = (name: string, platform: string | null): string =>
    `/api/v2/proxy/${signer.sign({ route: 'proxy', url: `${origin.base}/media/${name}`, ref: platform === null ? null : { platform, id: name, formatId: 'f' } }, 60)}`

  // the origin cuts the body twice; the proxy resumes at the exact next byte
  origin.behave('cut', { resetAfter: 1_000_001, resets: 2 })
  const cut = await get(proxy.port, link('cut', 'twitch'))
  assert.equal(cut.status, 200)
  assert.equal(sha256(cut.body), sha256(data))
  assert.ok(origin.requests.filter((r) => r.path === '/media/cut').length >= 3, 'the body was resumed')
  // a range, and a link without a ref (an HLS segment's): platform unknown
  const part = await get(proxy.port, link('plain', 'twitch'), { headers: { range: 'bytes=10-109' } })
  assert.equal(part.status, 206)
  const segment = await get(proxy.port, link('plain', null))
  assert.equal(segment.body.length, size)

  const m = parse((await aggregateMetrics([await metrics.registry.getMetricsAsJSON()])).text)
  assert.equal(value(m, 'vidgate_proxy_bytes_total', { platform: 'twitch' }), size + 100)
  assert.equal(value(m, 'vidgate_proxy_bytes_total', { platform: 'unknown' }), size)
  assert.deepEqual(proxy.errors(), [])
})

test('warm restarts are read from the pool at each scrape; 0 until a reader is set', async () => {
  const text = async (m: ReturnType<typeof createRequestMetrics>): Promise<Sample[]> => parse((await aggregateMetrics([await m.registry.getMetricsAsJSON()])).text)
  const plain = createRequestMetrics()
  assert.equal(value(await text(plain), 'vidgate_ytdlp_warm_restarts_total'), 0)
  let restarts = 3
  const given = createRequestMetrics({ warmRestarts: () => restarts })
  assert.equal(value(await text(given), 'vidgate_ytdlp_warm_restarts_total'), 3)
  restarts = 5
  assert.equal(value(await text(given), 'vidgate_ytdlp_warm_restarts_total'), 5)
  plain.setWarmRestarts(() => 7)
  assert.equal(value(await text(plain), 'vidgate_ytdlp_warm_restarts_total'), 7)
  // the primary sums the workers' counts
  const [one, two] = [createRequestMetrics({ warmRestarts: () => 2 }), createRequestMetrics({ warmRestarts: () => 4 })]
  const merged = parse((await aggregateMetrics([await one.registry.getMetricsAsJSON(), await two.registry.getMetricsAsJSON()])).text)
  assert.equal(value(merged, 'vidgate_ytdlp_warm_restarts_total'), 6)
})
