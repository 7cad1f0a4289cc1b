// The piscina pool of one HTTP worker: yt-dlp and manifest parsing run in its
// threads so the event loop never blocks. Sized explicitly (piscina's defaults
// assume one process per machine), bounded queue (full → EXTRACTION_BUSY).
// Only types come from workers/: the thread file is referenced by URL.
import { Piscina } from 'piscina'
import { AppError } from '../errors.ts'
import type { ErrorCode } from '../errors.ts'
import { taskFailure } from './failure.ts'
import { createFairQueue, INTERNAL } from './fair-queue.ts'
import type { Requester } from './fair-queue.ts'
import type { MediaInfo, PlaylistInfo, TaskResult, YtDlpProbe, YtDlpProbeTask, YtDlpReloadResult, YtDlpReloadTask, YtDlpSettings, YtDlpTask } from '../../workers/protocol.ts'
import { WARM_COUNTER, WARM_COUNTERS_LENGTH } from '../../workers/protocol.ts'
import { childEnv } from '../../workers/children.ts'

export interface PoolOptions {
  threads: number
  concurrency: number
  maxQueue: number
  // queued + running extractions of one capped client (EXTRACT_MAX_PER_CLIENT); 0 or absent: no cap
  perClient?: number
  ytdlpPath: string
  mode: 'warm' | 'spawn'
  timeoutMs: number
  maxOutputBytes?: number
  maxWarmJobs?: number
  // the operator's settings for a platform's extractions (null: a generic page)
  settings?: (platform: string | null) => YtDlpSettings
  // the warm mode could not serve: why (called for every such task; the caller dedupes)
  onWarmError?: (reason: string) => void
  // the threads' environment, which the yt-dlp they start inherits (default: childEnv's allow-list)
  env?: Record<string, string>
  // what an extraction returned, before anyone sees it (drops URLs the egress policy refuses)
  scrub?: <T extends MediaInfo | PlaylistInfo>(value: T) => Promise<T>
}

export interface WarmState {
  // processes alive and ready to serve, in all of this worker's threads
  live: number
  ready: number
  // processes that ended while the server ran (job limit, crash, timeout, reload)
  exits: number
  startFailures: number
  // the latest reason warm processes could not start, null once one served again
  error: string | null
}

export interface PoolStats { queued: number, active: number, completed: number, failed: number, warm: number, spawn: number, clients: number, expired: number, refused: number }

export interface ExtractionPool {
  // Extractions wait their turn per client (src/extract/fair-queue.ts); who: the client asking (default: the server itself)
  ytdlp: (kind: 'info' | 'playlist', url: string, cookiesFile: string | null, playlistLimit?: number, platform?: string | null, who?: Requester) => Promise<MediaInfo | PlaylistInfo>
  // throws 429 unless `count` more extractions of this client fit under its cap
  admit: (who: Requester, count: number) => void
  // asks the yt-dlp in use what it offers (a warm process answers in warm mode); null when it cannot run
  probe: () => Promise<YtDlpProbe | null>
  lastProbe: () => YtDlpProbe | null
  // starts warm processes ahead of the first extraction
  prewarm: () => Promise<void>
  // replaces the warm processes one at a time (after yt-dlp changed on disk), then probes again
  reload: () => Promise<YtDlpReloadResult>
  warm: () => WarmState
  run: <K extends TaskName>(name: K, input: TaskInput<K>) => Promise<TaskOutput<K>>
  stats: () => PoolStats
  close: () => Promise<void>
}

const TASK_FILE = new URL('../../workers/index.js', import.meta.url)

// Task names and their input/output types come from the piscina entry's own exports.
type Tasks = typeof import('../../workers/index.ts')
export type TaskName = keyof Tasks
export type TaskInput<K extends TaskName> = Parameters<Tasks[K]>[0]
export type TaskOutput<K extends TaskName> = Awaited<ReturnType<Tasks[K]>>
// What a task that answers a TaskResult gives when it succeeds.
export type TaskValue<K extends TaskName> = TaskOutput<K> extends TaskResult<infer T> ? T : never

// The one place a thread's TaskResult becomes a value or an AppError with the caller's code.
export function unwrapTask<T> (result: TaskResult<T>, code: ErrorCode, message: string): T {
  if (result.ok) return result.value
  throw new AppError(code, message, { detail: result.message.slice(0, 300) })
}

function isTaskResult (x: unknown): x is TaskResult<unknown> {
  return typeof x === 'object' && x !== null && 'ok' in x && typeof x.ok === 'boolean'
}

const NO_SETTINGS: YtDlpSettings = { jsRuntime: null, jsRuntimesOption: false, cacheDir: null, proxy: null, extractorArgs: [] }

export function createExtractionPool (opts: PoolOptions): ExtractionPool {
  const counters = new SharedArrayBuffer(WARM_COUNTERS_LENGTH * 4)
  const counts = new Int32Array(counters)
  let generation = 0
  let probed: YtDlpProbe | null = null
  let warmError: string | null = null
  // the probe says whether the spawned yt-dlp takes --js-runtimes
  const settingsFor = (platform: string | null): YtDlpSettings => {
    const base = opts.settings?.(platform) ?? NO_SETTINGS
    return { ...base, jsRuntimesOption: probed?.jsRuntimesOption === true }
  }
  const noteWarm = (result: { warmError?: string, mode?: string }): void => {
    if (result.warmError !== undefined) {
      warmError = result.warmError
      opts.onWarmError?.(result.warmError)
    } else if (result.mode === 'warm') warmError = null
  }
  const pool = new Piscina({
    filename: TASK_FILE.href,
    minThreads: opts.threads,
    maxThreads: opts.threads,
    concurrentTasksPerWorker: opts.concurrency,
    maxQueue: Math.max(1, opts.maxQueue),
    // Threads hold warm yt-dlp processes: keep them.
    idleTimeout: 24 * 60 * 60 * 1000,
    closeTimeout: 5000,
    env: opts.env ?? childEnv(process.env)
  })
  let active = 0
  let completed = 0
  let failed = 0
  let warm = 0
  let spawn = 0

  function checkCapacity (): void {
    if (pool.queueSize >= opts.maxQueue) {
      throw new AppError('EXTRACTION_BUSY', undefined, { detail: `${pool.queueSize} extractions are queued in this worker`, headers: { 'retry-after': '2' } })
    }
  }

  // yt-dlp jobs take their turn here, at most one per slot at once, so piscina's own queue stays short
  const fair = createFairQueue({ slots: opts.threads * opts.concurrency, maxQueued: opts.maxQueue, perClient: opts.perClient ?? 0, timeoutMs: opts.timeoutMs })

  async function run<K extends TaskName> (name: K, input: TaskInput<K>): Promise<TaskOutput<K>> {
    checkCapacity()
    return await dispatch(name, input)
  }

  async function dispatch<K extends TaskName> (name: K, input: TaskInput<K>): Promise<TaskOutput<K>> {
    active++
    try {
      return await pool.run(input, { name }) as TaskOutput<K>
    } catch (err) {
      throw new AppError('INTERNAL', 'The extraction thread failed', { cause: err })
    } finally {
      active--
    }
  }

  const probeTask = (): YtDlpProbeTask => ({ ytdlpPath: opts.ytdlpPath, mode: opts.mode, settings: settingsFor(null), timeoutMs: Math.max(15_000, opts.timeoutMs), generation, counters })

  return {
    run,
    async probe () {
      try {
        const result: unknown = await run('ytdlpProbe', probeTask())
        if (isTaskResult(result)) {
          noteWarm(result)
          if (result.ok) probed = result.value as YtDlpProbe
          else probed = null
        }
      } catch { probed = null }
      return probed
    },
    lastProbe: () => probed,
    async prewarm () {
      if (opts.mode !== 'warm') return
      await run('ytdlpPrewarm', { ytdlpPath: opts.ytdlpPath, count: opts.concurrency, counters, generation })
    },
    async reload () {
      const previous = generation
      generation++
      const task: YtDlpReloadTask = { ...probeTask(), generation, count: opts.mode === 'warm' ? opts.concurrency : 0 }
      const result = opts.mode === 'warm' ? await run('ytdlpReload', task) : { replaced: 0, failed: null }
      // the old processes stay the current generation
      if (result.failed !== null) generation = previous
      await this.probe()
      return result
    },
    warm: () => ({
      live: Atomics.load(counts, WARM_COUNTER.live),
      ready: Atomics.load(counts, WARM_COUNTER.ready),
      exits: Atomics.load(counts, WARM_COUNTER.exits),
      startFailures: Atomics.load(counts, WARM_COUNTER.startFailures),
      error: warmError
    }),
    admit: (who, count) => { fair.admit(who, count) },
    async ytdlp (kind, url, cookiesFile, playlistLimit, platform = null, who = INTERNAL) {
      const task: YtDlpTask = {
        kind,
        url,
        ytdlpPath: opts.ytdlpPath,
        mode: opts.mode,
        timeoutMs: opts.timeoutMs,
        maxOutputBytes: opts.maxOutputBytes ?? 64 * 1024 * 1024,
        cookiesFile,
        maxWarmJobs: opts.maxWarmJobs ?? 500,
        maxWarmProcesses: opts.concurrency,
        settings: settingsFor(platform),
        generation,
        counters,
        ...(playlistLimit === undefined ? {} : { playlistLimit })
      }
      // the time spent waiting counts: the job gets what is left of EXTRACT_TIMEOUT
      const result: unknown = await fair.submit(who, async (leftMs) => {
        if (leftMs < 1) throw new AppError('EXTRACTION_TIMEOUT', undefined, { detail: 'EXTRACT_TIMEOUT passed while the extraction waited for a slot' })
        return await dispatch('ytdlp', { ...task, timeoutMs: Math.ceil(leftMs) })
      })
      if (!isTaskResult(result)) throw new AppError('INTERNAL', 'The extraction thread returned nothing usable')
      noteWarm(result)
      if (!result.ok) {
        failed++
        throw taskFailure(result, platform)
      }
      completed++
      if (result.mode === 'spawn') spawn++
      else warm++
      const value = result.value as MediaInfo | PlaylistInfo
      return opts.scrub === undefined ? value : await opts.scrub(value)
    },
    stats: () => {
      const f = fair.stats()
      return { queued: pool.queueSize + f.queued, active, completed, failed, warm, spawn, clients: f.clients, expired: f.expired, refused: f.refused }
    },
    async close () { await pool.destroy() }
  }
}
