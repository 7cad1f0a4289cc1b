// The gate must be able to fail. Unit: the comparison against the committed
// thresholds with recorded numbers. Real: the raw baseline, the real server and
// bench/slow-server.ts (the same routes plus a busy-wait about as long as a
// request's own cost, i.e. 2× slower), interleaved on core 0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { checkThresholds, formatChecks, loadThresholds, parseThresholds } from './gate-check.ts'
import { interleave } from './compare.ts'
import { hotMetrics } from './measure-hot.ts'
import { pinSelf } from './run.ts'
import { ROOT, startCluster, startRaw } from './servers.ts'
import { httpGet } from './lib.ts'
import { metric } from './metric.ts'
import type { Metric, Row } from './metric.ts'

const THRESHOLDS = loadThresholds(join(ROOT, 'bench/thresholds.json'))
const HOT = THRESHOLDS.filter((t) => t.metric === 'hot.cpu_ratio_max')
// about the health request's own CPU cost again (14–20 µs on the 2-core dev machine)
const SLOW_US = 25

// From `npm run bench:gate` on the 2-core dev machine.
function recorded (overrides: Record<string, number> = {}): Metric[] {
  const values: Record<string, number> = {
    'hot.cpu_ratio_max': 1.66,
    'cached_l1.rps_ratio': 0.9,
    'cached_l1.cpu_ratio': 1.45,
    'cold.warm_speedup': 46.75,
    'all.errors': 0,
    'all.non2xx': 0,
    ...overrides
  }
  return Object.entries(values).map(([id, value]) => metric(id, value, '×'))
}

test('a recorded normal run passes every committed threshold', () => {
  const checks = checkThresholds(recorded(), THRESHOLDS)
  assert.equal(checks.length, THRESHOLDS.length)
  assert.deepEqual(checks.filter((c) => !c.pass), [])
})

test('each regression fails its own check', () => {
  const cases: Array<[string, number]> = [
    ['hot.cpu_ratio_max', 3.6],
    ['cached_l1.rps_ratio', 0.1],
    // cached info served through hyper-express instead of the fast lane
    ['cached_l1.cpu_ratio', 3.8],
    ['cold.warm_speedup', 3],
    ['all.errors', 1],
    ['all.non2xx', 12]
  ]
  for (const [id, value] of cases) {
    const failed = checkThresholds(recorded({ [id]: value }), THRESHOLDS).filter((c) => !c.pass).map((c) => c.metric)
    assert.deepEqual(failed, [id], `${id}=${value}`)
  }
})

test('a threshold whose metric was not measured fails', () => {
  const checks = checkThresholds(recorded().filter((m) => m.id !== 'cold.warm_speedup'), THRESHOLDS)
  const missing = checks.find((c) => c.metric === 'cold.warm_speedup')
  assert.equal(missing?.pass, false)
  assert.match(formatChecks(checks), /cold\.warm_speedup\s+not measured\s+>= \d+\s+FAIL/)
})

test('thresholds.json is validated', () => {
  assert.throws(() => parseThresholds({}), /thresholds/)
  assert.throws(() => parseThresholds({ thresholds: [{ metric: 'x', op: '>', value: 1 }] }), /op/)
  assert.throws(() => parseThresholds({ thresholds: [{ metric: 'x', op: '>=', value: 'fast' }] }), /value/)
})

function health (rows: readonly Row[], scenario: string): Row {
  const row = rows.find((r) => r.scenario === scenario)
  assert.ok(row !== undefined, `no ${scenario} row`)
  return row
}

test('against a real server the gate passes it and fails a 2× slower one', { timeout: 60_000 }, async (t) => {
  pinSelf(availableParallelism())
  const raw = await startRaw(400)
  t.after(async () => await raw.stop())
  const normal = await startCluster({ workers: 1, pin: true })
  t.after(async () => await normal.stop())
  const slow = await startCluster({ workers: 1, pin: true, entry: join(ROOT, 'dist/bench/slow-server.js'), env: { BENCH_SLOW_US: String(SLOW_US) } })
  t.after(async () => await slow.stop())

  const path = '/api/v2/system/health'
  // the baseline sends no more header lines than uWS needs (no "uWebSockets: 20" mark, like hyper-express)
  const bare = await httpGet(`${raw.base}/`)
  assert.deepEqual(bare.headers.map(([k]) => k.toLowerCase()), ['content-type', 'date', 'content-length'])
  const rows = await interleave(
    { scenario: 'raw', workers: 'raw', url: `${raw.base}/`, pids: raw.pids },
    [
      { scenario: 'normal', workers: 1, url: `${normal.base}${path}`, pids: normal.pids },
      { scenario: 'slow', workers: 1, url: `${slow.base}${path}`, pids: slow.pids }
    ],
    { durationSec: 1, warmupSec: 0.5, rounds: 3 }
  )
  const normalChecks = checkThresholds(hotMetrics([health(rows, 'normal')]), HOT)
  const slowChecks = checkThresholds(hotMetrics([health(rows, 'slow')]), HOT)
  const report = `normal:\n${formatChecks(normalChecks)}slow (+${SLOW_US} µs/request):\n${formatChecks(slowChecks)}`
  for (const line of report.split('\n')) if (line !== '') t.diagnostic(line)
  assert.equal(slowChecks[0]?.pass, false, report)
  assert.equal(normalChecks[0]?.pass, true, report)
  assert.equal(rows.reduce((n, r) => n + r.errors + r.non2xx, 0), 0)
})
