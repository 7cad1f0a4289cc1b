// npm run bench:gate: the `gate: true` scenarios, shortened (1 worker, fewer
// samples; a few minutes), judged against bench/thresholds.json. Exits 1
// when any check fails or a scenario failed. BENCH_GATE_DURATION (s per load
// phase, default 2).
// `node dist/bench/gate.js --report=<file>` judges a recorded report instead
// (bench/results/latest.json, or bench/fixtures/gate-report.json), measuring
// nothing: the same judgement, on numbers that do not move.
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { positive, runScenarios, selectScenarios } from './run.ts'
import { judge, loadReport, loadThresholds } from './gate-check.ts'
import { ROOT } from './servers.ts'
import { summary } from './report.ts'
import type { Report } from './report.ts'

const REPORT_FLAG = '--report='

async function measure (): Promise<Report> {
  const { report } = await runScenarios({
    durationSec: positive('BENCH_GATE_DURATION', 2),
    warmupSec: 0.5,
    rounds: 3,
    quick: true,
    scenarios: selectScenarios(undefined, true)
  })
  return report
}

async function main (): Promise<void> {
  const started = Date.now()
  const thresholds = loadThresholds(join(ROOT, 'bench/thresholds.json'))
  const recorded = process.argv.slice(2).find((a) => a.startsWith(REPORT_FLAG))?.slice(REPORT_FLAG.length)
  const report = recorded === undefined ? await measure() : loadReport(resolve(recorded))
  const verdict = judge(report, thresholds)
  process.stdout.write(summary(report))
  process.stdout.write(`\n${verdict.text}`)
  process.stdout.write(recorded === undefined ? `measured in ${((Date.now() - started) / 1000).toFixed(0)} s\n` : `judged the recorded report ${recorded} (${report.date})\n`)
  if (!verdict.pass) process.exitCode = 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.once('SIGINT', () => process.exit(130))
  process.once('SIGTERM', () => process.exit(143))
  main().catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1) })
}
