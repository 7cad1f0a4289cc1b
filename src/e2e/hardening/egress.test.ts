// Issue 15's attack on yt-dlp and ffmpeg, with the project's current yt-dlp and the
// real ffmpeg: a hostile origin inside GENERIC_HOSTS and an "internal" canary
// outside it (both on 127.0.0.1, which is not public). The hostile pages redirect
// to the canary, embed media from it, and serve HLS playlists whose segments and
// keys are on it. Through the info, stream (proxy, HLS, remux) and download routes
// the canary never receives a connection, no error detail names it, and a refusal
// during extraction is EGRESS_REFUSED (info that lists the canary: egress-info.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startApp } from '../../testing/helpers.ts'
import type { StartedApp } from '../../testing/helpers.ts'
import { makeMediaSet, startCountingServer, startForwardProxy, startOrigin } from '../../testing/origin.ts'
import type { CountingServer } from '../../testing/origin.ts'
import { resolveYtDlp } from '../../extract/executables.ts'

type Canary = CountingServer

// The internal server: would serve a page and media if anyone got there.
async function startCanary (clip: Buffer): Promise<Canary> {
  return await startCountingServer((req, res) => {
    if ((req.url ?? '').endsWith('.html')) { res.setHeader('content-type', 'text/html'); res.end('<html><head><title>INTERNAL</title></head><body><video src="/clip.mp4"></video></body></html>'); return }
    res.setHeader('content-type', 'video/mp4')
    res.end(clip)
  })
}

interface Hostile { host: string, url: string, requests: string[], close: () => Promise<void> }

function mediaPlaylist (key: string, segment: string, method = 'AES-128'): string {
  return ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
    `#EXT-X-KEY:METHOD=${method},URI="${key}",IV=0x00000000000000000000000000000001`, '#EXTINF:2.0,', segment, '#EXT-X-ENDLIST', ''].join('\n')
}

async function startHostile (canary: Canary): Promise<Hostile> {
  const requests: string[] = []
  const c = canary.url
  const pages: Record<string, { type: string, body: string }> = {
    '/embed.html': { type: 'text/html', body: `<!doctype html><html><head><meta property="og:title" content="Embed"><title>Embed</title></head><body><video src="${c}/clip.mp4" controls></video></body></html>` },
    '/media.m3u8': { type: 'application/vnd.apple.mpegurl', body: mediaPlaylist(`${c}/key.bin`, `${c}/seg0.ts`) },
    // a method yt-dlp's native HLS downloader leaves to ffmpeg
    '/sample-aes.m3u8': { type: 'application/vnd.apple.mpegurl', body: mediaPlaylist(`${c}/key.bin`, `${c}/seg0.ts`, 'SAMPLE-AES') },
    // separate video and audio renditions: the stream route remuxes them with ffmpeg
    '/master.m3u8': {
      type: 'application/vnd.apple.mpegurl',
      body: ['#EXTM3U', '#EXT-X-VERSION:3',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240,CODECS="avc1.64000d",AUDIO="aud"', 'video.m3u8', ''].join('\n')
    },
    '/video.m3u8': { type: 'application/vnd.apple.mpegurl', body: mediaPlaylist(`${c}/vkey.bin`, `${c}/v0.ts`) },
    '/audio.m3u8': { type: 'application/vnd.apple.mpegurl', body: mediaPlaylist(`${c}/akey.bin`, `${c}/a0.ts`) }
  }
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://h').pathname
    requests.push(path)
    if (path === '/redirect.html') { res.writeHead(302, { location: `${c}/page.html` }); res.end(); return }
    if (path === '/redirect.mp4') { res.writeHead(302, { location: `${c}/clip.mp4` }); res.end(); return }
    const page = pages[path]
    if (page === undefined) { res.statusCode = 404; res.end('not found'); return }
    res.setHeader('content-type', page.type)
    res.end(page.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

function assertNoCanary (what: string, text: string, canary: Canary): void {
  const port = canary.host.split(':')[1] ?? ''
  assert.ok(!text.includes(canary.host) && !text.includes(`:${port}`), `${what} names the canary: ${text}`)
}

async function get (app: StartedApp, path: string): Promise<{ status: number, text: string, mode: string | null }> {
  const res = await fetch(`${app.url}${path}`, { redirect: 'manual' })
  return { status: res.status, text: await res.text(), mode: res.headers.get('x-stream-mode') }
}

async function download (app: StartedApp, url: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${app.url}/api/v2/videos/download`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url, format: 'mp4' }) })
  const created = await res.json() as Record<string, unknown>
  assert.equal(res.status, 202, JSON.stringify(created))
  const id = String(created.task_id)
  for (;;) {
    const task = await (await fetch(`${app.url}/api/v2/videos/tasks/${id}`)).json() as Record<string, unknown>
    if (task.status === 'failed' || task.status === 'completed' || task.status === 'cancelled') return task
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function setup (t: { after: (fn: () => Promise<void>) => void }, mode: 'warm' | 'spawn'): Promise<{ app: StartedApp, canary: Canary, hostile: Hostile }> {
  const ytdlp = resolveYtDlp('')
  assert.ok(ytdlp !== null, 'npm test provisions .tools/yt-dlp (scripts/ensure.js)')
  const canary = await startCanary(makeMediaSet().files.get('progressive.mp4') ?? Buffer.alloc(0))
  const hostile = await startHostile(canary)
  const app = await startApp({ YTDLP_PATH: ytdlp, YTDLP_MODE: mode, GENERIC_HOSTS: hostile.host, RATE_LIMIT_ENABLED: 'false', EXTRACT_TIMEOUT: '60', CACHE_TTL: '1' })
  t.after(async () => { await app.close(); await hostile.close(); await canary.close() })
  return { app, canary, hostile }
}

for (const mode of ['spawn', 'warm'] as const) {
  test(`info (${mode} yt-dlp): a redirect to the canary is refused by the egress and the error does not name it`, async (t) => {
    const { app, canary, hostile } = await setup(t, mode)
    const info = await get(app, `/api/v2/videos?url=${encodeURIComponent(`${hostile.url}/redirect.html`)}`)
    assert.equal(info.status, 403, info.text)
    const body = JSON.parse(info.text) as Record<string, unknown>
    assert.equal(body.code, 'EGRESS_REFUSED', info.text)
    assert.match(String(body.detail), /non-public address.*GENERIC_HOSTS.*Refused by the egress policy/, 'the remedy, then yt-dlp\'s words')
    assertNoCanary('the info error', info.text, canary)
    assert.ok(hostile.requests.includes('/redirect.html'), 'yt-dlp fetched the hostile page')
    assert.equal(canary.connections(), 0, `the canary was reached: ${JSON.stringify(canary.paths)}`)
  })
}

test('stream and download routes: redirects, embedded media and HLS segments and keys on the canary are never fetched', async (t) => {
  const { app, canary, hostile } = await setup(t, 'spawn')
  const page = (path: string): string => encodeURIComponent(`${hostile.url}${path}`)

  // a redirect, for the stream route and a download
  const redirected = await get(app, `/api/v2/stream?url=${page('/redirect.html')}&mode=proxy`)
  assert.ok(redirected.status >= 400, redirected.text)
  assertNoCanary('the stream error', redirected.text, canary)
  const redirectTask = await download(app, `${hostile.url}/redirect.mp4`)
  assert.equal(redirectTask.status, 'failed', JSON.stringify(redirectTask))
  assertNoCanary('the download task', JSON.stringify(redirectTask), canary)

  // embedded media: extraction reads the page only; fetching the media is refused
  const embedded = await get(app, `/api/v2/stream?url=${page('/embed.html')}&mode=proxy`)
  assert.equal(embedded.status, 403, embedded.text)
  assertNoCanary('the stream error', embedded.text, canary)
  const embedTask = await download(app, `${hostile.url}/embed.html`)
  assert.equal(embedTask.status, 'failed', JSON.stringify(embedTask))
  assertNoCanary('the download task', JSON.stringify(embedTask), canary)

  // HLS: the rewritten playlist's key and segment links are refused by the byte proxy
  const hls = await get(app, `/api/v2/stream/hls?url=${page('/media.m3u8')}`)
  assert.equal(hls.status, 200, hls.text)
  const links = [...hls.text.matchAll(/(?:URI="([^"]+)"|^([^#\s][^\s]*)$)/gm)].map((m) => m[1] ?? m[2] ?? '')
  assert.equal(links.length, 2, hls.text)
  for (const link of links) {
    assert.ok(link.startsWith('/api/v2/proxy/'), `the playlist carries only our links: ${link}`)
    const r = await get(app, link)
    assert.equal(r.status, 403, r.text)
    assertNoCanary('the segment error', r.text, canary)
  }
  // ffmpeg remuxing separate HLS video and audio reads our links only
  const remux = await get(app, `/api/v2/stream?url=${page('/master.m3u8')}&mode=proxy`)
  assert.equal(remux.mode, 'remux', 'separate video and audio are remuxed')
  assert.ok(remux.status >= 400, `${remux.status}`)
  assertNoCanary('the remux error', remux.text, canary)
  assert.ok(hostile.requests.includes('/video.m3u8') && hostile.requests.includes('/audio.m3u8'), `ffmpeg read both renditions: ${JSON.stringify(hostile.requests)}`)

  // downloads: yt-dlp's own HLS downloader, and ffmpeg when yt-dlp hands the playlist to it
  for (const path of ['/media.m3u8', '/sample-aes.m3u8']) {
    const task = await download(app, `${hostile.url}${path}`)
    assert.equal(task.status, 'failed', `${path}: ${JSON.stringify(task)}`)
    assertNoCanary(`the download task of ${path}`, JSON.stringify(task), canary)
  }

  assert.equal(canary.connections(), 0, `the canary was reached: ${JSON.stringify(canary.paths)}`)
})

test('behind the egress, yt-dlp still leaves through the operator\'s proxy (YTDLP_PROXY), and the canary stays out of it', async (t) => {
  const ytdlp = resolveYtDlp('')
  assert.ok(ytdlp !== null, 'npm test provisions .tools/yt-dlp (scripts/ensure.js)')
  const origin = await startOrigin()
  const canary = await startCanary(Buffer.alloc(0))
  const hostile = await startHostile(canary)
  const operator = await startForwardProxy()
  const app = await startApp({ YTDLP_PATH: ytdlp, YTDLP_MODE: 'spawn', GENERIC_HOSTS: `${origin.host},${hostile.host}`, YTDLP_PROXY: operator.url, RATE_LIMIT_ENABLED: 'false', EXTRACT_TIMEOUT: '60' })
  t.after(async () => { await app.close(); await operator.close(); await hostile.close(); await canary.close(); await origin.close() })

  const ok = await get(app, `/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`)
  assert.equal(ok.status, 200, ok.text)
  assert.ok(operator.seen.includes(`${origin.url}/page.html`), `the page came through the operator's proxy: ${JSON.stringify(operator.seen)}`)

  const refused = await get(app, `/api/v2/videos?url=${encodeURIComponent(`${hostile.url}/redirect.html`)}`)
  assert.ok(refused.status >= 400, refused.text)
  assertNoCanary('the info error', refused.text, canary)
  assert.ok(operator.seen.includes(`${hostile.url}/redirect.html`))
  assert.ok(!operator.seen.some((u) => u.includes(canary.host)), `the canary was asked of the operator's proxy: ${JSON.stringify(operator.seen)}`)
  assert.equal(canary.connections(), 0)
})
