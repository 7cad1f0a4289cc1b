// Two vidgate instances (separate processes, different ports) on one
// redis-server: shared cache hits, one rate-limit count, one extraction for
// concurrent misses across both.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startCluster, startRedis } from '../testing/helpers.ts'
import { startOrigin } from '../testing/origin.ts'

test('two instances on one Redis share cache, rate limits and single-flight', async (t) => {
  const redis = await startRedis()
  const origin = await startOrigin({ pageDelayMs: 300 })
  const env = {
    REDIS_URL: redis.url,
    GENERIC_HOSTS: origin.host,
    // '' is the shipped default (the project's current yt-dlp); the helpers' base env points at the fake
    YTDLP_PATH: '',
    YTDLP_MODE: 'warm',
    RATE_LIMIT_MAX_REQUESTS: '1000',
    RATE_LIMIT_EXTRACT_MAX_REQUESTS: '30',
    // a fixed window: one that ended mid-test would reset the count
    RATE_LIMIT_WINDOW: '86400',
    PROXY_SIGNING_SECRET: 'shared-secret-for-the-test'
  }
  // cleanup first: a cluster that fails to start must not leave Redis and the origin holding the test open
  const clusters: Array<Awaited<ReturnType<typeof startCluster>>> = []
  t.after(async () => { for (const c of clusters) await c.stop(); await origin.close(); await redis.stop() })
  const start = async (): Promise<Awaited<ReturnType<typeof startCluster>>> => {
    const c = await startCluster({ workers: 1, env })
    clusters.push(c)
    return c
  }
  const [a, b] = await Promise.all([start(), start()])

  const page = encodeURIComponent(`${origin.url}/page.html`)
  const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const res = await fetch(`${i % 2 === 0 ? a.url : b.url}/api/v2/videos?url=${page}`)
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }))
  assert.deepEqual([...new Set(burst.map((r) => r.status))], [200])
  assert.equal(origin.hits('/page.html'), 1, 'one extraction for concurrent misses across both instances')

  const fromB = await (await fetch(`${b.url}/api/v2/videos?url=${page}`)).json() as Record<string, unknown>
  assert.equal(fromB.cached, true)

  // A signed link handed out by one instance is served by the other (shared secret).
  const info = await (await fetch(`${a.url}/api/v2/stream/info/generic/${String(fromB.id)}`)).json() as Record<string, unknown>
  assert.equal(typeof info.proxy_url, 'string', JSON.stringify(info))
  const viaB = String(info.proxy_url).replace(a.url, b.url)
  const media = await fetch(viaB)
  assert.equal(media.status, 200)
  assert.equal(Buffer.from(await media.arrayBuffer()).equals(origin.media), true)

  // The extract limit (30 per window) is one count for both instances: 20 + 1 + 1 used above.
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await fetch(`${i % 2 === 0 ? a.url : b.url}/api/v2/videos?url=${page}`)).status)
  assert.equal(statuses.filter((s) => s === 200).length, 8, statuses.join(','))
  assert.equal(statuses.filter((s) => s === 429).length, 4)
})
