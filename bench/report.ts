// Writes bench results as JSON, a Markdown table and an SVG bar chart, under
// fixed file names so a committed result diffs cleanly against the next one.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { meets } from './metric.ts'
import type { Metric, Row } from './metric.ts'

export interface Report {
  date: string
  node: string
  cpus: number
  durationSec: number
  rows: Row[]
  metrics: Metric[]
  notes: string[]
}

const f = (n: number, d = 1): string => n.toFixed(d)
const ratio = (x: number | null): string => x === null ? '-' : `${f(x, 2)}×`
const workersLabel = (w: Row['workers']): string => w === 'raw' ? 'raw uWS' : w === 'direct' ? 'origin' : w === 'nginx' ? 'nginx' : `${w}w`

export function formatValue (m: Metric): string {
  const digits = Number.isInteger(m.value) ? 0 : m.unit === 'ms' ? 1 : 2
  return `${f(m.value, digits)}${m.unit === '×' ? '×' : m.unit === 'count' ? '' : ` ${m.unit}`}`
}

export function status (m: Metric): string {
  if (m.target === null) return 'report'
  return meets(m.value, m.target) ? 'met' : 'NOT MET'
}

export function toMarkdown (r: Report): string {
  const lines = [
    `Run ${r.date} on Node ${r.node}, ${r.cpus} CPUs, ${r.durationSec} s per load phase.`,
    '',
    '| scenario | workers | rounds | req/s | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | server CPU µs/req (best, worst) | req/s per core (10⁶ ÷ best µs) | CPU vs raw uWS | req/s vs raw uWS |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const row of r.rows) {
    const cpu = row.rounds > 1 ? `${f(row.cpuUsPerReq, 2)}, ${f(row.cpuUsPerReqMax, 2)}` : f(row.cpuUsPerReq, 2)
    lines.push(`| ${row.scenario} | ${workersLabel(row.workers)} | ${row.rounds} | ${f(row.rps, 0)} | ${row.p50} | ${row.p975} | ${row.p99} | ${row.errors} | ${row.non2xx} | ${cpu} | ${row.cpuUsPerReq > 0 ? f(1e6 / row.cpuUsPerReq, 0) : '-'} | ${ratio(row.ratioCpu)} | ${ratio(row.ratioRps)} |`)
  }
  lines.push('', '| metric | value | target | status | note |', '|---|---|---|---|---|')
  for (const m of r.metrics) {
    const target = m.target === null ? '-' : `${m.target.op} ${m.target.value}`
    lines.push(`| ${m.id} | ${formatValue(m)} | ${target} | ${status(m)} | ${m.note} |`)
  }
  if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`))
  return lines.join('\n') + '\n'
}

export function toSvg (r: Report): string {
  const rows = r.rows.filter((x) => x.chart)
  const max = Math.max(1, ...rows.map((x) => x.rps))
  const barH = 20
  const width = 800
  const left = 250
  const height = rows.length * (barH + 6) + 50
  const color = (w: Row['workers']): string => typeof w !== 'number' ? '#999999' : w === 1 ? '#3a7bd5' : '#2e9e6a'
  const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
  const bars = rows.map((row, i) => {
    const y = 30 + i * (barH + 6)
    const w = Math.max(1, Math.round(((width - left - 100) * row.rps) / max))
    return `<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12">${esc(typeof row.workers !== 'number' ? row.scenario : `${row.scenario} (${workersLabel(row.workers)})`)}</text>` +
      `<rect x="${left}" y="${y}" width="${w}" height="${barH}" fill="${color(row.workers)}"/>` +
      `<text x="${left + w + 6}" y="${y + 14}" font-size="12">${f(row.rps, 0)} req/s</text>`
  }).join('\n')
  const legend = `<text x="10" y="${height - 10}" font-size="11" fill="#555">grey: raw uWebSockets.js baseline (core 0); blue: 1 worker (core 0); green: ${r.cpus} workers (all cores, shared with the load generator)</text>`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<text x="10" y="18" font-size="14">vidgate bench: requests per second by scenario and worker count</text>\n${bars}\n${legend}\n</svg>\n`
}

export function writeReport (dir: string, r: Report): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(r, null, 2) + '\n')
  writeFileSync(join(dir, 'latest.md'), toMarkdown(r))
  writeFileSync(join(dir, 'chart.svg'), toSvg(r))
}

// A few lines for the terminal: every row's rate and ratios, every metric.
export function summary (r: Report): string {
  const out = r.rows.map((row) => `${`${row.scenario} ${workersLabel(row.workers)}`.padEnd(40)} ${f(row.rps, 0).padStart(7)} req/s  p99 ${String(row.p99).padStart(5)} ms  CPU ${f(row.cpuUsPerReq, 1).padStart(6)} µs/req  ${ratio(row.ratioCpu).padStart(6)} CPU  ${ratio(row.ratioRps).padStart(6)} rate  err ${row.errors} non2xx ${row.non2xx}`)
  out.push('')
  for (const m of r.metrics) out.push(`${m.id.padEnd(36)} ${formatValue(m).padStart(12)}  ${m.target === null ? '' : `${m.target.op} ${m.target.value}`.padEnd(8)} ${status(m)}`)
  return out.join('\n') + '\n'
}
