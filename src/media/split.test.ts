import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT, startApp } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'
import { addTemplateDash, assertPart, masterUris, mediaParts, probeUrl, segmentBaseMpd } from '../testing/split.ts'

type Origin = Awaited<ReturnType<typeof startMediaOrigin>>

const YT = '/api/v2/stream/youtube/dQw4w9WgXcQ'
const BILI = '/api/v2/stream/bilibili/BV1GJ411x7h7'
const REFERER = 'https://www.bilibili.com/'

async function setup (t: { after: (fn: () => Promise<void>) => void }): Promise<{ app: StartedApp, origin: Origin, dir: string }> {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  return { app, origin, dir }
}

// A generic-platform fixture (fake yt-dlp prints <dir>/<name>.json for /fixture/<name>).
function writeFixture (dir: string, name: string, formats: unknown[]): void {
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', 'bilibili.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...raw, id: name, extractor: 'generic', duration: 4, formats, requested_formats: undefined }))
}

const pageOf = (origin: Origin, name: string): string => encodeURIComponent(`${origin.url}/fixture/${name}`)

// Fetches the master, every media playlist and every part; returns the parts checked.
async function walkHls (masterUrl: string, masterText: string, origin: Origin, expected: { video: Buffer | null, audio: Buffer | null }): Promise<number> {
  assert.match(masterText, /#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",[^\n]*URI="/)
  assert.match(masterText, /#EXT-X-STREAM-INF:[^\n]*AUDIO="aud"/)
  assert.ok(!masterText.includes(origin.url), 'no upstream URL in the master')
  const { variants, audio } = masterUris(masterText, masterUrl)
  assert.equal(variants.length, 1)
  assert.equal(audio.length, 1)
  let parts = 0
  for (const [uri, file] of [[variants[0], expected.video], [audio[0], expected.audio]] as const) {
    const res = await fetch(uri ?? '')
    assert.equal(res.status, 200, uri)
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl')
    const text = await res.text()
    assert.ok(!text.includes(origin.url), 'no upstream URL in a media playlist')
    assert.match(text, /#EXT-X-ENDLIST/)
    const { init, segments } = mediaParts(text, res.url)
    assert.ok(init !== null, 'EXT-X-MAP')
    assert.ok(segments.length > 0)
    const total = segments.reduce((s, p) => s + p.duration, 0)
    assert.ok(Math.abs(total - 4) < 0.3, `segments last ${total} s`)
    for (const part of [init, ...segments]) { await assertPart(part, origin.set.files, file); parts++ }
  }
  return parts
}

test('YouTube-shaped 1080p (separate streams) as HLS: the master lists the audio group, every URI fetches the origin\'s bytes, ffprobe hears it', async (t) => {
  const { app, origin } = await setup(t)
  const url = `${app.url}${YT}?quality=1080p&format=hls`
  const res = await fetch(url)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('x-stream-mode'), 'hls')
  const text = await res.text()
  assert.match(text, /CODECS="avc1\.640028,mp4a\.40\.2"/, 'the MP4 pair (137+140), not the WebM one')
  assert.match(text, /RESOLUTION=1920x1080/)
  const files = origin.set.files
  const parts = await walkHls(url, text, origin, { video: files.get('video.mp4') ?? null, audio: files.get('audio.m4a') ?? null })
  assert.ok(parts >= 4, `${parts} parts`)
  const probe = await probeUrl(url)
  assert.deepEqual(probe.types, ['audio', 'video'])
  assert.ok(Math.abs(probe.duration - 4) < 0.3, `duration ${probe.duration}`)

  const info = await (await fetch(`${app.url}/api/v2/stream/info/youtube/dQw4w9WgXcQ?quality=1080p&format=hls`)).json() as Record<string, unknown>
  assert.equal(info.delivery, 'hls')
  assert.equal(info.stream_url, info.hls_url)
  assert.match(String(info.hls_url), /\/api\/v2\/hls\/split\/[\w-]+\.[\w-]+\/master\.m3u8$/)
  const viaLink = await fetch(String(info.hls_url))
  assert.equal(viaLink.status, 200)
  await walkHls(String(info.hls_url), await viaLink.text(), origin, { video: files.get('video.mp4') ?? null, audio: files.get('audio.m4a') ?? null })
  const tampered = String(info.hls_url).replace(/\.(.)([\w-]{21}\/master\.m3u8)$/, (_, c: string, rest: string) => `.${c === 'A' ? 'B' : 'A'}${rest}`)
  assert.notEqual(tampered, info.hls_url)
  assert.equal((await fetch(tampered)).status, 403)

  const plain = await fetch(`${app.url}${YT}?quality=1080p`)
  assert.equal(plain.headers.get('x-stream-mode'), 'remux', 'a client that did not ask for HLS gets the MP4 remux')
  await plain.arrayBuffer()
})

test('BiliBili-shaped (Referer required): HLS from the sidx of each file, Referer on every origin request', async (t) => {
  const { app, origin } = await setup(t)
  const url = `${app.url}${BILI}?quality=720p`
  const res = await fetch(url, { headers: { 'user-agent': 'AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; en_us)' } })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('x-stream-mode'), 'hls')
  const files = origin.set.files
  await walkHls(url, await res.text(), origin, { video: files.get('video.mp4') ?? null, audio: files.get('audio.m4a') ?? null })
  const probe = await probeUrl(`${url}&format=hls`)
  assert.deepEqual(probe.types, ['audio', 'video'])
  assert.ok(Math.abs(probe.duration - 4) < 0.3)
  const bili = origin.requests.filter((r) => r.path.startsWith('/bili/'))
  assert.ok(bili.length > 4)
  assert.ok(bili.every((r) => r.headers.referer === REFERER && r.headers.cookie === undefined))
})

test('DASH sources: SegmentBase (indexRange) and SegmentTemplate manifests, and yt-dlp fragments, become playable HLS', async (t) => {
  const { app, origin, dir } = await setup(t)
  const set = origin.set
  const headers = { Referer: REFERER, 'User-Agent': 'Mozilla/5.0' }
  set.files.set('base.mpd', Buffer.from(segmentBaseMpd(set, `${origin.url}/bili`, { video: '100024', audio: '30280' })))
  const mpd = `${origin.url}/bili/base.mpd`
  writeFixture(dir, 'bilidash', [
    { format_id: '100024', ext: 'mp4', protocol: 'https', vcodec: 'avc1.640028', acodec: 'none', width: 1280, height: 720, tbr: 1036.4, url: `${origin.url}/bili/video.mp4`, manifest_url: mpd, http_headers: headers },
    { format_id: '30280', ext: 'm4a', protocol: 'https', vcodec: 'none', acodec: 'mp4a.40.2', tbr: 191.9, url: `${origin.url}/bili/audio.m4a`, manifest_url: mpd, http_headers: headers }
  ])
  const tpl = addTemplateDash(set)
  const tplUrl = `${origin.url}/m/${tpl.mpd}`
  const fragments = (names: string[], init: string): unknown[] => [{ url: `${origin.url}/m/${init}` }, ...names.map((n) => ({ path: n, duration: 4 / names.length }))]
  const dashFormats = (manifest: string | undefined): unknown[] => [
    { format_id: 'dash-0', ext: 'mp4', protocol: 'http_dash_segments', vcodec: 'avc1.64000d', acodec: 'none', width: 1280, height: 720, tbr: 15.4, url: tplUrl, manifest_url: manifest, fragment_base_url: `${origin.url}/m/`, fragments: fragments(tpl.chunks.video, 'tpl-init-0.m4s') },
    { format_id: 'dash-1', ext: 'm4a', protocol: 'http_dash_segments', vcodec: 'none', acodec: 'mp4a.40.2', tbr: 69.4, url: tplUrl, manifest_url: manifest, fragment_base_url: `${origin.url}/m/`, fragments: fragments(tpl.chunks.audio, 'tpl-init-1.m4s') }
  ]
  writeFixture(dir, 'dashtpl', dashFormats(tplUrl))
  writeFixture(dir, 'dashfrag', dashFormats(undefined))

  const base = await fetch(`${app.url}/api/v2/stream?url=${pageOf(origin, 'bilidash')}&format=hls`)
  assert.equal(base.headers.get('x-stream-mode'), 'hls')
  await walkHls(base.url, await base.text(), origin, { video: set.files.get('video.mp4') ?? null, audio: set.files.get('audio.m4a') ?? null })
  const sidx = segmentBaseIndex(origin)
  assert.ok(origin.requests.some((r) => r.path === '/bili/base.mpd'), 'the manifest was read')
  assert.ok(origin.requests.some((r) => r.path === '/bili/video.mp4' && r.headers.range === sidx), `the sidx was fetched by its indexRange (${sidx})`)

  for (const name of ['dashtpl', 'dashfrag']) {
    const url = `${app.url}/api/v2/stream?url=${pageOf(origin, name)}&format=hls`
    const res = await fetch(url)
    assert.equal(res.headers.get('x-stream-mode'), 'hls', name)
    const parts = await walkHls(url, await res.text(), origin, { video: null, audio: null })
    assert.equal(parts, 2 + tpl.chunks.video.length + tpl.chunks.audio.length)
    const probe = await probeUrl(url)
    assert.deepEqual(probe.types, ['audio', 'video'], name)
    assert.ok(Math.abs(probe.duration - 4) < 0.3, `${name}: ${probe.duration}`)
    const remux = await fetch(`${app.url}/api/v2/stream?url=${pageOf(origin, name)}&format=mp4`)
    assert.equal(remux.headers.get('x-stream-mode'), 'remux')
    assert.ok((await remux.arrayBuffer()).byteLength > 10_000)
  }
  assert.ok(origin.requests.some((r) => r.path === '/m/tpl.mpd'))
})

function segmentBaseIndex (origin: Origin): string {
  const mpd = origin.set.files.get('base.mpd')?.toString() ?? ''
  return `bytes=${/indexRange="(\d+-\d+)"/.exec(mpd)?.[1] ?? ''}`
}

test('the formats endpoint says how each quality is served: direct, hls (an MP4 pair) or remux', async (t) => {
  const { app, origin, dir } = await setup(t)
  const body = await (await fetch(`${app.url}/api/v2/videos/youtube/dQw4w9WgXcQ/formats`)).json() as { qualities: Array<{ quality: string, serving: string }> }
  const serving = Object.fromEntries(body.qualities.map((q) => [q.quality, q.serving]))
  assert.deepEqual(serving, { '1080p': 'hls', '720p': 'direct', '360p': 'direct', audio: 'direct' })

  const raw = JSON.parse(readFileSync(join(dir, 'youtube.json'), 'utf8')) as { formats: Array<{ format_id: string }> }
  writeFixture(dir, 'webmonly', raw.formats.filter((f) => f.format_id !== '137'))
  const webm = await (await fetch(`${app.url}/api/v2/videos/formats?url=${pageOf(origin, 'webmonly')}`)).json() as typeof body
  assert.equal(webm.qualities.find((q) => q.quality === '1080p')?.serving, 'remux')
})
