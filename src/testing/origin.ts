// A local media origin for tests (never imported by production code): serves an
// MP4 made with ffmpeg's lavfi sources, with Range support, and HTML pages that
// yt-dlp's generic extractor understands. Counts every request per path.
import { createServer, request } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Origin {
  url: string
  host: string
  hits: (path: string) => number
  requests: Array<{ path: string, headers: IncomingMessage['headers'] }>
  media: Buffer
  close: () => Promise<void>
}

let cachedClip: Buffer | null = null

export function makeClip (seconds = 2): Buffer {
  if (cachedClip !== null && seconds === 2) return cachedClip
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-clip-'))
  try {
    const out = join(dir, 'clip.mp4')
    execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=duration=${seconds}:size=320x240:rate=25`, '-f', 'lavfi', '-i', `sine=duration=${seconds}`,
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-movflags', '+faststart', out])
    const buf = readFileSync(out)
    if (seconds === 2) cachedClip = buf
    return buf
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function sendRange (req: IncomingMessage, res: ServerResponse, body: Buffer, type: string): void {
  const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
  res.setHeader('accept-ranges', 'bytes')
  res.setHeader('content-type', type)
  if (m === null) { res.setHeader('content-length', body.length); res.end(req.method === 'HEAD' ? undefined : body); return }
  const start = m[1] === '' ? Math.max(0, body.length - Number(m[2])) : Number(m[1])
  const end = m[1] === '' || m[2] === '' ? body.length - 1 : Math.min(Number(m[2]), body.length - 1)
  if (start > end || start >= body.length) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }); res.end(); return }
  res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 })
  res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1))
}

// listen: the address to listen on (default loopback; a test network's address for hosts in namespaces)
export async function startOrigin (opts: { title?: string, pageDelayMs?: number, listen?: string } = {}): Promise<Origin> {
  const media = makeClip()
  const counts = new Map<string, number>()
  const requests: Origin['requests'] = []
  const title = opts.title ?? 'Local Test Clip'
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin')
    const key = url.pathname + url.search
    counts.set(key, (counts.get(key) ?? 0) + 1)
    requests.push({ path: key, headers: req.headers })
    if (url.pathname === '/clip.mp4') { sendRange(req, res, media, 'video/mp4'); return }
    if (url.pathname === '/page.html') {
      const html = `<!doctype html><html><head><meta property="og:title" content="${title}"><title>${title}</title></head>` +
        '<body><video src="/clip.mp4" controls></video></body></html>'
      const send = (): void => { res.setHeader('content-type', 'text/html; charset=utf-8'); res.end(html) }
      if ((opts.pageDelayMs ?? 0) > 0) setTimeout(send, opts.pageDelayMs); else send()
      return
    }
    res.statusCode = 404
    res.end('not found')
  })
  server.keepAliveTimeout = 1000
  const listen = opts.listen ?? '127.0.0.1'
  await new Promise<void>((resolve) => server.listen(0, listen, resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    url: `http://${listen}:${port}`,
    host: `${listen}:${port}`,
    hits: (path) => counts.get(path) ?? 0,
    requests,
    media,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

export interface MediaSet { dir: string, files: Map<string, Buffer> }

let cachedSet: MediaSet | null = null

// Progressive, video-only and audio-only MP4s plus an AES-128 fMP4 HLS rendition, made once per process.
export function makeMediaSet (): MediaSet {
  if (cachedSet !== null) return cachedSet
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-media-'))
  const ff = (...args: string[]): void => { execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...args], { cwd: dir }) }
  const src = ['-f', 'lavfi', '-i', 'testsrc=duration=4:size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=duration=4']
  ff(...src, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-g', '25', '-c:a', 'aac', '-shortest', '-movflags', '+faststart', 'progressive.mp4')
  ff('-i', 'progressive.mp4', '-map', '0:v', '-c', 'copy', '-movflags', '+dash+global_sidx', 'video.mp4')
  ff('-i', 'progressive.mp4', '-map', '0:a', '-c', 'copy', '-movflags', '+dash+global_sidx', 'audio.m4a')
  execFileSync('sh', ['-c', 'head -c 16 /dev/urandom > key.bin && printf "key.bin\\nkey.bin\\n" > keyinfo'], { cwd: dir })
  // ffmpeg 5 cannot encrypt fMP4: one fMP4 rendition (EXT-X-MAP) and one AES-128 TS rendition (EXT-X-KEY).
  ff('-i', 'progressive.mp4', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4', '-hls_playlist_type', 'vod', '-hls_segment_filename', 'seg%d.m4s', 'fmp4.m3u8')
  ff('-i', 'progressive.mp4', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_key_info_file', 'keyinfo', '-hls_playlist_type', 'vod', '-hls_segment_filename', 'enc%d.ts', 'enc.m3u8')
  execFileSync('sh', ['-c', 'printf "#EXTM3U\\n#EXT-X-VERSION:7\\n#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=320x240,CODECS=\\"avc1.64000d,mp4a.40.2\\"\\nfmp4.m3u8\\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=320x240\\nenc.m3u8\\n" > master.m3u8'], { cwd: dir })
  const files = new Map<string, Buffer>()
  for (const name of execFileSync('ls', [dir]).toString().trim().split('\n')) files.set(name, readFileSync(join(dir, name)))
  cachedSet = { dir, files }
  return cachedSet
}

const TYPES: Readonly<Record<string, string>> = { jpg: 'image/jpeg', mp4: 'video/mp4', m4a: 'audio/mp4', m3u8: 'application/vnd.apple.mpegurl', m4s: 'video/iso.segment', ts: 'video/mp2t', bin: 'application/octet-stream' }

// Serves the media set at /m/<file>; /bili/<file> only with BiliBili's Referer.
export async function startMediaOrigin (): Promise<Origin & { set: MediaSet }> {
  const set = makeMediaSet()
  const counts = new Map<string, number>()
  const requests: Origin['requests'] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin')
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1)
    requests.push({ path: url.pathname + url.search, headers: req.headers })
    const m = /^\/(m|bili)\/([\w.-]+)$/.exec(url.pathname)
    const body = m === null ? undefined : set.files.get(m[2] ?? '')
    if (m === null || body === undefined) { res.statusCode = 404; res.end('not found'); return }
    if (m[1] === 'bili' && req.headers.referer !== 'https://www.bilibili.com/') { res.statusCode = 403; res.end('referer required'); return }
    sendRange(req, res, body, TYPES[(m[2] ?? '').split('.').pop() ?? ''] ?? 'application/octet-stream')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    set,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    hits: (path) => counts.get(path) ?? 0,
    requests,
    media: set.files.get('progressive.mp4') ?? Buffer.alloc(0),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

// A plain-HTTP forward proxy that counts what passes through it.
export async function startForwardProxy (): Promise<{ url: string, seen: string[], close: () => Promise<void> }> {
  const seen: string[] = []
  const server = createServer((req, res) => {
    seen.push(req.url ?? '')
    const upstream = request(req.url ?? '', { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', () => { res.statusCode = 502; res.end() })
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

// A server on 127.0.0.1 that counts connections (a canary: any connection at all is a
// breach, even one that sends nothing) and records every request's path.
export interface CountingServer { host: string, url: string, port: number, connections: () => number, paths: string[], close: () => Promise<void> }

export async function startCountingServer (handler: (req: IncomingMessage, res: ServerResponse, path: string) => void): Promise<CountingServer> {
  let connections = 0
  const paths: string[] = []
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    paths.push(path)
    res.on('error', () => {})
    handler(req, res, path)
  })
  server.on('connection', (s: Socket) => { connections++; s.on('error', () => {}) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => connections,
    paths,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}
