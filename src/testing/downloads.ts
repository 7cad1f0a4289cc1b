// Test fixtures for downloads (tests and bench/downloads.ts only): media made by
// ffmpeg, a loopback origin for real yt-dlp, the downloads routes on a real
// server (the default policy, both lanes), and small HTTP/SSE clients.
import { execFileSync } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'
import { loadConfig } from '../config.ts'
import { createAccess } from '../guard/access.ts'
import { createClientIpResolver } from '../guard/client-ip.ts'
import { createPolicy } from '../http/policy.ts'
import { createHttpServer } from '../http/server.ts'
import { createLogger } from '../log.ts'
import { createPlatformRegistry } from '../platforms/index.ts'
import type { Redis } from '../redis.ts'
import type { ErrorCode } from '../errors.ts'
import { resolveYtDlp } from '../extract/executables.ts'
import { createDownloads } from '../downloads/index.ts'
import { downloadRoutes } from '../http/routes/downloads.ts'
import { classifyYtDlpError } from '../../workers/ytdlp/ytdlp.ts'
import type { Downloads, DownloadsConfig, DownloadsOptions } from '../downloads/index.ts'

// The yt-dlp the server runs by default: the project's current one (.tools/yt-dlp, npm test provisions it).
export const YTDLP = resolveYtDlp('') ?? 'yt-dlp'

// node:test runs t.after hooks first-in first-out; resources close last-opened first.
export function cleanupStack (t: { after: (fn: () => unknown) => void }): (fn: () => unknown) => void {
  const fns: Array<() => unknown> = []
  t.after(async () => {
    for (const fn of fns.reverse()) await fn()
  })
  return (fn) => { fns.push(fn) }
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

const ff = (args: string[]): void => { execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...args], { stdio: 'ignore' }) }

// clip.mp4 (progressive H.264/AAC), hls/index.m3u8 (muxed TS segments) and
// split/master.m3u8 (a video-only variant plus a separate audio rendition,
// which yt-dlp downloads as two formats and merges with ffmpeg).
export function makeMedia (dir: string, seconds = 4): void {
  ff(['-f', 'lavfi', '-i', `testsrc=duration=${seconds}:size=320x240:rate=25`, '-f', 'lavfi', '-i', `sine=duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', join(dir, 'clip.mp4')])
  mkdirSync(join(dir, 'hls'))
  ff(['-i', join(dir, 'clip.mp4'), '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', join(dir, 'hls', 'index.m3u8')])
  mkdirSync(join(dir, 'split'))
  ff(['-i', join(dir, 'clip.mp4'), '-map', '0:v', '-map', '0:a', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod',
    '-var_stream_map', 'v:0 a:0', '-hls_segment_filename', join(dir, 'split', 's%v_%03d.ts'), join(dir, 'split', 'p%v.m3u8')])
  writeFileSync(join(dir, 'split', 'master.m3u8'), [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="p1.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=120000,RESOLUTION=320x240,CODECS="avc1.64000d,mp4a.40.2",AUDIO="aud"',
    'p0.m3u8',
    ''
  ].join('\n'))
}

// Deterministic incompressible bytes (AES-CTR keystream) behind an .mp4 name:
// not a playable video, but yt-dlp's generic extractor downloads a direct
// media URL byte for byte, which is what a byte-exact check needs.
export function makeBigFile (dir: string, name: string, bytes: number): string {
  const path = join(dir, name)
  if (!existsSync(path)) {
    const key = createHash('sha256').update(name).digest().subarray(0, 16)
    writeFileSync(path, createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes)))
  }
  return path
}

const TYPES: Readonly<Record<string, string>> = { mp4: 'video/mp4', m3u8: 'application/vnd.apple.mpegurl', ts: 'video/mp2t', xml: 'application/rss+xml' }

export interface Origin {
  port: number
  host: string
  base: string
  requests: () => number
  // lets every /held/ response, current and later, send the rest at once
  release: () => void
  close: () => Promise<void>
}

// Sends `body` 1 KB every 100 ms until `released()`, then the rest at once.
function drip (res: ServerResponse, body: Buffer, released: () => boolean): void {
  let at = 0
  const step = (): void => {
    if (res.destroyed) return
    const next = released() ? body.length : Math.min(body.length, at + 1024)
    res.write(body.subarray(at, next))
    at = next
    if (at >= body.length) res.end()
    else setTimeout(step, 100)
  }
  step()
}

// Serves `dir` with Range support. /slow/<file> drips `slowBytes` every 100 ms;
// /held/<file> drips 1 KB every 100 ms until release() (a download that is
// surely still running when the test acts on it), then sends the rest.
// listen: the address to listen on (default loopback).
export async function startOrigin (dir: string, slowBytes = 16 * 1024, listen = '127.0.0.1'): Promise<Origin> {
  let count = 0
  let released = false
  const server: Server = createServer((req, res) => {
    count++
    const url = new URL(req.url ?? '/', 'http://origin')
    const slow = url.pathname.startsWith('/slow/')
    const held = url.pathname.startsWith('/held/')
    const rel = normalize(decodeURIComponent(slow || held ? url.pathname.slice(5) : url.pathname))
    const file = join(dir, rel)
    if (!file.startsWith(dir) || !existsSync(file) || statSync(file).isDirectory()) { res.writeHead(404).end('not found'); return }
    const size = statSync(file).size
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m === null ? 0 : Number(m[1])
    const end = m === null || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
    const headers = { 'content-type': TYPES[file.split('.').pop() ?? ''] ?? 'application/octet-stream', 'content-length': String(end - start + 1), 'accept-ranges': 'bytes' }
    if (m !== null) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}` })
    else res.writeHead(200, headers)
    if (req.method === 'HEAD') { res.end(); return }
    if (held) { drip(res, readFileSync(file).subarray(start, end + 1), () => released); return }
    const stream = createReadStream(file, { start, end, highWaterMark: slow ? slowBytes : 64 * 1024 })
    if (!slow) { stream.pipe(res); return }
    stream.on('data', (chunk) => {
      stream.pause()
      res.write(chunk)
      setTimeout(() => stream.resume(), 100)
    })
    stream.on('end', () => res.end())
    res.on('close', () => stream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, listen, resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    host: `${listen}:${port}`,
    base: `http://${listen}:${port}`,
    requests: () => count,
    release: () => { released = true },
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

export const testClassify = (text: string): ErrorCode => /404|not found/i.test(text) ? 'VIDEO_NOT_FOUND' : 'EXTRACTION_FAILED'

export interface DownloadsServer { url: string, port: number, downloads: Downloads, inflight: () => number, close: () => Promise<void> }

export interface ServerSetup {
  dir: string
  originHost: string
  redis?: Redis | null
  config?: Partial<DownloadsConfig>
  options?: Partial<DownloadsOptions>
  // requests from a trusted proxy do not count as loopback (admin routes then need a key)
  trustedProxies?: string[]
  // API_KEYS entries (key[:scope+scope[:limit]])
  apiKeys?: string[]
}

export async function startDownloadsServer (setup: ServerSetup): Promise<DownloadsServer> {
  const log = createLogger('silent', {})
  const downloads = createDownloads({
    config: {
      DOWNLOAD_DIRECTORY: setup.dir,
      MAX_STORAGE_GB: 1,
      TEMP_FILE_RETENTION_HOURS: 24,
      CLEANUP_INTERVAL: 3600,
      cleanupIntervalMs: 3_600_000,
      MAX_CONCURRENT_DOWNLOADS: 4,
      WORKERS: 1,
      YTDLP_PATH: YTDLP,
      DOWNLOAD_TASKS_PER_CLIENT: 100,
      DOWNLOAD_TASKS_MAX: 10_000,
      ...setup.config
    },
    log,
    redis: setup.redis ?? null,
    registry: createPlatformRegistry({ genericHosts: [setup.originHost] }),
    // production's table (src/app.ts passes the same function)
    classify: classifyYtDlpError,
    options: { heartbeatMs: 500, leaseMs: 2000, tickMs: 100, ssePollMs: 500, ...setup.options }
  })
  // the default policy, with a longer URL bound and no slow-request log or stream cap
  const policy = createPolicy(loadConfig({ MAX_URL_LENGTH: '4096', MAX_REQUEST_BODY_SIZE: '65536', SLOW_REQUEST_MS: '0', STREAM_MAX_PER_CLIENT: '0' }).policy, {
    log,
    clientIp: createClientIpResolver(setup.trustedProxies ?? []),
    access: createAccess(setup.apiKeys ?? [], false)
  })
  const server = createHttpServer({ routes: downloadRoutes(downloads), policy })
  await downloads.start()
  const port = await server.listen(0, '127.0.0.1')
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    downloads,
    inflight: server.inflight,
    async close () {
      await server.shutdown(1000)
      await downloads.close()
    }
  }
}

export interface Reply { status: number, headers: IncomingHttpHeaders, body: Buffer }

// node:http keeps the path exactly as given (fetch would normalize "..").
export async function rawRequest (base: string, path: string, opts: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Reply> {
  const url = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

// headers: e.g. X-Task-Token or X-API-Key (who the caller is)
export async function postJson (base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, json: Record<string, unknown>, headers: Headers }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() as Record<string, unknown>, headers: res.headers }
}

export interface SseEvent { event: string, id: string | null, data: string }

// Reads an SSE stream to its end; `onEvent` sees each event as it arrives.
export async function readSse (url: string, onEvent?: (e: SseEvent) => void, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<{ events: SseEvent[], comments: number, headers: Headers }> {
  const res = await fetch(url, { signal, headers })
  if (res.body === null) throw new Error('no body')
  const events: SseEvent[] = []
  let comments = 0
  let buffer = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
      let event = 'message'
      let id: string | null = null
      const data: string[] = []
      let fields = 0
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) { comments++; continue }
        const i = line.indexOf(':')
        const key = i === -1 ? line : line.slice(0, i)
        const value = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '')
        if (key === 'event') { event = value; fields++ } else if (key === 'id') { id = value; fields++ } else if (key === 'data') { data.push(value); fields++ }
      }
      if (fields === 0 || data.length === 0) continue
      const e = { event, id, data: data.join('\n') }
      events.push(e)
      onEvent?.(e)
    }
  }
  return { events, comments, headers: res.headers }
}

export async function waitForTask (base: string, id: string, states: readonly string[], timeoutMs = 30_000, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const res = await fetch(`${base}/api/v2/videos/tasks/${id}`, { headers })
    const json = await res.json() as Record<string, unknown>
    if (states.includes(String(json.status))) return json
    if (Date.now() > until) throw new Error(`task ${id} stayed ${String(json.status)}: ${JSON.stringify(json)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
