// Streams through the real cluster, for a video whose info is cached:
// - redirect-302: GET /api/v2/stream/url?url=<page>&mode=redirect (a 302 to the
//   media URL), against raw uWS answering the same 302 (status and Location).
// - proxy-throughput: the media bytes through our proxy (mode=proxy) against
//   the same file fetched directly from its origin, in MB/s. The origin is
//   bench/proxy.js in its own process (a generated file of PROXY_FILE_MB).
//   bench/proxy.js also measures the proxy alone, and its memory under a slow client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { interleave } from './compare.ts'
import { cpuSeconds, freePort, httpGet, MB, pairedDownloads, percentile, seriesResult, startNode } from './lib.ts'
import { extractionEnv, ROOT, startCluster, startRaw, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

const PROXY_FILE_MB = 64
// the ratio #4 asked of the proxy (bench/proxy.js measures it on its own too)
export const PROXY_THROUGHPUT_TARGET = 0.7

const workerCounts = (ctx: BenchContext): number[] => ctx.quick || ctx.cpus < 2 ? [1] : [1, ctx.cpus]
const streamPath = (page: string, mode: string): string => `/api/v2/stream/url?url=${encodeURIComponent(page)}&mode=${mode}`

// The first answer extracts (and caches) the info; what it must look like to be measured.
async function primed (server: Server, path: string, status: number): Promise<Array<[string, string]>> {
  for (let i = 0; i < 20; i++) {
    const r = await httpGet(`${server.base}${path}`)
    if (r.status !== status) throw new Error(`${path}: ${r.status} ${r.text.slice(0, 300)}`)
    if (r.headers.some(([k]) => k.toLowerCase() === 'x-stream-mode')) return r.headers
  }
  throw new Error(`${path}: no X-Stream-Mode header`)
}

export async function runRedirect (ctx: BenchContext): Promise<ScenarioResult> {
  const origin = await ctx.origin()
  const rows: Row[] = []
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-redirect-'))
  try {
    for (const workers of workerCounts(ctx)) {
      ctx.log(`redirect-302: ${workers} worker(s)`)
      const path = streamPath(origin.pageUrl(`redirect-${workers}-${Date.now()}`), 'redirect')
      rows.push(...await using(async () => await startCluster({ workers, pin: workers === 1, env: extractionEnv(origin.host) }), async (server) => {
        const headers = await primed(server, path, 302)
        const location = headers.find(([k]) => k.toLowerCase() === 'location')?.[1]
        if (location === undefined) throw new Error('the 302 has no Location')
        const mirrors = join(dir, `302-${workers}.json`)
        writeFileSync(mirrors, JSON.stringify([{ status: 302, headers: [['location', location]], body: '' }]))
        return await using(async () => await startRaw(100, mirrors), async (raw) => await interleave(
          { scenario: `raw-uws-302 (redirect ${workers}w)`, workers: 'raw', url: `${raw.base}/m0`, pids: raw.pids, expectStatus: 302 },
          [{ scenario: 'redirect-302', workers, url: `${server.base}${path}`, pids: server.pids, expectStatus: 302 }],
          ctx))
      }))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const one = rows.find((r) => r.scenario === 'redirect-302' && r.workers === 1)
  return {
    rows,
    metrics: one === undefined
      ? []
      : [
          metric('redirect.cpu_ratio', one.ratioCpu ?? 0, '×', null, '1 worker: server CPU µs/req ÷ raw uWS answering a 302 with the same Location (no other headers, no code)'),
          metric('redirect.rps_ratio', one.ratioRps ?? 0, '×', null, '1 worker req/s ÷ that raw uWS')
        ]
  }
}

// Five pairs of downloads (bench/lib pairedDownloads). The client is
// node:http, not autocannon: autocannon's JavaScript HTTP parser reads bodies
// at ~55 MB/s here, far below either side, so every ratio would read 1.
const PAIRS = 5

async function downloads (direct: string, proxied: string, pids: () => number[], originPid: number): Promise<{ rows: Row[], ratio: number, pairRatios: number[] }> {
  const bytes = PROXY_FILE_MB * MB
  const runs = await pairedDownloads({ direct, proxied }, { pairs: PAIRS, bytes, meters: { origin: () => cpuSeconds([originPid]), server: () => cpuSeconds(pids()) } })
  const row = (scenario: string, workers: Row['workers'], secs: number[], cpuSec: number): Row => {
    const elapsedMs = secs.reduce((a, b) => a + b, 0) * 1000
    const r = seriesResult(secs.map((sec) => ({ ms: sec * 1000, status: 200 })), elapsedMs, cpuSec)
    return { ...toRow(scenario, workers, { ...r, bytesPerSec: bytes / percentile(secs, 50) }, null, false), rounds: secs.length }
  }
  return {
    rows: [row('direct from the origin', 'direct', runs.secs.direct, runs.cpuSec.direct.origin ?? 0), row('proxy-throughput', 0, runs.secs.proxied, runs.cpuSec.proxied.server ?? 0)],
    ratio: percentile(runs.pairRatios, 50),
    pairRatios: runs.pairRatios
  }
}

export async function runProxyThroughput (ctx: BenchContext): Promise<ScenarioResult> {
  const origin = await ctx.origin()
  const port = await freePort()
  const media = await startNode([join(ROOT, 'dist/bench/proxy.js'), 'origin', '-', String(port)], { ready: /ready/ })
  const mediaHost = `127.0.0.1:${port}`
  const file = `http://${mediaHost}/generated/${PROXY_FILE_MB * MB}.mp4`
  const rows: Row[] = []
  const metrics: Metric[] = []
  try {
    for (const workers of workerCounts(ctx)) {
      ctx.log(`proxy-throughput: ${workers} worker(s), a ${PROXY_FILE_MB} MB file`)
      const path = streamPath(origin.mediaPageUrl(`proxy-${workers}-${Date.now()}`, file), 'proxy')
      const measured = await using(async () => await startCluster({ workers, pin: workers === 1, env: extractionEnv(`${origin.host},${mediaHost}`) }), async (server) => {
        const headers = await primed(server, path, 200)
        // every worker extracts once before the measured downloads (new connections spread over them)
        for (let i = 0; i < 8 * workers; i++) {
          const r = await httpGet(`${server.base}${path.replace(/mode=proxy$/, 'mode=json')}`)
          if (r.status !== 200) throw new Error(`mode=json: ${r.status} ${r.text.slice(0, 300)}`)
        }
        const length = headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1]
        if (Number(length) !== PROXY_FILE_MB * MB) throw new Error(`the proxied file has Content-Length ${String(length)}, not ${PROXY_FILE_MB * MB}`)
        return await downloads(file, `${server.base}${path}`, server.pids, media.child.pid ?? 0)
      })
      const [direct, proxied] = measured.rows
      if (direct === undefined || proxied === undefined) continue
      rows.push({ ...direct, scenario: `${direct.scenario} (proxy ${workers}w)` }, { ...proxied, workers })
      const mbps = (r: Row): number => (r.bytesPerSec ?? 0) / MB
      const suffix = workers === 1 ? '' : '_nw'
      metrics.push(
        metric(`proxy.throughput_ratio${suffix}`, measured.ratio, '×', workers === 1 ? { op: '>=', value: PROXY_THROUGHPUT_TARGET } : null, `${workers} worker(s): a ${PROXY_FILE_MB} MB file through the proxy ÷ straight from its origin, median of ${PAIRS} back-to-back pairs (${measured.pairRatios.map((x) => x.toFixed(2)).join(', ')})`),
        metric(`proxy.mbps${suffix}`, mbps(proxied), 'MB/s', null, `median download; direct: ${mbps(direct).toFixed(0)} MB/s`),
        metric(`proxy.cpu_s_per_gb${suffix}`, (proxied.cpuUsPerReq / 1e6) * (1024 / PROXY_FILE_MB), 's', null, `server CPU per GB proxied (the origin’s own: ${((direct.cpuUsPerReq / 1e6) * (1024 / PROXY_FILE_MB)).toFixed(2)} s per GB served directly)`)
      )
    }
  } finally {
    await media.stop()
  }
  return { rows, metrics }
}
