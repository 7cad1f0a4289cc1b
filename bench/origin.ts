// A local video site for the extraction scenarios: an HTML page with og:title
// and a <video> (any query string, so `?v=<n>` makes distinct URLs) plus the
// MP4 it points at, made once with ffmpeg. Counts page GETs per URL so the
// single-flight scenario can tell how many extractions reached the origin.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Origin {
  host: string
  pageUrl: (variant: string) => string
  // a page whose <video> is mediaUrl (an absolute http URL, e.g. another origin's)
  mediaPageUrl: (variant: string, mediaUrl: string) => string
  pageFetches: (variant: string) => number
  totalPageFetches: () => number
  close: () => Promise<void>
}

const PAGE = '/watch'

function makeClip (dir: string): Buffer {
  const file = join(dir, 'clip.mp4')
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=1:size=160x120:rate=10',
    '-f', 'lavfi', '-i', 'sine=duration=1', '-c:v', 'libx264', '-c:a', 'aac', '-shortest', file], { stdio: 'ignore', timeout: 30000 })
  return readFileSync(file)
}

export async function startOrigin (): Promise<Origin> {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-origin-'))
  let clip: Buffer
  try { clip = makeClip(dir) } finally { rmSync(dir, { recursive: true, force: true }) }
  const page = (src: string): string => '<!doctype html><html><head><meta property="og:title" content="vidgate bench clip">' +
    `<title>bench</title></head><body><video src="${src.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}" controls></video></body></html>`
  const html = page('/clip.mp4')
  const fetches = new Map<string, number>()
  let total = 0
  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    const path = url.split('?')[0]
    if (path === PAGE) {
      if (req.method === 'GET') { fetches.set(url, (fetches.get(url) ?? 0) + 1); total++ }
      const q = url.indexOf('?')
      const src = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('src')
      const body = src !== null && /^http:\/\//.test(src) ? page(src) : html
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    } else if (path === '/clip.mp4') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': clip.length, 'accept-ranges': 'bytes' })
      res.end(req.method === 'HEAD' ? undefined : clip)
    } else {
      res.writeHead(404).end('not found')
    }
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const address = server.address()
  const host = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const pathFor = (variant: string): string => `${PAGE}?v=${encodeURIComponent(variant)}`
  return {
    host,
    pageUrl: (variant) => `http://${host}${pathFor(variant)}`,
    mediaPageUrl: (variant, mediaUrl) => `http://${host}${pathFor(variant)}&src=${encodeURIComponent(mediaUrl)}`,
    pageFetches: (variant) => fetches.get(pathFor(variant)) ?? 0,
    totalPageFetches: () => total,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
