import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sleep, startApp } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'
import { ffmpegChildren, probeBytes, probeUrl } from '../testing/split.ts'
import type { Probe } from '../testing/split.ts'

const ID = 'dQw4w9WgXcQ'
const PAGE = encodeURIComponent(`https://www.youtube.com/watch?v=${ID}`)
// BiliBili-shaped: every quality is separate video and audio, so VRChat too must get a remux
const BILI = encodeURIComponent('https://www.bilibili.com/video/BV1GJ411x7h7')
const HLS_UA = 'VLC/3.0.18 LibVLC/3.0.18'
const PLAIN_UA = 'vidgate-test/1.0'

// Every stream route; {q} is the quality query. `fixedFormat`: the route has its own `format` parameter.
const ROUTES: ReadonlyArray<{ path: string, fixedFormat?: boolean }> = [
  { path: `/api/v2/stream/youtube/${ID}?{q}` },
  { path: `/api/v2/stream/youtube/${ID}?{q}&mode=redirect` },
  { path: `/api/v2/stream/youtube/${ID}?{q}&mode=proxy` },
  { path: `/api/v2/stream/youtube/${ID}?{q}&mode=json` },
  { path: `/api/v2/stream?url=${PAGE}&{q}` },
  { path: `/api/v2/stream/url?url=${PAGE}&{q}` },
  { path: `/api/v2/stream/direct/youtube/${ID}?{q}` },
  { path: `/api/v2/stream/proxy/youtube/${ID}?{q}` },
  { path: `/api/v2/stream/info/youtube/${ID}?{q}` },
  { path: `/api/v2/stream/auto/youtube/${ID}?bandwidth=50000&device=desktop` },
  { path: `/api/v2/stream/hls/youtube/${ID}?{q}` },
  { path: `/api/v2/stream/hls?url=${PAGE}&{q}` },
  { path: `/api/stream?url=${PAGE}&{q}` },
  { path: `/api/stream?url=${PAGE}&{q}&format=json`, fixedFormat: true },
  { path: `/api/stream?url=${PAGE}&{q}&format=proxy`, fixedFormat: true },
  { path: `/api/download?url=${PAGE}&{q}` },
  { path: `/api/v1/?yt=${PAGE}&{q}` },
  { path: `/api/vrchat/stream?url=${PAGE}&{q}&player=avpro`, fixedFormat: true },
  { path: `/api/vrchat/stream?url=${PAGE}&{q}&player=unity`, fixedFormat: true },
  { path: `/api/vrchat/stream?url=${PAGE}&{q}&player=avpro&format=json`, fixedFormat: true },
  { path: '/api/v2/stream/bilibili/BV1GJ411x7h7?{q}' },
  { path: `/api/vrchat/stream?url=${BILI}&{q}&player=avpro`, fixedFormat: true },
  { path: `/api/vrchat/stream?url=${BILI}&{q}&player=unity`, fixedFormat: true }
]

interface Case { label: string, url: string, ua: string, videoOnly: boolean, body?: unknown }

// Follows redirects and JSON stream_url; ends with what ffprobe makes of the media.
async function play (c: Case): Promise<{ probe: Probe, mode: string | null }> {
  const post = c.body === undefined ? {} : { method: 'POST', body: JSON.stringify(c.body) }
  let res = await fetch(c.url, { ...post, headers: { 'user-agent': c.ua, 'content-type': 'application/json' } })
  assert.equal(res.status, 200, `${c.label}: ${res.status} ${res.status >= 400 ? await res.text() : ''}`)
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    const json = await res.json() as { stream_url?: string, results?: Array<{ stream?: { stream_url?: string } }> }
    const body = { stream_url: json.stream_url ?? json.results?.[0]?.stream?.stream_url }
    assert.ok(typeof body.stream_url === 'string', `${c.label}: stream_url`)
    res = await fetch(body.stream_url, { headers: { 'user-agent': c.ua } })
    assert.equal(res.status, 200, `${c.label} → ${body.stream_url}`)
  }
  const mode = res.headers.get('x-stream-mode')
  if ((res.headers.get('content-type') ?? '').includes('mpegurl')) {
    await res.arrayBuffer()
    return { probe: await probeUrl(res.url, c.ua), mode }
  }
  return { probe: await probeBytes(Buffer.from(await res.arrayBuffer())), mode }
}

test('every stream route answers a split-only quality with sound (with and without HLS), and silent video only on video_only=true', async (t) => {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', REMUX_MAX_CONCURRENT: '16' })
  t.after(async () => { await app.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })

  const cases: Case[] = []
  for (const route of ROUTES) {
    const url = `${app.url}${route.path.replace('{q}', 'quality=1080p')}`
    cases.push({ label: `${route.path} plain`, url, ua: PLAIN_UA, videoOnly: false })
    cases.push({ label: `${route.path} HLS UA`, url, ua: HLS_UA, videoOnly: false })
    if (route.fixedFormat !== true) cases.push({ label: `${route.path} format=hls`, url: `${url}&format=hls`, ua: PLAIN_UA, videoOnly: false })
  }
  const watch = `https://www.youtube.com/watch?v=${ID}`
  for (const [path, body] of [['/api/v2/videos/stream', { url: watch, quality: '1080p' }], ['/api/v2/stream/batch', { items: [{ url: watch, quality: '1080p' }] }]] as const) {
    cases.push({ label: `POST ${path} plain`, url: `${app.url}${path}`, ua: PLAIN_UA, videoOnly: false, body })
    cases.push({ label: `POST ${path} HLS UA`, url: `${app.url}${path}`, ua: HLS_UA, videoOnly: false, body })
    cases.push({ label: `POST ${path} format=hls`, url: `${app.url}${path}?format=hls`, ua: PLAIN_UA, videoOnly: false, body })
  }
  for (const route of ROUTES.filter((r) => r.fixedFormat !== true && r.path.includes('{q}') && !r.path.includes('/hls'))) {
    cases.push({ label: `${route.path} video_only`, url: `${app.url}${route.path.replace('{q}', 'quality=1080p&video_only=true')}`, ua: PLAIN_UA, videoOnly: true })
  }
  const modes = new Map<string, number>()
  const queue = [...cases]
  await Promise.all([0, 1, 2, 3].map(async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      const { probe, mode } = await play(c)
      modes.set(mode ?? 'none', (modes.get(mode ?? 'none') ?? 0) + 1)
      // (mode=redirect may end at an HLS master: ffprobe lists each variant's streams, so the kinds count)
      assert.deepEqual([...new Set(probe.types)], c.videoOnly ? ['video'] : ['audio', 'video'], `${c.label}: ffprobe ${probe.types.join(',')}`)
      assert.ok(Math.abs(probe.duration - 4) < 0.5 || Number.isNaN(probe.duration), `${c.label}: ${probe.duration} s`)
    }
  }))
  t.diagnostic(`${cases.length} cases, final X-Stream-Mode: ${JSON.stringify(Object.fromEntries(modes))}`)
  assert.ok(cases.length >= 60, `${cases.length} cases`)
  for (const m of ['hls', 'remux', 'proxy']) assert.ok(modes.has(m), `some route answered ${m}`)
})

// A YouTube-shaped fixture whose media trickles from a second origin, so ffmpeg is still
// reading while a test looks at it; served by the generic platform at /fixture/slowsplit.
async function startSlow (t: { after: (fn: () => Promise<void>) => void }): Promise<{ url: string }> {
  const origin = await startMediaOrigin()
  const slow = createServer((req, res) => {
    const body = origin.set.files.get((req.url ?? '').split('?')[0]?.slice(1) ?? '') ?? Buffer.alloc(0)
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m === null ? 0 : Number(m[1])
    const end = m === null || m[2] === '' ? body.length - 1 : Math.min(Number(m[2]), body.length - 1)
    res.writeHead(m === null ? 200 : 206, { 'content-type': 'video/mp4', 'content-length': end - start + 1, 'accept-ranges': 'bytes', ...(m === null ? {} : { 'content-range': `bytes ${start}-${end}/${body.length}` }) })
    let at = start
    const timer = setInterval(() => {
      if (at > end) { clearInterval(timer); res.end(); return }
      res.write(body.subarray(at, Math.min(at + 2048, end + 1)))
      at += 2048
    }, 50)
    res.on('close', () => clearInterval(timer))
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  const addr = slow.address()
  const slowHost = `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`
  const dir = writeLocalFixtures(origin.url)
  const raw = JSON.parse(readFileSync(join(dir, 'youtube.json'), 'utf8')) as { formats: Array<{ url: string }> }
  for (const f of raw.formats) f.url = f.url.replace(origin.url, `http://${slowHost}`).replace(/\/m\//, '/')
  writeFileSync(join(dir, 'slowsplit.json'), JSON.stringify({ ...raw, extractor: 'generic' }))
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: `${origin.host},${slowHost}`, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => {
    await app.close(); await origin.close()
    slow.closeAllConnections(); await new Promise<void>((resolve) => slow.close(() => resolve()))
    rmSync(dir, { recursive: true, force: true })
  })
  return { url: `${app.url}/api/v2/stream?url=${encodeURIComponent(`${origin.url}/fixture/slowsplit`)}&quality=1080p&format=mp4` }
}

async function firstChunk (url: string, signal?: AbortSignal): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const res = await fetch(url, { signal })
  assert.equal(res.headers.get('x-stream-mode'), 'remux')
  const reader = res.body?.getReader()
  assert.ok(reader !== undefined)
  const first = await reader.read()
  assert.ok(first.value !== undefined && first.value.length > 0, 'the remux started')
  return reader
}

async function waitNoFfmpeg (): Promise<void> {
  const deadline = Date.now() + 3000
  while (ffmpegChildren().length > 0 && Date.now() < deadline) await sleep(50)
  await sleep(300)
  assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg child after the clients left')
}

test('a client that leaves mid-remux leaves no ffmpeg behind', async (t) => {
  const { url } = await startSlow(t)
  const controller = new AbortController()
  const reader = await firstChunk(url, controller.signal)
  assert.ok(ffmpegChildren().length > 0, 'ffmpeg is running while the client reads')
  controller.abort()
  await reader.cancel().catch(() => {})
  await waitNoFfmpeg()
})

test('clients asking for the same video at once share one ffmpeg; one leaving does not cut the others', async (t) => {
  const { url } = await startSlow(t)
  const leaving = new AbortController()
  const quitter = await firstChunk(url, leaving.signal)
  const stayers = await Promise.all([0, 1].map(async () => {
    const res = await fetch(url)
    assert.equal(res.headers.get('x-stream-mode'), 'remux')
    return res
  }))
  assert.equal(ffmpegChildren().length, 1, 'one ffmpeg for three clients')
  leaving.abort()
  await quitter.cancel().catch(() => {})
  const bodies = await Promise.all(stayers.map(async (r) => Buffer.from(await r.arrayBuffer())))
  assert.ok(bodies[0]?.equals(bodies[1] ?? Buffer.alloc(0)), 'identical bytes')
  const probe = await probeBytes(bodies[0] ?? Buffer.alloc(0))
  assert.deepEqual(probe.types, ['audio', 'video'])
  assert.ok(Math.abs(probe.duration - 4) < 0.5, `duration ${probe.duration}`)
  await waitNoFfmpeg()
})
