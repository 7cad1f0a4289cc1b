// Server-side downloads: builds the store (Redis, or state files shared by this
// host's worker processes), the queue (BullMQ on that Redis, or in-process), the
// executor and storage housekeeping, and hands out what the routes serve
// (http/routes/downloads.ts). start() begins taking work;
// close() hands back or settles running tasks and stops the timers.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { AppError } from '../errors.ts'
import type { Config } from '../config.ts'
import { childEnv } from '../../workers/children.ts'
import type { Logger } from '../log.ts'
import type { PlatformRegistry, Target } from '../platforms/index.ts'
import type { Redis } from '../redis.ts'
import { runCleanup, startCleanupTimer } from './cleanup.ts'
import type { CleanupCounts } from './cleanup.ts'
import { createExecutor } from './execute.ts'
import { DEFAULT_BATCH_MAX } from './request.ts'
import { createLocalQueue } from './queue-local.ts'
import type { StorageReport } from './schemas.ts'
import { createStorage } from './storage.ts'
import { createFileStore } from './store-files.ts'
import { createRedisStore } from './store-redis.ts'
import { createTaskManager } from './tasks.ts'
import type { TaskManager } from './tasks.ts'
import type { DownloadQueue, TaskStore } from './types.ts'
import type { Classify } from './ytdlp-download.ts'

export type { Classify } from './ytdlp-download.ts'

export type DownloadsConfig = Pick<Config, 'DOWNLOAD_DIRECTORY' | 'MAX_STORAGE_GB' | 'TEMP_FILE_RETENTION_HOURS' | 'CLEANUP_INTERVAL' | 'cleanupIntervalMs' |
'MAX_CONCURRENT_DOWNLOADS' | 'WORKERS' | 'YTDLP_PATH' | 'DOWNLOAD_TASKS_PER_CLIENT' | 'DOWNLOAD_TASKS_MAX'>

// Timings with defaults for production; tests shorten them.
export interface DownloadsOptions {
  concurrency: number
  // absolute (src/extract/executables.ts resolves it at start)
  ytdlpPath: string
  ffmpegPath: string | null
  // yt-dlp's environment (workers/children.ts)
  env: Record<string, string>
  // every download converts or remuxes (--remux-video, -x): without ffmpeg they answer 503 FFMPEG_MISSING
  ffmpegRequired: boolean
  downloadTimeoutMs: number
  stallTimeoutMs: number
  progressIntervalMs: number
  spawnGapMs: number
  heartbeatMs: number
  leaseMs: number
  tickMs: number
  cancelWaitMs: number
  sseHeartbeatMs: number
  ssePollMs: number
  bullLockMs: number
  bullStalledIntervalMs: number
  bullMaxStalledCount: number
  batchMax: number
  tempGraceMs: number
  redisPrefix: string
}

export interface DownloadsDeps {
  config: DownloadsConfig
  log: Logger
  redis: Redis | null
  registry: PlatformRegistry
  classify: Classify
  cookiesFor?: (platform: string) => string | null
  // the operator's yt-dlp settings for a platform, as options (default: none, and no cache folder)
  settingsArgs?: (platform: string) => readonly string[]
  options?: Partial<DownloadsOptions>
  // item=N: the 4xx of an item the post does not have or that is a photo, before anything is queued
  checkItem?: (target: Target, item: number) => Promise<void>
}

export interface Downloads {
  // What the routes serve; each call starts downloads if the owner has not yet.
  manager: TaskManager
  watch: TaskStore['watch']
  // full: the folder and file names too (admins); otherwise use and quota only
  report: (full: boolean) => Promise<StorageReport>
  cleanup: () => Promise<CleanupCounts>
  // the folder finished files are served from
  root: string
  options: Readonly<Pick<DownloadsOptions, 'batchMax' | 'sseHeartbeatMs' | 'ssePollMs' | 'progressIntervalMs'>>
  start: () => Promise<void>
  close: () => Promise<void>
}

function defaults (config: DownloadsConfig): DownloadsOptions {
  return {
    concurrency: Math.max(1, Math.floor(config.MAX_CONCURRENT_DOWNLOADS / config.WORKERS)),
    ytdlpPath: config.YTDLP_PATH === '' ? 'yt-dlp' : config.YTDLP_PATH,
    ffmpegPath: null,
    env: childEnv(process.env),
    ffmpegRequired: false,
    downloadTimeoutMs: 6 * 3600_000,
    stallTimeoutMs: 120_000,
    progressIntervalMs: 250,
    spawnGapMs: 100,
    heartbeatMs: 2000,
    leaseMs: 10_000,
    tickMs: 500,
    cancelWaitMs: 5000,
    sseHeartbeatMs: 15_000,
    ssePollMs: 2000,
    bullLockMs: 30_000,
    bullStalledIntervalMs: 15_000,
    bullMaxStalledCount: 2,
    batchMax: DEFAULT_BATCH_MAX,
    tempGraceMs: 10 * 60_000,
    redisPrefix: 'vg:'
  }
}

export function createDownloads (deps: DownloadsDeps): Downloads {
  const { config, log } = deps
  const opts: DownloadsOptions = { ...defaults(config), ...deps.options }
  const retentionMs = config.TEMP_FILE_RETENTION_HOURS * 3600_000
  const owner = `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`
  const storage = createStorage({
    root: resolve(config.DOWNLOAD_DIRECTORY),
    quotaBytes: Math.floor(config.MAX_STORAGE_GB * 1024 ** 3),
    retentionMs,
    cleanupIntervalSec: config.CLEANUP_INTERVAL,
    usageCacheMs: 1000
  })
  let parts: { store: TaskStore, queue: DownloadQueue, manager: TaskManager, stopCleanup: () => void } | null = null
  let starting: Promise<void> | null = null

  async function build (): Promise<void> {
    await storage.init()
    const store = deps.redis === null
      ? await createFileStore({ stateDir: storage.stateDir, leaseMs: opts.leaseMs, pollMs: Math.min(250, opts.tickMs) })
      : await createRedisStore({ redis: deps.redis, log, ttlSec: Math.ceil(retentionMs / 1000) + 86_400, leaseMs: opts.leaseMs, prefix: `${opts.redisPrefix}dl:` })
    const run = createExecutor({
      store,
      storage,
      log,
      owner,
      ytdlpPath: opts.ytdlpPath,
      ffmpegPath: opts.ffmpegPath,
      env: opts.env,
      classify: deps.classify,
      cookiesFor: deps.cookiesFor ?? (() => null),
      ...(deps.settingsArgs === undefined ? {} : { settingsArgs: deps.settingsArgs }),
      timeoutMs: opts.downloadTimeoutMs,
      stallTimeoutMs: opts.stallTimeoutMs,
      progressIntervalMs: opts.progressIntervalMs,
      spawnGapMs: opts.spawnGapMs,
      canRequeue: deps.redis !== null
    })
    const queue = deps.redis === null
      ? createLocalQueue({ concurrency: opts.concurrency, run, log })
      // BullMQ is loaded only with Redis: importing it costs ~0.4 s of every worker's start.
      : await (await import('./queue-bullmq.ts')).createBullQueue({
        redis: deps.redis,
        log,
        concurrency: opts.concurrency,
        run,
        lockMs: opts.bullLockMs,
        stalledIntervalMs: opts.bullStalledIntervalMs,
        maxStalledCount: opts.bullMaxStalledCount,
        prefix: `${opts.redisPrefix}bull`
      })
    const manager = createTaskManager({
      store,
      queue,
      storage,
      registry: deps.registry,
      log,
      owner,
      heartbeatMs: opts.heartbeatMs,
      tickMs: opts.tickMs,
      cancelWaitMs: opts.cancelWaitMs,
      enqueueGraceMs: 10_000,
      caps: { perClient: config.DOWNLOAD_TASKS_PER_CLIENT, global: config.DOWNLOAD_TASKS_MAX },
      retentionMs,
      ...(deps.checkItem === undefined ? {} : { checkItem: deps.checkItem }),
      unavailable: () => opts.ffmpegRequired && opts.ffmpegPath === null
        ? new AppError('FFMPEG_MISSING', undefined, { detail: 'no ffmpeg on this server (FFMPEG_PATH): downloads convert and merge with it. Install ffmpeg and ffprobe or set FFMPEG_PATH, then restart.' })
        : null
    })
    await manager.start()
    const cleanupDeps = { storage, store, manager, retentionMs, tempGraceMs: opts.tempGraceMs }
    const stopCleanup = startCleanupTimer(cleanupDeps, config.cleanupIntervalMs, log)
    parts = { store, queue, manager, stopCleanup }
  }

  function start (): Promise<void> {
    // a failed start (Redis unreachable) is retried by the next call
    starting ??= build().catch((err: unknown) => {
      starting = null
      throw err
    })
    return starting
  }

  const need = (): NonNullable<typeof parts> => {
    if (parts === null) throw new Error('downloads are not started')
    return parts
  }
  // The manager and store exist once start() has run; requests start it if the owner has not yet.
  const use = async (): Promise<NonNullable<typeof parts>> => {
    await start()
    return need()
  }
  const manager: TaskManager = {
    submit: async (req, caller) => await (await use()).manager.submit(req, caller),
    get: async (id, caller) => await (await use()).manager.get(id, caller),
    find: async (id) => await (await use()).manager.find(id),
    list: async (caller, query) => await (await use()).manager.list(caller, query),
    cancel: async (id, caller) => await (await use()).manager.cancel(id, caller),
    fileReadable: async (name, caller) => await (await use()).manager.fileReadable(name, caller),
    start,
    close: async () => await need().manager.close()
  }
  const watch: TaskStore['watch'] = (id, listener) => need().store.watch(id, listener)

  return {
    manager,
    watch,
    report: async (full) => { await use(); return await storage.report(full) },
    cleanup: async () => { const p = await use(); return await runCleanup({ storage, store: p.store, manager: p.manager, retentionMs, tempGraceMs: opts.tempGraceMs }) },
    root: storage.root,
    options: { batchMax: opts.batchMax, sseHeartbeatMs: opts.sseHeartbeatMs, ssePollMs: opts.ssePollMs, progressIntervalMs: opts.progressIntervalMs },
    start,
    async close () {
      if (starting === null) return
      await starting.catch(() => {})
      if (parts === null) return
      parts.stopCleanup()
      await parts.manager.close()
      await parts.store.close()
    }
  }
}
