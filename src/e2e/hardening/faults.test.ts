// Faults under a small autocannon load on loopback, each bounded: Redis going
// away and coming back, yt-dlp hanging or crashing, an upstream resetting
// mid-stream, and slowloris sockets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { rmSync } from 'node:fs'
import autocannon from 'autocannon'
import { startApp, startRedis, sleep } from '../../testing/helpers.ts'
import { writeLocalFixtures } from '../../testing/fixtures.ts'
import { createLinkSigner } from '../../proxy/signer.ts'

const YT = '/api/v2/videos/youtube/dQw4w9WgXcQ'
// rate: requests per second in total (0 = as fast as 8 connections go).
const load = (url: string, seconds: number, paths: string[] = ['/api/platforms'], rate = 0): ReturnType<typeof autocannon> =>
  autocannon({ url, connections: 8, duration: seconds, timeout: 5, requests: paths.map((path) => ({ path })), ...(rate > 0 ? { overallRate: rate } : {}) })

async function get (url: string, ms = 8000): Promise<{ status: number, body: Record<string, unknown>, ms: number }> {
  const t0 = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(ms) })
  const text = await res.text()
  let body: Record<string, unknown> = {}
  try { body = JSON.parse(text) as Record<string, unknown> } catch {}
  return { status: res.status, body, ms: performance.now() - t0 }
}

async function until (what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

test('redis stops under load: no 5xx, health degraded; it comes back: healthy, no app restart', { timeout: 40_000 }, async (t) => {
  const dir = writeLocalFixtures('http://127.0.0.1:1')
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const redis = await startRedis()
  // the fixtures' media are on a dead local origin: allowed, or no info would list them (EGRESS_REFUSED)
  const app = await startApp({ REDIS_URL: redis.url, GENERIC_HOSTS: '127.0.0.1:1', RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_MAX_REQUESTS: '1000000', RATE_LIMIT_EXTRACT_MAX_REQUESTS: '1000000' })
  t.after(async () => { await app.close(); await redis.stop(); rmSync(dir, { recursive: true, force: true }) })
  assert.equal((await get(app.url + YT)).status, 200)
  const run = load(app.url, 5, ['/api/platforms', YT, '/health'])
  await sleep(1000)
  await redis.stop()
  const uncached = await get(`${app.url}/api/v2/videos/bilibili/BV1GJ411x7h7`)
  assert.equal(uncached.status, 200, `uncached read without redis: ${JSON.stringify(uncached.body)}`)
  const result = await run
  t.diagnostic(`redis down: ${result.requests.total} requests, 2xx ${result['2xx']}, 5xx ${result['5xx']}, errors ${result.errors}`)
  assert.ok(result.requests.total > 200, 'the load ran')
  assert.equal(result['5xx'], 0)
  assert.equal(result.errors, 0)
  await until('health degraded', 8000, async () => (await get(`${app.url}/health`)).body.status === 'degraded')
  await redis.restart()
  await until('health healthy again', 10_000, async () => (await get(`${app.url}/health`)).body.status === 'healthy')
  assert.equal((await get(app.url + YT)).status, 200)
})

test('yt-dlp hangs (EXTRACT_TIMEOUT=4) or crashes under load: 504 / 502, the pool keeps serving', { timeout: 60_000 }, async (t) => {
  const dir = writeLocalFixtures('http://127.0.0.1:1')
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  // 4 s: long enough that a crashing fake yt-dlp dies (502) before the timeout on a loaded
  // 2-core machine (at 1 s a slow start read as 504 in a CI clone), short for the hangs.
  // (127.0.0.1:1: the fixtures' dead media origin, allowed, or no info would list its media)
  const app = await startApp({ EXTRACT_TIMEOUT: '4', GENERIC_HOSTS: 'video.test,127.0.0.1:1', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })
  // A rated load: with a short EXTRACT_TIMEOUT a flat-out load in this same process
  // would make even a healthy fake yt-dlp start slower than the timeout.
  const run = load(app.url, 6, ['/api/platforms'], 300)
  // The pool serves again: a healthy extraction succeeds (a retry allowed for a loaded machine).
  const serves = async (path: string): Promise<number> => {
    let last = 0
    for (let i = 0; i < 3 && last !== 200; i++) last = (await get(app.url + path)).status
    return last
  }
  const u = (p: string, i: number): string => `${app.url}/api/v2/videos?url=${encodeURIComponent(`https://video.test/${p}?n=${i}`)}`
  // six hangs on four warm slots: the last two wait for the first to time out
  const hung = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => await get(u('hang', i), 30_000)))
  for (const h of hung) {
    assert.equal(h.status, 504, JSON.stringify(h.body))
    assert.equal(h.body.code, 'EXTRACTION_TIMEOUT')
  }
  assert.equal(await serves(YT), 200, 'the pool serves after hangs')
  const crashed = await Promise.all([0, 1, 2, 3].map(async (i) => await get(u('crash', i))))
  for (const c of crashed) {
    assert.equal(c.status, 502, JSON.stringify(c.body))
    assert.equal(c.body.code, 'EXTRACTION_FAILED')
  }
  assert.equal(await serves('/api/v2/videos/bilibili/BV1GJ411x7h7'), 200, 'the pool serves after crashes')
  const result = await run
  t.diagnostic(`hang/crash: ${result.requests.total} requests alongside, 5xx ${result['5xx']}, errors ${result.errors}`)
  assert.equal(result['5xx'], 0)
  assert.equal(result.errors, 0)
})

test('an upstream that resets mid-stream ends the client response; the server keeps serving', { timeout: 30_000 }, async (t) => {
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(4 << 20) })
    res.write(Buffer.alloc(256 << 10), () => setTimeout(() => res.socket?.destroy(), 50))
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const addr = origin.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  const secret = 'r'.repeat(40)
  const app = await startApp({ PROXY_SIGNING_SECRET: secret, GENERIC_HOSTS: `127.0.0.1:${port}`, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); origin.closeAllConnections(); await new Promise<void>((resolve) => origin.close(() => resolve())) })
  const link = `${app.url}/api/v2/proxy/${createLinkSigner(secret).sign({ route: 'proxy', url: `http://127.0.0.1:${port}/v.mp4` }, 60)}`
  const run = load(app.url, 4, ['/health'])
  const outcomes = await Promise.all([0, 1, 2, 3].map(async () => {
    const t0 = performance.now()
    try {
      const res = await fetch(link, { signal: AbortSignal.timeout(8000) })
      const got = (await res.arrayBuffer()).byteLength
      return { ended: 'complete', got, ms: performance.now() - t0 }
    } catch (err) {
      return { ended: err instanceof Error && err.name === 'TimeoutError' ? 'hang' : 'error', got: -1, ms: performance.now() - t0 }
    }
  }))
  t.diagnostic(`reset mid-stream: ${JSON.stringify(outcomes.map((o) => [o.ended, o.got, Math.round(o.ms)]))}`)
  for (const o of outcomes) {
    assert.notEqual(o.ended, 'hang', 'the client was left hanging')
    assert.ok(o.got < 4 << 20, 'a truncated body is never passed off as complete')
  }
  const result = await run
  assert.equal(result['5xx'], 0)
  assert.equal((await get(`${app.url}/health`)).status, 200)
})

test('slowloris: 50 idle half-sent requests do not starve normal requests', { timeout: 30_000 }, async (t) => {
  const app = await startApp({ RATE_LIMIT_ENABLED: 'false' })
  const socks: Socket[] = []
  t.after(async () => { for (const s of socks) s.destroy(); await app.close() })
  let closed = 0
  const openedAt = Date.now()
  const closedAfter: number[] = []
  for (let i = 0; i < 50; i++) {
    const s = connect(app.port, '127.0.0.1')
    s.on('error', () => {})
    s.on('close', () => { closed++; closedAfter.push(Date.now() - openedAt) })
    s.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Slow-${i}: `)
    socks.push(s)
  }
  await sleep(300)
  const run = load(app.url, 3, ['/health', '/api/platforms'])
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    const r = await get(`${app.url}/api/platforms`, 3000)
    assert.equal(r.status, 200)
    times.push(r.ms)
  }
  const result = await run
  assert.ok(Math.max(...times) < 1000, `normal requests took up to ${Math.round(Math.max(...times))} ms`)
  assert.equal(result.errors, 0)
  assert.ok(result.requests.total > 100, 'the load ran')
  // uWS's HTTP idle timeout is 10 s; bounded wait to see whether it closes the half-sent sockets.
  const deadline = Date.now() + 12_000
  // eslint-disable-next-line no-unmodified-loop-condition -- the sockets' close handlers count it
  while (closed < 50 && Date.now() < deadline) await sleep(250)
  t.diagnostic(`slowloris: ${closed}/50 idle sockets closed by the server, after ${closedAfter.length > 0 ? Math.min(...closedAfter) : -1}–${closedAfter.length > 0 ? Math.max(...closedAfter) : -1} ms; normal p100 ${Math.round(Math.max(...times))} ms; load ${result.requests.total} requests`)
})
