// Runs one task: claims it (running, owner = this process), downloads into the
// task's temp folder, moves the file to its final name, and records the outcome.
// While running, this process is the record's only writer; progress writes are
// throttled and serialized so a slower write never lands after a newer one.
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { extname, join, relative } from 'node:path'
import type { Logger } from '../log.ts'
import type { ErrorCode } from '../errors.ts'
import { failureDetail } from '../extract/failure.ts'
import { buildDownloadArgs, NO_QUIET } from './args.ts'
import { finalName, stripExtension } from './names.ts'
import { revise } from './record.ts'
import type { Storage } from './storage.ts'
import { isTerminal } from './types.ts'
import type { AbortReason, RunOutcome, TaskRecord, TaskRunner, TaskStore } from './types.ts'
import { runDownload } from './ytdlp-download.ts'
import type { Classify, DownloadOutcome } from './ytdlp-download.ts'

export interface ExecutorDeps {
  store: TaskStore
  storage: Storage
  log: Logger
  owner: string
  ytdlpPath: string
  ffmpegPath: string | null
  env: Record<string, string>
  classify: Classify
  cookiesFor: (platform: string) => string | null
  // the operator's yt-dlp settings for a platform, as options
  settingsArgs?: (platform: string) => readonly string[]
  timeoutMs: number
  stallTimeoutMs: number
  progressIntervalMs: number
  // spawn() blocks the event loop until the child has exec'd (measured: 5–30 ms
  // each, ~100 ms when many start at once), so yt-dlp starts are spaced out
  spawnGapMs: number
  // with a shared queue a task stopped by shutdown goes back to it
  canRequeue: boolean
}

function reasonOf (signal: AbortSignal): AbortReason {
  const r: unknown = signal.reason
  return r === 'cancel' || r === 'shutdown' || r === 'storage' || r === 'timeout' || r === 'stalled' ? r : 'cancel'
}

// "yt-dlp: error: no such option: --no-quiet" (optparse's usage error, exit 2)
const refusesNoQuiet = (outcome: DownloadOutcome): boolean =>
  !outcome.ok && !outcome.aborted && outcome.stderrTail.includes(`no such option: ${NO_QUIET}`)

export function createExecutor (deps: ExecutorDeps): TaskRunner {
  const { store, storage, log } = deps
  // whether this yt-dlp takes --no-quiet: asked by trying, once per process
  let messages = true
  let nextSpawnAt = 0
  const spawnSlot = async (): Promise<void> => {
    const now = Date.now()
    const at = Math.max(now, nextSpawnAt)
    nextSpawnAt = at + deps.spawnGapMs
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now))
  }

  async function finish (task: TaskRecord, changes: Partial<TaskRecord>): Promise<TaskRecord> {
    const done = revise(task, { speed: null, eta: null, finished_at: new Date().toISOString(), ...changes })
    await store.save(done)
    return done
  }

  return async function run (id, signal): Promise<RunOutcome> {
    const initial = await store.get(id)
    if (initial === null || isTerminal(initial.state)) return 'done'
    if (await store.cancelRequested(id)) {
      await finish(initial, { state: 'cancelled' })
      return 'done'
    }
    let task = revise(initial, {
      state: 'running',
      owner: deps.owner,
      attempt: initial.attempt + 1,
      started_at: new Date().toISOString(),
      percent: 0,
      downloaded_bytes: 0,
      total_bytes: null,
      speed: null,
      eta: null,
      error: null
    })
    await store.save(task)

    // One folder per attempt: a yt-dlp orphaned by a crashed process may still
    // be writing into an earlier attempt's folder.
    const dir = storage.tempDir(id)
    const attemptDir = join(dir, String(task.attempt))
    await rm(dir, { recursive: true, force: true })
    await mkdir(attemptDir, { recursive: true })
    const local = new AbortController()
    const onOuterAbort = (): void => local.abort(signal.reason)
    signal.addEventListener('abort', onOuterAbort, { once: true })

    // serialized, throttled progress writes
    let writing: Promise<void> = Promise.resolve()
    let lastWriteMs = 0
    const write = (next: TaskRecord): void => {
      writing = writing.then(async () => await store.save(next)).catch((err: unknown) => log.warn({ err, taskId: id }, 'cannot save download progress'))
    }

    // the temp folder goes before the final state is written, so a client that
    // sees "cancelled" or "failed" never finds partial files behind it
    const settle = async (changes: Partial<TaskRecord>): Promise<RunOutcome> => {
      await rm(dir, { recursive: true, force: true }).catch(() => {})
      await finish(task, changes)
      return 'done'
    }
    const failed = async (code: ErrorCode, message: string): Promise<RunOutcome> => await settle({ state: 'failed', error: { code, message } })

    try {
      const usage = await storage.usage(true)
      const allowance = storage.quotaBytes - usage.usedBytes
      if (allowance <= 0) return await failed('STORAGE_FULL', 'download storage is full')
      const spec = task.spec
      const download = async (): Promise<DownloadOutcome> => await runDownload({
        ytdlpPath: deps.ytdlpPath,
        env: deps.env,
        args: buildDownloadArgs({
          url: spec.url,
          quality: spec.quality,
          format: spec.format,
          audioOnly: spec.audio_only,
          subtitles: spec.subtitles ?? [],
          ...(spec.item === undefined ? {} : { item: spec.item }),
          outputTemplate: join(attemptDir, 'media.%(ext)s'),
          cookiesFile: deps.cookiesFor(spec.platform),
          ffmpegPath: deps.ffmpegPath,
          maxFileBytes: allowance,
          socketTimeoutSec: 20,
          settingsArgs: deps.settingsArgs?.(spec.platform) ?? ['--no-cache-dir'],
          messages
        }),
        timeoutMs: deps.timeoutMs,
        stallTimeoutMs: deps.stallTimeoutMs,
        signal: local.signal,
        classify: deps.classify,
        onProgress (p) {
          if (p.downloaded_bytes > allowance) local.abort('storage' satisfies AbortReason)
          task = revise(task, p)
          const now = Date.now()
          if (now - lastWriteMs >= deps.progressIntervalMs) {
            lastWriteMs = now
            write(task)
          }
        }
      })
      await spawnSlot()
      let outcome = await download()
      if (messages && refusesNoQuiet(outcome)) {
        messages = false
        await spawnSlot()
        outcome = await download()
      }
      await writing
      if (outcome.ok) {
        const inside = relative(attemptDir, outcome.path)
        if (inside.startsWith('..') || inside.includes('/')) return await failed('INTERNAL', 'yt-dlp wrote outside the task folder')
        const base = spec.filename !== null ? stripExtension(spec.filename) : outcome.title
        const name = finalName(base, id, extname(outcome.path).slice(1))
        await rename(outcome.path, join(storage.root, name))
        const size = (await stat(join(storage.root, name))).size
        return await settle({
          state: 'completed',
          percent: 100,
          downloaded_bytes: size,
          total_bytes: size,
          file: name,
          file_size: size,
          title: outcome.title
        })
      }
      // yt-dlp's failures carry the same remedy as extraction errors (src/extract/failure.ts)
      // our folders are nobody's business: yt-dlp's messages name the temp file
      if (!outcome.aborted) return await failed(outcome.code, failureDetail(outcome.code, outcome.message.replaceAll(attemptDir, '').replaceAll(storage.root, ''), spec.platform))
      const reason = reasonOf(local.signal)
      if (reason === 'cancel') return await settle({ state: 'cancelled' })
      if (reason === 'storage') return await failed('STORAGE_FULL', 'the download outgrew the storage space left')
      if (reason === 'shutdown' && deps.canRequeue) {
        await rm(dir, { recursive: true, force: true }).catch(() => {})
        await store.save(revise(task, { state: 'queued', owner: null, percent: 0, downloaded_bytes: 0, total_bytes: null, speed: null, eta: null }))
        return 'requeue'
      }
      return await failed('SHUTTING_DOWN', 'the server shut down during the download')
    } catch (err) {
      log.error({ err, taskId: id }, 'download task failed unexpectedly')
      await writing
      await failed('INTERNAL', 'the download failed unexpectedly').catch(() => {})
      return 'done'
    } finally {
      signal.removeEventListener('abort', onOuterAbort)
      await rm(dir, { recursive: true, force: true }).catch(() => {})
    }
  }
}
