// Audio on the fly on a real server: real ffmpeg transcodes the fake platforms'
// audio from a local origin; ffprobe decodes what the stream routes send.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sleep, startApp } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'
import { ffmpegChildren } from '../testing/split.ts'

const run = promisify(execFile)
const ID = 'dQw4w9WgXcQ'
const YT = `/api/v2/stream/youtube/${ID}`
const BILI = '/api/v2/stream/bilibili/BV1GJ411x7h7'

interface Probed { codec: string, type: string, duration: number, format: string }

// Async: the app under test runs in this process and must keep answering.
async function probe (media: Buffer, ext: string): Promise<Probed> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-audio-probe-'))
  try {
    writeFileSync(join(dir, `x.${ext}`), media)
    // decode every packet: a stream that only looks right in its header fails here
    if (ext !== 'wav') await run('ffmpeg', ['-v', 'error', '-xerror', '-i', join(dir, `x.${ext}`), '-f', 'null', '-'], { timeout: 60_000 })
    else {
      // a piped WAV says "unknown length" (0xFFFFFFFF), so ffmpeg calls its short last read corrupt: every sample must decode all the same
      const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', join(dir, 'x.wav'), '-f', 's16le', '-'], { timeout: 60_000, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 })
      const data = media.indexOf('data')
      assert.ok(data > 0 && media.readUInt32LE(data + 4) === 0xffffffff, 'a streamed WAV header')
      assert.equal(stdout.length, media.length - data - 8, 'every PCM byte decodes')
    }
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type:format=duration,format_name', '-of', 'json', join(dir, `x.${ext}`)], { timeout: 60_000 })
    const j = JSON.parse(stdout) as { streams?: Array<{ codec_name?: string, codec_type?: string }>, format?: { duration?: string, format_name?: string } }
    assert.equal(j.streams?.length, 1, `one stream: ${stdout}`)
    return { codec: j.streams?.[0]?.codec_name ?? '?', type: j.streams?.[0]?.codec_type ?? '?', duration: Number(j.format?.duration ?? NaN), format: j.format?.format_name ?? '?' }
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

async function sourceDuration (audio: Buffer): Promise<number> {
  return (await probe(audio, 'm4a')).duration
}

// The fixtures with the duration of the origin's real audio (the platform's info
// says how long the video is: Estimated-Content-Length is computed from it).
function fixtures (originUrl: string, duration: number, mediaBase?: string): string {
  const dir = writeLocalFixtures(originUrl, { title: 'Ünïcode "song" / one' })
  for (const name of ['youtube', 'bilibili']) {
    const raw = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { duration: number, formats: Array<{ url: string }> }
    raw.duration = duration
    if (mediaBase !== undefined) for (const f of raw.formats) f.url = f.url.replace(originUrl, mediaBase).replace(/\/m\//, '/')
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(raw))
  }
  return dir
}

async function setup (t: { after: (fn: () => Promise<void>) => void }, env: Record<string, string> = {}): Promise<{ app: StartedApp, origin: Awaited<ReturnType<typeof startMediaOrigin>>, duration: number }> {
  const origin = await startMediaOrigin()
  const duration = await sourceDuration(origin.set.files.get('audio.m4a') ?? Buffer.alloc(0))
  const dir = fixtures(origin.url, duration)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', ...env })
  t.after(async () => { await app.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  return { app, origin, duration }
}

const CASES = [
  { format: 'mp3', type: 'audio/mpeg', codec: 'mp3', ext: 'mp3', kbps: 192 },
  { format: 'opus', type: 'audio/ogg', codec: 'opus', ext: 'opus', kbps: 128 },
  { format: 'm4a', type: 'audio/mp4', codec: 'aac', ext: 'm4a', kbps: 160 },
  { format: 'wav', type: 'audio/wav', codec: 'pcm_s16le', ext: 'wav', kbps: 1536 }
] as const

test('quality=audio&format=mp3|opus|m4a|wav: transcoded, decodable, as long as the source, with Estimated-Content-Length', { timeout: 120_000 }, async (t) => {
  const { app, origin, duration } = await setup(t)
  for (const c of CASES) {
    const res = await fetch(`${app.url}${YT}?quality=audio&format=${c.format}`)
    assert.equal(res.status, 200, `${c.format}: ${res.status}`)
    assert.equal(res.headers.get('content-type'), c.type)
    assert.equal(res.headers.get('x-stream-mode'), 'transcode')
    assert.match(res.headers.get('x-stream-reason') ?? '', new RegExp(`transcoded to ${c.format}`))
    assert.equal(res.headers.get('content-disposition'), null, 'no file name unless asked')
    const body = Buffer.from(await res.arrayBuffer())
    const p = await probe(body, c.ext)
    assert.equal(p.codec, c.codec, c.format)
    assert.equal(p.type, 'audio')
    assert.ok(Math.abs(p.duration - duration) < 0.25, `${c.format}: ${p.duration} s for a ${duration} s source`)
    const estimate = Number(res.headers.get('estimated-content-length'))
    assert.equal(estimate, Math.floor(duration * c.kbps * 1000 / 8 * 1.1), `${c.format}: the duration × the bitrate, 10 % over`)
    // constrained VBR and AAC may come in under their bitrate on a sine tone; never far over it
    assert.ok(body.length <= estimate && body.length >= estimate / 3, `${c.format}: ${body.length} bytes, estimated ${estimate}`)
  }
  // ffmpeg read the source through our signed links only: every origin request came from the byte proxy
  assert.ok(origin.requests.length > 0)
  assert.ok(origin.requests.every((r) => !/Lavf/i.test(String(r.headers['user-agent']))), 'ffmpeg never reached the origin itself')

  // a bitrate of one's own, and a name to save it under
  const named = await fetch(`${app.url}/api/v2/stream?url=${encodeURIComponent(`https://youtu.be/${ID}`)}&format=mp3&bitrate=64&download=true`)
  assert.equal(named.status, 200)
  assert.equal(named.headers.get('content-type'), 'audio/mpeg')
  assert.match(named.headers.get('content-disposition') ?? '', /^attachment; filename=".*\.mp3"; filename\*=UTF-8''%C3%9Cn%C3%AFcode%20.*\.mp3$/)
  assert.equal(Number(named.headers.get('estimated-content-length')), Math.floor(duration * 64 * 1000 / 8 * 1.1))
  const small = Buffer.from(await named.arrayBuffer())
  assert.equal((await probe(small, 'mp3')).codec, 'mp3')
  assert.ok(small.length < duration * 64 * 1000 / 8 * 1.1, `${small.length} bytes at 64 kbit/s`)

  // BiliBili-shaped: its Referer goes with every read, as for the remux
  const bili = await fetch(`${app.url}${BILI}?quality=audio&format=opus&bitrate=96&filename=${encodeURIComponent('clip.opus')}`)
  assert.equal(bili.status, 200)
  assert.equal(bili.headers.get('content-disposition'), 'inline; filename="clip.opus"; filename*=UTF-8\'\'clip.opus')
  assert.equal((await probe(Buffer.from(await bili.arrayBuffer()), 'opus')).codec, 'opus')
  assert.ok(origin.requests.filter((r) => r.path.startsWith('/bili/')).every((r) => r.headers.referer === 'https://www.bilibili.com/'))

  // HEAD: the headers a GET would have, no false length, and no ffmpeg
  const head = await fetch(`${app.url}${YT}?quality=audio&format=mp3`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-type'), 'audio/mpeg')
  assert.equal(head.headers.get('content-length'), null)
  assert.ok(Number(head.headers.get('estimated-content-length')) > 0)
})

test('without format, quality=audio relays the original audio; mode=json describes the transcode it would serve', async (t) => {
  const { app, origin, duration } = await setup(t)
  const plain = await fetch(`${app.url}${YT}?quality=audio`)
  assert.equal(plain.status, 200)
  assert.equal(plain.headers.get('x-stream-mode'), 'proxy')
  assert.equal(plain.headers.get('estimated-content-length'), null)
  assert.ok(Buffer.from(await plain.arrayBuffer()).equals(origin.set.files.get('audio.m4a') ?? Buffer.alloc(0)))

  const json = await (await fetch(`${app.url}${YT}?quality=audio&format=opus&bitrate=96&mode=json`)).json() as Record<string, unknown>
  assert.equal(json.delivery, 'transcode')
  assert.equal(json.quality, 'audio')
  assert.match(String(json.reason), /opus at 96 kbit\/s/)
  assert.deepEqual(json.transcode, { format: 'opus', codec: 'libopus', bitrate: 96, content_type: 'audio/ogg', estimated_content_length: Math.floor(duration * 96 * 1000 / 8 * 1.1) })
  assert.equal(json.audio, null)
  assert.equal((json.video as Record<string, unknown>).has_video, false, 'the source track: audio only')
  const streamUrl = String(json.stream_url)
  assert.match(streamUrl, /[?&]format=opus&bitrate=96(?:&|$)/)
  const replay = await fetch(streamUrl)
  assert.equal(replay.headers.get('content-type'), 'audio/ogg')
  assert.equal((await probe(Buffer.from(await replay.arrayBuffer()), 'opus')).codec, 'opus')

  const info = await (await fetch(`${app.url}/api/v2/stream/info/youtube/${ID}?quality=audio&format=wav`)).json() as Record<string, unknown>
  assert.equal((info.transcode as Record<string, unknown>).bitrate, 1536)
  assert.doesNotMatch(String(info.stream_url), /bitrate/)
  const none = await (await fetch(`${app.url}${YT}?quality=audio&mode=json`)).json() as Record<string, unknown>
  assert.equal(none.transcode, null)
  assert.notEqual(none.delivery, 'transcode')
})

test('a bad format, bitrate or combination is a 400 in the error shape', async (t) => {
  const { app } = await setup(t)
  const cases: ReadonlyArray<readonly [string, RegExp]> = [
    [`${YT}?quality=audio&format=flac`, /format must be one of/],
    [`${YT}?quality=audio&format=mp3&bitrate=999`, /between 32 and 320/],
    [`${YT}?quality=audio&format=opus&bitrate=8`, /between 16 and 256/],
    [`${YT}?quality=audio&format=mp3&bitrate=128k`, /whole number/],
    [`${YT}?quality=audio&format=mp3&bitrate=-5`, /whole number/],
    [`${YT}?quality=audio&format=mp3&bitrate=1e2`, /whole number/],
    [`${YT}?quality=audio&format=mp3&bitrate=128&bitrate=192`, /once/],
    [`${YT}?quality=audio&format=wav&bitrate=320`, /does not apply to format=wav/],
    [`${YT}?quality=audio&bitrate=128`, /only/],
    [`${YT}?quality=720p&format=mp3`, /quality=audio/],
    [`/api/v2/stream/auto/youtube/${ID}?format=mp3`, /quality=audio/],
    [`${YT}?quality=audio&format=mp3&mode=redirect`, /redirect cannot transcode/],
    [`/api/v2/stream/direct/youtube/${ID}?quality=audio&format=m4a`, /redirect cannot transcode/],
    [`/api/v2/stream/hls/youtube/${ID}?quality=audio&format=mp3`, /HLS route serves playlists/]
  ]
  for (const [path, message] of cases) {
    const res = await fetch(app.url + path, { redirect: 'manual' })
    assert.equal(res.status, 400, path)
    const body = await res.json() as Record<string, unknown>
    assert.equal(body.code, 'INVALID_INPUT', path)
    assert.match(String(body.error), message, path)
    assert.equal(typeof body.request_id, 'string')
  }
  // the same query without the transcode still redirects
  const redirect = await fetch(`${app.url}${YT}?quality=audio&mode=redirect`, { redirect: 'manual' })
  assert.equal(redirect.status, 302)
  assert.deepEqual(ffmpegChildren(), [])
})

// A longer audio than the media set's (ffmpeg reads a few seconds before it writes anything),
// shaped like YouTube's: AAC in an indexed fMP4.
const LONG_SECONDS = 20
async function longAudio (): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-long-audio-'))
  try {
    await run('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', `sine=duration=${LONG_SECONDS}:frequency=330`, '-c:a', 'aac', '-b:a', '128k', '-movflags', '+dash+global_sidx', join(dir, 'a.m4a')], { timeout: 60_000 })
    return readFileSync(join(dir, 'a.m4a'))
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

// The audio comes from a second origin that holds back its last quarter until the
// test releases it: ffmpeg has sent its first output and is still running
// while the test counts processes and opens more requests.
async function startHeld (t: { after: (fn: () => Promise<void>) => void }, env: Record<string, string> = {}): Promise<{ app: StartedApp, release: () => void, reads: () => number }> {
  const origin = await startMediaOrigin()
  const audio = await longAudio()
  let release = (): void => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let reads = 0
  const held = createServer((req, res) => {
    const name = (req.url ?? '').split('?')[0]?.slice(1) ?? ''
    const body = name === 'audio.m4a' ? audio : origin.set.files.get(name) ?? Buffer.alloc(0)
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m === null ? 0 : Number(m[1])
    const end = m === null || m[2] === '' ? body.length - 1 : Math.min(Number(m[2]), body.length - 1)
    if (start === 0 && name === 'audio.m4a') reads++
    res.writeHead(m === null ? 200 : 206, { 'content-type': 'audio/mp4', 'content-length': end - start + 1, 'accept-ranges': 'bytes', ...(m === null ? {} : { 'content-range': `bytes ${start}-${end}/${body.length}` }) })
    // (a read that starts past it, ffmpeg's look at the file's last bytes, is answered at once)
    const holdAt = Math.floor(body.length * 3 / 4)
    if (start >= holdAt || end < holdAt) { res.end(body.subarray(start, end + 1)); return }
    res.write(body.subarray(start, holdAt))
    void released.then(() => { if (!res.destroyed) res.end(body.subarray(holdAt, end + 1)) })
  })
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve))
  const addr = held.address()
  const heldHost = `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`
  const dir = fixtures(origin.url, LONG_SECONDS, `http://${heldHost}`)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: `${origin.host},${heldHost}`, RATE_LIMIT_ENABLED: 'false', ...env })
  t.after(async () => {
    release()
    await app.close(); await origin.close()
    held.closeAllConnections(); await new Promise<void>((resolve) => held.close(() => resolve()))
    rmSync(dir, { recursive: true, force: true })
  })
  return { app, release, reads: () => reads }
}

async function opened (url: string, init: RequestInit = {}): Promise<{ res: Response, reader: ReadableStreamDefaultReader<Uint8Array>, first: Buffer }> {
  const res = await fetch(url, init)
  assert.equal(res.status, 200, url)
  assert.equal(res.headers.get('x-stream-mode'), 'transcode')
  const reader = res.body?.getReader()
  assert.ok(reader !== undefined)
  const chunk = await reader.read()
  assert.ok(chunk.value !== undefined && chunk.value.length > 0, 'the transcode started')
  return { res, reader, first: Buffer.from(chunk.value) }
}

async function rest (o: { reader: ReadableStreamDefaultReader<Uint8Array>, first: Buffer }): Promise<Buffer> {
  const parts = [o.first]
  for (let c = await o.reader.read(); !c.done; c = await o.reader.read()) parts.push(Buffer.from(c.value))
  return Buffer.concat(parts)
}

async function waitNoFfmpeg (): Promise<void> {
  const deadline = Date.now() + 5000
  while (ffmpegChildren().length > 0 && Date.now() < deadline) await sleep(50)
  assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg child after the clients left')
}

test('clients asking for the same (video, format, bitrate) share one ffmpeg; another bitrate is another', { timeout: 120_000 }, async (t) => {
  const { app, release, reads } = await startHeld(t)
  const url = `${app.url}${YT}?quality=audio&format=mp3&bitrate=128`
  const one = await opened(url)
  const two = await opened(url)
  assert.equal(ffmpegChildren().length, 1, 'one ffmpeg for two clients')
  assert.equal(reads(), 1, 'one read of the source')
  const other = await opened(`${app.url}${YT}?quality=audio&format=mp3&bitrate=96`)
  assert.equal(ffmpegChildren().length, 2, 'another bitrate, another ffmpeg')
  assert.equal(reads(), 2)
  release()
  const [a, b, c] = await Promise.all([rest(one), rest(two), rest(other)])
  assert.ok(a.equals(b), 'the sharing clients got identical bytes')
  assert.ok(!a.equals(c))
  const p = await probe(a, 'mp3')
  assert.equal(p.codec, 'mp3')
  await waitNoFfmpeg()
})

test('a transcode takes a stream slot and an ffmpeg slot: 429 and 503 past them, a shared one costs no ffmpeg slot', { timeout: 120_000 }, async (t) => {
  const { app, release } = await startHeld(t, { STREAM_MAX_PER_CLIENT: '1', REMUX_MAX_CONCURRENT: '1' })
  const url = `${app.url}${YT}?quality=audio&format=opus`
  // a forwarded request is a client like any other (the host's own requests, ffmpeg's, are exempt)
  const relayed = { headers: { 'x-forwarded-for': '203.0.113.9' } }
  const held = await opened(url, relayed)
  const capped = await fetch(url, relayed)
  assert.equal(capped.status, 429)
  assert.equal((await capped.json() as Record<string, unknown>).code, 'RATE_LIMITED')

  const busy = await fetch(`${app.url}${YT}?quality=audio&format=opus&bitrate=64`)
  assert.equal(busy.status, 503)
  assert.equal((await busy.json() as Record<string, unknown>).code, 'STREAM_BUSY')
  const shared = await opened(url)
  assert.equal(ffmpegChildren().length, 1)
  release()
  const [x, y] = await Promise.all([rest(held), rest(shared)])
  assert.ok(x.equals(y))
  assert.equal((await probe(x, 'opus')).codec, 'opus')
  await waitNoFfmpeg()
})

test('the last client leaving mid-transcode stops its ffmpeg', { timeout: 60_000 }, async (t) => {
  const { app } = await startHeld(t)
  const abort = new AbortController()
  const o = await opened(`${app.url}${YT}?quality=audio&format=wav`, { signal: abort.signal })
  assert.ok(ffmpegChildren().length > 0, 'ffmpeg runs while the client reads')
  abort.abort()
  await o.reader.cancel().catch(() => {})
  await waitNoFfmpeg()
})
