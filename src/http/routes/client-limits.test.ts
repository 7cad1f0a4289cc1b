// Issue 15's per-client limits on the routes, in-process with the fake yt-dlp:
// every batch item counts against the rate limit (both batch routes and batch
// downloads), EXTRACT_MAX_PER_CLIENT refuses a client past its queued + running
// extractions (and a batch that does not fit) with 429 and Retry-After while
// another client is served, and the split-HLS relay takes a stream slot.
// The test is the trusted proxy in front (TRUSTED_PROXIES) and names each
// client in X-Forwarded-For: a plain loopback peer is the server itself, and
// exempt from the per-client caps.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT, sleep, startApp } from '../../testing/helpers.ts'
import type { StartedApp } from '../../testing/helpers.ts'
import { startCountingServer } from '../../testing/origin.ts'
import { writeLocalFixtures } from '../../testing/fixtures.ts'

const JSON_TYPE = { 'content-type': 'application/json' }

async function call (app: StartedApp, ip: string, path: string, body?: unknown): Promise<{ status: number, headers: Headers, body: Record<string, unknown> }> {
  const res = await fetch(`${app.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-forwarded-for': ip, ...(body === undefined ? {} : JSON_TYPE) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
}

const items = (n: number, tag: string): Array<{ url: string }> => Array.from({ length: n }, (_, i) => ({ url: `http://fake.test/ok?v=${tag}-${i}` }))

test('every item of a batch counts against the rate limit: a batch spends the window, the next request is 429 with Retry-After', async (t) => {
  // a day's window: fixed windows start on the clock, and a new one during the test would reset the counts
  const app = await startApp({ GENERIC_HOSTS: 'fake.test', TRUSTED_PROXIES: '127.0.0.1/32', RATE_LIMIT_EXTRACT_MAX_REQUESTS: '10', RATE_LIMIT_MAX_REQUESTS: '10', RATE_LIMIT_WINDOW: '86400' })
  t.after(async () => { await app.close() })

  const batch = await call(app, '198.51.100.1', '/api/v2/videos/batch', { items: items(10, 'a') })
  assert.equal(batch.status, 200, JSON.stringify(batch.body))
  assert.equal(batch.body.succeeded, 10)
  const next = await call(app, '198.51.100.1', `/api/v2/videos?url=${encodeURIComponent('http://fake.test/ok?v=a-next')}`)
  assert.equal(next.status, 429, JSON.stringify(next.body))
  assert.equal(next.body.code, 'RATE_LIMITED')
  assert.match(next.headers.get('retry-after') ?? '', /^[1-9]\d*$/)

  // the stream batch: 9 items fit; a batch of 2 then gets in (the 10th request) but its second item would be the 11th
  assert.equal((await call(app, '198.51.100.2', '/api/v2/stream/batch', { items: items(9, 'b') })).status, 200)
  const over = await call(app, '198.51.100.2', '/api/v2/stream/batch', { items: items(2, 'c') })
  assert.equal(over.status, 429, JSON.stringify(over.body))
  assert.match(String(over.body.detail), /each item of a batch counts as one request/)
  assert.match(over.headers.get('retry-after') ?? '', /^[1-9]\d*$/)

  // batch downloads count under the default limit, failed items too
  const downloads = await call(app, '198.51.100.3', '/api/v2/videos/batch-download', { items: Array.from({ length: 10 }, () => ({ url: 'ftp://example.com/x' })) })
  assert.equal(downloads.body.failed, 10, JSON.stringify(downloads.body))
  const tasks = await call(app, '198.51.100.3', '/api/v2/videos/tasks')
  assert.equal(tasks.status, 429, JSON.stringify(tasks.body))

  // another client has its own window
  assert.equal((await call(app, '198.51.100.4', `/api/v2/videos?url=${encodeURIComponent('http://fake.test/ok?v=e')}`)).status, 200)
})

test('EXTRACT_MAX_PER_CLIENT: past its queued + running extractions a client gets 429 with Retry-After, a batch that does not fit too; another client is served', async (t) => {
  // fixtures whose media URLs have not expired, so that an info stays cached
  const dir = writeLocalFixtures('http://fake.test')
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: 'fake.test', TRUSTED_PROXIES: '127.0.0.1/32', RATE_LIMIT_ENABLED: 'false', EXTRACT_MAX_PER_CLIENT: '2', EXTRACT_CONCURRENCY: '1', EXTRACT_TIMEOUT: '60' })
  t.after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })
  const A = '198.51.100.1'
  const B = '198.51.100.2'
  const info = (ip: string, v: string, delayMs = 0): Promise<{ status: number, headers: Headers, body: Record<string, unknown> }> =>
    call(app, ip, `/api/v2/videos?url=${encodeURIComponent(`http://fake.test/ok?v=${v}${delayMs > 0 ? `&delay=${delayMs}` : ''}`)}`)

  assert.equal((await info(A, 'cached')).status, 200)
  // A: one running, one queued behind it (one slot)
  const held = [info(A, 'a1', 3000), info(A, 'a2', 3000)]
  let queued = 0
  for (let i = 0; i < 400 && queued < 1; i++) {
    queued = (app.app.pool.stats()).queued
    if (queued < 1) await sleep(10)
  }
  assert.equal(queued, 1, 'A has one extraction running and one queued')
  const refused = await info(A, 'a3')
  assert.equal(refused.status, 429, JSON.stringify(refused.body))
  assert.equal(refused.body.code, 'RATE_LIMITED')
  assert.match(String(refused.body.detail), /at most 2 extractions queued or running at once per client/)
  assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
  // a cached video needs no extraction: served at the cap
  assert.equal((await info(A, 'cached')).status, 200)
  // a batch asks for room for all its items first
  const batch = await call(app, B, '/api/v2/videos/batch', { items: items(3, 'b') })
  assert.equal(batch.status, 429, JSON.stringify(batch.body))
  assert.match(batch.headers.get('retry-after') ?? '', /^[1-9]\d*$/)

  // B is served: its turn comes after A's running and queued ones, not after A's whole queue
  const b = await info(B, 'b1')
  assert.equal(b.status, 200, JSON.stringify(b.body))
  assert.deepEqual((await Promise.all(held)).map((r) => r.status), [200, 200])
  // A's extractions are done: it has room again, and a cached video never needed any
  assert.equal((await info(A, 'a1', 3000)).status, 200)
  assert.equal((await info(A, 'a4')).status, 200)
  assert.deepEqual(app.app.pool.stats().refused, 2)
})

test('the split-HLS relay takes a stream slot (STREAM_MAX_PER_CLIENT): while two of its reads hang, the next request is 429', async (t) => {
  const stalled: ServerResponse[] = []
  // media that never arrives: the relay's first read (the segment index) hangs
  const staller = await startCountingServer((_req, res) => { res.writeHead(200, { 'content-type': 'video/mp4' }); res.write(Buffer.alloc(8)); stalled.push(res) })
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-split-slot-'))
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', 'bilibili.json'), 'utf8')) as Record<string, unknown>
  for (const name of ['split-1', 'split-2', 'split-3']) {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({
      ...raw,
      id: name,
      extractor: 'generic',
      requested_formats: undefined,
      formats: [
        { format_id: 'v', ext: 'mp4', protocol: 'https', vcodec: 'avc1.640028', acodec: 'none', width: 1280, height: 720, tbr: 1000, url: `${staller.url}/${name}/video.mp4` },
        { format_id: 'a', ext: 'm4a', protocol: 'https', vcodec: 'none', acodec: 'mp4a.40.2', tbr: 128, url: `${staller.url}/${name}/audio.m4a` }
      ]
    }))
  }
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: `fake.test,${staller.host}`, TRUSTED_PROXIES: '127.0.0.1/32', RATE_LIMIT_ENABLED: 'false', STREAM_MAX_PER_CLIENT: '2' })
  t.after(async () => {
    for (const res of stalled) res.destroy()
    await app.close()
    await staller.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const C = '198.51.100.9'
  const masters: string[] = []
  for (const name of ['split-1', 'split-2', 'split-3']) {
    const described = await call(app, C, `/api/v2/stream?url=${encodeURIComponent(`http://fake.test/fixture/${name}`)}&mode=json&format=hls`)
    assert.equal(described.status, 200, JSON.stringify(described.body))
    assert.match(String(described.body.hls_url), /\/api\/v2\/hls\/split\/[\w-]+\.[\w-]+\/master\.m3u8$/)
    masters.push(String(described.body.hls_url))
  }

  // two masters whose segment indexes never arrive (a read of each format each)
  const abort = new AbortController()
  const hanging = masters.slice(0, 2).map(async (m) => await fetch(m, { headers: { 'x-forwarded-for': C }, signal: abort.signal }).catch(() => null))
  for (let i = 0; i < 400 && stalled.length < 4; i++) await sleep(25)
  assert.equal(stalled.length, 4, 'both relays are reading')
  const refused = await fetch(masters[2] ?? '', { headers: { 'x-forwarded-for': C } })
  const body = await refused.json() as Record<string, unknown>
  assert.equal(refused.status, 429, JSON.stringify(body))
  assert.match(String(body.error), /concurrent streams/)
  assert.equal(stalled.length, 4, 'the refused one read nothing')
  abort.abort()
  for (const res of stalled) res.destroy()
  await Promise.all(hanging)
})
