// The compiled entry as operators run it: primary + 2 workers on a free port.
// Restart after a crash, aggregated stats and metrics, SIGTERM drain with a
// request in flight, SIGHUP rolling reload under load, config errors, crash loops.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { startCluster, json, sleep } from '../testing/helpers.ts'
import { until } from '../testing/helpers.ts'

const QUIET = { RATE_LIMIT_ENABLED: 'false' }
const COOKIES = Array.from({ length: 50 }, (_, i) => `.youtube.com\tTRUE\t/\tTRUE\t1893456000\tC${i}\t${'v'.repeat(40)}`).join('\n')

// The waits' bounds are generous on purpose: under load (CI, 2 cores) a roll or a fork can take many seconds.

// Fresh connections (no keep-alive), so the kernel spreads them over the workers.
async function fresh (url: string): Promise<Response> {
  return await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) })
}

async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    sock.once('connect', () => { sock.destroy(); resolve(false) })
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

test('two workers: health, stats and metrics cover both; a killed worker is replaced at once', async (t) => {
  const c = await startCluster({ workers: 2, env: QUIET })
  t.after(c.stop)
  const pids = c.workerPids()
  assert.equal(pids.length, 2)
  for (const pid of pids) assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--no-memory-reducer'), `worker ${pid} runs without V8's memory reducer`)

  const health = await json(`${c.url}/api/v2/system/health`)
  assert.equal(health.res.status, 200)
  assert.deepEqual((health.body.checks as Record<string, unknown>).workers, { status: 'ok', alive: 2, expected: 2 })
  assert.equal((await fresh(`${c.url}/`)).status, 200)

  const N = 30
  for (let i = 0; i < N; i++) assert.equal((await fresh(`${c.url}/api/v2/auth/status`)).status, 200)
  const stats = await json(`${c.url}/api/v2/system/stats`)
  const per = stats.body.per_worker as Array<{ pid: number, requests: number }>
  assert.deepEqual(per.map((w) => w.pid), pids)
  assert.ok(per.every((w) => w.requests > 0), `both workers served requests: ${JSON.stringify(per)}`)
  assert.deepEqual(stats.body.workers, { alive: 2, expected: 2, restarts: 0 })
  const metrics = await (await fresh(`${c.url}/metrics`)).text()
  assert.match(metrics, new RegExp(`vidgate_http_requests_total\\{route="/api/v2/auth/status",method="GET",status="200"\\} ${N}\\n`), 'the count is the sum over both workers')

  // The primary forks the replacement at once; the new worker then needs a cold
  // start (~1-1.5 s on an idle 2-core machine, more while other suites run).
  const victim = pids[0] ?? 0
  const killedAt = Date.now()
  process.kill(victim, 'SIGKILL')
  await until('the replacement process', 20_000, async () => c.workerPids().some((p) => !pids.includes(p)) ? true : undefined)
  const forkedMs = Date.now() - killedAt
  const replaced = await until('a replacement worker', 30_000, async () => {
    const now = c.workerPids()
    if (now.length !== 2 || now.includes(victim)) return undefined
    const h = await json(`${c.url}/api/v2/system/health`)
    const w = (h.body.checks as Record<string, { alive: number }>).workers
    return w?.alive === 2 ? now : undefined
  })
  t.diagnostic(`replacement forked after ${forkedMs} ms, serving after ${Date.now() - killedAt} ms`)
  const newPid = replaced.find((p) => !pids.includes(p)) ?? 0
  const after = await json(`${c.url}/api/v2/system/stats`)
  assert.ok((after.body.per_worker as Array<{ pid: number }>).some((w) => w.pid === newPid), 'the new worker answers collects')
  assert.equal((after.body.workers as { restarts: number }).restarts, 1)
  for (let i = 0; i < 20; i++) assert.equal((await fresh(`${c.url}/`)).status, 200)
  const last = await json(`${c.url}/api/v2/system/stats`)
  const mine = (last.body.per_worker as Array<{ pid: number, requests: number }>).find((w) => w.pid === newPid)
  assert.ok(mine !== undefined && mine.requests > 0, 'the new worker serves requests')
})

test('SIGTERM: the in-flight request completes, new connections are refused, exit 0', async (t) => {
  const c = await startCluster({ workers: 2, env: { ...QUIET, SHUTDOWN_TIMEOUT: '5' } })
  t.after(c.stop)
  const sock = connect(c.port, '127.0.0.1')
  t.after(() => sock.destroy())
  let response = ''
  sock.on('data', (d: Buffer) => { response += d.toString() })
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()))
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
  // An admin upload (allowed from loopback) whose body trickles in: in flight until we finish it.
  const half = Math.floor(COOKIES.length / 2)
  sock.write(`PUT /api/v2/auth/cookies/youtube HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: ${COOKIES.length}\r\n\r\n${COOKIES.slice(0, half)}`)
  await sleep(300)
  c.child.kill('SIGTERM')
  await until('the listen sockets to close', 20_000, async () => await refused(c.port) ? true : undefined)
  await sleep(300)
  assert.equal(c.child.exitCode, null, 'the primary waits for the in-flight request')
  sock.write(COOKIES.slice(half))
  await closed
  assert.match(response, /^HTTP\/1\.1 200 /, response.slice(0, 200))
  assert.match(response, /"cookie_count":50/)
  const { code, signal } = await c.exited
  assert.equal(signal, null)
  assert.equal(code, 0)
  assert.match(c.output(), /"msg":"stopped"/)
})

test('SIGHUP rolls the workers under load without a failed request', async (t) => {
  const c = await startCluster({ workers: 2, env: QUIET })
  t.after(c.stop)
  const before = c.workerPids()
  const run = autocannon({ url: `${c.url}/health`, connections: 10, duration: 6 })
  await sleep(1000)
  c.child.kill('SIGHUP')
  const result = await run
  await until('reload done', 60_000, async () => /"msg":"reload done"/.test(c.output()) ? true : undefined)
  const after = c.workerPids()
  t.diagnostic(`${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx, ${result.resets} resets; workers ${before.join(',')} → ${after.join(',')}`)
  assert.ok(result.requests.total > 1000, 'the load actually ran')
  assert.equal(result.errors, 0, 'connection errors during the reload')
  assert.equal(result.timeouts, 0)
  assert.equal(result.non2xx, 0)
  assert.equal(after.length, 2)
  assert.ok(after.every((p) => !before.includes(p)), 'every worker was replaced')
  const health = await json(`${c.url}/health`)
  assert.deepEqual((health.body.checks as Record<string, unknown>).workers, { status: 'ok', alive: 2, expected: 2 })
})

test('SIGKILL of a worker under load: only the requests in flight on it fail, and the worker is back', async (t) => {
  const c = await startCluster({ workers: 2, env: QUIET })
  t.after(c.stop)
  const before = c.workerPids()
  const connections = 10
  const run = autocannon({ url: `${c.url}/health`, connections, duration: 5 })
  await sleep(1500)
  const killedAt = Date.now()
  process.kill(before[0] ?? 0, 'SIGKILL')
  await until('the replacement process', 20_000, async () => c.workerPids().some((p) => !before.includes(p)) ? true : undefined)
  const forkedMs = Date.now() - killedAt
  const result = await run
  const failed = result.errors + result.timeouts + result.non2xx
  const total = result.requests.total + result.errors
  t.diagnostic(`${result.requests.total} requests, ${result.errors} errors, ${result.non2xx} non-2xx; replacement forked after ${forkedMs} ms`)
  assert.ok(result.requests.total > 1000, 'the load actually ran')
  // each connection has one request in flight at most (no pipelining); those on the killed worker
  // are lost with it, and every request after the kill succeeds (a ratio would depend on the load)
  assert.ok(failed <= connections, `${failed} of ${total} failed`)
  await until('two workers alive', 60_000, async () => {
    const h = await json(`${c.url}/api/v2/system/health`)
    return (h.body.checks as Record<string, { alive: number }>).workers?.alive === 2 ? true : undefined
  })
})

test('a reload whose new workers cannot start leaves the old ones serving', async (t) => {
  const marker = join(mkdtempSync(join(tmpdir(), 'vidgate-reload-')), 'broken')
  t.after(() => rmSync(marker, { force: true }))
  // Workers started after the marker exists die at once, like a broken deploy.
  const crash = `data:text/javascript,import cluster from 'node:cluster'; import { existsSync } from 'node:fs'; if (cluster.isWorker && existsSync(${JSON.stringify(marker)})) process.exit(3)`
  const c = await startCluster({ workers: 2, env: QUIET, execArgv: [`--import=${crash}`] })
  t.after(c.stop)
  const before = c.workerPids()
  writeFileSync(marker, '')
  c.child.kill('SIGHUP')
  await until('the reload to stop', 60_000, async () => /reload stopped/.test(c.output()) ? true : undefined)
  await sleep(1500)
  assert.equal(c.child.exitCode, null, 'the primary keeps running')
  assert.deepEqual(c.workerPids(), before, 'the old workers are still the only ones')
  assert.doesNotMatch(c.output(), /worker died; restarting/, 'a failed replacement is not restarted')
  const health = await json(`${c.url}/health`)
  assert.deepEqual((health.body.checks as Record<string, unknown>).workers, { status: 'ok', alive: 2, expected: 2 })
})

test('a configuration error exits 1 and lists every problem', async () => {
  const c = await startCluster({ args: [], env: { WORKERS: 'abc', PORT: '-1' }, waitReady: false })
  const { code } = await c.exited
  assert.equal(code, 1)
  assert.match(c.output(), /WORKERS must be a whole number, got "abc"/)
  assert.match(c.output(), /PORT must be between 0 and 65535, got -1/)
})

test('a host that cannot be bound exits 1 with the reason', async () => {
  const c = await startCluster({ workers: 1, env: { HOST: '256.0.0.1' }, args: ['--workers=1', '--host=256.0.0.1', '--port=8123'], waitReady: false })
  const { code } = await c.exited
  assert.equal(code, 1)
  assert.match(c.output(), /cannot listen/)
  assert.doesNotMatch(c.output(), /already in use/)
})

test('workers that crash at start make the primary give up with exit 1', async () => {
  const crash = "data:text/javascript,import cluster from 'node:cluster'; if (cluster.isWorker) process.exit(3)"
  const c = await startCluster({ workers: 2, execArgv: [`--import=${crash}`], waitReady: false })
  const giveUp = new Promise<{ code: number }>((resolve) => setTimeout(resolve, 20_000, { code: -1 }).unref())
  const { code } = await Promise.race([c.exited, giveUp])
  if (code === -1) await c.stop()
  assert.equal(code, 1, 'the primary must give up, not restart forever')
  assert.match(c.output(), /giving up/)
})
