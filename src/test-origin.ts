// A local media origin for tests (never imported by production code): serves an
// MP4 made with ffmpeg's lavfi sources, with Range support, and HTML pages that
// yt-dlp's generic extractor understands. Counts every request per path.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
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

export async function startOrigin (opts: { title?: string, pageDelayMs?: number } = {}): Promise<Origin> {
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
        `<body><video src="/clip.mp4" controls></video></body></html>`
      const send = (): void => { res.setHeader('content-type', 'text/html; charset=utf-8'); res.end(html) }
      if ((opts.pageDelayMs ?? 0) > 0) setTimeout(send, opts.pageDelayMs); else send()
      return
    }
    res.statusCode = 404
    res.end('not found')
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    hits: (path) => counts.get(path) ?? 0,
    requests,
    media,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
