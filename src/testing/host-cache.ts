// Test support for the host-wide cache without Redis (src/e2e/host-cache*.test.ts; never
// imported by production code): a local origin of pages yt-dlp's generic extractor reads,
// counting each page's fetches and able to hold one, and the cluster-side probes.
import assert from 'node:assert/strict'
import { json } from './helpers.ts'
export { until } from './helpers.ts'
import { startCountingServer } from './origin.ts'
import type { CountingServer } from './origin.ts'

export interface PageOrigin extends CountingServer {
  page: (name: string) => string
  fetches: (name: string) => number
  // answer the held fetch of a page (and hold none from now on)
  release: (name: string) => void
}

// Pages yt-dlp's generic extractor reads (/v/<name>.html, each a <video>), answered after
// delayMs; the first fetch of a page named in hold is held until release(name).
export async function startPages (opts: { delayMs?: number, hold?: readonly string[] } = {}): Promise<PageOrigin> {
  const hold = new Set(opts.hold)
  const held = new Map<string, Array<() => void>>()
  const server = await startCountingServer((_req, res, path) => {
    const m = /^\/v\/([\w-]+)\.html$/.exec(path)
    if (m === null) { res.statusCode = 404; res.end('not found'); return }
    const html = `<!doctype html><html><head><title>Clip ${m[1] ?? ''}</title></head><body><video src="/clip.mp4" controls></video></body></html>`
    const send = (): void => { res.setHeader('content-type', 'text/html; charset=utf-8'); res.end(html) }
    const name = m[1] ?? ''
    if (hold.delete(name)) { held.set(name, [...held.get(name) ?? [], send]); return }
    setTimeout(send, opts.delayMs ?? 0)
  })
  return {
    ...server,
    page: (name) => `${server.url}/v/${name}.html`,
    fetches: (name) => server.paths.filter((p) => p === `/v/${name}.html`).length,
    release: (name) => { hold.delete(name); const waiting = held.get(name) ?? []; held.delete(name); for (const send of waiting) send() }
  }
}

export const hostCacheEnv = (origin: PageOrigin): Record<string, string> => ({
  GENERIC_HOSTS: origin.host,
  // '' is the shipped default (the project's current yt-dlp); the helpers' base env points at the fake
  YTDLP_PATH: '',
  YTDLP_MODE: 'warm',
  RATE_LIMIT_ENABLED: 'false'
})

export const infoUrl = (base: string, page: string): string => `${base}/api/v2/videos?url=${encodeURIComponent(page)}`

// A fresh connection per request (no keep-alive), so the kernel spreads them over the workers.
export async function fresh (url: string, timeoutMs = 60_000): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

export interface PerWorker { pid: number, requests: number, cache_hits: number, extraction_active: number }
export async function perWorker (base: string): Promise<PerWorker[]> {
  return (await json(`${base}/api/v2/system/stats`)).body.per_worker as PerWorker[]
}

// Repeats of one video on fresh connections, at least `min`, until every worker answered one
// (told by its cache hits growing); each must say cached: true.
export async function repeatOnEveryWorker (base: string, page: string, min: number): Promise<number> {
  const before = new Map((await perWorker(base)).map((w) => [w.pid, w.cache_hits]))
  let sent = 0
  for (;;) {
    const r = await fresh(infoUrl(base, page))
    sent++
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.cached, true, `repeat ${sent} says cached: true`)
    if (sent < min) continue
    const now = await perWorker(base)
    if (now.length === before.size && now.every((w) => w.cache_hits > (before.get(w.pid) ?? Infinity))) return sent
    assert.ok(sent < min + 60, `both workers answered a repeat: ${JSON.stringify(now)} (before ${JSON.stringify([...before])})`)
  }
}
