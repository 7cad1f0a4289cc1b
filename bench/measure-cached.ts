// Cached info: GET /api/v2/videos?url=<local page> once the info is cached, from
// each worker's L1, then with CACHE_L1_TTL=0 so every hit reads Redis (L2).
// Compared with a raw uWS baseline sending a body of the same size.
import { httpGet, measureCpu } from './lib.ts'
import { interleave } from './compare.ts'
import { extractionEnv, infoPath, startCluster, startRaw, startRedis, using, workerOf } from './servers.ts'
import { metric } from './metric.ts'
import type { Fetched } from './lib.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const CACHED_RPS_RATIO_TARGET = 0.6

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

// The info body is ~800 B; baselines are rounded so variants share a size.
const roundBytes = (n: number): number => Math.max(100, Math.round(n / 100) * 100)

// Returns the baseline row, the variant's row, and the CPU seconds of `alsoPids` (redis-server) over the variant's loads.
async function measureVariant (ctx: BenchContext, v: Variant, alsoPids: () => number[] = () => []): Promise<{ rows: Row[], alsoCpuSec: number }> {
  const origin = await ctx.origin()
  const path = infoPath(origin.pageUrl(`${v.name}-${v.workers}-${Date.now()}`))
  const env = extractionEnv(origin.host, v.redisUrl === null ? {} : { REDIS_URL: v.redisUrl, CACHE_L1_TTL: '0' })
  return await using(async () => await startCluster({ workers: v.workers, pin: v.workers === 1, env }), async (server) => {
    const primed = await prime(server, path, v.workers)
    const bytes = roundBytes(Buffer.byteLength(primed.text))
    return await using(async () => await startRaw(bytes), async (raw) => {
      const target = { scenario: v.name, workers: v.workers, url: `${server.base}${path}`, pids: () => [...server.pids()] }
      const { value: rows, cpuSec } = await measureCpu(alsoPids, async () => await interleave(
        { scenario: `raw-uws-${bytes}B (${v.name} ${v.workers}w)`, workers: 'raw', url: `${raw.base}/`, pids: raw.pids }, [target], ctx))
      return { rows, alsoCpuSec: cpuSec }
    })
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
    rows.push(...(await measureVariant(ctx, { name: 'cached-l1', workers, redisUrl: null })).rows)
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
      const measured = await measureVariant(ctx, { name: 'cached-redis', workers, redisUrl: redis.url }, () => [redis.pid()])
      rows.push(...measured.rows)
      const served = measured.rows.find((r) => r.workers === workers)
      if (workers === 1 && served !== undefined) {
        metrics.push(metric('cached_redis.redis_cpu_us_per_req', (measured.alsoCpuSec * 1e6) / Math.max(1, served.requests), 'µs', null, 'redis-server CPU per request (all rounds and warm-up), not in the server CPU column'))
      }
    }
  })
  return { rows, metrics: [...ratioMetrics('cached_redis', rows, false), ...metrics] }
}
