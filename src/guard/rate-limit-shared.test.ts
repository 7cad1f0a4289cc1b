// The rate limit is one budget per client however many processes serve it:
// through Redis when configured, and through per-worker shares without it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp, startCluster, startRedis } from '../testing/helpers.ts'

const LIMITED = '/api/v2/system/version'

test('two apps on one Redis share one count: 10 allowed in total, then 429', async (t) => {
  const redis = await startRedis()
  const env = { REDIS_URL: redis.url, RATE_LIMIT_MAX_REQUESTS: '10', RATE_LIMIT_WINDOW: '86400' }
  const a = await startApp(env)
  const b = await startApp(env)
  // apps first: their Redis users (queues, locks) close cleanly only while Redis is up
  t.after(async () => { await a.close(); await b.close(); await redis.stop() })
  assert.equal(a.redis?.status, 'ready')

  const results: Array<{ status: number, remaining: string | null }> = []
  for (let i = 0; i < 16; i++) {
    const res = await fetch(`${i % 2 === 0 ? a.url : b.url}${LIMITED}`)
    results.push({ status: res.status, remaining: res.headers.get('x-ratelimit-remaining') })
  }
  assert.deepEqual(results.map((r) => r.status), [...Array(10).fill(200), ...Array(6).fill(429)])
  assert.deepEqual(results.slice(0, 10).map((r) => r.remaining), ['9', '8', '7', '6', '5', '4', '3', '2', '1', '0'], 'one count across both apps')
  const health = await fetch(`${b.url}/health`)
  const body = await health.json() as { checks: { cache: { backend: string, status: string } } }
  assert.deepEqual([body.checks.cache.backend, body.checks.cache.status], ['redis', 'ok'])
})

test('without Redis, two workers never let a client through more than the limit', async (t) => {
  const c = await startCluster({ workers: 2, env: { RATE_LIMIT_MAX_REQUESTS: '10', RATE_LIMIT_WINDOW: '86400' } })
  t.after(c.stop)
  const statuses: number[] = []
  const workers = new Set<string>()
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${c.url}${LIMITED}`, { headers: { connection: 'close' } })
    statuses.push(res.status)
    // request ids start with the worker's own prefix (pid in base 36 and a random tag)
    workers.add((res.headers.get('x-request-id') ?? '').split('-')[0] ?? '')
    await res.arrayBuffer()
  }
  assert.equal(workers.size, 2, 'fresh connections reached both workers')
  const allowed = statuses.filter((s) => s === 200).length
  assert.ok(allowed <= 10, `${allowed} requests allowed with a limit of 10`)
  assert.ok(allowed >= 5, `${allowed}: each worker grants its share`)
  assert.equal(statuses.filter((s) => s !== 200 && s !== 429).length, 0)
})
