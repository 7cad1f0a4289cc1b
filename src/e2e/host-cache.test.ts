// Without Redis (REDIS_URL empty, the default) the primary keeps the info L2 and
// the single-flight locks for its workers: the server started as the README
// does (--workers=2), real yt-dlp against a local origin that counts its page
// fetches. One extraction per video per host, `cached: true` on every repeat
// whichever worker answers, a killed lock holder's waiters answered, and a
// stalled primary costs a bounded wait, not an answer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { json, sleep, startCluster } from '../testing/helpers.ts'
import { startCountingServer } from '../testing/origin.ts'
import type { CountingServer } from '../testing/origin.ts'

interface PageOrigin extends CountingServer {
  page: (name: string) => string
  fetches: (name: string) => number
  // answer the held fetch of a page (and hold none from now on)
  release: (name: string) => void
}

// Pages yt-dlp's generic extractor reads (/v/<name>.html, each a <video>), answered after
// delayMs; the first fetch of a page named in hold is held until release(name).
async function startPages (opts: { delayMs?: number, hold?: readonly string[] } = {}): Promise<PageOrigin> {
  const hold = new Set(opts.hold)
  const held = new Map<string, Array<() => void>>()
  const server = await startCountingServer((_req, res, path) => {
    const m = /^\/v\/([\w-]+)\.html$/.exec(path)
    if (m === null) { res.statusCode = 404; res.end('not found'); return }
    const html = `<!doctype html><html><head><title>Clip ${m[1] ?? ''}</title></head><body><video src="/clip.mp4" controls></video></body></html>`
    const send = (): void => { res.setHeader('content-type', 'text/html; charset=utf-8'); res.end(html) }
    const name = m[1] ?? ''
    if (hold.delete(name)) { held.set(name, [...held.get(name) ?? [], send]); return }
    setTimeout(send, opts.delayMs ?? 0)
  })
  return {
    ...server,
    page: (name) => `${server.url}/v/${name}.html`,
    fetches: (name) => server.paths.filter((p) => p === `/v/${name}.html`).length,
    release: (name) => { hold.delete(name); const waiting = held.get(name) ?? []; held.delete(name); for (const send of waiting) send() }
  }
}

const baseEnv = (origin: PageOrigin): Record<string, string> => ({
  GENERIC_HOSTS: origin.host,
  // '' is the shipped default (the project's current yt-dlp); the helpers' base env points at the fake
  YTDLP_PATH: '',
  YTDLP_MODE: 'warm',
  RATE_LIMIT_ENABLED: 'false'
})

const infoUrl = (base: string, page: string): string => `${base}/api/v2/videos?url=${encodeURIComponent(page)}`

// A fresh connection per request (no keep-alive), so the kernel spreads them over the workers.
async function fresh (url: string, timeoutMs = 60_000): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(50)
  }
}

interface PerWorker { pid: number, requests: number, cache_hits: number, extraction_active: number }
async function perWorker (base: string): Promise<PerWorker[]> {
  return (await json(`${base}/api/v2/system/stats`)).body.per_worker as PerWorker[]
}

// Repeats of one video on fresh connections, at least `min`, until every worker answered one
// (told by its cache hits growing); each must say cached: true.
async function repeatOnEveryWorker (base: string, page: string, min: number): Promise<number> {
  const before = new Map((await perWorker(base)).map((w) => [w.pid, w.cache_hits]))
  let sent = 0
  for (;;) {
    const r = await fresh(infoUrl(base, page))
    sent++
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.cached, true, `repeat ${sent} says cached: true`)
    if (sent < min) continue
    const now = await perWorker(base)
    if (now.length === before.size && now.every((w) => w.cache_hits > (before.get(w.pid) ?? Infinity))) return sent
    assert.ok(sent < min + 60, `both workers answered a repeat: ${JSON.stringify(now)} (before ${JSON.stringify([...before])})`)
  }
}

test('without Redis, 1,000 concurrent requests on 2 workers fetch the page once, and every repeat says cached', async (t) => {
  const origin = await startPages({ delayMs: 500 })
  const c = await startCluster({ workers: 2, env: baseEnv(origin) })
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

test('a worker killed while holding the lock: the waiters on the other worker get an answer', async (t) => {
  const origin = await startPages({ hold: ['stuck'] })
  // The lock expires after EXTRACT_TIMEOUT + 5 s: set far past the clients' bounded wait below,
  // so only the holder's exit can let the waiters go in time.
  const c = await startCluster({ workers: 2, env: { ...baseEnv(origin), EXTRACT_TIMEOUT: '300' } })
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

test('a stalled primary: the workers extract alone after a bounded wait, and share again once it runs', async (t) => {
  const origin = await startPages()
  const c = await startCluster({ workers: 2, env: baseEnv(origin) })
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
