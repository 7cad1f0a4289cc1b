// Interleaved comparison with the raw uWS baseline: K rounds of (baseline,
// target 1, target 2, …), best of K for each. Noise from other processes on a
// shared machine comes and goes and only ever adds cost, so the cheapest round
// of each is the fairest figure; the spread is reported beside it.
import { load, percentile } from './lib.ts'
import { toRow } from './metric.ts'
import type { LoadResult } from './lib.ts'
import type { Row } from './metric.ts'

export interface Target {
  scenario: string
  workers: Row['workers']
  url: string
  pids: () => number[]
  connections?: number
  expectStatus?: number
  // processes measured beside the server (LoadOptions.sidePids)
  sidePids?: () => number[]
}

export interface CompareOptions { durationSec: number, warmupSec: number, rounds: number }

const CONNECTIONS = 50

export function bestOf (runs: readonly LoadResult[]): LoadResult & { cpuUsPerReqMax: number } {
  const cpu = runs.map((r) => r.cpuUsPerReq)
  const median = (xs: number[]): number => percentile(xs, 50)
  return {
    requests: runs.reduce((n, r) => n + r.requests, 0),
    rps: Math.max(...runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p975: median(runs.map((r) => r.p975)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    cpuSec: runs.reduce((n, r) => n + r.cpuSec, 0),
    cpuUsPerReq: Math.min(...cpu),
    cpuUsPerReqMax: Math.max(...cpu),
    bytesPerSec: Math.max(0, ...runs.map((r) => r.bytesPerSec ?? 0)),
    ...(runs.some((r) => r.sideCpuUsPerReq !== undefined) ? { sideCpuUsPerReq: Math.min(...runs.map((r) => r.sideCpuUsPerReq ?? Number.POSITIVE_INFINITY)) } : {})
  }
}

// Returns the baseline's row first, then one row per target, ratios against the baseline.
export async function interleave (baseline: Target, targets: readonly Target[], opts: CompareOptions): Promise<Row[]> {
  return await interleaveMatched([baseline], targets.map((t) => ({ ...t, base: 0 })), opts)
}

// Several baselines (e.g. one per body size), each target compared with its
// own (`base`: an index into baselines). Every round runs every baseline and
// every target once. Returns the baselines' rows, then the targets'.
export async function interleaveMatched (baselines: readonly Target[], targets: ReadonlyArray<Target & { base: number }>, opts: CompareOptions): Promise<Row[]> {
  const all: readonly Target[] = [...baselines, ...targets]
  const runs = all.map((): LoadResult[] => [])
  const once = async (t: Target, durationSec: number): Promise<LoadResult> =>
    await load(t.url, { connections: t.connections ?? CONNECTIONS, durationSec, pids: t.pids, expectStatus: t.expectStatus, sidePids: t.sidePids })
  if (opts.warmupSec > 0) for (const t of all) await once(t, opts.warmupSec)
  for (let round = 0; round < Math.max(1, opts.rounds); round++) {
    for (const [i, t] of all.entries()) runs[i]?.push(await once(t, opts.durationSec))
  }
  const best = runs.map((r) => bestOf(r))
  const rowOf = (t: Target, i: number, base: number): Row => {
    const b = best[i] ?? bestOf([])
    return { ...toRow(t.scenario, t.workers, b, best[base] ?? null), cpuUsPerReqMax: b.cpuUsPerReqMax, rounds: runs[i]?.length ?? 0 }
  }
  return [
    ...baselines.map((t, i) => rowOf(t, i, i)),
    ...targets.map((t, j) => rowOf(t, baselines.length + j, t.base))
  ]
}
