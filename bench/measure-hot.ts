// The three hot endpoints against the raw uWS baseline, by server CPU time per
// request: 1 worker pinned to core 0 (like the baseline), then N workers.
import { interleaveMatched } from './compare.ts'
import { httpGet } from './lib.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

// Each endpoint against a raw uWS server sending a JSON body of the same size
// (its body read just before), so that the ratio is the cost of the stack:
// its routing, policy and headers, not a longer body. Beside it, a raw uWS
// server sending that endpoint's very response (same header lines, same
// body, no code behind them): its row shows what the response's headers alone
// cost against the plain baseline (the load generator parses each header line),
// and the endpoint's CPU over it is the cost of the code (hot.code_ratio_max).
export async function compareHot (server: Server, workers: number, opts: CompareOptions, paths = HOT_PATHS): Promise<Row[]> {
  const seen = []
  for (const p of paths) {
    const r = await httpGet(`${server.base}${p.path}`)
    if (r.status !== 200) throw new Error(`${p.path}: ${r.status} ${r.text.slice(0, 200)}`)
    seen.push(r)
  }
  const sizes = seen.map((r) => Buffer.byteLength(r.text))
  const distinct = [...new Set(sizes)]
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-bench-hot-'))
  const mirrors = join(dir, 'mirrors.json')
  writeFileSync(mirrors, JSON.stringify(seen.map((r) => ({ headers: r.headers, body: r.text }))))
  try {
    return await using(async () => await startRaw(distinct, mirrors), async (raw) => await interleaveMatched(
      distinct.map((bytes) => ({ scenario: `raw-uws-${bytes}B (hot ${workers}w)`, workers: 'raw' as const, url: `${raw.base}/${bytes}`, pids: raw.pids })),
      [
        ...paths.map((p, i) => ({ scenario: `${SAME_RESPONSE}${p.name} (hot ${workers}w)`, workers: 'raw' as const, url: `${raw.base}/m${i}`, pids: raw.pids, base: distinct.indexOf(sizes[i] ?? 0) })),
        ...paths.map((p, i) => ({ scenario: p.name, workers, url: `${server.base}${p.path}`, pids: server.pids, base: distinct.indexOf(sizes[i] ?? 0) }))
      ],
      opts
    ))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const SAME_RESPONSE = 'raw-uws-same-response '

export function hotMetrics (rows: readonly Row[]): Metric[] {
  const maxRatio = (list: readonly Row[]): number => Math.max(...list.map((r) => r.ratioCpu ?? Number.POSITIVE_INFINITY))
  const one = rows.filter((r) => r.workers === 1)
  const many = rows.filter((r) => typeof r.workers === 'number' && r.workers > 1)
  const out = [metric('hot.cpu_ratio_max', maxRatio(one), '×', { op: '<=', value: HOT_CPU_RATIO_AIM }, 'worst of the three endpoints, 1 worker: server CPU µs/req ÷ raw uWS (same body size)')]
  // the endpoint's CPU over raw uWS sending its very response: the cost of the code alone
  const code = one.map((r) => {
    const twin = rows.find((m) => m.scenario === `${SAME_RESPONSE}${r.scenario} (hot ${String(r.workers)}w)`)
    return twin === undefined || twin.cpuUsPerReq <= 0 ? Number.POSITIVE_INFINITY : r.cpuUsPerReq / twin.cpuUsPerReq
  })
  const headers = rows.filter((r) => r.scenario.startsWith(SAME_RESPONSE) && r.scenario.endsWith(' 1w)')).map((r) => r.ratioCpu ?? Number.POSITIVE_INFINITY)
  if (code.length > 0 && headers.length > 0) {
    out.push(metric('hot.code_ratio_max', Math.max(...code), '×', null, 'worst endpoint, 1 worker: server CPU µs/req ÷ raw uWS sending the same response bytes (the cost of the code alone)'))
    out.push(metric('hot.same_response_ratio_max', Math.max(...headers), '×', null, 'raw uWS sending an endpoint’s exact response (its headers) ÷ raw uWS with a bare body of the same size: what the header lines alone cost'))
  }
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
