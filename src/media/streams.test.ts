import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApp } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'
import { startMediaOrigin } from '../testing/origin.ts'
import { writeLocalFixtures } from '../testing/fixtures.ts'

const sha = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex')

function probe (media: Buffer): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-probe-'))
  try {
    writeFileSync(join(dir, 'x.mp4'), media)
    const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', join(dir, 'x.mp4')]).toString()
    return out.trim().split('\n').map((s) => s.trim()).filter((s) => s !== '').sort()
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

async function setup (t: { after: (fn: () => Promise<void>) => void }, env: Record<string, string> = {}): Promise<{ app: StartedApp, origin: Awaited<ReturnType<typeof startMediaOrigin>> }> {
  const origin = await startMediaOrigin()
  const dir = writeLocalFixtures(origin.url)
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false', ...env })
  t.after(async () => { await app.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  return { app, origin }
}

const YT = '/api/v2/stream/youtube/dQw4w9WgXcQ'
const BILI = '/api/v2/stream/bilibili/BV1GJ411x7h7'

test('YouTube-shaped: a progressive 360p is proxied byte-exact (IP-bound URLs), with Range, HEAD and 416', async (t) => {
  const { app, origin } = await setup(t)
  const file = origin.set.files.get('progressive.mp4') ?? Buffer.alloc(0)
  const full = await fetch(`${app.url}${YT}?quality=360p`)
  assert.equal(full.status, 200)
  assert.equal(full.headers.get('x-stream-mode'), 'proxy')
  assert.match(full.headers.get('x-stream-reason') ?? '', /bound/)
  assert.equal(sha(Buffer.from(await full.arrayBuffer())), sha(file))

  const part = await fetch(`${app.url}${YT}?quality=360p`, { headers: { range: 'bytes=1000-1999' } })
  assert.equal(part.status, 206)
  assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${file.length}`)
  assert.equal(sha(Buffer.from(await part.arrayBuffer())), sha(file.subarray(1000, 2000)))

  const head = await fetch(`${app.url}${YT}?quality=360p`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-length'), String(file.length))

  const bad = await fetch(`${app.url}${YT}?quality=360p`, { headers: { range: `bytes=${file.length + 10}-` } })
  assert.equal(bad.status, 416)
  assert.equal(bad.headers.get('content-range'), `bytes */${file.length}`)

  const redirect = await fetch(`${app.url}${YT}?quality=360p&mode=redirect`, { redirect: 'manual' })
  assert.equal(redirect.status, 302)
  assert.match(redirect.headers.get('location') ?? '', /\/m\/progressive\.mp4\?/)

  const json = await fetch(`${app.url}/api/v2/stream/info/youtube/dQw4w9WgXcQ?quality=360p`)
  const body = await json.json() as Record<string, unknown>
  assert.equal(body.delivery, 'proxy')
  const viaLink = await fetch(String(body.proxy_url))
  assert.equal(sha(Buffer.from(await viaLink.arrayBuffer())), sha(file))
  const tampered = String(body.proxy_url).replace(/.(?=[^.]*$)/, (c) => c === 'A' ? 'B' : 'A')
  const refused = await fetch(tampered)
  assert.equal(refused.status, 403)
  assert.equal((await refused.json() as Record<string, unknown>).code, 'INVALID_SIGNATURE')
})

test('split-only qualities are remuxed into one MP4 with sound; video_only gives the silent stream on request', async (t) => {
  const { app } = await setup(t)
  const remux = await fetch(`${app.url}${YT}?quality=1080p&format=mp4`)
  assert.equal(remux.status, 200)
  assert.equal(remux.headers.get('x-stream-mode'), 'remux')
  assert.deepEqual(probe(Buffer.from(await remux.arrayBuffer())), ['audio', 'video'])

  const silent = await fetch(`${app.url}${YT}?quality=1080p&video_only=true`)
  assert.equal(silent.status, 200)
  assert.deepEqual(probe(Buffer.from(await silent.arrayBuffer())), ['video'])
})

test('BiliBili-shaped: its Referer is forwarded, so auto proxies and remuxes; a plain redirect is possible on request', async (t) => {
  const { app, origin } = await setup(t)
  const audio = await fetch(`${app.url}${BILI}?quality=audio`)
  assert.equal(audio.status, 200)
  assert.equal(audio.headers.get('x-stream-mode'), 'proxy')
  assert.equal(sha(Buffer.from(await audio.arrayBuffer())), sha(origin.set.files.get('audio.m4a') ?? Buffer.alloc(0)))

  const video = await fetch(`${app.url}${BILI}?quality=720p`)
  assert.equal(video.status, 200)
  assert.equal(video.headers.get('x-stream-mode'), 'remux')
  assert.deepEqual(probe(Buffer.from(await video.arrayBuffer())), ['audio', 'video'])
  assert.ok(origin.requests.filter((r) => r.path.startsWith('/bili/')).every((r) => r.headers.referer === 'https://www.bilibili.com/'))
  assert.ok(origin.requests.every((r) => r.headers.cookie === undefined && r.headers.authorization === undefined))
})

test('HLS formats are served as rewritten playlists whose every URI fetches the original bytes', async (t) => {
  const { app, origin } = await setup(t)
  const master = await fetch(`${app.url}/api/v2/stream/hls/youtube/dQw4w9WgXcQ?quality=720p`)
  assert.equal(master.status, 200)
  assert.equal(master.headers.get('x-stream-mode'), 'hls')
  const text = await master.text()
  assert.ok(!text.includes(origin.url), 'no upstream URL survives')
  const lines = (t2: string): string[] => t2.split('\n').filter((l) => l !== '' && !l.startsWith('#'))
  const variants = lines(text)
  assert.equal(variants.length, 2)
  let fetched = 0
  for (const variant of variants) {
    const media = await (await fetch(new URL(variant, app.url))).text()
    assert.ok(!media.includes(origin.url))
    const uris = [...lines(media), ...[...media.matchAll(/URI="([^"]+)"/g)].map((m) => m[1] ?? '')]
    for (const uri of uris) {
      const res = await fetch(new URL(uri, app.url))
      assert.equal(res.status, 200, uri)
      const bytes = Buffer.from(await res.arrayBuffer())
      const original = [...origin.set.files.values()].find((b) => sha(b) === sha(bytes))
      assert.ok(original !== undefined, `${uri} returned the original bytes`)
      fetched++
    }
  }
  assert.ok(fetched >= 10, `fetched ${fetched} rewritten URIs`)
})

test('VRChat gets one progressive H.264/AAC MP4 through a link that works, and /info explains it', async (t) => {
  const { app, origin } = await setup(t)
  const page = encodeURIComponent('https://www.youtube.com/watch?v=dQw4w9WgXcQ')
  const stream = await fetch(`${app.url}/api/vrchat/stream?url=${page}`, { redirect: 'manual' })
  assert.equal(stream.status, 302)
  const location = stream.headers.get('location') ?? ''
  assert.match(location, /\/api\/v2\/proxy\//)
  const body = Buffer.from(await (await fetch(location)).arrayBuffer())
  assert.equal(sha(body), sha(origin.set.files.get('progressive.mp4') ?? Buffer.alloc(0)))
  const info = await (await fetch(`${app.url}/api/vrchat/info?url=${page}&player=unity`)).json() as Record<string, unknown>
  assert.equal(info.plays, 'proxy')
  assert.match(String(info.reason), /H\.264\/AAC/)
})

test('the embed page escapes a hostile title and carries its own CSP', async (t) => {
  const origin = await startMediaOrigin()
  const hostile = '</title><script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
  const dir = writeLocalFixtures(origin.url, { title: hostile })
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: origin.host, RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close(); await origin.close(); rmSync(dir, { recursive: true, force: true }) })
  const res = await fetch(`${app.url}/api/v2/stream/embed/youtube/dQw4w9WgXcQ`)
  assert.equal(res.status, 200)
  const html = await res.text()
  assert.ok(!html.includes('<script>'), html)
  assert.ok(!html.includes('<img'), html)
  assert.ok(html.includes('&lt;/title&gt;&lt;script&gt;'))
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/)
  assert.equal(res.headers.get('x-frame-options'), null)
  const compat = await fetch(`${app.url}/api/embed?url=${encodeURIComponent('https://youtu.be/dQw4w9WgXcQ')}`)
  assert.equal(compat.status, 200)
})
