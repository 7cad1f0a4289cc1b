// Seekable merged streams on the real cluster (node dist/src/main.js, 2 workers),
// real ffmpeg and the fake yt-dlp's YouTube-shaped formats on a local origin:
// 1080p exists only as separate video (video.mp4) and audio (audio.m4a), so it
// is remuxed. Range answers come from the remux cache and must hold the same
// bytes as the full response, before and after the cached file is complete.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertErrorBody, startCluster, until } from '../testing/helpers.ts'
import type { StartedCluster } from '../testing/helpers.ts'
import { makeMediaSet } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'

const YT = '/api/v2/stream/youtube/dQw4w9WgXcQ'
const MERGED = `${YT}?quality=1080p&format=mp4`
const BILI = '/api/v2/stream/bilibili/BV1GJ411x7h7?quality=720p'
// While the origin is gated, the audio's last bytes are held back: ffmpeg has
// produced most of the output, but cannot finish it. Its first request for the
// audio passes (ffmpeg 5.1 reads this small file through once for its headers,
// then again from the start for the packets), later ones stop there.
const HELD_BYTES = 2048

interface GatedOrigin { url: string, host: string, release: () => void, close: () => Promise<void> }

// Serves the media set at /m/<file> and /bili/<file> with Range; while gated,
// audio.m4a stops before its last HELD_BYTES from its second request on.
async function startGatedOrigin (gated: boolean): Promise<GatedOrigin> {
  const set = makeMediaSet()
  let release = (): void => {}
  const gate = gated ? new Promise<void>((resolve) => { release = resolve }) : Promise.resolve()
  let audioRequests = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const name = /^\/(?:m|bili)\/([\w.-]+)$/.exec(new URL(req.url ?? '/', 'http://o').pathname)?.[1] ?? ''
    const body = set.files.get(name)
    if (body === undefined) { res.statusCode = 404; res.end(); return }
    res.on('error', () => {})
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m === null ? 0 : m[1] === '' ? Math.max(0, body.length - Number(m[2])) : Number(m[1])
    const end = m === null || m[2] === '' || m[1] === '' ? body.length - 1 : Math.min(Number(m[2]), body.length - 1)
    if (start > end) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }); res.end(); return }
    res.writeHead(m === null ? 200 : 206, {
      'content-type': name.endsWith('.m4a') ? 'audio/mp4' : 'video/mp4',
      'accept-ranges': 'bytes',
      'content-length': end - start + 1,
      ...(m === null ? {} : { 'content-range': `bytes ${start}-${end}/${body.length}` })
    })
    if (req.method === 'HEAD') { res.end(); return }
    const cut = name === 'audio.m4a' && ++audioRequests > 1 ? Math.max(start, Math.min(end + 1, body.length - HELD_BYTES)) : end + 1
    if (cut > end) { res.end(body.subarray(start, end + 1)); return }
    res.write(body.subarray(start, cut))
    void gate.then(() => res.end(body.subarray(cut, end + 1)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    release: () => { release() },
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

// workers: 1 where the test must know that one ffmpeg reads the origin
async function setup (t: { after: (fn: () => Promise<void>) => void }, opts: { gated?: boolean, cacheMb?: string, workers?: number } = {}): Promise<{ srv: StartedCluster, origin: GatedOrigin, cacheDir: string }> {
  const origin = await startGatedOrigin(opts.gated === true)
  const fixtures = writeLocalFixtures(origin.url)
  const cacheDir = mkdtempSync(join(tmpdir(), 'vidgate-seek-cache-'))
  // the cache folder is set because the test reads it (sizes under the cap)
  const srv = await startCluster({
    workers: opts.workers ?? 2,
    timeoutMs: 60_000,
    env: { FAKE_YTDLP_FIXTURE_DIR: fixtures, GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', REMUX_CACHE_DIRECTORY: cacheDir, ...(opts.cacheMb === undefined ? {} : { REMUX_CACHE_MB: opts.cacheMb }) }
  })
  t.after(async () => {
    origin.release()
    await srv.stop()
    await origin.close()
    rmSync(fixtures, { recursive: true, force: true })
    rmSync(cacheDir, { recursive: true, force: true })
  })
  return { srv, origin, cacheDir }
}

const bytes = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer())
const get = async (url: string, range?: string, method = 'GET'): Promise<Response> =>
  await fetch(url, { method, headers: range === undefined ? {} : { range }, signal: AbortSignal.timeout(60_000) })

function probe (media: Buffer): { duration: number, streams: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-probe-'))
  try {
    writeFileSync(join(dir, 'x.mp4'), media)
    const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type', '-of', 'json', join(dir, 'x.mp4')]).toString()) as { format: { duration: string }, streams: Array<{ codec_type: string }> }
    return { duration: Number(out.format.duration), streams: out.streams.map((s) => s.codec_type).sort() }
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

// the files in the cache folder and their total size
function cacheUse (dir: string): { files: string[], total: number } {
  const files = readdirSync(dir)
  return { files, total: files.reduce((sum, f) => sum + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0) }
}

// once the cached file exists, HEAD says its length
const cachedLength = async (url: string): Promise<number> => await until('the cached remux', 60_000, async () => {
  const len = (await get(url, undefined, 'HEAD')).headers.get('content-length')
  return len === null ? undefined : Number(len)
})

test('Range into a merged stream: 206 with the same bytes as the full response, while the remux is written and once it is cached; HEAD never gives a false length', async (t) => {
  const { srv, origin } = await setup(t, { gated: true, workers: 1 })
  const url = srv.url + MERGED

  // the first client streams the remux as ffmpeg produces it (the origin holds the audio's end)
  const first = await get(url)
  assert.equal(first.status, 200, first.status === 200 ? '' : await first.text())
  assert.equal(first.headers.get('x-stream-mode'), 'remux')
  assert.equal(first.headers.get('accept-ranges'), 'bytes')
  assert.equal(first.headers.get('content-length'), null)
  const fullBody = bytes(first)

  // not complete yet: HEAD has no length
  const head = await get(url, undefined, 'HEAD')
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-length'), null, 'no length before the remux is complete')

  // closed ranges of bytes already written are answered while the file grows
  const early: Array<[string, number, number, Response]> = []
  for (const [a, b] of [[0, 99], [500, 1499], [4096, 8191]] as const) {
    const res = await get(url, `bytes=${a}-${b}`)
    assert.equal(res.status, 206)
    assert.equal(res.headers.get('content-range'), `bytes ${a}-${b}/*`, 'the total is not known yet')
    assert.equal(res.headers.get('content-length'), String(b - a + 1))
    early.push([`${a}-${b}`, a, b, res])
  }
  // open-ended and suffix ranges need the total: they wait for the file
  const waiting = [get(url, 'bytes=1000-'), get(url, 'bytes=-700'), get(url, 'bytes=20000-20099')]

  origin.release()
  const full = await fullBody
  assert.deepEqual(probe(full).streams, ['audio', 'video'])
  const len = full.length
  for (const [name, a, b, res] of early) assert.ok((await bytes(res)).equals(full.subarray(a, b + 1)), `range ${name} equals the full response's bytes`)
  const [open, suffix, mid] = await Promise.all(waiting)
  assert.equal(open?.status, 206)
  assert.equal(open?.headers.get('content-range'), `bytes 1000-${len - 1}/${len}`)
  assert.ok((await bytes(open as Response)).equals(full.subarray(1000)))
  assert.equal(suffix?.status, 206)
  assert.equal(suffix?.headers.get('content-range'), `bytes ${len - 700}-${len - 1}/${len}`)
  assert.ok((await bytes(suffix as Response)).equals(full.subarray(len - 700)))
  assert.equal(mid?.status, 206)
  assert.ok((await bytes(mid as Response)).equals(full.subarray(20000, 20100)))

  // complete: every request comes from the file, with exact lengths (both workers: the folder is the host's)
  assert.equal(await cachedLength(url), len)
  for (let i = 0; i < 4; i++) {
    const whole = await get(url)
    assert.equal(whole.status, 200)
    assert.equal(whole.headers.get('content-length'), String(len))
    assert.equal(whole.headers.get('accept-ranges'), 'bytes')
    assert.ok((await bytes(whole)).equals(full), 'the cached file is the full response')
  }
  const ranges: Array<[string, number, number]> = [['bytes=0-0', 0, 0], ['bytes=100-4195', 100, 4195], [`bytes=${len - 10}-${len + 500}`, len - 10, len - 1], ['bytes=2000-', 2000, len - 1], ['bytes=-1', len - 1, len - 1], [`bytes=-${len + 10}`, 0, len - 1]]
  for (const [range, a, b] of ranges) {
    const res = await get(url, range)
    assert.equal(res.status, 206, range)
    assert.equal(res.headers.get('content-range'), `bytes ${a}-${b}/${len}`, range)
    assert.equal(res.headers.get('content-length'), String(b - a + 1), range)
    assert.ok((await bytes(res)).equals(full.subarray(a, b + 1)), range)
  }
  const headRange = await get(url, 'bytes=10-19', 'HEAD')
  assert.equal(headRange.status, 206)
  assert.equal(headRange.headers.get('content-length'), '10')
  const past = await get(url, `bytes=${len}-`)
  assert.equal(past.status, 416)
  assert.equal(past.headers.get('content-range'), `bytes */${len}`)
  assertErrorBody(past, await past.json() as Record<string, unknown>, 'RANGE_NOT_SATISFIABLE')
  const multi = await get(url, 'bytes=0-9,20-29')
  assert.equal(multi.status, 200, 'several ranges: the whole stream')
  assert.ok((await bytes(multi)).equals(full))
})

test('t= starts a merged stream later (ffprobe: shorter); an invalid t is 400 in the error shape', async (t) => {
  const { srv } = await setup(t)
  const whole = probe(await bytes(await get(srv.url + MERGED)))
  const res = await get(`${srv.url}${MERGED}&t=2`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('x-stream-mode'), 'remux')
  assert.equal(res.headers.get('accept-ranges'), 'none', 'a seek is not cached')
  const later = probe(await bytes(res))
  assert.deepEqual(later.streams, ['audio', 'video'])
  assert.ok(later.duration < whole.duration - 1, `t=2: ${later.duration} s of ${whole.duration} s`)
  const mmss = probe(await bytes(await get(`${srv.url}${MERGED}&t=0m2s`)))
  assert.equal(mmss.duration, later.duration, '0m2s is 2 seconds')
  for (const bad of ['abc', '-5', '1e3', '5ms', '999999999']) {
    const r = await get(`${srv.url}${MERGED}&t=${bad}`)
    assert.equal(r.status, 400, bad)
    const body = await r.json() as Record<string, unknown>
    assertErrorBody(r, body, 'INVALID_INPUT')
    assert.match(String(body.error), /^t /)
  }
  // the fixture's duration is 212 s
  const past = await get(`${srv.url}${MERGED}&t=212`)
  assert.equal(past.status, 400)
  assertErrorBody(past, await past.json() as Record<string, unknown>, 'INVALID_INPUT')
})

test('the remux cache stays under REMUX_CACHE_MB: the least recently served remux goes first', async (t) => {
  // 0.1 MB holds one remux of the test clip (~66 KB), not two
  const cap = Math.floor(0.1 * 1024 * 1024)
  const { srv, cacheDir } = await setup(t, { cacheMb: '0.1' })
  const a = srv.url + MERGED
  const b = srv.url + BILI
  const fullA = await bytes(await get(a))
  assert.equal(await cachedLength(a), fullA.length)
  let use = cacheUse(cacheDir)
  assert.ok(use.total <= cap, `${use.total} bytes cached, cap ${cap}`)
  assert.deepEqual(use.files.filter((f) => f.endsWith('.mp4')).length, 1)

  const fullB = await bytes(await get(b))
  assert.equal(await cachedLength(b), fullB.length)
  use = cacheUse(cacheDir)
  assert.ok(use.total <= cap, `${use.total} bytes cached, cap ${cap}`)
  assert.deepEqual(use.files.filter((f) => f.endsWith('.mp4')).length, 1, 'the older remux made room')
  assert.equal((await get(a, undefined, 'HEAD')).headers.get('content-length'), null, 'A is no longer cached')
  const rangeB = await get(b, 'bytes=10-109')
  assert.equal(rangeB.status, 206)
  assert.ok((await bytes(rangeB)).equals(fullB.subarray(10, 110)))
})

test('a remux larger than the cache is streamed whole: its Range requests get 200 with every byte', async (t) => {
  const { srv, cacheDir } = await setup(t, { cacheMb: '0.03' })
  const url = srv.url + MERGED
  const first = await get(url, 'bytes=1000-')
  assert.equal(first.status, 200, `the file could not be kept: the whole stream (${JSON.stringify(cacheUse(cacheDir))})`)
  const full = await bytes(first)
  assert.deepEqual(probe(full).streams, ['audio', 'video'])
  // (open-ended: a closed range of bytes already written may be answered before the file fails, on a worker that did not know)
  for (let i = 0; i < 2; i++) {
    const again = await get(url, `bytes=${i * 100}-`)
    assert.equal(again.status, 200)
    assert.ok((await bytes(again)).equals(full))
  }
  assert.equal((await get(url, undefined, 'HEAD')).headers.get('content-length'), null)
  assert.ok(cacheUse(cacheDir).total <= 0.03 * 1024 * 1024)
  assert.deepEqual(cacheUse(cacheDir).files.filter((f) => f.endsWith('.mp4')), [])
})
