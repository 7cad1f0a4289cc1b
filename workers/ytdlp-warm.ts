// The per-thread set of warm yt-dlp processes, keyed by yt-dlp path. Started lazily on
// first use, replaced after maxWarmJobs jobs, dropped on crash or timeout. A path whose
// interpreter cannot import yt_dlp is skipped for a while and its tasks spawn instead.
import type { YtDlpTask } from './protocol.ts'
import { buildWarmOptions, type ExtractOutcome } from './ytdlp.ts'
import { readInterpreter, startWarmProcess, type WarmProcess } from './ytdlp-warm-process.ts'

const DEFAULT_MAX_WARM_PROCESSES = 4
const UNAVAILABLE_RETRY_MS = 60_000

const pools = new Map<string, WarmProcess[]>()
const live = new Set<WarmProcess>()
const unavailableUntil = new Map<string, number>()

function markUnavailable (ytdlpPath: string): void {
  unavailableUntil.set(ytdlpPath, Date.now() + UNAVAILABLE_RETRY_MS)
}

function remove (proc: WarmProcess, startupFailed: boolean): void {
  const list = pools.get(proc.ytdlpPath)
  const index = list?.indexOf(proc) ?? -1
  if (list !== undefined && index !== -1) list.splice(index, 1)
  if (startupFailed) markUnavailable(proc.ytdlpPath)
}

function start (ytdlpPath: string): WarmProcess | null {
  const interpreter = readInterpreter(ytdlpPath)
  if (interpreter === null) {
    markUnavailable(ytdlpPath)
    return null
  }
  let proc: WarmProcess
  try {
    proc = startWarmProcess(ytdlpPath, interpreter, { onGone: remove })
  } catch {
    markUnavailable(ytdlpPath) // spawn() threw synchronously (bad arguments)
    return null
  }
  live.add(proc)
  void proc.exited.then(() => live.delete(proc))
  const list = pools.get(ytdlpPath) ?? []
  list.push(proc)
  pools.set(ytdlpPath, list)
  return proc
}

function acquire (ytdlpPath: string, maxProcesses: number): WarmProcess | null {
  if ((unavailableUntil.get(ytdlpPath) ?? 0) > Date.now()) return null
  const list = pools.get(ytdlpPath) ?? []
  const idle = list.filter(p => !p.busy && !p.dead)
  const proc = idle.find(p => p.isReady()) ?? idle[0] ?? (list.length < maxProcesses ? start(ytdlpPath) : null)
  if (proc !== null) proc.busy = true
  return proc
}

// null: no warm process could take the job (unavailable or all busy); the caller spawns.
export async function runYtDlpWarm (task: YtDlpTask, url: string, timeoutMs: number): Promise<ExtractOutcome | null> {
  const proc = acquire(task.ytdlpPath, task.maxWarmProcesses ?? DEFAULT_MAX_WARM_PROCESSES)
  if (proc === null) return null
  const outcome = await proc.run({ url, opts: buildWarmOptions(task), timeoutMs, maxOutputBytes: task.maxOutputBytes })
  if (!proc.dead && proc.jobs >= Math.max(1, task.maxWarmJobs)) {
    proc.retire()
    // start the replacement now so the next job does not pay Python's start-up
    start(task.ytdlpPath)
  }
  return outcome
}

export interface WarmProcessStatus {
  pid: number | null
  ytdlpPath: string
  jobs: number
  busy: boolean
  ready: boolean
}

export function listWarmProcesses (): WarmProcessStatus[] {
  return [...pools.values()].flat().map(p => ({ pid: p.pid, ytdlpPath: p.ytdlpPath, jobs: p.jobs, busy: p.busy, ready: p.isReady() }))
}

export async function closeWarmProcesses (): Promise<void> {
  const all = [...live]
  pools.clear()
  unavailableUntil.clear()
  for (const proc of all) proc.close()
  await Promise.all(all.map(p => p.exited))
}

// Starts warm processes ahead of the first job, so it does not pay Python's start-up.
export function prewarm (ytdlpPath: string, count: number): number {
  if ((unavailableUntil.get(ytdlpPath) ?? 0) > Date.now()) return 0
  const list = pools.get(ytdlpPath) ?? []
  let started = 0
  while (list.length + started < count) {
    if (start(ytdlpPath) === null) break
    started++
  }
  return started
}
