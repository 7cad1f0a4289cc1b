// npm run bench: every scenario in bench/scenarios.ts against the raw
// uWebSockets.js baseline measured in the same run, compared by server CPU time
// per request (/proc) and by rate. The load generator is pinned to the last
// core and 1-worker servers to core 0, so autocannon's own cost stays apart.
// BENCH_DURATION (s per load phase, default 3), BENCH_ROUNDS (interleaved
// rounds against the baseline, default 3), BENCH_SCENARIOS (comma list),
// BENCH_STALL_BURSTS (cold bursts in loop-stall, default 3).
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pinSelf } from './lib.ts'
import { createContext } from './context.ts'
import { SCENARIOS } from './scenarios.ts'
import { errorMetrics } from './metric.ts'
import { ROOT } from './servers.ts'
import { summary, writeReport } from './report.ts'
import type { Scenario } from './scenarios.ts'
import type { Report } from './report.ts'
import type { Metric, Row } from './metric.ts'

export interface RunOptions { durationSec: number, warmupSec: number, rounds: number, quick: boolean, scenarios: readonly Scenario[] }
export interface RunOutcome { report: Report, failures: string[] }

export const NOTES: readonly string[] = [
  'Server CPU µs/req = utime+stime (plus reaped children) of the server process tree from /proc over the load phase ÷ requests served.',
  'Each comparison runs its own raw uWebSockets.js baseline (pinned to core 0, a JSON body of the same size: each hot endpoint’s own body size, the info body rounded to 100 B for the cached rows) interleaved with its targets, K rounds each: CPU µs/req is the best round (the next column the worst), req/s the best round, latencies the median round. Ratios are best ÷ best.',
  '1-worker rows: server pinned to core 0, autocannon to the last core. N-worker rows share every core with autocannon, so their req/s is capped by the load generator. autocannon runs without its worker threads: on the one core left to it they added no throughput (against raw uWS, 292k vs 297k and 400k vs 371k requests in 5 s, with and without).',
  'Rows marked not charted (single-flight, cold series) are fixed bursts or sequential series: their req/s is not a throughput.',
  'event_loop_delay_* come from monitorEventLoopDelay in each worker (EVENT_LOOP_RESOLUTION_MS=1 in the stall scenario), reset by every /api/v2/system/stats read: how late the monitor’s timer ran, i.e. the histogram value minus the interval it includes (src/loop-delay.ts).'
]

export function selectScenarios (names: string | undefined, gateOnly: boolean): Scenario[] {
  const wanted = names === undefined || names.trim() === '' ? null : new Set(names.split(',').map((x) => x.trim()))
  const unknown = wanted === null ? [] : [...wanted].filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  return SCENARIOS.filter((s) => (wanted === null ? !gateOnly || s.gate : wanted.has(s.name)))
}

export async function runScenarios (opts: RunOptions): Promise<RunOutcome> {
  const cpus = availableParallelism()
  pinSelf(cpus)
  const { ctx, close } = createContext({ durationSec: opts.durationSec, warmupSec: opts.warmupSec, rounds: opts.rounds, cpus, quick: opts.quick })
  const rows: Row[] = []
  const metrics: Metric[] = []
  const notes = [...NOTES]
  const failures: string[] = []
  try {
    for (const s of opts.scenarios) {
      const started = Date.now()
      try {
        const r = await s.run(ctx)
        rows.push(...r.rows)
        metrics.push(...r.metrics)
        notes.push(...(r.notes ?? []))
      } catch (err) {
        failures.push(`${s.name}: ${err instanceof Error ? err.message : String(err)}`)
      }
      ctx.log(`${s.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
  } finally {
    await close()
  }
  const report: Report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus,
    durationSec: opts.durationSec,
    rows,
    metrics: [...metrics, ...errorMetrics(rows)],
    notes: [...notes, ...failures.map((f) => `FAILED ${f}`)]
  }
  return { report, failures }
}

export function positive (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!(value > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

async function main (): Promise<void> {
  const durationSec = positive('BENCH_DURATION', 3)
  const rounds = Math.round(positive('BENCH_ROUNDS', 3))
  const started = Date.now()
  const { report, failures } = await runScenarios({ durationSec, warmupSec: 1, rounds, quick: false, scenarios: selectScenarios(process.env.BENCH_SCENARIOS, false) })
  writeReport(join(ROOT, 'bench/results'), report)
  process.stdout.write(summary(report))
  process.stdout.write(`\nwrote bench/results/latest.{json,md} and chart.svg in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  for (const f of failures) process.stderr.write(`scenario failed: ${f}\n`)
  if (failures.length > 0) process.exitCode = 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.once('SIGINT', () => process.exit(130))
  process.once('SIGTERM', () => process.exit(143))
  main().catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1) })
}
