// Without Redis, a lock holder killed mid-extraction, through the
// server started as the README does (--workers=2) with real yt-dlp against a
// local origin: its waiters on the other worker are answered, not left to the
// lock's expiry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startCluster } from '../testing/helpers.ts'
import { fresh, hostCacheEnv, infoUrl, perWorker, startPages, until } from '../testing/host-cache.ts'

test('a worker killed while holding the lock: the waiters on the other worker get an answer', async (t) => {
  const origin = await startPages({ hold: ['stuck'] })
  // The lock expires after EXTRACT_TIMEOUT + 5 s: set far past the clients' bounded wait below,
  // so only the holder's exit can let the waiters go in time.
  const c = await startCluster({ workers: 2, env: { ...hostCacheEnv(origin), EXTRACT_TIMEOUT: '300' } })
  t.after(async () => { origin.release('stuck'); await c.stop(); await origin.close() })
  const pids = c.workerPids()

  const url = infoUrl(c.url, origin.page('stuck'))
  // status 0: the connection was lost (the killed worker's clients); -1: no answer within the bound
  const lost = (err: unknown): { status: number, body: Record<string, unknown> } =>
    ({ status: err instanceof Error && err.name === 'TimeoutError' ? -1 : 0, body: { err: String(err) } })
  const pending = Array.from({ length: 16 }, async () => await fresh(url, 90_000).catch(lost))
  // The holder's yt-dlp has fetched the page, which the origin holds: find that worker and kill it.
  await until('the first page fetch', 60_000, async () => origin.fetches('stuck') === 1 ? true : undefined)
  const holder = await until('the worker extracting', 10_000, async () => (await perWorker(c.url)).find((w) => w.extraction_active > 0))
  assert.ok(pids.includes(holder.pid))
  process.kill(holder.pid, 'SIGKILL')

  const results = await Promise.all(pending)
  const ok = results.filter((r) => r.status === 200)
  // the killed worker's clients lose their connection; every other client gets the video
  assert.ok(ok.length > 0, `the other worker answered: ${JSON.stringify(results.map((r) => r.status))}`)
  assert.deepEqual(results.filter((r) => r.status !== 200 && r.status !== 0), [])
  assert.ok(ok.every((r) => String(r.body.title).startsWith('Clip stuck')))
  assert.equal(origin.fetches('stuck'), 2, 'the held fetch, then one by the worker that took the lock over')
  const after = await fresh(url)
  assert.equal(after.body.cached, true)
})
