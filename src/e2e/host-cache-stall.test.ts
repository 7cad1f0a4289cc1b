// Without Redis, a stalled primary (SIGSTOP), through the server started as the
// README does (--workers=2) with real yt-dlp against a local origin: the workers
// go on alone after a bounded wait, and share again once it runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startCluster } from '../testing/helpers.ts'
import { fresh, hostCacheEnv, infoUrl, repeatOnEveryWorker, startPages } from '../testing/host-cache.ts'

test('a stalled primary: the workers extract alone after a bounded wait, and share again once it runs', async (t) => {
  const origin = await startPages()
  const c = await startCluster({ workers: 2, env: hostCacheEnv(origin) })
  t.after(async () => { process.kill(c.pid, 'SIGCONT'); await c.stop(); await origin.close() })

  process.kill(c.pid, 'SIGSTOP')
  const alone = await fresh(infoUrl(c.url, origin.page('stalled')), 60_000)
  assert.equal(alone.status, 200, JSON.stringify(alone.body))
  assert.equal(alone.body.cached, false)
  process.kill(c.pid, 'SIGCONT')

  // The result the worker handed the primary while it was stopped reaches it: every repeat is cached.
  await repeatOnEveryWorker(c.url, origin.page('stalled'), 10)
  assert.equal(origin.fetches('stalled'), 1)
  // and the locks work again: a new video, asked on many connections at once, is fetched once
  const burst = await Promise.all(Array.from({ length: 20 }, async () => await fresh(infoUrl(c.url, origin.page('after')))))
  assert.deepEqual([...new Set(burst.map((r) => r.status))], [200])
  assert.equal(origin.fetches('after'), 1)
})
