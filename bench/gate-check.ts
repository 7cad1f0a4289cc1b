// The gate's decision, pure: a bench report (what bench/run.ts measured, or a
// recorded one) against bench/thresholds.json. A threshold whose metric was not
// measured fails (a gate that silently skips is no gate), and so does a run in
// which a scenario failed. bench/gate.ts and bench/gate.test.ts both call judge().
import { readFileSync } from 'node:fs'
import { meets } from './metric.ts'
import type { Metric, Op } from './metric.ts'
import type { Report } from './report.ts'

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

export interface Verdict { checks: Check[], failures: string[], pass: boolean, text: string }

// bench/run.ts records each scenario that threw as a note "FAILED <name>: <message>".
const FAILED_NOTE = 'FAILED '

export function judge (report: Pick<Report, 'metrics' | 'notes'>, thresholds: readonly Threshold[]): Verdict {
  const checks = checkThresholds(report.metrics, thresholds)
  const failures = report.notes.filter((n) => n.startsWith(FAILED_NOTE)).map((n) => n.slice(FAILED_NOTE.length))
  const failed = checks.filter((c) => !c.pass).length
  const pass = failed === 0 && failures.length === 0
  const text = formatChecks(checks) + failures.map((f) => `scenario failed: ${f}\n`).join('') +
    `\ngate ${pass ? 'passed' : 'FAILED'}: ${checks.length - failed}/${checks.length} checks${failures.length > 0 ? `, ${failures.length} scenario(s) failed` : ''}\n`
  return { checks, failures, pass, text }
}

function isTarget (x: unknown): boolean {
  if (x === null) return true
  if (typeof x !== 'object') return false
  const { op, value } = x as Record<string, unknown>
  return isOp(op) && typeof value === 'number'
}

// A report as bench/run.ts writes it (bench/results/latest.json), checked as far
// as the gate reads it: its metrics and notes.
export function parseReport (json: unknown): Report {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TypeError('a bench report must be a JSON object')
  const r = json as Record<string, unknown>
  if (!Array.isArray(r.metrics)) throw new TypeError('a bench report must hold metrics: [ … ]')
  if (!Array.isArray(r.rows)) throw new TypeError('a bench report must hold rows: [ … ]')
  if (!Array.isArray(r.notes) || !r.notes.every((n) => typeof n === 'string')) throw new TypeError('a bench report must hold notes: [ "…" ]')
  r.metrics.forEach((m: unknown, i) => {
    const { id, value, unit, target, note } = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>
    if (typeof id !== 'string' || id === '') throw new TypeError(`metrics[${i}].id must be a metric id`)
    // JSON has no NaN or Infinity: a value that was not a finite number is written as null
    if (typeof value !== 'number' && value !== null) throw new TypeError(`metrics[${i}].value must be a number`)
    if (typeof unit !== 'string' || typeof note !== 'string' || !isTarget(target)) throw new TypeError(`metrics[${i}] must have a unit, a note and a target (or null)`)
  })
  return { date: String(r.date), node: String(r.node), cpus: Number(r.cpus), durationSec: Number(r.durationSec), rows: r.rows as Report['rows'], metrics: (r.metrics as Metric[]).map((m) => ({ ...m, value: m.value ?? Number.NaN })), notes: r.notes as string[] }
}

export function loadReport (file: string): Report {
  return parseReport(JSON.parse(readFileSync(file, 'utf8')))
}
