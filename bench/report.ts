// Writes bench results as JSON, a Markdown table and an SVG bar chart.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LoadResult } from './lib.ts'

export interface Row extends LoadResult { scenario: string, workers: number | 'raw', ratioCpu: number | null }

export interface Report { date: string, node: string, cpus: number, baselineCpuUsPerReq: number, rows: Row[], notes: string[] }

const f = (n: number, d = 1): string => n.toFixed(d)

export function toMarkdown (r: Report): string {
  const lines = [
    `Run ${r.date} on Node ${r.node}, ${r.cpus} CPUs. Raw uWebSockets.js baseline: ${f(r.baselineCpuUsPerReq, 2)} µs CPU/request.`,
    '',
    '| scenario | workers | req/s | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | server CPU µs/req | CPU vs raw uWS |',
    '|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const row of r.rows) {
    lines.push(`| ${row.scenario} | ${row.workers} | ${f(row.rps, 0)} | ${row.p50} | ${row.p975} | ${row.p99} | ${row.errors} | ${row.non2xx} | ${f(row.cpuUsPerReq, 2)} | ${row.ratioCpu === null ? '-' : `${f(row.ratioCpu, 2)}×`} |`)
  }
  if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`))
  return lines.join('\n') + '\n'
}

export function toSvg (r: Report): string {
  const rows = r.rows
  const max = Math.max(1, ...rows.map((x) => x.rps))
  const barH = 22
  const width = 760
  const left = 230
  const height = rows.length * (barH + 8) + 40
  const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
  const bars = rows.map((row, i) => {
    const y = 30 + i * (barH + 8)
    const w = Math.max(1, Math.round(((width - left - 90) * row.rps) / max))
    const label = `${row.scenario} (${row.workers === 'raw' ? 'raw uWS' : `${row.workers}w`})`
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(label)}</text>` +
      `<rect x="${left}" y="${y}" width="${w}" height="${barH}" fill="${row.workers === 'raw' ? '#999' : '#3a7bd5'}"/>` +
      `<text x="${left + w + 6}" y="${y + 15}" font-size="12">${f(row.rps, 0)} req/s</text>`
  }).join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<text x="10" y="18" font-size="14">vidgate bench: requests per second by scenario and worker count</text>\n${bars}\n</svg>\n`
}

export function writeReport (dir: string, r: Report): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(r, null, 2) + '\n')
  writeFileSync(join(dir, 'latest.md'), toMarkdown(r))
  writeFileSync(join(dir, 'chart.svg'), toSvg(r))
}
