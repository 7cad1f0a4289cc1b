// Issue 17's delivery rules on a real server (fake platform data on a local
// origin, real ffmpeg): mode=redirect always redirects (or answers 409), VRChat
// gets one MP4 from a non-live HLS source and HLS for live, the HLS route
// answers playlists only, and quality filters an HLS master's variants.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { REPO_ROOT, startCluster } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'
import { QUALITY_VALUES } from './quality.ts'

type Origin = Awaited<ReturnType<typeof startMediaOrigin>>
const run = promisify(execFile)
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

const PLATFORMS = [
  { name: 'youtube', id: 'dQw4w9WgXcQ', page: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ' },
  { name: 'bilibili', id: 'BV1GJ411x7h7', page: 'https://www.bilibili.com/video/BV1GJ411x7h7' },
  { name: 'twitter', id: '1577855540407197696', page: 'https://twitter.com/rickastley/status/1577855540407197696' },
  { name: 'twitch', id: 'v2012345678', page: 'https://www.twitch.tv/videos/2012345678' },
  { name: 'instagram', id: 'C1m2n3o4p5Q', page: 'https://www.instagram.com/reel/C1m2n3o4p5Q/' }
] as const

interface RawFormat { format_id: string, protocol?: string, vcodec?: string, acodec?: string, url: string, manifest_url?: string }

// writeLocalFixtures covers YouTube, BiliBili and Twitter; Twitch and Instagram the same way
function writeMoreFixtures (dir: string, originUrl: string): void {
  for (const name of ['twitch', 'instagram']) {
    const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', `${name}.json`), 'utf8')) as { formats: RawFormat[] }
    for (const f of raw.formats) {
      const video = f.vcodec !== 'none'
      const audio = f.acodec !== 'none'
      const file = f.protocol?.startsWith('m3u8') === true ? 'master.m3u8' : video && audio ? 'progressive.mp4' : video ? 'video.mp4' : 'audio.m4a'
      f.url = `${originUrl}/m/${file}?fid=${encodeURIComponent(f.format_id)}`
      if (f.manifest_url !== undefined) f.manifest_url = f.url
    }
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(raw))
  }
}

// A generic-platform fixture (fake yt-dlp prints <dir>/<name>.json for /fixture/<name>).
function writeFixture (dir: string, name: string, fields: Record<string, unknown>): void {
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', 'bilibili.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...raw, id: name, extractor: 'generic', duration: 4, is_live: false, requested_formats: undefined, ...fields }))
}

const hlsFormat = (id: string, url: string, width: number, height: number, manifest?: string): Record<string, unknown> => ({
  format_id: id, ext: 'mp4', protocol: 'm3u8_native', url, ...(manifest === undefined ? {} : { manifest_url: manifest }), width, height, vcodec: 'avc1.64000d', acodec: 'mp4a.40.2', tbr: height
})

// The server as shipped (node dist/src/main.js, its default two workers here); the fake
// yt-dlp reads the fixtures, the media origin is on loopback (GENERIC_HOSTS lets it through)
// and one client sends every request (no rate limit).
async function setup (t: { after: (fn: () => Promise<void>) => void }): Promise<{ app: { url: string }, origin: Origin, dir: string, page: (name: string) => string }> {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  writeMoreFixtures(dir, origin.url)
  const app = await startCluster({ timeoutMs: 90_000, env: { FAKE_YTDLP_FIXTURE_DIR: dir, GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' } })
  t.after(async () => {
    await app.stop()
    await origin.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { app, origin, dir, page: (name) => encodeURIComponent(`${origin.url}/fixture/${name}`) }
}

interface Answer { status: number, location: string | null, reason: string | null, mode: string | null, body: string }

async function get (url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { redirect: 'manual', headers })
  return { status: res.status, location: res.headers.get('location'), reason: res.headers.get('x-stream-reason'), mode: res.headers.get('x-stream-mode'), body: await res.text() }
}

const fid = (location: string | null): string | null => location === null ? null : new URL(location).searchParams.get('fid')

test('mode=redirect never answers 200: every fixture video and quality is a 302 to a single file (the reason says when it is lower) or a 409', async (t) => {
  const { app, origin } = await setup(t)
  const seen = { redirects: 0, lowered: 0, refused: 0 }
  for (const p of PLATFORMS) {
    for (const quality of QUALITY_VALUES) {
      for (const videoOnly of ['', '&video_only=true']) {
        // what mode=auto would serve: a split pair (separate video and audio), or one file
        const json = await fetch(`${app.url}/api/v2/stream/${p.name}/${p.id}?quality=${quality}${videoOnly}&mode=json`)
        assert.equal(json.status, 200, `${p.name} ${quality}: ${await json.clone().text()}`)
        const auto = await json.json() as { video: { format_id: string, height: number | null }, audio: { format_id: string } | null }
        const paths = [
          `/api/v2/stream/${p.name}/${p.id}?quality=${quality}${videoOnly}&mode=redirect`,
          `/api/v2/stream/direct/${p.name}/${p.id}?quality=${quality}${videoOnly}`,
          `/api/v1/?yt=${encodeURIComponent(p.page)}&quality=${quality}${videoOnly}`,
          `/api/v2/stream/${p.name}/${p.id}?quality=${quality}${videoOnly}&mode=redirect&format=mp4`
        ]
        for (const path of paths) {
          // twice: the handler's answer, then the fast lane's for the cached video; an HLS player's User-Agent changes nothing
          const answers = [await get(app.url + path), await get(app.url + path), await get(app.url + path, { 'user-agent': 'AppleCoreMedia/1.0' })]
          const [first] = answers
          assert.ok(first !== undefined)
          const what = `${path}: ${first.status} ${first.body}`
          for (const a of answers) assert.deepEqual({ ...a, body: '' }, { ...first, body: '' }, what)
          if (first.status === 409) {
            const body = JSON.parse(first.body) as { code: string, detail: string }
            assert.equal(body.code, 'NO_SINGLE_FILE', what)
            assert.match(body.detail, /mode=auto/)
            assert.match(body.detail, /mode=proxy/)
            assert.ok(auto.audio !== null, `${what}: refused only where auto serves separate video and audio`)
            seen.refused++
            continue
          }
          assert.equal(first.status, 302, what)
          assert.equal(first.mode, 'redirect', what)
          assert.ok(first.location?.startsWith(`${origin.url}/`), `${what}: ${first.location}`)
          seen.redirects++
          if (auto.audio === null) {
            assert.equal(fid(first.location), auto.video.format_id, `${what}: the file auto serves`)
            assert.doesNotMatch(first.reason ?? '', /separate/, what)
          } else {
            // the file is a single file, at or below what auto remuxes, and the reason says so
            assert.match(first.reason ?? '', /exists only as separate video and audio.*redirected to \d+p/, what)
            assert.notEqual(fid(first.location), auto.video.format_id, what)
            seen.lowered++
          }
        }
      }
    }
  }
  t.diagnostic(JSON.stringify(seen))
  assert.ok(seen.lowered > 0 && seen.refused > 0 && seen.redirects > seen.lowered, JSON.stringify(seen))
  // YouTube at 1080p: the 720p HLS stream (format 95, video and audio in one), as at 720p, not the 1080p pair
  const yt = await get(`${app.url}/api/v2/stream/youtube/dQw4w9WgXcQ?quality=1080p&mode=redirect`)
  assert.equal(fid(yt.location), '95')
  assert.match(yt.reason ?? '', /^1080p exists only as separate video and audio: redirected to 720p, the best single file at or below 1080p/)
  assert.match(yt.reason ?? '', /bound to the server's IP/)
  assert.equal(fid((await get(`${app.url}/api/v2/stream/youtube/dQw4w9WgXcQ?quality=720p&mode=redirect`)).location), '95')
})

async function probe (media: Buffer): Promise<{ format: string, codecs: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-probe-'))
  try {
    writeFileSync(join(dir, 'x'), media)
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name:format=format_name', '-of', 'json', join(dir, 'x')])
    const j = JSON.parse(stdout) as { streams?: Array<{ codec_name?: string }>, format?: { format_name?: string } }
    return { format: j.format?.format_name ?? '', codecs: (j.streams ?? []).map((s) => s.codec_name ?? '?').sort() }
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

test('VRChat: a non-live HLS source ends in one MP4 (H.264 + AAC, remuxed by ffmpeg); a live one stays HLS', async (t) => {
  const { app, origin, dir, page } = await setup(t)
  // fMP4 segments, and AES-128 MPEG-TS segments (ADTS audio)
  writeFixture(dir, 'hlsvod', { formats: [hlsFormat('hls-240', `${origin.url}/m/fmp4.m3u8`, 320, 240)] })
  writeFixture(dir, 'hlsts', { formats: [hlsFormat('hls-240', `${origin.url}/m/enc.m3u8`, 320, 240)] })
  writeFixture(dir, 'hlslive', { is_live: true, duration: null, formats: [hlsFormat('hls-240', `${origin.url}/m/fmp4.m3u8`, 320, 240)] })

  for (const name of ['hlsvod', 'hlsts']) {
    for (const player of ['avpro', 'unity']) {
      const stream = await get(`${app.url}/api/vrchat/stream?url=${page(name)}&player=${player}`, { 'user-agent': 'AVProVideo/2.0' })
      assert.equal(stream.status, 302, stream.body)
      assert.equal(stream.mode, 'remux')
      assert.match(stream.reason ?? '', /240p HLS stream is remuxed into one MP4/)
      const media = await fetch(new URL(stream.location ?? '', app.url), { headers: { 'user-agent': 'AVProVideo/2.0' } })
      assert.equal(media.status, 200)
      assert.equal(media.headers.get('content-type'), 'video/mp4')
      assert.equal(media.headers.get('x-stream-mode'), 'remux')
      assert.match(media.headers.get('x-stream-reason') ?? '', /HLS source \(240p\): remuxed into one MP4/)
      const { format, codecs } = await probe(Buffer.from(await media.arrayBuffer()))
      assert.match(format, /mp4/, `${name}: ${format}`)
      assert.deepEqual(codecs, ['aac', 'h264'], name)
    }
    const info = await (await fetch(`${app.url}/api/vrchat/info?url=${page(name)}`)).json() as Record<string, unknown>
    assert.equal(info.plays, 'remux')
    assert.match(String(info.reason), /HLS stream is remuxed into one MP4/)
  }

  const live = await get(`${app.url}/api/vrchat/stream?url=${page('hlslive')}&player=avpro`)
  assert.equal(live.status, 302, live.body)
  assert.equal(live.mode, 'hls')
  assert.match(live.reason ?? '', /live/)
  assert.match(live.location ?? '', /\/api\/v2\/hls\//)
  const playlist = await fetch(live.location ?? '')
  assert.equal(playlist.status, 200)
  assert.equal(playlist.headers.get('content-type'), 'application/vnd.apple.mpegurl')
  assert.match(await playlist.text(), /^#EXTM3U/)
  // format=mp4 never remuxes a live stream
  const liveMp4 = await get(`${app.url}/api/v2/stream?url=${page('hlslive')}&mode=proxy&format=mp4`)
  assert.equal(liveMp4.mode, 'hls', liveMp4.body)
})

interface Media { lines: string[], segments: Array<{ duration: number, uri: string }> }
function readMedia (text: string): Media {
  const lines = text.trim().split('\n')
  const segments: Media['segments'] = []
  lines.forEach((l, i) => { if (l.startsWith('#EXTINF:')) segments.push({ duration: Number(l.slice(8).split(',')[0]), uri: lines[i + 1] ?? '' }) })
  return { lines, segments }
}

test('the HLS route: a single file is a one-segment VOD playlist of our proxy link; no playlist possible is a 409, never MP4 bytes', async (t) => {
  const { app, origin, dir, page } = await setup(t)
  const progressive = origin.set.files.get('progressive.mp4') ?? Buffer.alloc(0)
  for (const [path, duration] of [['/api/v2/stream/hls/youtube/dQw4w9WgXcQ?quality=360p', 212], ['/api/v2/stream/hls/twitter/1577855540407197696?quality=720p', 30.03]] as const) {
    const res = await fetch(app.url + path)
    assert.equal(res.status, 200, path)
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl')
    assert.equal(res.headers.get('x-stream-mode'), 'hls')
    assert.match(res.headers.get('x-stream-reason') ?? '', /one-segment playlist/)
    const { lines, segments } = readMedia(await res.text())
    assert.equal(lines[0], '#EXTM3U')
    assert.ok(lines.includes('#EXT-X-PLAYLIST-TYPE:VOD'))
    assert.equal(lines.at(-1), '#EXT-X-ENDLIST')
    assert.equal(segments.length, 1, path)
    const [only] = segments
    assert.ok(only !== undefined)
    assert.ok(Math.abs(only.duration - duration) < 0.001, `EXTINF ${only.duration}`)
    const link = new URL(only.uri, res.url)
    assert.ok(link.href.startsWith(`${app.url}/api/v2/proxy/`), link.href)
    const target = lines.find((l) => l.startsWith('#EXT-X-TARGETDURATION:'))
    assert.equal(target, `#EXT-X-TARGETDURATION:${Math.ceil(duration)}`)
    // the whole file the format names (YouTube's 18 is the origin's progressive MP4)
    const bytes = sha(Buffer.from(await (await fetch(link)).arrayBuffer()))
    if (path.includes('youtube')) assert.equal(bytes, sha(progressive), 'the segment is the whole file')
    else assert.ok([...origin.set.files.values()].some((f) => sha(f) === bytes), 'the segment is one of the origin\'s files')
  }

  // a file of unknown duration, and separate WebM video and audio (no HLS form): 409 in the error shape
  writeFixture(dir, 'nodur', { duration: null, formats: [{ format_id: 'p', ext: 'mp4', protocol: 'http', url: `${origin.url}/m/progressive.mp4`, width: 320, height: 240, vcodec: 'avc1.64000d', acodec: 'mp4a.40.2' }] })
  writeFixture(dir, 'webm', {
    formats: [
      { format_id: 'v', ext: 'webm', protocol: 'http', url: `${origin.url}/m/video.mp4`, width: 320, height: 240, vcodec: 'vp9', acodec: 'none' },
      { format_id: 'a', ext: 'webm', protocol: 'http', url: `${origin.url}/m/audio.m4a`, vcodec: 'none', acodec: 'opus' }
    ]
  })
  for (const [name, detail] of [['nodur', /unknown duration.*mode=proxy/], ['webm', /format=mp4/]] as const) {
    for (const path of [`/api/v2/stream/hls?url=${page(name)}`, `/api/v2/stream/hls?url=${page(name)}&format=mp4`]) {
      const res = await fetch(app.url + path)
      assert.equal(res.status, 409, `${path}: ${res.status}`)
      assert.match(res.headers.get('content-type') ?? '', /json/)
      const body = await res.json() as { code: string, detail: string, request_id: string }
      assert.equal(body.code, 'HLS_NOT_POSSIBLE')
      assert.match(body.detail, detail)
      assert.ok(body.request_id !== '')
    }
  }
})

test('quality filters an HLS master\'s variants: at or below it, best first; the lowest when none is', async (t) => {
  const { app, origin, dir, page } = await setup(t)
  const master = [
    '#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64000d,mp4a.40.2"', 'fmp4.m3u8?h=360',
    '#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="avc1.64000d,mp4a.40.2"', 'fmp4.m3u8?h=1080',
    '#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"', 'fmp4.m3u8?h=audio',
    '#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64000d,mp4a.40.2"', 'enc.m3u8?h=720',
    '#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=1280x720,CODECS="avc1.64000d,mp4a.40.2"', 'fmp4.m3u8?h=720low',
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,RESOLUTION=1920x1080,URI="fmp4.m3u8?i=1080"',
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=30000,RESOLUTION=640x360,URI="fmp4.m3u8?i=360"'
  ].join('\n') + '\n'
  origin.set.files.set('ladder.m3u8', Buffer.from(master))
  const ladder = `${origin.url}/m/ladder.m3u8`
  writeFixture(dir, 'ladder', {
    formats: [
      hlsFormat('hls-1080', `${origin.url}/m/fmp4.m3u8?h=1080`, 1920, 1080, ladder),
      hlsFormat('hls-720', `${origin.url}/m/enc.m3u8?h=720`, 1280, 720, ladder),
      hlsFormat('hls-360', `${origin.url}/m/fmp4.m3u8?h=360`, 640, 360, ladder)
    ]
  })
  // each variant's resolution (null: none), in the playlist's order, and the I-frame playlists'
  const variants = async (quality: string): Promise<{ list: Array<string | null>, iframes: string[], uris: string[] }> => {
    const res = await fetch(`${app.url}/api/v2/stream/hls?url=${page('ladder')}&quality=${quality}`)
    assert.equal(res.status, 200, quality)
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl')
    const lines = (await res.text()).trim().split('\n')
    const list: Array<string | null> = []
    const uris: string[] = []
    lines.forEach((l, i) => {
      if (!l.startsWith('#EXT-X-STREAM-INF:')) return
      list.push(/RESOLUTION=(\d+x\d+)/.exec(l)?.[1] ?? null)
      uris.push(new URL(lines[i + 1] ?? '', res.url).href)
    })
    const iframes = lines.filter((l) => l.startsWith('#EXT-X-I-FRAME-STREAM-INF:')).map((l) => /RESOLUTION=(\d+x\d+)/.exec(l)?.[1] ?? '')
    return { list, iframes, uris }
  }
  const best = await variants('best')
  assert.deepEqual(best.list, ['1920x1080', '1280x720', '1280x720', '640x360', null])
  assert.deepEqual(best.iframes, ['1920x1080', '640x360'])
  const hd = await variants('720p')
  assert.deepEqual(hd.list, ['1280x720', '1280x720', '640x360', null])
  assert.deepEqual(hd.iframes, ['640x360'])
  for (const uri of hd.uris) {
    assert.ok(uri.startsWith(`${app.url}/api/v2/hls/`), uri)
    const res = await fetch(uri)
    assert.equal(res.status, 200, uri)
    assert.match(await res.text(), /#EXTINF:/)
  }
  assert.deepEqual((await variants('480p')).list, ['640x360', null])
  assert.deepEqual((await variants('144p')).list, ['640x360', null], 'none at or below: the lowest')
  assert.deepEqual((await variants('worst')).list, ['640x360', null])
})
