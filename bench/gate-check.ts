// The gate's comparison, pure: measured metrics against bench/thresholds.json.
// A threshold whose metric was not measured fails (a gate that silently skips
// is no gate).
import { readFileSync } from 'node:fs'
import { meets } from './metric.ts'
import type { Metric, Op } from './metric.ts'

export interface Threshold { metric: string, op: Op, value: number, why: string }

export interface Check { metric: string, value: number | null, op: Op, threshold: number, pass: boolean }

function isOp (x: unknown): x is Op {
  return x === '>=' || x === '<=' || x === '=='
}

export function parseThresholds (json: unknown): Threshold[] {
  const list = typeof json === 'object' && json !== null && 'thresholds' in json ? json.thresholds : null
  if (!Array.isArray(list)) throw new TypeError('thresholds.json must hold { "thresholds": [ … ] }')
  return list.map((t: unknown, i): Threshold => {
    if (typeof t !== 'object' || t === null) throw new TypeError(`thresholds[${i}] must be an object`)
    const { metric, op, value, why } = t as Record<string, unknown>
    if (typeof metric !== 'string' || metric === '') throw new TypeError(`thresholds[${i}].metric must be a metric id`)
    if (!isOp(op)) throw new TypeError(`thresholds[${i}].op must be >=, <= or ==`)
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`thresholds[${i}].value must be a number`)
    return { metric, op, value, why: typeof why === 'string' ? why : '' }
  })
}

export function loadThresholds (file: string): Threshold[] {
  return parseThresholds(JSON.parse(readFileSync(file, 'utf8')))
}

export function checkThresholds (metrics: readonly Metric[], thresholds: readonly Threshold[]): Check[] {
  const byId = new Map(metrics.map((m) => [m.id, m.value]))
  return thresholds.map((t) => {
    const value = byId.get(t.metric) ?? null
    return { metric: t.metric, value, op: t.op, threshold: t.value, pass: value !== null && meets(value, { op: t.op, value: t.value }) }
  })
}

export function formatChecks (checks: readonly Check[]): string {
  const rows = checks.map((c) => [c.metric, c.value === null ? 'not measured' : String(Number(c.value.toFixed(2))), `${c.op} ${c.threshold}`, c.pass ? 'pass' : 'FAIL'])
  const header = ['metric', 'value', 'threshold', 'result']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n'
}
