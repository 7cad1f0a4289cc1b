// npm run bench: the raw uWebSockets.js baseline and the real cluster, in one
// run, compared by server CPU time per request (read from /proc). The load
// generator is pinned to the last core and the single-worker server to core 0,
// so that autocannon's own ceiling does not hide server cost.
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startNode, processTree, load, hasTaskset } from './lib.ts'
import { HOT_SCENARIOS, BENCH_ENV } from './scenarios.ts'
import { writeReport } from './report.ts'
import type { Row, Report } from './report.ts'

const root = join(fileURLToPath(import.meta.url), '../../..')
const durationSec = Number(process.env.BENCH_DURATION ?? '5')
const cpus = availableParallelism()

function pinSelf (): void {
  if (!hasTaskset() || cpus < 2) return
  try { execFileSync('taskset', ['-a', '-cp', String(cpus - 1), String(process.pid)], { stdio: 'ignore' }) } catch {}
}

export async function measureBaseline (path: string): Promise<Row> {
  const port = await freePort()
  const raw = await startNode([join(root, 'dist/bench/raw-uws.js'), String(port)], { cpus: '0', ready: /ready/ })
  try {
    const r = await load(`http://127.0.0.1:${port}${path}`, { connections: 50, durationSec, warmupSec: 1, pids: () => processTree(raw.child.pid ?? 0) })
    return { scenario: 'raw-uws', workers: 'raw', ratioCpu: 1, ...r }
  } finally { await raw.stop() }
}

export async function measureCluster (workers: number, paths: ReadonlyArray<{ name: string, path: string, connections: number }>, baseline: number, extraEnv: Record<string, string> = {}): Promise<Row[]> {
  const port = await freePort()
  const server = await startNode([join(root, 'dist/src/main.js'), `--workers=${workers}`, `--port=${port}`, '--host=127.0.0.1'], {
    cpus: workers === 1 ? '0' : undefined,
    env: { ...BENCH_ENV, ...extraEnv },
    ready: /"msg":"ready"/
  })
  const rows: Row[] = []
  try {
    for (const s of paths) {
      const r = await load(`http://127.0.0.1:${port}${s.path}`, { connections: s.connections, durationSec, warmupSec: 1, pids: () => processTree(server.child.pid ?? 0) })
      rows.push({ scenario: s.name, workers, ratioCpu: baseline > 0 ? r.cpuUsPerReq / baseline : null, ...r })
    }
  } finally { await server.stop() }
  return rows
}

async function main (): Promise<void> {
  pinSelf()
  const baseline = await measureBaseline('/')
  const rows: Row[] = [baseline]
  rows.push(...await measureCluster(1, HOT_SCENARIOS, baseline.cpuUsPerReq))
  if (cpus > 1) rows.push(...await measureCluster(cpus, HOT_SCENARIOS, baseline.cpuUsPerReq))
  const report: Report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus,
    baselineCpuUsPerReq: baseline.cpuUsPerReq,
    rows,
    notes: [
      'CPU µs/req = utime+stime of the server process tree (/proc) during the run ÷ requests served.',
      '1-worker rows: server pinned to core 0, autocannon to the last core; N-worker rows share the cores with autocannon, so their req/s is capped by the load generator.',
      `Per-core rate implied by CPU cost: raw ${(1e6 / baseline.cpuUsPerReq).toFixed(0)} req/s per core.`
    ]
  }
  writeReport(join(root, 'bench/results'), report)
  process.stdout.write(`${JSON.stringify(report.rows.map((r) => ({ scenario: r.scenario, workers: r.workers, rps: Math.round(r.rps), cpuUsPerReq: Number(r.cpuUsPerReq.toFixed(2)), ratio: r.ratioCpu === null ? null : Number(r.ratioCpu.toFixed(2)), errors: r.errors, non2xx: r.non2xx })), null, 1)}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exit(1) })
}
