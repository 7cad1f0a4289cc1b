// Streams through the real cluster, for a video whose info is cached:
// - redirect-302: GET /api/v2/stream/url?url=<page>&mode=redirect (a 302 to the
//   media URL), against raw uWS answering the same 302 (status and Location).
// - proxy-throughput: the media bytes of a 256 MB file through our proxy
//   (mode=proxy, 1 worker on core 0) against nginx proxy_pass (one worker
//   process, core 0) in the same run, and straight from the origin (nginx
//   serving the file, on the last core with this process, the client):
//   round-robin downloads, each server's CPU per GB (all its threads) and MB/s.
//   bench/proxy.js measures the proxy alone the same way, and its memory under a slow client.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { interleave } from './compare.ts'
import { httpGet, MB, percentile, seriesResult } from './lib.ts'
import { extractionEnv, startCluster, startRaw, using } from './servers.ts'
import { mediaBytes } from '../src/testing/proxy.ts'
import { startNginx } from './nginx.ts'
import { median, roundRobin, spread, versus } from './versus-nginx.ts'
import type { WayRuns } from './versus-nginx.ts'
import { metric, toRow } from './metric.ts'
import type { Server } from './servers.ts'
import type { Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const PROXY_FILE_MB = 256
// issue #16: vidgate's CPU per GB at most 2.5x nginx proxy_pass's, its rate at least 0.8x
export const PROXY_CPU_VS_NGINX_TARGET = 2.5
export const PROXY_RATE_VS_NGINX_TARGET = 0.8

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

// The client is bench/lib fetchBody, not autocannon (whose JavaScript HTTP
// parser reads bodies at ~55 MB/s here, far below either side) nor node:http
// (which costs the client's core more than nginx costs the server's).
function downloadRow (scenario: string, workers: Row['workers'], runs: WayRuns, bytes: number, baseline: Row | null): Row {
  const perDownload = (cpuSecPerGB: number): number => cpuSecPerGB * bytes / (1024 * MB)
  const secs = runs.mbps.map((mbps) => bytes / MB / mbps)
  const cpuSec = runs.cpuSecPerGB.reduce((a, b) => a + perDownload(b), 0)
  const r = seriesResult(secs.map((sec) => ({ ms: sec * 1000, status: 200 })), secs.reduce((a, b) => a + b, 0) * 1000, cpuSec)
  const row = toRow(scenario, workers, { ...r, bytesPerSec: bytes / percentile(secs, 50) }, baseline, false)
  return { ...row, rounds: secs.length, cpuUsPerReqMax: perDownload(Math.max(0, ...runs.cpuSecPerGB)) * 1e6 }
}

export async function runProxyThroughput (ctx: BenchContext): Promise<ScenarioResult> {
  const origin = await ctx.origin()
  const fileMB = ctx.proxyFileMB ?? PROXY_FILE_MB
  const bytes = fileMB * MB
  const rounds = Math.max(ctx.quick ? 3 : 5, ctx.rounds)
  const last = String(Math.max(0, ctx.cpus - 1))
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-media-'))
  // nginx's worker may run as another user
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'media.mp4'), mediaBytes(bytes))
  chmodSync(join(dir, 'media.mp4'), 0o644)
  try {
    return await using(async () => await startNginx({ kind: 'static', root: dir }, last), async (media) => {
      const mediaHost = `127.0.0.1:${media.port}`
      const file = `${media.base}/media.mp4`
      ctx.log(`proxy-throughput: a ${fileMB} MB file, vidgate (1 worker) vs nginx proxy_pass, ${rounds} rounds`)
      const path = streamPath(origin.mediaPageUrl(`proxy-${Date.now()}`, file), 'proxy')
      return await using(async () => await startNginx({ kind: 'proxy', upstream: mediaHost }, '0'), async (nginx) =>
        await using(async () => await startCluster({ workers: 1, pin: true, env: extractionEnv(`${origin.host},${mediaHost}`) }), async (server) => {
          const headers = await primed(server, path, 200)
          const length = headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1]
          if (Number(length) !== bytes) throw new Error(`the proxied file has Content-Length ${String(length)}, not ${bytes}`)
          const runs = await roundRobin([
            { name: 'direct', url: file, pids: media.pids },
            { name: 'nginx', url: `${nginx.base}/media.mp4`, pids: nginx.pids },
            { name: 'vidgate', url: `${server.base}${path}`, pids: server.pids }
          ], rounds, bytes)
          return summarize(runs, fileMB, bytes)
        }))
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function summarize (runs: Map<string, WayRuns>, fileMB: number, bytes: number): ScenarioResult {
  const none: WayRuns = { mbps: [], cpuSecPerGB: [] }
  const direct = runs.get('direct') ?? none
  const nginx = runs.get('nginx') ?? none
  const ours = runs.get('vidgate') ?? none
  const nginxRow = downloadRow('nginx proxy_pass', 'nginx', nginx, bytes, null)
  const rows = [
    downloadRow('direct from the origin (nginx, sendfile)', 'direct', direct, bytes, null),
    nginxRow,
    downloadRow('proxy-throughput', 1, ours, bytes, nginxRow)
  ]
  const v = versus(ours, nginx)
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(', ')
  return {
    rows,
    notes: [`proxy-throughput: the same file straight from the origin (nginx with sendfile, on the last core with the client), through nginx proxy_pass (one worker process, a keep-alive upstream, 256 KiB buffers, no temp files; bench/nginx.ts) and through a 1-worker cluster (mode=proxy), both on core 0, round-robin. Server CPU per GB is every thread's run time (/proc/<pid>/task/*/schedstat); the client is a raw socket counting bytes (bench/lib.ts fetchBody). The CPU column of its rows is per ${fileMB} MB download, the ratio column vidgate ÷ nginx.`],
    metrics: [
      metric('proxy.cpu_vs_nginx', v.cpuRatio, '×', { op: '<=', value: PROXY_CPU_VS_NGINX_TARGET }, `server CPU per GB, vidgate (1 worker) ÷ nginx proxy_pass, median of ${v.cpuRatios.length} rounds of a ${fileMB} MB file (${list(v.cpuRatios)})`),
      metric('proxy.rate_vs_nginx', v.rateRatio, '×', { op: '>=', value: PROXY_RATE_VS_NGINX_TARGET }, `MB/s, vidgate ÷ nginx proxy_pass, per round (${list(v.rateRatios)})`),
      metric('proxy.cpu_s_per_gb', median(ours.cpuSecPerGB), 's', null, `vidgate's CPU seconds per GB proxied, median (rounds ${list(ours.cpuSecPerGB)}; spread ${(spread(ours.cpuSecPerGB) * 100).toFixed(0)} %)`),
      metric('proxy.nginx_cpu_s_per_gb', median(nginx.cpuSecPerGB), 's', null, `nginx proxy_pass's, median (rounds ${list(nginx.cpuSecPerGB)})`),
      metric('proxy.mbps', median(ours.mbps), 'MB/s', null, `median download through vidgate; nginx proxy_pass ${median(nginx.mbps).toFixed(0)} MB/s, straight from the origin ${median(direct.mbps).toFixed(0)} MB/s`)
    ]
  }
}
