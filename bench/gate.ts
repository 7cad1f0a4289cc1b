// npm run bench:gate: the `gate: true` scenarios, shortened (1 worker, fewer
// samples; about a minute), checked against bench/thresholds.json. Exits 1
// when any check fails. BENCH_GATE_DURATION (s per load phase, default 2).
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { positive, runScenarios, selectScenarios } from './run.ts'
import { checkThresholds, formatChecks, loadThresholds } from './gate-check.ts'
import { ROOT } from './servers.ts'
import { summary } from './report.ts'

async function main (): Promise<void> {
  const started = Date.now()
  const thresholds = loadThresholds(join(ROOT, 'bench/thresholds.json'))
  const { report, failures } = await runScenarios({
    durationSec: positive('BENCH_GATE_DURATION', 2),
    warmupSec: 0.5,
    rounds: 3,
    quick: true,
    scenarios: selectScenarios(undefined, true)
  })
  const checks = checkThresholds(report.metrics, thresholds)
  process.stdout.write(summary(report))
  process.stdout.write(`\n${formatChecks(checks)}`)
  for (const f of failures) process.stdout.write(`scenario failed: ${f}\n`)
  const failed = checks.filter((c) => !c.pass).length
  process.stdout.write(`\ngate ${failed === 0 && failures.length === 0 ? 'passed' : 'FAILED'}: ${checks.length - failed}/${checks.length} checks in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  if (failed > 0 || failures.length > 0) process.exitCode = 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.once('SIGINT', () => process.exit(130))
  process.once('SIGTERM', () => process.exit(143))
  main().catch((err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1) })
}
