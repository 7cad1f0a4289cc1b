// The piscina pool of one HTTP worker: yt-dlp and manifest parsing run in its
// threads so the event loop never blocks. Sized explicitly (piscina's defaults
// assume one process per machine), bounded queue (full → EXTRACTION_BUSY).
// Only types come from workers/: the thread file is referenced by URL.
import { Piscina } from 'piscina'
import { AppError } from './errors.ts'
import type { ErrorCode } from './errors.ts'
import type { MediaInfo, PlaylistInfo, TaskResult, YtDlpTask } from '../workers/protocol.ts'

export interface PoolOptions {
  threads: number
  concurrency: number
  maxQueue: number
  ytdlpPath: string
  mode: 'warm' | 'spawn'
  timeoutMs: number
  maxOutputBytes?: number
  maxWarmJobs?: number
}

export interface PoolStats { queued: number, active: number, completed: number, failed: number, warm: number, spawn: number }

export interface ExtractionPool {
  ytdlp: (kind: 'info' | 'playlist', url: string, cookiesFile: string | null, playlistLimit?: number) => Promise<MediaInfo | PlaylistInfo>
  run: <T>(name: string, input: unknown) => Promise<T>
  stats: () => PoolStats
  close: () => Promise<void>
}

const TASK_FILE = new URL('../workers/index.js', import.meta.url)

function isTaskResult (x: unknown): x is TaskResult<unknown> {
  return typeof x === 'object' && x !== null && 'ok' in x && typeof x.ok === 'boolean'
}

export function createExtractionPool (opts: PoolOptions): ExtractionPool {
  const pool = new Piscina({
    filename: TASK_FILE.href,
    minThreads: opts.threads,
    maxThreads: opts.threads,
    concurrentTasksPerWorker: opts.concurrency,
    maxQueue: Math.max(1, opts.maxQueue),
    // Threads hold warm yt-dlp processes: keep them.
    idleTimeout: 24 * 60 * 60 * 1000,
    closeTimeout: 5000
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

  async function run<T> (name: string, input: unknown): Promise<T> {
    checkCapacity()
    active++
    try {
      return await pool.run(input, { name }) as T
    } catch (err) {
      throw new AppError('INTERNAL', 'The extraction thread failed', { cause: err })
    } finally {
      active--
    }
  }

  return {
    run,
    async ytdlp (kind, url, cookiesFile, playlistLimit) {
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
        ...(playlistLimit === undefined ? {} : { playlistLimit })
      }
      const result: unknown = await run('ytdlp', task)
      if (!isTaskResult(result)) throw new AppError('INTERNAL', 'The extraction thread returned nothing usable')
      if (!result.ok) {
        failed++
        const code: ErrorCode = result.code === 'INVALID_INPUT' ? 'INVALID_INPUT' : result.code
        throw new AppError(code, undefined, { detail: result.message.slice(0, 500) })
      }
      completed++
      if (result.mode === 'spawn') spawn++
      else warm++
      return result.value as MediaInfo | PlaylistInfo
    },
    stats: () => ({ queued: pool.queueSize, active, completed, failed, warm, spawn }),
    async close () { await pool.destroy() }
  }
}
