// Cached info: GET /api/v2/videos?url=<local page> once the info is cached, from
// each worker's L1, then with CACHE_L1_TTL=0 so every hit reads Redis (L2).
// Compared with a raw uWS baseline sending a body of the same size.
import { httpGet, load, measureCpu } from './lib.ts'
import { extractionEnv, startCluster, startRedis, using, workerOf } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Fetched } from './lib.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const CACHED_RPS_RATIO_TARGET = 0.6
const CONNECTIONS = 50

export function infoPath (pageUrl: string): string {
  return `/api/v2/videos?url=${encodeURIComponent(pageUrl)}`
}

// Asks on new connections until every worker has answered cached:true.
export async function prime (server: Server, path: string, workers: number): Promise<Fetched> {
  const cachedBy = new Set<string>()
  let last: Fetched | null = null
  for (let i = 0; i < 40 * workers && cachedBy.size < workers; i++) {
    last = await httpGet(`${server.base}${path}`)
    if (last.status !== 200) throw new Error(`priming ${path}: ${last.status} ${last.text.slice(0, 300)}`)
    if (last.text.includes('"cached":true')) cachedBy.add(workerOf(last.requestId))
  }
  if (last === null || cachedBy.size < workers) throw new Error(`priming ${path}: only ${cachedBy.size} of ${workers} workers answered from cache`)
  return last
}

interface Variant { name: string, workers: number, redisUrl: string | null }

// Returns the row and the CPU seconds of `alsoPids` (redis-server) over the same load phase.
async function measureVariant (ctx: BenchContext, v: Variant, alsoPids: () => number[] = () => []): Promise<{ row: Row, alsoCpuSec: number }> {
  const origin = await ctx.origin()
  const path = infoPath(origin.pageUrl(`${v.name}-${v.workers}-${Date.now()}`))
  const env = extractionEnv(origin.host, v.redisUrl === null ? {} : { REDIS_URL: v.redisUrl, CACHE_L1_TTL: '0' })
  return await using(async () => await startCluster({ workers: v.workers, pin: v.workers === 1, env }), async (server) => {
    const primed = await prime(server, path, v.workers)
    const baseline = await ctx.baseline(Buffer.byteLength(primed.text))
    const url = `${server.base}${path}`
    if (ctx.warmupSec > 0) await load(url, { connections: CONNECTIONS, durationSec: ctx.warmupSec, pids: server.pids })
    const { value: r, cpuSec } = await measureCpu(alsoPids, async () => await load(url, { connections: CONNECTIONS, durationSec: ctx.durationSec, pids: server.pids }))
    return { row: toRow(v.name, v.workers, r, baseline), alsoCpuSec: cpuSec }
  })
}

function ratioMetrics (prefix: string, rows: readonly Row[], target: boolean): Metric[] {
  const one = rows.find((r) => r.workers === 1)
  if (one === undefined) return []
  return [
    metric(`${prefix}.rps_ratio`, one.ratioRps ?? 0, '×', target ? { op: '>=', value: CACHED_RPS_RATIO_TARGET } : null, '1 worker req/s ÷ raw uWS (same body size) req/s'),
    metric(`${prefix}.cpu_ratio`, one.ratioCpu ?? 0, '×', null, '1 worker server CPU µs/req ÷ raw uWS (same body size)')
  ]
}

export async function runCachedL1 (ctx: BenchContext): Promise<ScenarioResult> {
  const counts = ctx.quick || ctx.cpus < 2 ? [1] : [1, ctx.cpus]
  const rows: Row[] = []
  for (const workers of counts) {
    ctx.log(`cached-l1: ${workers} worker(s)`)
    rows.push((await measureVariant(ctx, { name: 'cached-l1', workers, redisUrl: null })).row)
  }
  return { rows, metrics: ratioMetrics('cached_l1', rows, true) }
}

export async function runCachedRedis (ctx: BenchContext): Promise<ScenarioResult> {
  const counts = ctx.quick || ctx.cpus < 2 ? [1] : [1, ctx.cpus]
  const rows: Row[] = []
  const metrics: Metric[] = []
  await using(startRedis, async (redis) => {
    for (const workers of counts) {
      ctx.log(`cached-redis: ${workers} worker(s)`)
      const { row, alsoCpuSec } = await measureVariant(ctx, { name: 'cached-redis', workers, redisUrl: redis.url }, () => [redis.pid])
      rows.push(row)
      if (workers === 1) metrics.push(metric('cached_redis.redis_cpu_us_per_req', (alsoCpuSec * 1e6) / Math.max(1, row.requests), 'µs', null, 'redis-server CPU per request, not in the server CPU column'))
    }
  })
  return { rows, metrics: [...ratioMetrics('cached_redis', rows, false), ...metrics] }
}
