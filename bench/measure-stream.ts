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
import { download, freePort, httpGet, MB, measureCpu, percentile, startNode } from './lib.ts'
import { extractionEnv, ROOT, startCluster, startRaw, using } from './servers.ts'
import { metric } from './metric.ts'
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

// One download at a time, direct and proxied alternating, ROUNDS pairs: each
// proxied download is paired with the direct one just before it, so that load
// from elsewhere on the box hits both sides of a ratio alike. The client is
// node:http, not autocannon: autocannon's JavaScript HTTP parser reads bodies
// at ~55 MB/s here, far below either side, so every ratio would read 1.
const PAIRS = 5

async function downloads (direct: string, proxied: string, pids: () => number[], originPid: number): Promise<{ rows: Row[], ratio: number, pairRatios: number[] }> {
  const bytes = PROXY_FILE_MB * MB
  await download(direct)
  await download(proxied)
  const runs = { direct: [] as number[], proxied: [] as number[] }
  const cpu = { direct: 0, proxied: 0 }
  for (let i = 0; i < PAIRS; i++) {
    for (const kind of ['direct', 'proxied'] as const) {
      const { value: r, cpuSec } = await measureCpu(() => kind === 'direct' ? [originPid] : pids(), async () => await download(kind === 'direct' ? direct : proxied))
      if (r.bytes !== bytes) throw new Error(`${kind}: ${r.bytes} bytes of ${bytes}`)
      runs[kind].push(r.sec)
      cpu[kind] += cpuSec
    }
  }
  const pairRatios = runs.proxied.map((sec, i) => (runs.direct[i] ?? sec) / sec)
  const row = (scenario: string, workers: Row['workers'], secs: number[], cpuSec: number): Row => {
    const ms = secs.map((x) => x * 1000)
    return {
      scenario,
      workers,
      requests: secs.length,
      rps: secs.length / secs.reduce((a, b) => a + b, 0),
      p50: Math.round(percentile(ms, 50)),
      p975: Math.round(percentile(ms, 97.5)),
      p99: Math.round(percentile(ms, 99)),
      errors: 0,
      non2xx: 0,
      cpuSec,
      cpuUsPerReq: (cpuSec * 1e6) / secs.length,
      cpuUsPerReqMax: (cpuSec * 1e6) / secs.length,
      bytesPerSec: bytes / percentile(secs, 50),
      ratioCpu: null,
      ratioRps: null,
      chart: false,
      rounds: secs.length
    }
  }
  return {
    rows: [row('direct from the origin', 'direct', runs.direct, cpu.direct), row('proxy-throughput', 0, runs.proxied, cpu.proxied)],
    ratio: percentile(pairRatios, 50),
    pairRatios
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
