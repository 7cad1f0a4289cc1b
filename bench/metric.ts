// What scenarios produce: load rows (one autocannon run each) and named
// metrics, optionally with the target the issue sets for them.
import type { LoadResult } from './lib.ts'

export interface Row extends LoadResult {
  scenario: string
  // 'raw': the raw uWS baseline; 'direct': a file straight from its origin; 'nginx': nginx proxy_pass (the proxy's baseline)
  workers: number | 'raw' | 'direct' | 'nginx'
  // server CPU µs/request ÷ the raw uWS baseline's, and req/s ÷ the baseline's
  ratioCpu: number | null
  ratioRps: number | null
  // false: a fixed-size burst, whose req/s is not a throughput (left off the chart)
  chart: boolean
  // interleaved rounds behind the row; cpuUsPerReq is the best, this the worst
  rounds: number
  cpuUsPerReqMax: number
}

export type Op = '>=' | '<=' | '=='

export interface Target { op: Op, value: number }

export interface Metric {
  // scenario.name, stable: thresholds.json refers to it
  id: string
  value: number
  unit: string
  target: Target | null
  note: string
}

export function meets (value: number, target: Target): boolean {
  if (!Number.isFinite(value)) return false
  if (target.op === '>=') return value >= target.value
  if (target.op === '<=') return value <= target.value
  return value === target.value
}

export function toRow (scenario: string, workers: Row['workers'], r: LoadResult, baseline: LoadResult | null, chart = true): Row {
  const ratio = (a: number, b: number | undefined): number | null => b === undefined || b <= 0 ? null : a / b
  return {
    scenario,
    workers,
    ...r,
    ratioCpu: ratio(r.cpuUsPerReq, baseline?.cpuUsPerReq),
    ratioRps: ratio(r.rps, baseline?.rps),
    chart,
    rounds: 1,
    cpuUsPerReqMax: r.cpuUsPerReq
  }
}

export function metric (id: string, value: number, unit: string, target: Target | null = null, note = ''): Metric {
  return { id, value, unit, target, note }
}

// Errors and non-2xx over every row: the gate wants both at 0.
export function errorMetrics (rows: readonly Row[]): Metric[] {
  const served = rows.filter((r) => typeof r.workers === 'number')
  return [
    metric('all.errors', served.reduce((n, r) => n + r.errors, 0), 'count', { op: '==', value: 0 }),
    metric('all.non2xx', served.reduce((n, r) => n + r.non2xx, 0), 'count', { op: '==', value: 0 })
  ]
}
