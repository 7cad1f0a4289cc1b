// Issue 15's attack on the HLS rewriter and /api/v2/hls, against the running
// app: a hostile origin the test starts on 127.0.0.1 (inside GENERIC_HOSTS)
// and an "internal" canary outside it. Rewritten playlists carry only our own
// links whatever the origin writes (NUL in comments, unknown URI-bearing tags,
// keys, parts, hints and reports on the canary), and the canary is never
// reached. /api/v2/hls reads a playlist only while it is one (type, first
// bytes, 2 MB), holds a stream slot while it does, and a flood of it from one
// client leaves the process's memory where it was. Separate HLS video and
// audio remux with the system's ffmpeg (5.1 on Debian 12), whose HLS reader
// wants file extensions in segment URLs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import type { ServerResponse } from 'node:http'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { REPO_ROOT, sleep, startApp } from '../testing/helpers.ts'
import type { StartedApp } from '../testing/helpers.ts'
import { makeMediaSet, startCountingServer } from '../testing/origin.ts'
import { probeBytes } from '../testing/split.ts'
import { PLAYLIST_BUFFER_BUDGET } from './service.ts'

const serve = startCountingServer

// A generic-platform page whose extraction (fake yt-dlp, /fixture/<name>) gives these formats.
function writeFixture (dir: string, name: string, formats: unknown[]): void {
  const raw = JSON.parse(readFileSync(join(REPO_ROOT, 'workers', 'fixtures', 'bilibili.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...raw, id: name, extractor: 'generic', duration: 4, is_live: false, formats, requested_formats: undefined }))
}

const hlsFormat = (id: string, url: string, has: { video: boolean, audio: boolean } = { video: true, audio: true }): Record<string, unknown> => ({
  format_id: id,
  ext: 'mp4',
  protocol: 'm3u8_native',
  vcodec: has.video ? 'avc1.64000d' : 'none',
  acodec: has.audio ? 'mp4a.40.2' : 'none',
  width: has.video ? 320 : undefined,
  height: has.video ? 240 : undefined,
  tbr: has.video ? 500 : 64,
  url,
  manifest_url: url
})

const MPEGURL = 'application/vnd.apple.mpegurl'

interface Setup { app: StartedApp, dir: string, page: (name: string) => string }

async function start (t: { after: (fn: () => Promise<void>) => void }, site: { host: string, url: string }, env: Record<string, string> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-hls-fixtures-'))
  process.env.FAKE_YTDLP_FIXTURE_DIR = dir
  const app = await startApp({ GENERIC_HOSTS: site.host, RATE_LIMIT_ENABLED: 'false', ...env })
  t.after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })
  return { app, dir, page: (name) => encodeURIComponent(`${site.url}/fixture/${name}`) }
}

// The signed /api/v2/hls link of a fixture's (single) HLS format.
async function hlsLink (s: Setup, name: string): Promise<string> {
  const res = await fetch(`${s.app.url}/api/v2/stream?url=${s.page(name)}&mode=json`)
  const body = await res.json() as Record<string, unknown>
  assert.equal(res.status, 200, JSON.stringify(body))
  assert.match(String(body.hls_url), /\/api\/v2\/hls\//)
  return String(body.hls_url)
}

// Every URI a player or ffmpeg could take from a playlist: URI lines and URI attributes.
function uriSites (text: string): string[] {
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (!line.startsWith('#')) out.push(line)
    else for (const m of line.matchAll(/[A-Z0-9-]*URI=("[^"]*"|[^,]*)/g)) out.push((m[1] ?? '').replace(/"/g, ''))
  }
  return out
}

test('hostile playlists: every URI in every rewritten playlist is our signed link, unreadable playlists are 502, and the canary is never reached', async (t) => {
  const canary = await serve((_req, res) => { res.end('#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:1/x.ts\n') })
  const c = canary.url
  const seg = makeMediaSet().files.get('enc0.ts') ?? Buffer.alloc(0)
  const playlists: Record<string, string> = {
    '/master.m3u8': [
      '#EXTM3U',
      `# a comment naming ${c}/comment.m3u8`,
      `#EXT-X-CONTENT-STEERING:SERVER-URI="${c}/steering.json",PATHWAY-ID="A"`,
      `#EXT-X-SESSION-DATA:DATA-ID="com.example.x",URI="${c}/session.json"`,
      `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://${canary.host}/k",KEYFORMAT="com.apple.streamingkeydelivery"`,
      `#EXT-X-FUTURE-TAG:URI="${c}/future.m3u8"`,
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${c}/",NAME="${c}/name",URI="${c}/audio.m3u8"`,
      `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="${c}/iframes.m3u8"`,
      '#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO="' + c + '/"',
      'media.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=900',
      'nul.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=800',
      'attributes.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=700',
      'separator.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=600',
      `${c}/variant.m3u8`,
      `${c}/no-stream-inf.m3u8`,
      ''
    ].join('\n'),
    '/media.m3u8': [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-TARGETDURATION:2',
      `#EXT-X-MAP:URI="init.mp4",X-BACKUP-URI="${c}/init.mp4"`,
      `#EXT-X-KEY:METHOD=AES-128,URI="${c}/key.bin",IV=0x00000000000000000000000000000001`,
      `#EXT-X-DATERANGE:ID="ad",CLASS="com.apple.hls.interstitial",START-DATE="2024-01-01T00:00:00Z",X-ASSET-URI="${c}/ad.m3u8"`,
      `#EXTINF:2,${c}/title.ts`,
      'seg0.ts',
      '#EXTINF:2,',
      `${c}/seg1.ts`,
      `#EXT-X-PART:DURATION=1.0,URI="${c}/part.ts"`,
      `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${c}/hint.ts"`,
      `#EXT-X-RENDITION-REPORT:URI="${c}/report.m3u8",LAST-MSN=1`,
      ''
    ].join('\n'),
    // ffmpeg ends a line at NUL: to it, the canary is a segment here
    '/nul.m3u8': `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n# note\u0000${c}/nul.ts\nseg0.ts\n`,
    '/attributes.m3u8': `#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="${c}/a.bin\n#EXTINF:2,\nseg0.ts\n`,
    // a JavaScript reader ends a line at U+2028
    '/separator.m3u8': `#EXTM3U\n#EXTINF:2,title\u2028${c}/sep.ts\nseg0.ts\n`
  }
  const hostile = await serve((_req, res, path) => {
    const text = playlists[path]
    if (text !== undefined) { res.setHeader('content-type', MPEGURL); res.end(text); return }
    if (path === '/seg0.ts' || path === '/init.mp4') { res.setHeader('content-type', 'video/mp2t'); res.end(seg); return }
    res.statusCode = 404
    res.end()
  })
  t.after(async () => { await hostile.close(); await canary.close() })
  const s = await start(t, hostile)
  writeFixture(s.dir, 'hostile', [hlsFormat('hls-1', `${hostile.url}/master.m3u8`)])

  const master = await fetch(`${s.app.url}/api/v2/stream/hls?url=${s.page('hostile')}`)
  const masterText = await master.text()
  assert.equal(master.status, 200, masterText)
  assert.equal(master.headers.get('content-type'), MPEGURL)
  const seen = new Map<string, { status: number, text: string }>()
  const queue = uriSites(masterText).map((u) => ({ link: u, from: 'master' }))
  const statuses: Record<string, number[]> = {}
  while (queue.length > 0) {
    const { link, from } = queue.shift() ?? { link: '', from: '' }
    assert.match(link, /^\/api\/v2\/(hls\/[\w-]+\.[\w-]+|proxy\/[\w-]+\.[\w-]+(\/(seg|init)\.ts)?)$/, `in ${from}: a URI that is not our signed link: ${link}`)
    if (seen.has(link)) continue
    const res = await fetch(`${s.app.url}${link}`)
    const text = await res.text()
    seen.set(link, { status: res.status, text })
    const kind = link.startsWith('/api/v2/hls/') ? 'hls' : 'proxy'
    ;(statuses[`${kind} ${res.status}`] ??= []).push(1)
    assert.ok(!text.includes(canary.host) && !text.includes(`:${canary.port}`), `${link} names the canary: ${text.slice(0, 300)}`)
    if (kind === 'hls' && res.status === 200) {
      assert.ok(!text.includes('127.0.0.1'), text)
      for (const u of uriSites(text)) queue.push({ link: u, from: link })
    }
  }
  const count = (key: string): number => statuses[key]?.length ?? 0
  // media.m3u8 reads; nul, attributes and separator do not (502); the canary's variant, rendition, I-frames and report are refused (403)
  assert.equal(count('hls 200'), 1, JSON.stringify(statuses))
  assert.equal(count('hls 502'), 3, JSON.stringify(statuses))
  assert.equal(count('hls 403'), 4, JSON.stringify(statuses))
  // seg0.ts and init.mp4 from the hostile origin; the key, session data, seg1, part and hint on the canary are refused
  assert.equal(count('proxy 200'), 2, JSON.stringify(statuses))
  assert.equal(count('proxy 403'), 5, JSON.stringify(statuses))
  for (const { status, text } of seen.values()) {
    if (status === 502) assert.match(text, /UPSTREAM_ERROR/)
  }
  assert.ok([...seen.values()].some((r) => r.status === 502 && /control character/.test(r.text)), 'the NUL playlist is refused for its control character')
  assert.equal(canary.connections(), 0, `the canary was reached: ${JSON.stringify(canary.paths)}`)
})

test('/api/v2/hls reads a playlist only while it is one: refused by Content-Type, by its first bytes, by size and by encoding, before it is buffered', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 0x41)
  const playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n'
  let streamedPastCap = 0
  const site = await serve((req, res, path) => {
    switch (path) {
      case '/html': res.setHeader('content-type', 'text/html'); res.end(`<html>${big.toString()}`); return
      case '/video': res.setHeader('content-type', 'video/mp4'); res.end(big); return
      case '/binary': res.setHeader('content-type', 'application/octet-stream'); res.end(big.subarray(0, 1024 * 1024)); return
      case '/declared': res.setHeader('content-type', MPEGURL); res.setHeader('content-length', String(big.length + 8)); res.end(Buffer.concat([Buffer.from('#EXTM3U\n'), big])); return
      case '/endless': {
        // a playlist that never ends, chunked: read up to the cap, then dropped
        res.setHeader('content-type', MPEGURL)
        res.write('#EXTM3U\n')
        const line = Buffer.from('#EXT-X-COMMENT-LIKE:' + 'x'.repeat(16 * 1024) + '\n')
        let sent = 0
        const pump = (): void => {
          while (!res.destroyed && sent < 64 * 1024 * 1024) {
            sent += line.length
            if (sent > 2 * 1024 * 1024) streamedPastCap = sent
            if (!res.write(line)) { res.once('drain', pump); return }
          }
          res.end()
        }
        pump()
        req.socket.on('close', () => { res.destroy() })
        return
      }
      case '/latin1': res.setHeader('content-type', MPEGURL); res.end(Buffer.concat([Buffer.from('#EXTM3U\n#EXTINF:2,caf'), Buffer.from([0xe9]), Buffer.from('\nseg0.ts\n')])); return
      case '/plain': res.setHeader('content-type', 'text/plain; charset=utf-8'); res.end(playlist); return
      case '/bom': res.setHeader('content-type', 'application/octet-stream'); res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(playlist)])); return
      case '/untyped': res.removeHeader('content-type'); res.end(playlist); return
      case '/short': res.setHeader('content-type', MPEGURL); res.end('#EXTM'); return
    }
    res.statusCode = 404
    res.end()
  })
  t.after(async () => { await site.close() })
  const s = await start(t, site)
  const names = ['html', 'video', 'binary', 'declared', 'endless', 'latin1', 'plain', 'bom', 'untyped', 'short']
  for (const name of names) writeFixture(s.dir, name, [hlsFormat('hls-1', `${site.url}/${name}`)])

  const expect: Record<string, [number, RegExp]> = {
    html: [502, /not an HLS playlist: Content-Type text\/html$/],
    video: [502, /not an HLS playlist: Content-Type video\/mp4$/],
    binary: [502, /does not start with #EXTM3U/],
    declared: [502, /larger than 2097152 bytes/],
    endless: [502, /larger than 2097152 bytes/],
    latin1: [502, /not valid UTF-8/],
    plain: [200, /^#EXTM3U\n/],
    bom: [200, /^#EXTM3U\n/],
    untyped: [200, /^#EXTM3U\n/],
    short: [502, /does not start with #EXTM3U/]
  }
  for (const name of names) {
    const res = await fetch(await hlsLink(s, name))
    const text = await res.text()
    const [status, pattern] = expect[name] ?? [0, /x/]
    assert.equal(res.status, status, `${name}: ${text.slice(0, 300)}`)
    if (status === 200) {
      assert.match(text, pattern, name)
      assert.match(text, /^\/api\/v2\/proxy\/[\w-]+\.[\w-]+\/seg\.ts$/m, `${name}: the segment is ours, with a file name`)
    } else {
      const body = JSON.parse(text) as Record<string, unknown>
      assert.equal(body.code, 'UPSTREAM_ERROR', name)
      assert.match(`${String(body.error)}: ${String(body.detail)}`, pattern, name)
    }
  }
  assert.ok(streamedPastCap < 64 * 1024 * 1024, 'the endless playlist was not read to its end')
})

test('/api/v2/hls holds a stream slot while it reads: STREAM_MAX_PER_CLIENT refuses the next one with 429, and the slots come back', async (t) => {
  const stalled: ServerResponse[] = []
  const site = await serve((_req, res, path) => {
    res.setHeader('content-type', MPEGURL)
    if (path === '/stall') { res.write('#EXTM3U\n'); stalled.push(res); return }
    res.end('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n')
  })
  t.after(async () => { await site.close() })
  // loopback peers are exempt from the cap (ffmpeg reads its inputs through us) unless they are trusted proxies
  const s = await start(t, site, { STREAM_MAX_PER_CLIENT: '3', TRUSTED_PROXIES: '127.0.0.1/32' })
  writeFixture(s.dir, 'stall', [hlsFormat('hls-1', `${site.url}/stall`)])
  writeFixture(s.dir, 'good', [hlsFormat('hls-1', `${site.url}/good`)])
  const stall = await hlsLink(s, 'stall')
  const good = await hlsLink(s, 'good')

  const abort = new AbortController()
  const hanging = [0, 1, 2].map(async () => await fetch(stall, { signal: abort.signal }).catch(() => null))
  for (let i = 0; i < 200 && stalled.length < 3; i++) await sleep(25)
  assert.equal(stalled.length, 3, 'three playlist reads are under way')
  const refused = await fetch(good)
  const body = await refused.json() as Record<string, unknown>
  assert.equal(refused.status, 429, JSON.stringify(body))
  assert.equal(body.code, 'RATE_LIMITED')
  assert.match(String(body.error), /concurrent streams/)

  abort.abort()
  for (const res of stalled) res.destroy()
  await Promise.all(hanging)
  let status = 0
  for (let i = 0; i < 200 && status !== 200; i++) {
    const res = await fetch(good)
    status = res.status
    await res.arrayBuffer()
    if (status !== 200) await sleep(25)
  }
  assert.equal(status, 200, 'the slots were given back')
})

test('all playlist reads of a worker together hold at most PLAYLIST_BUFFER_BUDGET bytes: past it a read is refused with 503 STREAM_BUSY', async (t) => {
  // reads that each get 1.9 MB and then stall: as many as the budget holds whole, and four more
  const held: ServerResponse[] = []
  const chunk = Buffer.concat([Buffer.from('#EXTM3U\n'), Buffer.alloc(1900 * 1024, 0x23)])
  const fit = Math.floor(PLAYLIST_BUFFER_BUDGET / chunk.length)
  assert.ok(fit >= 2 && (fit + 1) * chunk.length > PLAYLIST_BUFFER_BUDGET)
  const site = await serve((_req, res, path) => {
    res.setHeader('content-type', MPEGURL)
    if (path === '/stall') { res.write(chunk); held.push(res); return }
    res.end('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n')
  })
  t.after(async () => { await site.close() })
  const s = await start(t, site) // a loopback client: no stream cap, only the budget
  writeFixture(s.dir, 'stall', [hlsFormat('hls-1', `${site.url}/stall`)])
  writeFixture(s.dir, 'good', [hlsFormat('hls-1', `${site.url}/good`)])
  const stall = await hlsLink(s, 'stall')
  const good = await hlsLink(s, 'good')
  const abort = new AbortController()
  const answers: Array<Record<string, unknown>> = []
  const reads = Array.from({ length: fit + 4 }, async () => {
    const res = await fetch(stall, { signal: abort.signal }).catch(() => null)
    if (res !== null) answers.push({ status: res.status, ...(await res.json() as Record<string, unknown>) })
  })
  // the budget holds `fit` whole reads and never one more: the other four are refused, however the reads interleave
  for (let i = 0; i < 400 && answers.length < 4; i++) await sleep(25)
  assert.equal(answers.length, 4, `four reads refused while ${fit} hold their bytes`)
  for (const answer of answers) {
    assert.equal(answer.status, 503, JSON.stringify(answer))
    assert.equal(answer.code, 'STREAM_BUSY')
  }
  abort.abort()
  for (const res of held) res.destroy()
  await Promise.all(reads)
  let status = 0
  for (let i = 0; i < 200 && status !== 200; i++) {
    const res = await fetch(good)
    status = res.status
    await res.arrayBuffer()
    if (status !== 200) await sleep(25)
  }
  assert.equal(status, 200, 'the budget was given back')
})

// v8's gc() without --expose-gc on the command line: allowed at run time, reached through a fresh context.
function collector (): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc')
    const gc: unknown = runInNewContext('gc')
    return typeof gc === 'function' ? () => { (gc as () => void)() } : null
  } catch { return null }
}

// The flood's origin runs in a child process, so that what its own sockets and
// buffers cost is not counted in this process's RSS, which is the app's.
const FLOOD_ORIGIN = `
import { createServer } from 'node:http'
const big = Buffer.alloc(48 * 1024 * 1024, 0x41)
const endless = Buffer.concat([Buffer.from('#EXTM3U\\n'), Buffer.alloc(8 * 1024 * 1024, 0x23)])
const server = createServer((req, res) => {
  res.on('error', () => {})
  if (req.url === '/video') { res.setHeader('content-type', 'video/mp4'); res.end(big); return }
  if (req.url === '/binary') { res.setHeader('content-type', 'application/octet-stream'); res.end(big); return }
  // no Content-Length: only the cap stops it
  if (req.url === '/huge') { res.setHeader('content-type', '${MPEGURL}'); res.setHeader('transfer-encoding', 'chunked'); res.end(endless); return }
  res.statusCode = 404
  res.end()
})
server.on('connection', (s) => { s.on('error', () => {}) })
server.listen(0, '127.0.0.1', () => { process.stdout.write(String(server.address().port) + '\\n') })
`

async function floodOrigin (): Promise<{ host: string, url: string, stop: () => void }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOOD_ORIGIN], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(Number(out.trim())) })
    child.once('exit', (code) => { reject(new Error(`the flood origin exited with ${String(code)}`)) })
  })
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, stop: () => { child.kill('SIGKILL') } }
}

test('a flood of /api/v2/hls from one client against large non-playlists: every answer is an error, and RSS comes back within 50 MB of its baseline', async (t) => {
  const origin = await floodOrigin()
  t.after(() => { origin.stop() })
  const s = await start(t, origin)
  for (const name of ['video', 'binary', 'huge']) writeFixture(s.dir, name, [hlsFormat('hls-1', `${origin.url}/${name}`)])
  const links = [await hlsLink(s, 'video'), await hlsLink(s, 'binary'), await hlsLink(s, 'huge')]
  const gc = collector()
  const rss = (): number => { gc?.(); return process.memoryUsage().rss }
  const flood = async (n: number): Promise<number[]> => await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await fetch(links[i % links.length] ?? '')
    await res.arrayBuffer()
    return res.status
  }))

  // A loopback client is exempt from STREAM_MAX_PER_CLIENT (ffmpeg reads its
  // inputs through us): all 100 reach the playlist reader at once, the worst case.
  await flood(6) // warm: code paths, pools, buffers
  const baseline = rss()
  const statuses = await flood(100)
  assert.ok(statuses.every((status) => status === 502 || status === 503), `every answer is an error: ${JSON.stringify(statuses)}`)
  let now = rss()
  for (let i = 0; i < 40 && now - baseline > 50 * 1024 * 1024; i++) {
    await sleep(250)
    now = rss()
  }
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`
  assert.ok(now - baseline <= 50 * 1024 * 1024, `RSS ${mb(now)} against a baseline of ${mb(baseline)} after the flood (gc ${gc === null ? 'unavailable' : 'used'})`)
  const after = await fetch(links[0] ?? '')
  assert.equal(after.status, 502, 'still answering')
  await after.arrayBuffer()
})

// Video-only fMP4 HLS (EXT-X-MAP) and audio-only AES-128 MPEG-TS HLS, served at
// URLs without file extensions, like many CDNs.
function hlsPair (): Map<string, { type: string, body: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-hls-pair-'))
  try {
    writeFileSync(join(dir, 'in.mp4'), makeMediaSet().files.get('progressive.mp4') ?? Buffer.alloc(0))
    execFileSync('sh', ['-c', 'head -c 16 /dev/urandom > key.bin && printf "/pair/key?sig=1\\nkey.bin\\n" > keyinfo'], { cwd: dir })
    const ff = (...args: string[]): void => { execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', 'in.mp4', ...args], { cwd: dir }) }
    ff('-map', '0:v', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'vinit.mp4', '-hls_segment_filename', 'v%d.m4s', 'video.m3u8')
    ff('-map', '0:a', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_key_info_file', 'keyinfo', '-hls_segment_filename', 'a%d.ts', 'audio.m3u8')
    const files = new Map<string, { type: string, body: Buffer }>()
    for (const name of readdirSync(dir)) {
      const body = readFileSync(join(dir, name))
      if (name.endsWith('.m3u8')) {
        const text = body.toString().replace(/^([va]\d+)\.(m4s|ts)$/gm, '/pair/$1?sig=1').replace('URI="vinit.mp4"', 'URI="/pair/vinit?sig=1"')
        files.set(name.replace('.m3u8', ''), { type: MPEGURL, body: Buffer.from(text) })
      } else {
        files.set(name.replace(/\.(mp4|m4s|ts|bin)$/, ''), { type: 'application/octet-stream', body })
      }
    }
    return files
  } finally { rmSync(dir, { recursive: true, force: true }) }
}

test('separate HLS video and audio (fMP4 with a map, AES-128 TS with a key, URLs without extensions) remux with the system ffmpeg', async (t) => {
  const version = execFileSync('ffmpeg', ['-version']).toString().split('\n')[0] ?? ''
  const files = hlsPair()
  const site = await serve((_req, res, path) => {
    const file = files.get(path.replace(/^\/pair\//, ''))
    if (!path.startsWith('/pair/') || file === undefined) { res.statusCode = 404; res.end(); return }
    res.setHeader('content-type', file.type)
    res.end(file.body)
  })
  t.after(async () => { await site.close() })
  const s = await start(t, site)
  const video = files.get('video')?.body.toString() ?? ''
  assert.match(video, /^#EXT-X-MAP:URI="\/pair\/vinit\?sig=1"$/m)
  assert.match(files.get('audio')?.body.toString() ?? '', /^#EXT-X-KEY:METHOD=AES-128,URI="\/pair\/key\?sig=1"/m)
  writeFixture(s.dir, 'pair', [
    hlsFormat('hls-video', `${site.url}/pair/video`, { video: true, audio: false }),
    hlsFormat('hls-audio', `${site.url}/pair/audio`, { video: false, audio: true })
  ])

  const res = await fetch(`${s.app.url}/api/v2/stream?url=${s.page('pair')}&mode=proxy&format=mp4`)
  assert.equal(res.headers.get('x-stream-mode'), 'remux')
  const body = Buffer.from(await res.arrayBuffer())
  assert.equal(res.status, 200, `${version}: ${body.toString().slice(0, 400)}`)
  const probe = await probeBytes(body)
  assert.deepEqual(probe.types, ['audio', 'video'], version)
  assert.ok(Math.abs(probe.duration - 4) < 0.5, `${version}: ${probe.duration} s`)
  for (const name of ['video', 'audio', 'vinit', 'v0', 'a0', 'key']) assert.ok(site.paths.includes(`/pair/${name}`), `ffmpeg read ${name} through our links: ${JSON.stringify(site.paths)}`)
})
