// The three hot endpoints against the raw uWS baseline, by server CPU time per
// request: 1 worker pinned to core 0 (like the baseline), then N workers.
import { interleave } from './compare.ts'
import { startCluster, startRaw, using } from './servers.ts'
import { metric } from './metric.ts'
import type { CompareOptions } from './compare.ts'
import type { Server } from './servers.ts'
import type { Metric, Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

export const HOT_PATHS: ReadonlyArray<{ name: string, path: string }> = [
  { name: 'root', path: '/' },
  { name: 'health', path: '/api/v2/system/health' },
  { name: 'auth-status', path: '/api/v2/auth/status' }
]

// The aim for the hot endpoints; bench/thresholds.json holds the (looser) regression gate.
export const HOT_CPU_RATIO_AIM = 1.25
// the raw server answers with a JSON body of about the hot endpoints' size
const HOT_BODY_BYTES = 400

export async function compareHot (server: Server, workers: number, opts: CompareOptions, paths = HOT_PATHS): Promise<Row[]> {
  return await using(async () => await startRaw(HOT_BODY_BYTES), async (raw) => await interleave(
    { scenario: `raw-uws (hot ${workers}w)`, workers: 'raw', url: `${raw.base}/`, pids: raw.pids },
    paths.map((p) => ({ scenario: p.name, workers, url: `${server.base}${p.path}`, pids: server.pids })),
    opts
  ))
}

export function hotMetrics (rows: readonly Row[]): Metric[] {
  const maxRatio = (list: readonly Row[]): number => Math.max(...list.map((r) => r.ratioCpu ?? Number.POSITIVE_INFINITY))
  const one = rows.filter((r) => r.workers === 1)
  const many = rows.filter((r) => typeof r.workers === 'number' && r.workers > 1)
  const out = [metric('hot.cpu_ratio_max', maxRatio(one), '×', { op: '<=', value: HOT_CPU_RATIO_AIM }, 'worst of the three endpoints, 1 worker: server CPU µs/req ÷ raw uWS')]
  if (many.length > 0) out.push(metric('hot.cpu_ratio_max_nw', maxRatio(many), '×', null, `${String(many[0]?.workers)} workers; the load generator shares their cores`))
  return out
}

export async function runHot (ctx: BenchContext): Promise<ScenarioResult> {
  const counts = ctx.quick || ctx.cpus < 2 ? [1] : [1, ctx.cpus]
  const rows: Row[] = []
  for (const workers of counts) {
    ctx.log(`hot: ${workers} worker(s)`)
    rows.push(...await using(async () => await startCluster({ workers, pin: workers === 1 }), async (s) => await compareHot(s, workers, ctx)))
  }
  const metrics = hotMetrics(rows)
  const worst = metrics[0]?.value ?? 0
  const notes = worst <= HOT_CPU_RATIO_AIM ? [] : [`Hot endpoints: aim ${HOT_CPU_RATIO_AIM}× of raw uWS CPU per request not met (worst ${worst.toFixed(2)}×); the regression gate in bench/thresholds.json is looser.`]
  return { rows, metrics, notes }
}
