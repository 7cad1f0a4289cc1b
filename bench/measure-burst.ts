// Bursts against uncached videos: 1,000 concurrent requests for ONE video
// (single-flight: how many extractions reached the origin), and 100 concurrent
// cold extractions of distinct videos (how long the workers' event loops stalled).
import { httpGet, load, sleep } from './lib.ts'
import { extractionEnv, startCluster, startRedis, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import { infoPath } from './measure-cached.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

const BURST = 1000
const STALL_BURST = 100
export const STALL_TARGET_MS = 20

async function singleFlight (ctx: BenchContext, workers: number, redisUrl: string | null): Promise<{ row: Row, fetches: number }> {
  const origin = await ctx.origin()
  const variant = `flight-${redisUrl === null ? 'memory' : 'redis'}-${Date.now()}`
  const env = extractionEnv(origin.host, redisUrl === null ? {} : { REDIS_URL: redisUrl })
  return await using(async () => await startCluster({ workers, env }), async (server) => {
    const r = await load(`${server.base}${infoPath(origin.pageUrl(variant))}`, { connections: BURST, amount: BURST, durationSec: 0, timeoutSec: 60, pids: server.pids })
    return { row: toRow(`single-flight-${redisUrl === null ? 'memory' : 'redis'}`, workers, r, null, false), fetches: origin.pageFetches(variant) }
  })
}

export async function runSingleFlight (ctx: BenchContext): Promise<ScenarioResult> {
  const workers = Math.max(2, ctx.cpus)
  ctx.log(`single-flight: ${BURST} concurrent requests for one uncached video, ${workers} workers sharing Redis`)
  const shared = await using(startRedis, async (redis) => await singleFlight(ctx, workers, redis.url))
  ctx.log(`single-flight: the same without Redis`)
  const alone = await singleFlight(ctx, workers, null)
  return {
    rows: [shared.row, alone.row],
    metrics: [
      metric('single_flight.redis_origin_fetches', shared.fetches, 'count', { op: '==', value: 1 }, `${BURST} concurrent requests, ${workers} workers, one Redis`),
      metric('single_flight.memory_origin_fetches', alone.fetches, 'count', { op: '<=', value: workers }, `without Redis: at most one per worker`)
    ]
  }
}

// per_worker[].event_loop_delay_max_ms since the previous stats read (each read resets it).
async function loopDelayMaxMs (server: Server): Promise<{ maxMs: number, p99Ms: number, workers: number }> {
  const r = await httpGet(`${server.base}/api/v2/system/stats`)
  const body = r.body
  const list = typeof body === 'object' && body !== null && 'per_worker' in body && Array.isArray(body.per_worker) ? body.per_worker as unknown[] : []
  const num = (w: unknown, key: string): number => typeof w === 'object' && w !== null && key in w ? Number((w as Record<string, unknown>)[key]) : Number.NaN
  const max = list.map((w) => num(w, 'event_loop_delay_max_ms')).filter(Number.isFinite)
  const p99 = list.map((w) => num(w, 'event_loop_delay_p99_ms')).filter(Number.isFinite)
  if (r.status !== 200 || max.length === 0) throw new Error(`stats: ${r.status} ${r.text.slice(0, 300)}`)
  return { maxMs: Math.max(...max), p99Ms: Math.max(...p99), workers: list.length }
}

export async function runLoopStall (ctx: BenchContext): Promise<ScenarioResult> {
  const origin = await ctx.origin()
  const workers = Math.max(2, ctx.cpus)
  const prefix = `stall-${Date.now()}`
  let n = 0
  ctx.log(`event-loop stall: ${STALL_BURST} concurrent cold extractions, ${workers} workers`)
  return await using(async () => await startCluster({ workers, env: extractionEnv(origin.host) }), async (server) => {
    for (let i = 0; i < 4 * workers; i++) await httpGet(`${server.base}${infoPath(origin.pageUrl(`${prefix}-warmup-${i}`))}`)
    await loopDelayMaxMs(server)
    await sleep(1000)
    const idle = await loopDelayMaxMs(server)
    const url = `${server.base}${infoPath(origin.pageUrl(`${prefix}-0`))}`
    const nextPath = (): string => infoPath(origin.pageUrl(`${prefix}-${n++}`))
    const r = await load(url, { connections: STALL_BURST, amount: STALL_BURST, durationSec: 0, timeoutSec: 120, pids: server.pids, nextPath })
    const during = await loopDelayMaxMs(server)
    const row = toRow('cold-burst-100', workers, r, null, false)
    const metrics: Metric[] = [
      metric('stall.event_loop_delay_max_ms', during.maxMs, 'ms', { op: '<=', value: STALL_TARGET_MS }, `max over ${during.workers} workers during the burst; the monitor samples every 10 ms, so an idle loop reads ~10`),
      metric('stall.event_loop_delay_p99_ms', during.p99Ms, 'ms'),
      metric('stall.idle_event_loop_delay_max_ms', idle.maxMs, 'ms', null, 'the same reading over 1 s of idle before the burst')
    ]
    return { rows: [row], metrics }
  })
}
