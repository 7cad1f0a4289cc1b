// Bursts against uncached videos: 1,000 concurrent requests for ONE video
// (single-flight: how many extractions reached the origin), and 100 concurrent
// cold extractions of distinct videos (how long the workers' event loops stalled).
import { join } from 'node:path'
import { childrenOf, httpGet, load, runQueueWaitSec, sleep, startNode } from './lib.ts'
import { ROOT, extractionEnv, startCluster, startRedis, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import { infoPath } from './measure-cached.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

const BURST = 1000
const STALL_BURST = 100
export const STALL_TARGET_MS = 20
// the default: concurrent yt-dlp jobs (and warm processes) per worker
const EXTRACT_CONCURRENCY = 4

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
async function loopDelay (server: Server): Promise<{ maxMs: number, p99Ms: number, workers: number }> {
  const r = await httpGet(`${server.base}/api/v2/system/stats`)
  const body = r.body
  const list = typeof body === 'object' && body !== null && 'per_worker' in body && Array.isArray(body.per_worker) ? body.per_worker as unknown[] : []
  const num = (w: unknown, key: string): number => typeof w === 'object' && w !== null && key in w ? Number((w as Record<string, unknown>)[key]) : Number.NaN
  const max = list.map((w) => num(w, 'event_loop_delay_max_ms')).filter(Number.isFinite)
  const p99 = list.map((w) => num(w, 'event_loop_delay_p99_ms')).filter(Number.isFinite)
  if (r.status !== 200 || max.length === 0) throw new Error(`stats: ${r.status} ${r.text.slice(0, 300)}`)
  return { maxMs: Math.max(...max), p99Ms: Math.max(...p99), workers: list.length }
}

interface Canary { read: () => Promise<{ maxMs: number, p99Ms: number }>, stop: () => Promise<void> }

async function startCanary (): Promise<Canary> {
  const s = await startNode([join(ROOT, 'dist/bench/canary.js')], { ready: /ready/, stdin: true })
  return {
    stop: s.stop,
    async read () {
      const seen = s.output().length
      s.child.stdin?.write('read\n')
      for (let i = 0; i < 200; i++) {
        const line = s.output().slice(seen).split('\n').find((l) => l.startsWith('{'))
        if (line !== undefined) {
          const v: unknown = JSON.parse(line)
          if (typeof v === 'object' && v !== null && 'maxMs' in v && 'p99Ms' in v) return { maxMs: Number(v.maxMs), p99Ms: Number(v.p99Ms) }
        }
        await sleep(10)
      }
      throw new Error('the canary did not answer')
    }
  }
}

// Every warm yt-dlp process has run a job (its first one loads the extractors).
async function warmAll (server: Server, path: (variant: string) => string, slots: number): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: slots }, async (_, i) => await httpGet(`${server.base}${path(`warmup-${round}-${i}`)}`)))
  }
}

export async function runLoopStall (ctx: BenchContext): Promise<ScenarioResult> {
  const origin = await ctx.origin()
  const workers = Math.max(2, ctx.cpus)
  const prefix = `stall-${Date.now()}`
  const path = (variant: string): string => infoPath(origin.pageUrl(`${prefix}-${variant}`))
  let n = 0
  ctx.log(`event-loop stall: ${STALL_BURST} concurrent cold extractions, ${workers} workers`)
  const env = extractionEnv(origin.host, { EXTRACT_CONCURRENCY: String(EXTRACT_CONCURRENCY) })
  return await using(async () => await startCluster({ workers, env }), async (server) => await using(startCanary, async (canary) => {
    await warmAll(server, path, workers * EXTRACT_CONCURRENCY)
    await loopDelay(server)
    await sleep(1000)
    const idle = await loopDelay(server)
    await canary.read()
    const mains = childrenOf(server.child.pid ?? 0)
    const waitBefore = mains.map(runQueueWaitSec)
    const started = performance.now()
    const r = await load(`${server.base}${path('0')}`, { connections: STALL_BURST, amount: STALL_BURST, durationSec: 0, timeoutSec: 120, pids: server.pids, nextPath: () => path(String(n++)) })
    const burstSec = (performance.now() - started) / 1000
    const during = await loopDelay(server)
    const control = await canary.read()
    const waitMs = Math.max(...mains.map((pid, i) => (runQueueWaitSec(pid) - (waitBefore[i] ?? 0)) * 1000))
    const metrics: Metric[] = [
      metric('stall.event_loop_delay_max_ms', during.maxMs, 'ms', { op: '<=', value: STALL_TARGET_MS }, `max over ${during.workers} workers during the burst; the monitor samples every 10 ms, so an idle loop reads ~10`),
      metric('stall.event_loop_delay_p99_ms', during.p99Ms, 'ms'),
      metric('stall.idle_event_loop_delay_max_ms', idle.maxMs, 'ms', null, 'the same reading over 1 s of idle before the burst'),
      metric('stall.worker_runqueue_wait_ms', waitMs, 'ms', null, `worst worker main thread: time runnable but waiting for a CPU during the ${burstSec.toFixed(1)} s burst (/proc/<pid>/schedstat)`),
      metric('stall.canary_event_loop_delay_max_ms', control.maxMs, 'ms', null, 'an idle Node process beside the burst: CPU starvation alone')
    ]
    return { rows: [toRow('cold-burst-100', workers, r, null, false)], metrics }
  }))
}
