// The gate must be able to fail, and its test must not depend on timing: it
// judges recorded measurements (bench/fixtures/gate-report.json, a report in the
// shape bench/run.ts writes) against the committed bench/thresholds.json, with
// the same judge() that `npm run bench:gate` applies to what it measures, and
// runs bench/gate.js itself on recorded reports. Nothing here starts a server or
// a load run: timing lives in `npm run bench` and `npm run bench:gate`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkThresholds, formatChecks, judge, loadReport, loadThresholds, parseReport, parseThresholds } from './gate-check.ts'
import { ROOT } from './servers.ts'
import type { Threshold } from './gate-check.ts'
import type { Report } from './report.ts'

const THRESHOLDS = loadThresholds(join(ROOT, 'bench/thresholds.json'))
const FIXTURE = join(ROOT, 'bench/fixtures/gate-report.json')
const GATE_JS = join(ROOT, 'dist/bench/gate.js')

const recorded = (): Report => loadReport(FIXTURE)

function withValue (report: Report, id: string, value: number): Report {
  assert.ok(report.metrics.some((m) => m.id === id), `the fixture records ${id}`)
  return { ...report, metrics: report.metrics.map((m) => (m.id === id ? { ...m, value } : m)) }
}

// A value on the wrong side of the threshold, by a clear margin.
function beyond (t: Threshold): number {
  if (t.op === '>=') return t.value * 0.8 - 0.01
  if (t.op === '<=') return t.value * 1.25 + 0.01
  return t.value + 1
}

function failedMetrics (report: Report): string[] {
  return judge(report, THRESHOLDS).checks.filter((c) => !c.pass).map((c) => c.metric)
}

test('the recorded report passes every committed threshold', () => {
  const verdict = judge(recorded(), THRESHOLDS)
  assert.equal(verdict.checks.length, THRESHOLDS.length)
  assert.deepEqual(verdict.checks.filter((c) => !c.pass), [])
  assert.deepEqual(verdict.failures, [])
  assert.equal(verdict.pass, true)
  assert.match(verdict.text, new RegExp(`gate passed: ${THRESHOLDS.length}/${THRESHOLDS.length} checks`))
})

test('the issue\'s cold-extraction bar is gated: warm p50 at most 1/10 of one yt-dlp -J', () => {
  const t = THRESHOLDS.find((x) => x.metric === 'cold.warm_vs_oneshot')
  assert.deepEqual(t === undefined ? null : { op: t.op, value: t.value }, { op: '>=', value: 10 })
  // just at the bar passes, just under it fails
  assert.deepEqual(failedMetrics(withValue(recorded(), 'cold.warm_vs_oneshot', 10)), [])
  assert.deepEqual(failedMetrics(withValue(recorded(), 'cold.warm_vs_oneshot', 9.9)), ['cold.warm_vs_oneshot'])
  // a server whose warm processes never start: its "warm" p50 is a one-shot's
  assert.equal(judge(withValue(recorded(), 'cold.warm_vs_oneshot', 1.05), THRESHOLDS).pass, false)
})

test('each threshold fails a report on the wrong side of it, and only its own check', () => {
  for (const t of THRESHOLDS) {
    const report = withValue(recorded(), t.metric, beyond(t))
    assert.deepEqual(failedMetrics(report), [t.metric], `${t.metric}=${beyond(t)}`)
    assert.equal(judge(report, THRESHOLDS).pass, false)
  }
  // the regressions the floors were set against
  const cases: Array<[string, number]> = [
    ['hot.cpu_ratio_max', 3.6],
    ['cached_l1.rps_ratio', 0.1],
    // cached info served through hyper-express instead of the fast lane
    ['cached_l1.cpu_ratio', 3.8],
    ['cold.warm_speedup', 3],
    // the byte proxy on undici's bodies (a Buffer per read, a GC per ~64 MB) against the same nginx
    ['proxy.cpu_vs_nginx', 4.9],
    ['all.errors', 1],
    ['all.non2xx', 12]
  ]
  for (const [id, value] of cases) assert.deepEqual(failedMetrics(withValue(recorded(), id, value)), [id], `${id}=${value}`)
  // a value that is not a number (a ratio over zero requests) never passes
  assert.deepEqual(failedMetrics(withValue(recorded(), 'cached_l1.rps_ratio', Number.NaN)), ['cached_l1.rps_ratio'])
})

test('a report without a scenario fails: its thresholds were not measured', () => {
  const full = recorded()
  const report = { ...full, metrics: full.metrics.filter((m) => !m.id.startsWith('cold.')), rows: full.rows.filter((r) => !r.scenario.startsWith('cold-')) }
  const verdict = judge(report, THRESHOLDS)
  assert.equal(verdict.pass, false)
  assert.deepEqual(verdict.checks.filter((c) => !c.pass).map((c) => c.metric).sort(), THRESHOLDS.filter((t) => t.metric.startsWith('cold.')).map((t) => t.metric).sort())
  assert.match(formatChecks(verdict.checks), /cold\.warm_vs_oneshot\s+not measured\s+>= 10\s+FAIL/)
  assert.match(verdict.text, /gate FAILED/)
})

test('a scenario that failed fails the gate even when every recorded metric passes', () => {
  const full = recorded()
  const verdict = judge({ ...full, notes: [...full.notes, 'FAILED cold-extraction: cluster not ready in time'] }, THRESHOLDS)
  assert.deepEqual(verdict.checks.filter((c) => !c.pass), [])
  assert.deepEqual(verdict.failures, ['cold-extraction: cluster not ready in time'])
  assert.equal(verdict.pass, false)
  assert.match(verdict.text, /scenario failed: cold-extraction: cluster not ready in time/)
})

async function runGate (reportFile: string): Promise<{ code: number, out: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [GATE_JS, `--report=${reportFile}`], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, out: `${stdout}${stderr}` })
    })
  })
}

test('npm run bench:gate\'s entry judges a recorded report the same way: exit 0, then exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-gate-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const good = await runGate(FIXTURE)
  assert.equal(good.code, 0, good.out)
  assert.match(good.out, /gate passed/)
  const slow = join(dir, 'below-floor.json')
  writeFileSync(slow, JSON.stringify(withValue(recorded(), 'hot.cpu_ratio_max', 3.6)))
  const bad = await runGate(slow)
  assert.equal(bad.code, 1, bad.out)
  assert.match(bad.out, /hot\.cpu_ratio_max\s+3\.6\s+<= 2\.8\s+FAIL/)
  assert.match(bad.out, /gate FAILED/)
  const missing = join(dir, 'no-cold.json')
  const full = recorded()
  writeFileSync(missing, JSON.stringify({ ...full, metrics: full.metrics.filter((m) => !m.id.startsWith('cold.')) }))
  const none = await runGate(missing)
  assert.equal(none.code, 1, none.out)
  assert.match(none.out, /cold\.warm_speedup\s+not measured/)
})

test('thresholds.json and report files are validated', () => {
  assert.throws(() => parseThresholds({}), /thresholds/)
  assert.throws(() => parseThresholds({ thresholds: [{ metric: 'x', op: '>', value: 1 }] }), /op/)
  assert.throws(() => parseThresholds({ thresholds: [{ metric: 'x', op: '>=', value: 'fast' }] }), /value/)
  assert.throws(() => parseReport([]), /JSON object/)
  assert.throws(() => parseReport({ rows: [], notes: [] }), /metrics/)
  assert.throws(() => parseReport({ metrics: [{ id: 'x', value: '1', unit: '×', target: null, note: '' }], rows: [], notes: [] }), /value/)
  assert.throws(() => parseReport({ metrics: [], rows: [], notes: [3] }), /notes/)
  // a value JSON could not hold (NaN is written as null) reads back as not a number
  const report = parseReport({ metrics: [{ id: 'cold.warm_vs_oneshot', value: null, unit: '×', target: null, note: '' }], rows: [], notes: [] })
  const check = checkThresholds(report.metrics, THRESHOLDS).find((c) => c.metric === 'cold.warm_vs_oneshot')
  assert.equal(check?.pass, false)
})
