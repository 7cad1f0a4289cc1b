// N concurrent server-side downloads of a local file through real yt-dlp:
// every task must complete byte-exact with monotonic SSE progress. Reports wall
// time, throughput, SSE events per task, the server's event-loop delay and RSS.
//   node dist/bench/downloads.js [--tasks=20] [--mb=50] [--redis]
import { spawn } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../src/log.ts'
import { connectRedis, createRedis } from '../src/redis.ts'
import type { Redis } from '../src/redis.ts'
import { startRedis } from '../src/testing/helpers.ts'
import type { StartedRedis } from '../src/testing/helpers.ts'
import { makeBigFile, postJson, readSse, sha256, sha256File, startDownloadsServer } from '../src/testing/downloads.ts'

function arg (name: string, def: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
  return hit === undefined ? def : Number(hit.split('=')[1])
}

async function originProcess (dir: string): Promise<{ host: string, base: string, close: () => Promise<void> }> {
  const testing = new URL('../src/testing/downloads.js', import.meta.url).href
  const code = `import(${JSON.stringify(testing)}).then((m) => m.startOrigin(${JSON.stringify(dir)})).then((o) => console.log(o.port))`
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', (c) => reject(new Error(`origin exited ${String(c)}`)))
  })
  return {
    host: `127.0.0.1:${port}`,
    base: `http://127.0.0.1:${port}`,
    close: async () => { child.kill('SIGKILL'); await new Promise((resolve) => child.once('exit', resolve)) }
  }
}

// An idle Node process measuring its own loop delay over the same period: what
// CPU contention alone (20 yt-dlp processes on this machine) does to any loop.
function controlProcess (): { stop: () => Promise<{ p50: number, p99: number, max: number }> } {
  const code = 'const { monitorEventLoopDelay } = require("node:perf_hooks"); const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();' +
    'process.on("message", () => { h.disable(); const ms = (v) => Math.round(v / 1e4) / 100; process.send({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) }, () => process.exit(0)) })'
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  return {
    stop: async () => await new Promise((resolve) => {
      child.once('message', (m) => resolve(m as { p50: number, p99: number, max: number }))
      child.send('stop')
    })
  }
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0

async function main (): Promise<void> {
  const tasks = arg('tasks', 20)
  const mb = arg('mb', 50)
  const useRedis = process.argv.includes('--redis')
  const work = mkdtempSync(join(tmpdir(), 'vg-bench-dl-'))
  const originDir = join(work, 'origin')
  const dlDir = join(work, 'downloads')
  mkdirSync(originDir)
  const source = makeBigFile(originDir, 'big.mp4', mb * 1024 * 1024)
  const expected = sha256File(source)
  // the origin runs in its own process so its 1 GB of I/O does not count as our server's loop delay
  const origin = await originProcess(originDir)
  let redisServer: StartedRedis | null = null
  let redis: Redis | null = null
  if (useRedis) {
    redisServer = await startRedis()
    redis = createRedis(redisServer.url, createLogger('silent', {}))
    await connectRedis(redis, 3000)
  }
  const srv = await startDownloadsServer({
    dir: dlDir,
    originHost: origin.host,
    redis,
    config: { MAX_CONCURRENT_DOWNLOADS: tasks, MAX_STORAGE_GB: 100 },
    options: { concurrency: tasks, tickMs: 500, heartbeatMs: 2000, leaseMs: 10_000, ssePollMs: 2000 }
  })
  const control = controlProcess()
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const cpuStart = process.cpuUsage()
  const stalls: Array<{ at_s: number, ms: number }> = []
  let tickAt = performance.now()
  const lagTimer = setInterval(() => {
    const now = performance.now()
    if (now - tickAt > 150) stalls.push({ at_s: Math.round(now - started) / 1000, ms: Math.round(now - tickAt - 20) })
    tickAt = now
  }, 20)
  let peakRss = 0
  const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 200)
  const started = performance.now()
  const results = await Promise.all(Array.from({ length: tasks }, async (_, i) => {
    const t0 = performance.now()
    const { status, json } = await postJson(srv.url, '/api/v2/videos/download', { url: `${origin.base}/big.mp4?n=${i}` })
    if (status !== 202) return { ok: false, why: `submit ${status}`, ms: 0, events: 0, monotonic: false, link: null }
    const { events } = await readSse(`${srv.url}/api/v2/videos/tasks/${String(json.task_id)}/events`)
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as Record<string, unknown>)
    const percents = progress.map((p) => Number(p.percent))
    const monotonic = percents.every((p, j) => j === 0 || p >= (percents[j - 1] ?? 0))
    const last = progress.at(-1) ?? {}
    const ms = performance.now() - t0
    const link = last.status === 'completed' ? (last.links as Record<string, string>).file ?? null : null
    return { ok: link !== null && monotonic, why: link === null ? JSON.stringify(last.error) : monotonic ? '' : 'percent went down', ms, events: progress.length, monotonic, link }
  }))
  const wallMs = performance.now() - started
  loop.disable()
  const cpu = process.cpuUsage(cpuStart)
  clearInterval(lagTimer)
  const controlDelay = await control.stop()
  clearInterval(rssTimer)
  // verification runs after the measured phase: hashing 1 GB here would show up as server loop delay
  for (const r of results) {
    if (r.link === null || r.link === undefined) continue
    const body = Buffer.from(await (await fetch(`${srv.url}${r.link}`)).arrayBuffer())
    if (sha256(body) !== expected) { r.ok = false; r.why = 'bytes differ' }
  }
  const durations = results.map((r) => r.ms)
  const report = {
    tasks,
    file_mb: mb,
    backend: useRedis ? 'redis+bullmq' : 'files+local',
    all_ok: results.every((r) => r.ok),
    failures: results.filter((r) => !r.ok).map((r) => r.why),
    wall_s: Math.round(wallMs) / 1000,
    aggregate_mb_per_s: Math.round((tasks * mb) / (wallMs / 1000) * 10) / 10,
    task_s: { min: Math.round(pct(durations, 0)) / 1000, p50: Math.round(pct(durations, 0.5)) / 1000, max: Math.round(pct(durations, 1)) / 1000 },
    sse_events_per_task: { min: pct(results.map((r) => r.events), 0), p50: pct(results.map((r) => r.events), 0.5) },
    event_loop_delay_ms: { p50: Math.round(loop.percentile(50) / 1e4) / 100, p99: Math.round(loop.percentile(99) / 1e4) / 100, max: Math.round(loop.max / 1e4) / 100 },
    idle_process_loop_delay_ms: controlDelay,
    stalls_over_150ms: stalls,
    server_cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    peak_rss_mb: Math.round(peakRss / 1024 / 1024)
  }
  console.log(JSON.stringify(report, null, 2))
  await srv.close()
  await origin.close()
  redis?.disconnect()
  await redisServer?.stop()
  rmSync(work, { recursive: true, force: true })
  process.exitCode = report.all_ok ? 0 : 1
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
