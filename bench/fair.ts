// Issue 15, measured through the real cluster (2 workers, the shipped yt-dlp in
// warm mode, pages from a local origin that answers after --delay ms, as real
// sites do):
// 1. fairness: another client's fresh extractions, p50 of --samples sequential
//    ones, alone and then while one client floods both batch routes (--batches
//    batches of 20 fresh videos kept in flight, rate limit and per-client cap
//    lifted so the whole flood queues); target: loaded p50 <= 2x unloaded;
//    the same client's own extractions meanwhile (it waits behind its flood)
//    are listed for reference.
// 2. /api/v2/hls flood: 100 concurrent requests at a time (5 rounds) for nested
//    playlists that are in fact a 48 MB video/mp4, a 48 MB octet-stream and an
//    endless chunked "playlist", from one loopback client (exempt from
//    STREAM_MAX_PER_CLIENT: the worst case); the workers' RSS before, at its
//    peak, and once settled; target: settled within 50 MB of the baseline.
// Clients are told apart by X-Forwarded-For (the bench is the trusted proxy).
// --cap=N runs the flood under EXTRACT_MAX_PER_CLIENT=N instead (0, the default: lifted).
// The flooding client waits 200 ms after a refused batch before the next.
// Prints JSON. Run: node dist/bench/fair.js [--samples=15] [--delay=1000] [--batches=14] [--cap=0] [--only=fair|hls] [--kinds=video,binary,huge]
import { createServer } from 'node:http'
import type { Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism, loadavg } from 'node:os'
import { percentile, sleep } from './lib.ts'
import { startCluster } from './servers.ts'
import type { Server } from './servers.ts'
import { startOrigin } from '../src/testing/origin.ts'

const MAX_RATIO = 2
const MAX_RSS_GROWTH_MB = 50
const MB = 1024 * 1024
const FLOODER = '198.51.100.7'
const OTHER = '203.0.113.9'
const WARMUP = '192.0.2.44'

function arg (name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`)
  return n
}

const log = (line: string): void => { process.stderr.write(`${line}\n`) }

interface Timed { status: number, ms: number, code: string }

async function infoAs (server: Server, ip: string, url: string): Promise<Timed> {
  const start = performance.now()
  try {
    const res = await fetch(`${server.base}/api/v2/videos?url=${encodeURIComponent(url)}`, { headers: { 'x-forwarded-for': ip, connection: 'close' }, signal: AbortSignal.timeout(120_000) })
    const body = await res.json() as { code?: string, cached?: boolean }
    if (body.cached === true) throw new Error(`${url} came from the cache`)
    return { status: res.status, ms: performance.now() - start, code: body.code ?? '' }
  } catch (err) {
    return { status: 0, ms: performance.now() - start, code: String(err) }
  }
}

async function perWorker (server: Server): Promise<Array<{ pid: number, queued: number, rss: number, heap: number }>> {
  const res = await fetch(`${server.base}/api/v2/system/stats`, { signal: AbortSignal.timeout(30_000) })
  const body = await res.json() as { per_worker: Array<{ pid: number, extraction_queued: number, rss_bytes: number, heap_used_bytes: number }> }
  return body.per_worker.map((w) => ({ pid: w.pid, queued: w.extraction_queued, rss: w.rss_bytes, heap: w.heap_used_bytes }))
}

const summary = (samples: readonly Timed[]): { p50: number, p90: number, max: number, statuses: number[] } => {
  const ms = samples.map((s) => s.ms)
  return { p50: Math.round(percentile(ms, 50)), p90: Math.round(percentile(ms, 90)), max: Math.round(Math.max(...ms)), statuses: samples.map((s) => s.status) }
}

async function fairness (samples: number, delayMs: number, batches: number, cap: number): Promise<Record<string, unknown>> {
  const origin = await startOrigin({ pageDelayMs: delayMs })
  const server = await startCluster({
    workers: 2,
    env: { GENERIC_HOSTS: origin.host, TRUSTED_PROXIES: '127.0.0.1', EXTRACT_MAX_PER_CLIENT: String(cap) }
  })
  let n = 0
  const fresh = (who: string): string => `${origin.url}/page.html?v=${who}-${n++}`
  try {
    // both workers' warm processes up, each having served a few
    await Promise.all(Array.from({ length: 16 }, async () => await infoAs(server, WARMUP, fresh('warm'))))
    const series = async (ip: string, who: string, count: number): Promise<Timed[]> => {
      const out: Timed[] = []
      for (let i = 0; i < count; i++) out.push(await infoAs(server, ip, fresh(who)))
      return out
    }
    const alone = await series(OTHER, 'alone', samples)
    log(`fair: alone p50 ${summary(alone).p50} ms`)

    const stopFlood = new AbortController()
    let sent = 0
    const answers = new Map<number, number>()
    const batch = async (b: number): Promise<void> => {
      while (!stopFlood.signal.aborted) {
        const items = Array.from({ length: 20 }, () => ({ url: fresh('flood') }))
        sent += items.length
        try {
          const res = await fetch(`${server.base}${b % 2 === 0 ? '/api/v2/videos/batch' : '/api/v2/stream/batch'}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': FLOODER, connection: 'close' },
            body: JSON.stringify({ items }),
            signal: AbortSignal.timeout(180_000)
          })
          answers.set(res.status, (answers.get(res.status) ?? 0) + 1)
          await res.arrayBuffer()
          if (res.status !== 200) await sleep(200)
        } catch {}
      }
    }
    const flood = Array.from({ length: batches }, async (_, b) => { await batch(b) })
    let queued: number[] = []
    for (let i = 0; i < 300; i++) {
      queued = (await perWorker(server)).map((w) => w.queued)
      if (queued.reduce((a, b) => a + b, 0) >= (cap > 0 ? cap : batches * 20 * 0.6)) break
      await sleep(100)
    }
    log(`fair: flood queued ${queued.join('+')}`)
    const depth: number[][] = []
    const loaded: Timed[] = []
    for (let i = 0; i < samples; i++) {
      loaded.push(...await series(OTHER, 'loaded', 1))
      depth.push((await perWorker(server)).map((w) => w.queued))
    }
    log(`fair: loaded p50 ${summary(loaded).p50} ms`)
    // the flooding client's own single requests wait behind its own batches (fewer: they take long)
    const own = await series(FLOODER, 'own', Math.min(3, samples))
    stopFlood.abort()
    // the batches in flight end with the server (stopped below)
    void Promise.allSettled(flood)
    const ratio = summary(loaded).p50 / Math.max(1, summary(alone).p50)
    return {
      settings: { workers: 2, page_delay_ms: delayMs, samples, flood_batches_in_flight: batches, batch_items: 20, EXTRACT_MAX_PER_CLIENT: cap, rate_limit: 'lifted' },
      alone: summary(alone),
      under_flood: summary(loaded),
      queue_depth_during: depth.map((d) => d.join('+')),
      flooding_client_own_requests: summary(own),
      flood_items_sent: sent,
      flood_batch_statuses: Object.fromEntries(answers),
      ratio: Number(ratio.toFixed(2)),
      target: `<= ${MAX_RATIO}`,
      pass: ratio <= MAX_RATIO && loaded.every((s) => s.status === 200) && alone.every((s) => s.status === 200)
    }
  } finally {
    await server.stop()
    await origin.close()
  }
}

// The upstream of the nested playlists: what a hostile or broken site serves instead.
async function hostileOrigin (): Promise<{ host: string, url: string, close: () => Promise<void> }> {
  const big = Buffer.alloc(48 * MB, 0x41)
  const endless = Buffer.concat([Buffer.from('#EXTM3U\n'), Buffer.alloc(8 * MB, 0x23)])
  let base = ''
  const server: HttpServer = createServer((req, res) => {
    res.on('error', () => {})
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/page.html') {
      res.setHeader('content-type', 'text/html')
      res.end('<!doctype html><html><head><title>hls</title></head><body><video src="/master.m3u8"></video></body></html>')
      return
    }
    if (path === '/master.m3u8') {
      res.setHeader('content-type', 'application/vnd.apple.mpegurl')
      res.end(['#EXTM3U', ...['video', 'binary', 'huge'].flatMap((name, i) => [`#EXT-X-STREAM-INF:BANDWIDTH=${(i + 1) * 100000},RESOLUTION=${320 * (i + 1)}x${180 * (i + 1)}`, `${base}/${name}`]), ''].join('\n'))
      return
    }
    if (path === '/video') { res.setHeader('content-type', 'video/mp4'); res.end(big); return }
    if (path === '/binary') { res.setHeader('content-type', 'application/octet-stream'); res.end(big); return }
    if (path === '/huge') { res.setHeader('content-type', 'application/vnd.apple.mpegurl'); res.setHeader('transfer-encoding', 'chunked'); res.end(endless); return }
    res.statusCode = 404
    res.end()
  })
  server.on('connection', (s) => { s.on('error', () => {}) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  base = `http://127.0.0.1:${port}`
  return { host: `127.0.0.1:${port}`, url: base, close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) } }
}

async function hlsFlood (kinds: readonly string[]): Promise<Record<string, unknown>> {
  const origin = await hostileOrigin()
  const server = await startCluster({ workers: 2, env: { GENERIC_HOSTS: origin.host } })
  try {
    // the rewritten master: one /api/v2/hls/<token> link per (hostile) variant
    const master = await fetch(`${server.base}/api/v2/stream/hls?url=${encodeURIComponent(`${origin.url}/page.html`)}`, { signal: AbortSignal.timeout(120_000) })
    const text = await master.text()
    const all = text.split('\n').filter((l) => l.startsWith('/api/v2/hls/'))
    if (master.status !== 200 || all.length !== 3) throw new Error(`no rewritten master: ${master.status} ${text.slice(0, 300)}`)
    const links = ['video', 'binary', 'huge'].flatMap((k, i) => kinds.includes(k) ? [all[i] ?? ''] : [])
    const statuses = new Map<number, number>()
    const round = async (count: number): Promise<void> => {
      await Promise.all(Array.from({ length: count }, async (_, i) => {
        try {
          const res = await fetch(`${server.base}${links[i % links.length] ?? ''}`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(120_000) })
          await res.arrayBuffer()
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        } catch { statuses.set(0, (statuses.get(0) ?? 0) + 1) }
      }))
    }
    await round(12)
    await sleep(2000)
    statuses.clear()
    const workers = async (): Promise<Array<{ rss: number, heap: number }>> => (await perWorker(server)).sort((a, b) => a.pid - b.pid)
    const rss = async (): Promise<number[]> => (await workers()).map((w) => w.rss)
    const heapBefore = (await workers()).map((w) => w.heap)
    const baseline = await rss()
    const peak = [...baseline]
    const stopSampling = new AbortController()
    const sampler = (async () => {
      while (!stopSampling.signal.aborted) {
        const now = await rss().catch(() => peak)
        now.forEach((v, i) => { peak[i] = Math.max(peak[i] ?? 0, v) })
        await sleep(100)
      }
    })()
    const started = performance.now()
    // RSS after each round of 100, settled 2 s: does anything pile up round after round?
    const rounds: number[][] = []
    for (let r = 0; r < 5; r++) {
      await round(100)
      await sleep(2000)
      rounds.push(await rss())
    }
    const floodSec = (performance.now() - started) / 1000
    stopSampling.abort()
    await sampler
    // settled: RSS read every 500 ms for up to 30 s, until every worker is within the bound
    let after = await rss()
    let settleMs = 0
    while (settleMs < 30_000 && after.some((v, i) => v - (baseline[i] ?? 0) > MAX_RSS_GROWTH_MB * MB)) {
      await sleep(500)
      settleMs += 500
      after = await rss()
    }
    const mb = (v: number): number => Math.round(v / MB * 10) / 10
    const growth = after.map((v, i) => mb(v - (baseline[i] ?? 0)))
    return {
      settings: { workers: 2, rounds: 5, concurrent: 100, bodies: '48 MB video/mp4, 48 MB octet-stream, endless chunked playlist', client: 'loopback (no stream cap)' },
      statuses: Object.fromEntries(statuses),
      flood_seconds: Number(floodSec.toFixed(1)),
      rss_mb: { baseline: baseline.map(mb), peak: peak.map(mb), after_each_round: rounds.map((r) => r.map(mb)), settled: after.map(mb), settle_wait_ms: settleMs },
      // rounds 2-5 against round 1: what stays behind per flood, once the allocators hold their working set
      growth_after_first_round_mb: after.map((v, i) => mb(v - (rounds[0]?.[i] ?? 0))),
      heap_used_mb: { before: heapBefore.map(mb), settled: (await workers()).map((w) => mb(w.heap)) },
      growth_mb: growth,
      target: `<= ${MAX_RSS_GROWTH_MB} MB per worker`,
      pass: growth.every((g) => g <= MAX_RSS_GROWTH_MB) && !statuses.has(200)
    }
  } finally {
    await server.stop()
    await origin.close()
  }
}

async function main (): Promise<void> {
  const samples = arg('samples', 15)
  const delay = arg('delay', 1000)
  const batches = arg('batches', 14)
  const cap = arg('cap', 0)
  const load = loadavg().map((l) => Number(l.toFixed(1)))
  const only = process.argv.find((a) => a.startsWith('--only='))?.split('=')[1]
  const fair = only === 'hls' ? null : await fairness(samples, delay, batches, cap)
  const kinds = (process.argv.find((a) => a.startsWith('--kinds='))?.split('=')[1] ?? 'video,binary,huge').split(',')
  const hls = only === 'fair' ? null : await hlsFlood(kinds)
  process.stdout.write(`${JSON.stringify({ cpus: availableParallelism(), loadavg_at_start: load, fairness: fair, hls_flood: hls }, null, 2)}\n`)
}

main().catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1) })
