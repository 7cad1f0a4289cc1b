// Cold extraction: sequential fresh extractions of distinct URLs (`?v=<n>` of the
// local page, each a cache miss) with YTDLP_MODE=warm and =spawn, 1 worker,
// plus a plain `yt-dlp -J <url>` run from the bench as a reference.
import { execFile } from 'node:child_process'
import { httpGet, measureCpu, percentile, pinnedCommand, seriesResult } from './lib.ts'
import { extractionEnv, infoPath, startCluster, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Fetched } from './lib.ts'
import type { Origin } from './origin.ts'
import type { Server } from './servers.ts'
import type { Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const WARM_SPEEDUP_TARGET = 10
// Discarded before measuring: the warm pool's processes start at listen and each
// loads the extractors on its first job; spawn needs only the page cache warm.
const WARMUP_EXTRACTIONS = { warm: 4, spawn: 1 } as const

async function series (server: Server, origin: Origin, prefix: string, n: number): Promise<Fetched[]> {
  const out: Fetched[] = []
  for (let i = 0; i < n; i++) {
    const r = await httpGet(`${server.base}${infoPath(origin.pageUrl(`${prefix}-${i}`))}`)
    if (r.status === 200 && r.text.includes('"cached":true')) throw new Error(`cold extraction ${prefix}-${i} came from the cache`)
    out.push(r)
  }
  return out
}

async function measureMode (ctx: BenchContext, mode: 'warm' | 'spawn', n: number): Promise<{ row: Row, firstMs: number }> {
  const origin = await ctx.origin()
  const prefix = `cold-${mode}-${Date.now()}`
  return await using(async () => await startCluster({ workers: 1, env: extractionEnv(origin.host, { YTDLP_MODE: mode }) }), async (server) => {
    const warmup = await series(server, origin, `${prefix}-warmup`, WARMUP_EXTRACTIONS[mode])
    const start = performance.now()
    const { value: samples, cpuSec } = await measureCpu(server.pids, async () => await series(server, origin, prefix, n))
    const failed = [...warmup, ...samples].find((s) => s.status !== 200)
    if (failed !== undefined) ctx.log(`cold-${mode}: ${failed.status} ${failed.text.slice(0, 300)}`)
    return { row: toRow(`cold-${mode}`, 1, seriesResult(samples, performance.now() - start, cpuSec), null, false), firstMs: warmup[0]?.ms ?? 0 }
  })
}

async function oneShotMs (url: string): Promise<number> {
  const [cmd, args] = pinnedCommand(extractionEnv('').YTDLP_PATH ?? 'yt-dlp', ['-J', '--', url])
  const start = performance.now()
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { timeout: 60000, maxBuffer: 64 * 1024 * 1024 }, (err) => { if (err === null) resolve(); else reject(err) })
  })
  return performance.now() - start
}

export async function runColdExtraction (ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 6 : 20
  ctx.log(`cold: ${n} sequential extractions, warm pool`)
  const warm = await measureMode(ctx, 'warm', n)
  ctx.log(`cold: ${n} sequential extractions, one-shot spawn`)
  const spawn = await measureMode(ctx, 'spawn', n)
  const origin = await ctx.origin()
  const oneShot: number[] = []
  // the first run reads Python's modules from disk; like the series, it is discarded
  for (let i = 0; i <= (ctx.quick ? 1 : 5); i++) {
    const ms = await oneShotMs(origin.pageUrl(`oneshot-${Date.now()}-${i}`))
    if (i > 0) oneShot.push(ms)
  }
  const speedup = spawn.row.p50 / Math.max(1, warm.row.p50)
  return {
    rows: [warm.row, spawn.row],
    metrics: [
      metric('cold.warm_p50_ms', warm.row.p50, 'ms', null, `${n} sequential fresh extractions after ${WARMUP_EXTRACTIONS.warm} discarded`),
      metric('cold.spawn_p50_ms', spawn.row.p50, 'ms'),
      metric('cold.oneshot_p50_ms', percentile(oneShot, 50), 'ms', null, `plain \`yt-dlp -J <url>\` from the bench, ${oneShot.length} run(s) after 1 discarded`),
      metric('cold.warm_speedup', speedup, '×', { op: '>=', value: WARM_SPEEDUP_TARGET }, 'spawn p50 ÷ warm p50'),
      metric('cold.warm_first_ms', warm.firstMs, 'ms', null, 'the first extraction after start (warm processes still loading)'),
      metric('cold.warm_cpu_ms_per_extraction', warm.row.cpuUsPerReq / 1000, 'ms', null, 'server tree CPU incl. yt-dlp processes'),
      metric('cold.spawn_cpu_ms_per_extraction', spawn.row.cpuUsPerReq / 1000, 'ms', null, 'server tree CPU incl. reaped yt-dlp children')
    ]
  }
}
