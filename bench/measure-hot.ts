// The three hot endpoints against the raw uWS baseline, by server CPU time per
// request: 1 worker pinned to core 0 (like the baseline), then N workers.
import { load } from './lib.ts'
import { startCluster, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const HOT_PATHS: ReadonlyArray<{ name: string, path: string }> = [
  { name: 'root', path: '/' },
  { name: 'health', path: '/api/v2/system/health' },
  { name: 'auth-status', path: '/api/v2/auth/status' }
]

const CONNECTIONS = 50
// The aim for the hot endpoints; bench/thresholds.json holds the (looser) regression gate.
export const HOT_CPU_RATIO_AIM = 1.25

export async function measureHotOn (server: Server, workers: number, baseline: Row, opts: { durationSec: number, warmupSec: number }, paths = HOT_PATHS): Promise<Row[]> {
  const rows: Row[] = []
  for (const p of paths) {
    const r = await load(`${server.base}${p.path}`, { connections: CONNECTIONS, durationSec: opts.durationSec, warmupSec: opts.warmupSec, pids: server.pids })
    rows.push(toRow(p.name, workers, r, baseline))
  }
  return rows
}

export function hotMetrics (rows: readonly Row[]): Metric[] {
  const maxRatio = (list: readonly Row[]): number => Math.max(...list.map((r) => r.ratioCpu ?? Number.POSITIVE_INFINITY))
  const one = rows.filter((r) => r.workers === 1)
  const many = rows.filter((r) => typeof r.workers === 'number' && r.workers > 1)
  const out = [metric('hot.cpu_ratio_max', maxRatio(one), '×', { op: '<=', value: HOT_CPU_RATIO_AIM }, 'worst of the three endpoints, 1 worker, server CPU µs/req ÷ raw uWS')]
  if (many.length > 0) out.push(metric('hot.cpu_ratio_max_nw', maxRatio(many), '×', null, `${String(many[0]?.workers)} workers, the load generator shares the cores`))
  return out
}

export async function runHot (ctx: BenchContext): Promise<ScenarioResult> {
  const baseline = await ctx.baseline()
  const opts = { durationSec: ctx.durationSec, warmupSec: ctx.warmupSec }
  const counts = ctx.quick || ctx.cpus < 2 ? [1] : [1, ctx.cpus]
  const rows: Row[] = []
  for (const workers of counts) {
    ctx.log(`hot: ${workers} worker(s)`)
    rows.push(...await using(async () => await startCluster({ workers, pin: workers === 1 }), async (s) => await measureHotOn(s, workers, baseline, opts)))
  }
  return { rows, metrics: hotMetrics(rows) }
}
