// Cold extraction: sequential fresh extractions of distinct URLs (`?v=<n>` of the
// local page, each a cache miss) with YTDLP_MODE=warm and =spawn, 1 worker,
// plus a plain `yt-dlp -J <url>` run from the bench as a reference. The server
// runs its default yt-dlp and the one-shot runs the same file (serverYtDlp).
// The issue's bar: 10 fresh extractions' warm p50 at most 1/10 of one `yt-dlp -J`.
import { execFile, execFileSync } from 'node:child_process'
import { httpGet, measureCpu, percentile, pinnedCommand, seriesResult } from './lib.ts'
import { extractionEnv, infoPath, serverYtDlp, startCluster, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Fetched } from './lib.ts'
import type { Origin } from './origin.ts'
import type { Server } from './servers.ts'
import type { Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const WARM_SPEEDUP_TARGET = 10
// fresh extractions per series (and the gate's: the issue's bar is about 10)
const SERIES = { full: 20, quick: 10 } as const
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

function versionOf (ytdlp: string): string {
  try {
    return execFileSync(ytdlp, ['--version'], { encoding: 'utf8', timeout: 30000 }).trim()
  } catch {
    return 'unknown version'
  }
}

async function oneShotMs (ytdlp: string, url: string): Promise<number> {
  const [cmd, args] = pinnedCommand(ytdlp, ['-J', '--', url])
  const start = performance.now()
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { timeout: 60000, maxBuffer: 64 * 1024 * 1024 }, (err) => { if (err === null) resolve(); else reject(err) })
  })
  return performance.now() - start
}

export async function runColdExtraction (ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? SERIES.quick : SERIES.full
  const ytdlp = serverYtDlp()
  ctx.log(`cold: ${n} sequential extractions, warm pool`)
  const warm = await measureMode(ctx, 'warm', n)
  ctx.log(`cold: ${n} sequential extractions, one-shot spawn`)
  const spawn = await measureMode(ctx, 'spawn', n)
  const origin = await ctx.origin()
  const oneShot: number[] = []
  // the first run reads Python's modules from disk; like the series, it is discarded
  for (let i = 0; i <= (ctx.quick ? 1 : 5); i++) {
    const ms = await oneShotMs(ytdlp, origin.pageUrl(`oneshot-${Date.now()}-${i}`))
    if (i > 0) oneShot.push(ms)
  }
  const speedup = spawn.row.p50 / Math.max(1, warm.row.p50)
  const oneShotP50 = percentile(oneShot, 50)
  return {
    rows: [warm.row, spawn.row],
    notes: [`cold-extraction: the server's default yt-dlp, ${ytdlp} (${versionOf(ytdlp)}); the one-shot baseline runs the same file.`],
    metrics: [
      metric('cold.warm_p50_ms', warm.row.p50, 'ms', null, `${n} sequential fresh extractions after ${WARMUP_EXTRACTIONS.warm} discarded`),
      metric('cold.spawn_p50_ms', spawn.row.p50, 'ms'),
      metric('cold.oneshot_p50_ms', oneShotP50, 'ms', null, `plain \`yt-dlp -J <url>\` from the bench (the server's yt-dlp), ${oneShot.length} run(s) after 1 discarded`),
      metric('cold.warm_vs_oneshot', oneShotP50 / Math.max(1, warm.row.p50), '×', { op: '>=', value: WARM_SPEEDUP_TARGET }, `one-shot \`yt-dlp -J\` p50 ÷ warm p50 of ${n} fresh extractions`),
      metric('cold.warm_speedup', speedup, '×', { op: '>=', value: WARM_SPEEDUP_TARGET }, 'spawn p50 ÷ warm p50'),
      metric('cold.warm_first_ms', warm.firstMs, 'ms', null, 'the first extraction after start (warm processes still loading)'),
      metric('cold.warm_cpu_ms_per_extraction', warm.row.cpuUsPerReq / 1000, 'ms', null, 'server tree CPU incl. yt-dlp processes'),
      metric('cold.spawn_cpu_ms_per_extraction', spawn.row.cpuUsPerReq / 1000, 'ms', null, 'server tree CPU incl. reaped yt-dlp children')
    ]
  }
}
