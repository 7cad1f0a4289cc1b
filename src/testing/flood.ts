// Test support for the fairness tests (src/e2e/hardening/fairness*.test.ts): the
// compiled entry as the README starts it, with the project's real yt-dlp in warm
// mode on a local origin whose pages answer slowly, as real sites do; clients
// named by X-Forwarded-For (the test is the trusted proxy in front of the server).
// One worker: the extraction queue is per worker, so both clients meet in the
// same one whichever connection the kernel hands to whom, and a loaded 2-core
// machine runs 4 warm yt-dlp processes instead of 8.
import assert from 'node:assert/strict'
import { startCluster } from './helpers.ts'
import type { StartedCluster } from './helpers.ts'
import { startOrigin } from './origin.ts'
import type { Origin } from './origin.ts'
import { resolveYtDlp } from '../extract/executables.ts'

export const PAGE_DELAY_MS = 2500
// 240 videos: within one worker's EXTRACT_QUEUE (256)
export const BATCHES = 12
export const BATCH_ITEMS = 20

export interface FloodSetup { cluster: StartedCluster, origin: Origin }

export interface Answer { status: number, headers: Headers, body: Record<string, unknown> }

export async function startFloodable (t: { after: (fn: () => Promise<void>) => void }, env: Record<string, string>): Promise<FloodSetup> {
  const ytdlp = resolveYtDlp('')
  assert.ok(ytdlp !== null, 'npm test provisions .tools/yt-dlp (scripts/ensure.js)')
  const origin = await startOrigin({ pageDelayMs: PAGE_DELAY_MS })
  t.after(async () => { await origin.close() })
  const cluster = await startCluster({
    workers: 1,
    timeoutMs: 60_000,
    env: {
      // the test helpers default to the fake yt-dlp in spawn mode: this is about the real one, as shipped
      YTDLP_PATH: ytdlp,
      YTDLP_MODE: 'warm',
      GENERIC_HOSTS: origin.host,
      // two clients from one machine: the test is the proxy in front, naming each in X-Forwarded-For
      TRUSTED_PROXIES: '127.0.0.1',
      ...env
    }
  })
  t.after(async () => { await cluster.stop() })
  return { cluster, origin }
}

export const page = (origin: Origin, name: string): string => `${origin.url}/page.html?v=${name}`

// Every warm yt-dlp process started and serving (a Python start on a loaded machine
// can take most of EXTRACT_TIMEOUT): `slots` extractions at once, until all succeed.
export async function warmUp (s: FloodSetup, ip: string, slots: number): Promise<void> {
  let statuses: number[] = []
  for (let round = 0; round < 5; round++) {
    statuses = (await Promise.all(Array.from({ length: slots }, async (_, i) => await infoAs(s.cluster, ip, page(s.origin, `warm-${round}-${i}`), 150_000)))).map((r) => r.status)
    if (statuses.every((status) => status === 200)) return
  }
  assert.fail(`the warm yt-dlp processes never all served: ${statuses.join(',')}`)
}

// A connection each (no keep-alive), so the kernel spreads requests over both workers.
export async function postAs (c: StartedCluster, ip: string, path: string, body: unknown, timeoutMs: number): Promise<Answer> {
  const res = await fetch(`${c.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, connection: 'close' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs)
  })
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
}

export async function infoAs (c: StartedCluster, ip: string, url: string, timeoutMs: number): Promise<Answer> {
  const res = await fetch(`${c.url}/api/v2/videos?url=${encodeURIComponent(url)}`, { headers: { 'x-forwarded-for': ip, connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) })
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
}

export async function queuedPerWorker (c: StartedCluster): Promise<number[]> {
  const res = await fetch(`${c.url}/api/v2/system/stats`, { signal: AbortSignal.timeout(10_000) })
  const body = await res.json() as { per_worker: Array<{ extraction_queued: number }> }
  return body.per_worker.map((w) => w.extraction_queued)
}

// BATCHES batches of BATCH_ITEMS distinct videos from one client, on both batch routes.
export function flood (s: FloodSetup, ip: string, timeoutMs: number): Array<Promise<Answer>> {
  return Array.from({ length: BATCHES }, async (_, b) => {
    const items = Array.from({ length: BATCH_ITEMS }, (_, i) => ({ url: page(s.origin, `flood-${b}-${i}`) }))
    return await postAs(s.cluster, ip, b % 2 === 0 ? '/api/v2/videos/batch' : '/api/v2/stream/batch', { items }, timeoutMs)
  })
}
