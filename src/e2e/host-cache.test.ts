// Without Redis (REDIS_URL empty, the default) the primary keeps the info L2 and
// the single-flight locks for its workers. The server started as the README
// does (--workers=2), real yt-dlp against a local origin that counts its page
// fetches: one extraction per video per host, and `cached: true` on every
// repeat whichever worker answers. (Faults: host-cache-kill and
// host-cache-stall.test.ts.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { startCluster } from '../testing/helpers.ts'
import { fresh, hostCacheEnv, infoUrl, perWorker, repeatOnEveryWorker, startPages } from '../testing/host-cache.ts'

test('without Redis, 1,000 concurrent requests on 2 workers fetch the page once, and every repeat says cached', async (t) => {
  const origin = await startPages({ delayMs: 500 })
  const c = await startCluster({ workers: 2, env: hostCacheEnv(origin) })
  // 1,000 requests in flight over 250 sockets, which the kernel spreads over both workers
  const agent = new Agent({ connections: 250 })
  t.after(async () => { await agent.close(); await c.stop(); await origin.close() })

  const url = infoUrl(c.url, origin.page('burst'))
  const answers = await Promise.all(Array.from({ length: 1000 }, async () => {
    const res = await request(url, { dispatcher: agent, headersTimeout: 120_000, bodyTimeout: 120_000 })
    const body = await res.body.json() as Record<string, unknown>
    return { status: res.statusCode, cached: body.cached }
  }))
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200])
  assert.equal(origin.fetches('burst'), 1, 'one page fetch (one yt-dlp run) for the host')
  assert.equal(answers.filter((a) => a.cached === false).length, 1, 'one answer produced it, every other says cached')
  const workers = await perWorker(c.url)
  assert.equal(workers.length, 2)
  assert.ok(workers.every((w) => w.requests > 0), `both workers served the burst: ${JSON.stringify(workers)}`)

  // The same video again, 10 times at least, until each worker has answered a repeat.
  await repeatOnEveryWorker(c.url, origin.page('burst'), 10)
  // A video asked once, on one worker: the other worker's first answer comes from the primary's L2.
  const first = await fresh(infoUrl(c.url, origin.page('single')))
  assert.equal(first.body.cached, false)
  const repeats = await repeatOnEveryWorker(c.url, origin.page('single'), 10)
  t.diagnostic(`${repeats} repeats`)
  assert.equal(origin.fetches('burst'), 1)
  assert.equal(origin.fetches('single'), 1)
})
