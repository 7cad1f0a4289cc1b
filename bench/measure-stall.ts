// Event-loop stall: 100 concurrent cold extractions of distinct videos against
// N workers; the worst event_loop_delay_max_ms over workers (each
// /api/v2/system/stats read resets it). Beside it, what explains a miss: an
// idle canary process's own delay, the workers' run-queue wait, and the same
// burst again with the yt-dlp processes reniced to 10 by the bench.
import { setPriority } from 'node:os'
import { join } from 'node:path'
import { childrenOf, httpGet, load, runQueueWaitSec, sleep, startNode } from './lib.ts'
import { extractionEnv, infoPath, ROOT, startCluster, using } from './servers.ts'
import { metric, toRow } from './metric.ts'
import type { Server } from './servers.ts'
import type { Row } from './metric.ts'
import type { BenchContext, ScenarioResult } from './context.ts'

const STALL_BURST = 100
export const STALL_TARGET_MS = 20
// the workers' (and the canary's) monitor interval: a stall of L ms reads L − 1 to L
export const STALL_RESOLUTION_MS = 1
// the default: concurrent yt-dlp jobs (and warm processes) per worker
const EXTRACT_CONCURRENCY = 4

interface Delay { maxMs: number, p99Ms: number, count: number }

function parseDelay (v: unknown, max: string, p99: string): Delay | null {
  if (typeof v !== 'object' || v === null) return null
  const r = v as Record<string, unknown>
  return typeof r[max] === 'number' && typeof r[p99] === 'number' ? { maxMs: r[max], p99Ms: r[p99], count: 1 } : null
}

// per_worker[].event_loop_delay_* since the previous stats read, worst worker.
async function loopDelay (server: Server): Promise<Delay> {
  const r = await httpGet(`${server.base}/api/v2/system/stats`)
  const body = r.body
  const list = typeof body === 'object' && body !== null && 'per_worker' in body && Array.isArray(body.per_worker) ? body.per_worker as unknown[] : []
  const delays = list.map((w) => parseDelay(w, 'event_loop_delay_max_ms', 'event_loop_delay_p99_ms')).filter((d) => d !== null)
  if (r.status !== 200 || delays.length === 0) throw new Error(`stats: ${r.status} ${r.text.slice(0, 300)}`)
  return { maxMs: Math.max(...delays.map((d) => d.maxMs)), p99Ms: Math.max(...delays.map((d) => d.p99Ms)), count: delays.length }
}

interface Canary { read: () => Promise<Delay>, stop: () => Promise<void> }

async function startCanary (): Promise<Canary> {
  const s = await startNode([join(ROOT, 'dist/bench/canary.js'), String(STALL_RESOLUTION_MS)], { ready: /ready/, stdin: true })
  return {
    stop: s.stop,
    async read () {
      const seen = s.output().length
      s.child.stdin?.write('read\n')
      for (let i = 0; i < 200; i++) {
        const line = s.output().slice(seen).split('\n').find((l) => l.startsWith('{'))
        const delay = line === undefined ? null : parseDelay(JSON.parse(line), 'maxMs', 'p99Ms')
        if (delay !== null) return delay
        await sleep(10)
      }
      throw new Error('the canary did not answer')
    }
  }
}

interface Burst { row: Row, during: Delay, canary: Delay, waitMs: number, seconds: number }

async function burst (server: Server, canary: Canary, path: (variant: string) => string, label: string): Promise<Burst> {
  await loopDelay(server)
  await canary.read()
  const mains = childrenOf(server.child.pid ?? 0)
  const waitBefore = mains.map(runQueueWaitSec)
  let n = 0
  const started = performance.now()
  const r = await load(`${server.base}${path(`${label}-0`)}`, { connections: STALL_BURST, amount: STALL_BURST, durationSec: 0, timeoutSec: 120, pids: server.pids, nextPath: () => path(`${label}-${n++}`) })
  const seconds = (performance.now() - started) / 1000
  const during = await loopDelay(server)
  const waitMs = Math.max(...mains.map((pid, i) => (runQueueWaitSec(pid) - (waitBefore[i] ?? 0)) * 1000))
  return { row: toRow(label, mains.length, r, null, false), during, canary: await canary.read(), waitMs, seconds }
}

export async function runLoopStall (ctx: BenchContext): Promise<ScenarioResult> {
  const origin = await ctx.origin()
  const workers = Math.max(2, ctx.cpus)
  const prefix = `stall-${Date.now()}`
  const path = (variant: string): string => infoPath(origin.pageUrl(`${prefix}-${variant}`))
  const env = extractionEnv(origin.host, { EXTRACT_CONCURRENCY: String(EXTRACT_CONCURRENCY), EVENT_LOOP_RESOLUTION_MS: String(STALL_RESOLUTION_MS) })
  ctx.log(`event-loop stall: ${STALL_BURST} concurrent cold extractions, ${workers} workers`)
  return await using(async () => await startCluster({ workers, env }), async (server) => await using(startCanary, async (canary) => {
    // every warm yt-dlp process runs a job first: its first one loads the extractors
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: workers * EXTRACT_CONCURRENCY }, async (_, i) => await httpGet(`${server.base}${path(`warmup-${round}-${i}`)}`)))
    }
    await loopDelay(server)
    await sleep(1000)
    const idle = await loopDelay(server)
    const plain = await burst(server, canary, path, 'cold-burst-100')
    const ytdlp = childrenOf(server.child.pid ?? 0).flatMap(childrenOf)
    for (const pid of ytdlp) { try { setPriority(pid, 10) } catch {} }
    const niced = await burst(server, canary, path, 'cold-burst-100-niced')
    const notes = plain.during.maxMs <= STALL_TARGET_MS
      ? []
      : [`Event-loop stall target (≤ ${STALL_TARGET_MS} ms) not met: ${plain.during.maxMs.toFixed(0)} ms. During the ${plain.seconds.toFixed(1)} s burst ${ytdlp.length} warm yt-dlp (Python) processes, ${plain.during.count} workers and the load generator share ${ctx.cpus} cores: the worst worker's main thread spent ${plain.waitMs.toFixed(0)} ms runnable but waiting for a CPU (an idle canary process saw ${plain.canary.maxMs.toFixed(0)} ms). With the yt-dlp processes at nice 10 the max was ${niced.during.maxMs.toFixed(0)} ms and the wait ${niced.waitMs.toFixed(0)} ms.`]
    return {
      notes,
      rows: [plain.row, niced.row],
      metrics: [
        metric('stall.event_loop_delay_max_ms', plain.during.maxMs, 'ms', { op: '<=', value: STALL_TARGET_MS }, `worst of ${plain.during.count} workers over the ${plain.seconds.toFixed(1)} s burst; how late monitorEventLoopDelay's 1 ms timer ran (a stall of L ms reads L − 1 to L)`),
        metric('stall.event_loop_delay_p99_ms', plain.during.p99Ms, 'ms'),
        metric('stall.idle_event_loop_delay_max_ms', idle.maxMs, 'ms', null, '1 s idle before the burst'),
        metric('stall.canary_event_loop_delay_max_ms', plain.canary.maxMs, 'ms', null, 'an idle Node process beside the burst'),
        metric('stall.worker_runqueue_wait_ms', plain.waitMs, 'ms', null, 'worst worker main thread: runnable but waiting for a CPU during the burst (/proc/<pid>/schedstat)'),
        metric('stall.niced_event_loop_delay_max_ms', niced.during.maxMs, 'ms', null, `the same burst with the ${ytdlp.length} warm yt-dlp processes at nice 10`),
        metric('stall.niced_worker_runqueue_wait_ms', niced.waitMs, 'ms')
      ]
    }
  }))
}
