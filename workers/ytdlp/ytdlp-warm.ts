// The per-thread set of warm yt-dlp processes, keyed by yt-dlp path. Started lazily on
// first use, replaced after maxWarmJobs jobs, dropped on crash or timeout. A path whose
// interpreter cannot import yt_dlp is skipped for a while and its tasks spawn instead
// (warmError says why). A reload raises the generation: processes of an older one are
// replaced one at a time, each after its successor is ready, so no job waits or fails.
import type { YtDlpReloadResult, YtDlpTask } from '../protocol.ts'
import { WARM_COUNTER, WARM_COUNTERS_LENGTH } from '../protocol.ts'
import { buildWarmOptions, type ExtractOutcome } from './ytdlp.ts'
import { readInterpreter, startWarmProcess, type WarmJob, type WarmProcess } from './ytdlp-warm-process.ts'

const DEFAULT_MAX_WARM_PROCESSES = 4
const UNAVAILABLE_RETRY_MS = 60_000
const STARTUP_REASON_CHARS = 400

const pools = new Map<string, WarmProcess[]>()
const live = new Set<WarmProcess>()
const unavailable = new Map<string, { untilMs: number, reason: string }>()
const generations = new Map<string, number>()
// shared with the HTTP worker (and the other pool threads): live, ready, exits, start failures
let counters: Int32Array<ArrayBufferLike> = new Int32Array(WARM_COUNTERS_LENGTH)

export function useCounters (buffer: SharedArrayBuffer | undefined): void {
  if (buffer !== undefined && buffer.byteLength >= WARM_COUNTERS_LENGTH * 4 && (counters.buffer as ArrayBufferLike) !== buffer) counters = new Int32Array(buffer)
}

function count (which: number, by: number): void {
  Atomics.add(counters, which, by)
}

function markUnavailable (ytdlpPath: string, reason: string): void {
  unavailable.set(ytdlpPath, { untilMs: Date.now() + UNAVAILABLE_RETRY_MS, reason: reason.trim().slice(-STARTUP_REASON_CHARS) || 'the warm process exited before it was ready' })
  count(WARM_COUNTER.startFailures, 1)
}

// Why warm processes for this path cannot start right now, or null.
export function warmUnavailable (ytdlpPath: string): string | null {
  const entry = unavailable.get(ytdlpPath)
  return entry !== undefined && entry.untilMs > Date.now() ? entry.reason : null
}

function generationOf (ytdlpPath: string): number {
  return generations.get(ytdlpPath) ?? 0
}

function noteGeneration (ytdlpPath: string, generation: number | undefined): void {
  if (generation !== undefined && generation > generationOf(ytdlpPath)) generations.set(ytdlpPath, generation)
}

function remove (proc: WarmProcess, startupFailed: boolean): void {
  const list = pools.get(proc.ytdlpPath)
  const index = list?.indexOf(proc) ?? -1
  if (list !== undefined && index !== -1) list.splice(index, 1)
  if (startupFailed) markUnavailable(proc.ytdlpPath, proc.stderr())
}

function start (ytdlpPath: string): WarmProcess | null {
  const interpreter = readInterpreter(ytdlpPath)
  if (interpreter === null) {
    markUnavailable(ytdlpPath, `${ytdlpPath} is not a Python yt-dlp (no python interpreter on its first line)`)
    return null
  }
  let proc: WarmProcess
  try {
    proc = startWarmProcess(ytdlpPath, interpreter, { onGone: remove }, generationOf(ytdlpPath))
  } catch (err) {
    markUnavailable(ytdlpPath, `cannot start ${interpreter.join(' ')}: ${err instanceof Error ? err.message : String(err)}`)
    return null
  }
  live.add(proc)
  count(WARM_COUNTER.live, 1)
  void proc.ready.then(ok => { if (ok) count(WARM_COUNTER.ready, 1) })
  void proc.exited.then(async () => {
    live.delete(proc)
    count(WARM_COUNTER.live, -1)
    if (await proc.ready) {
      count(WARM_COUNTER.ready, -1)
      count(WARM_COUNTER.exits, 1)
    }
  })
  const list = pools.get(ytdlpPath) ?? []
  list.push(proc)
  pools.set(ytdlpPath, list)
  return proc
}

const isFresh = (p: WarmProcess): boolean => p.generation >= generationOf(p.ytdlpPath)

function acquire (ytdlpPath: string, maxProcesses: number): WarmProcess | null {
  const list = pools.get(ytdlpPath) ?? []
  const idle = list.filter(p => !p.busy && !p.dead)
  // A ready process first; during a reload an old ready one rather than waiting for a new one.
  const ready = idle.find(p => p.isReady() && isFresh(p)) ?? idle.find(p => p.isReady())
  // While new processes cannot start (a broken yt-dlp on disk, a failed reload), ready ones keep serving.
  if (ready === undefined && warmUnavailable(ytdlpPath) !== null) return null
  const fresh = list.filter(isFresh).length
  const proc = ready ?? idle[0] ?? (fresh < maxProcesses ? start(ytdlpPath) : null)
  if (proc !== null) proc.busy = true
  return proc
}

function afterJob (proc: WarmProcess, task: YtDlpTask): void {
  if (proc.dead) return
  if (!isFresh(proc)) {
    // no successor can start: the old one keeps serving
    if (warmUnavailable(proc.ytdlpPath) !== null) return
    proc.retire()
    if ((pools.get(proc.ytdlpPath) ?? []).filter(isFresh).length < (task.maxWarmProcesses ?? DEFAULT_MAX_WARM_PROCESSES)) start(proc.ytdlpPath)
  } else if (proc.jobs >= Math.max(1, task.maxWarmJobs)) {
    proc.retire()
    // start the replacement now so the next job does not pay Python's start-up
    start(task.ytdlpPath)
  }
}

// null: no warm process could take the job (unavailable or all busy); the caller spawns.
export async function runWarmJob (task: YtDlpTask, job: WarmJob): Promise<ExtractOutcome | null> {
  useCounters(task.counters)
  noteGeneration(task.ytdlpPath, task.generation)
  const proc = acquire(task.ytdlpPath, task.maxWarmProcesses ?? DEFAULT_MAX_WARM_PROCESSES)
  if (proc === null) return null
  const outcome = await proc.run(job)
  afterJob(proc, task)
  return outcome
}

export async function runYtDlpWarm (task: YtDlpTask, url: string, timeoutMs: number): Promise<ExtractOutcome | null> {
  return await runWarmJob(task, { url, opts: buildWarmOptions(task), timeoutMs, maxOutputBytes: task.maxOutputBytes })
}

// Replaces this thread's processes of an older generation one at a time: a new one is
// started and must become ready before an idle old one retires (a busy one retires
// after its job). A yt-dlp that no longer starts leaves the old processes serving.
export async function reloadWarm (ytdlpPath: string, generation: number, count: number): Promise<YtDlpReloadResult> {
  unavailable.delete(ytdlpPath)
  const before = generationOf(ytdlpPath)
  noteGeneration(ytdlpPath, generation)
  const old = (pools.get(ytdlpPath) ?? []).filter(p => !isFresh(p) && !p.dead)
  const wanted = Math.max(old.length, count)
  let replaced = 0
  for (let i = 0; i < wanted; i++) {
    const next = start(ytdlpPath)
    if (next === null || !(await next.ready)) {
      generations.set(ytdlpPath, before)
      return { replaced, failed: warmUnavailable(ytdlpPath) ?? 'the new yt-dlp did not start' }
    }
    const stale = old.shift()
    if (stale !== undefined && !stale.dead && !stale.busy) stale.retire()
    replaced++
  }
  // old ones still busy retire after their job (afterJob)
  return { replaced, failed: null }
}

export interface WarmProcessStatus {
  pid: number | null
  ytdlpPath: string
  jobs: number
  busy: boolean
  ready: boolean
  generation: number
}

export function listWarmProcesses (): WarmProcessStatus[] {
  return [...pools.values()].flat().map(p => ({ pid: p.pid, ytdlpPath: p.ytdlpPath, jobs: p.jobs, busy: p.busy, ready: p.isReady(), generation: p.generation }))
}

export async function closeWarmProcesses (): Promise<void> {
  const all = [...live]
  pools.clear()
  unavailable.clear()
  generations.clear()
  for (const proc of all) proc.close()
  await Promise.all(all.map(p => p.exited))
}

// Starts warm processes ahead of the first job, so it does not pay Python's start-up.
export function prewarm (ytdlpPath: string, count: number, buffer?: SharedArrayBuffer, generation?: number): number {
  useCounters(buffer)
  noteGeneration(ytdlpPath, generation)
  if (warmUnavailable(ytdlpPath) !== null) return 0
  let started = 0
  while ((pools.get(ytdlpPath) ?? []).filter(isFresh).length < count) {
    if (start(ytdlpPath) === null) break
    started++
  }
  return started
}
