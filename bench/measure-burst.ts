// Single-flight: 1,000 concurrent requests for ONE uncached video, with Redis
// shared by the workers and without (the primary holds the locks and the L2 for
// its workers); the origin counts how many extractions reached it.
import { load } from './lib.ts'
import { extractionEnv, infoPath, startCluster, startRedis, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

const BURST = 1000

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
  ctx.log('single-flight: the same without Redis')
  const alone = await singleFlight(ctx, workers, null)
  return {
    rows: [shared.row, alone.row],
    metrics: [
      metric('single_flight.redis_origin_fetches', shared.fetches, 'count', { op: '==', value: 1 }, `${BURST} concurrent requests, ${workers} workers, one Redis`),
      metric('single_flight.memory_origin_fetches', alone.fetches, 'count', { op: '==', value: 1 }, `without Redis: ${BURST} concurrent requests, ${workers} workers, the primary's locks`)
    ]
  }
}
