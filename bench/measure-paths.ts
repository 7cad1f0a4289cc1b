// The product's own hot paths against its cheapest endpoint, by server CPU
// per request, each cluster's health measured in the same run, interleaved:
// - memory (no Redis): cached video info from L1, and the 302 for a cached
//   video (GET /api/v2/stream/url?url=<page>&mode=redirect, the VRChat/bot path);
// - Redis with CACHE_L1_TTL=0 (a host that has not seen the video): info and
//   the 302 from L2, every request one Redis read; redis-server's own CPU per
//   request is measured beside ours (its process is pinned with the load generator).
// One worker pinned to core 0, the load generator on the last core.
import { availableParallelism } from 'node:os'
import { interleave } from './compare.ts'
import { httpGet, pinnedCommand } from './lib.ts'
import { extractionEnv, infoPath, startCluster, using } from './servers.ts'
import { startRedis as startRedisServer } from '../src/testing/helpers.ts'
import { metric } from './metric.ts'
import type { Target } from './compare.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'
import type { StartedRedis } from '../src/testing/helpers.ts'

const HEALTH = '/api/v2/system/health'
// the bars: CPU per request at most this many times health's (#16)
export const PATH_TARGETS: Readonly<Record<string, number>> = { info_l1: 1.5, redirect_l1: 1.5, info_redis: 2.5, redirect_redis: 3 }

const redirectPath = (page: string): string => `/api/v2/stream/url?url=${encodeURIComponent(page)}&mode=redirect`
// policy.ts: generated request ids end "_<n>" on the uWS lane, "-<n>" through hyper-express
const byUwsLane = (requestId: string): boolean => /_[0-9a-z]+$/.test(requestId)

// Asks until the answer is the cached one; returns whether the uWS lane gave it.
async function prime (server: Server, path: string, status: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    const r = await httpGet(`${server.base}${path}`)
    if (r.status !== status) throw new Error(`priming ${path}: ${r.status} ${r.text.slice(0, 300)}`)
    if (i > 0 && (status === 302 || r.text.includes('"cached":true'))) return byUwsLane(r.requestId)
  }
  throw new Error(`priming ${path}: never answered from the cache`)
}

interface Variant { name: 'l1' | 'redis', env: Record<string, string>, side?: () => number[] }

async function measureVariant (ctx: BenchContext, v: Variant): Promise<{ rows: Row[], fast: number }> {
  const origin = await ctx.origin()
  const page = origin.pageUrl(`paths-${v.name}-${Date.now()}`)
  return await using(async () => await startCluster({ workers: 1, pin: true, env: extractionEnv(origin.host, v.env) }), async (server) => {
    const info = infoPath(page)
    const redirect = redirectPath(page)
    const fast = Number(await prime(server, info, 200)) + Number(await prime(server, redirect, 302))
    const target = (name: string, path: string, expectStatus?: number): Target =>
      ({ scenario: `${name}_${v.name}`, workers: 1, url: `${server.base}${path}`, pids: server.pids, sidePids: v.side, expectStatus })
    const rows = await interleave(
      { ...target('health', HEALTH), scenario: `health (paths ${v.name})` },
      [target('info', info), target('redirect', redirect, 302)],
      ctx)
    return { rows, fast }
  })
}

export async function runHotPaths (ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = []
  let fast = 0
  ctx.log('hot-paths: memory (L1)')
  const memory = await measureVariant(ctx, { name: 'l1', env: {} })
  rows.push(...memory.rows)
  fast += memory.fast
  const last = String(availableParallelism() - 1)
  await using(async (): Promise<StartedRedis> => await startRedisServer((cmd, args) => pinnedCommand(cmd, args, last)), async (redis) => {
    ctx.log('hot-paths: Redis, CACHE_L1_TTL=0')
    const measured = await measureVariant(ctx, { name: 'redis', env: { REDIS_URL: redis.url, CACHE_L1_TTL: '0' }, side: () => [redis.pid()] })
    rows.push(...measured.rows)
    fast += measured.fast
  })
  const metrics: Metric[] = []
  for (const name of Object.keys(PATH_TARGETS)) {
    const row = rows.find((r) => r.scenario === name)
    if (row === undefined) continue
    const health = rows.find((r) => r.scenario === `health (paths ${name.split('_')[1] ?? ''})`)
    metrics.push(metric(`paths.${name}.cpu_ratio`, row.ratioCpu ?? Number.NaN, '×', { op: '<=', value: PATH_TARGETS[name] ?? 0 },
      `1 worker: server CPU µs/req ÷ /api/v2/system/health’s in the same cluster and run (${row.cpuUsPerReq.toFixed(1)} vs ${health?.cpuUsPerReq.toFixed(1) ?? '?'} µs)`))
    if (row.sideCpuUsPerReq !== undefined) {
      metrics.push(metric(`paths.${name}.redis_cpu_us`, row.sideCpuUsPerReq, 'µs', null, 'redis-server CPU per request (best round), not in the server CPU above; its health row: ' +
        `${(health?.sideCpuUsPerReq ?? 0).toFixed(1)} µs`))
    }
  }
  metrics.push(metric('paths.fast_lane', fast, 'count', null, 'of the 4 primed paths (info and 302, L1 and Redis), those the uWS lane answered'))
  return { rows, metrics }
}
