// The download use cases: submit (resolve, dedupe, quota, enqueue), read with
// reconciliation (a task whose owner died is never left "running"), list, and
// cancel/remove. Also this process's housekeeping tick: heartbeat, and acting
// on cancel requests made through other processes.
import { createHash } from 'node:crypto'
import { AppError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { PlatformRegistry } from '../platforms/index.ts'
import type { DownloadRequest } from './request.ts'
import { newTaskId } from './names.ts'
import { newRecord, revise } from './record.ts'
import type { Storage } from './storage.ts'
import { isTerminal } from './types.ts'
import type { DownloadQueue, DownloadSpec, TaskRecord, TaskState, TaskStore } from './types.ts'

export interface TaskManagerDeps {
  store: TaskStore
  queue: DownloadQueue
  storage: Storage
  registry: PlatformRegistry
  log: Logger
  owner: string
  heartbeatMs: number
  tickMs: number
  // how long DELETE waits for a running download to stop
  cancelWaitMs: number
  // a queued record younger than this may not have reached the queue yet
  enqueueGraceMs: number
  // why no download can run on this host (ffmpeg missing), checked before anything is queued
  unavailable?: () => AppError | null
}

export interface TaskManager {
  submit: (req: DownloadRequest) => Promise<{ task: TaskRecord, reused: boolean }>
  get: (id: string) => Promise<TaskRecord>
  find: (id: string) => Promise<TaskRecord | null>
  list: (status: TaskState | null) => Promise<TaskRecord[]>
  cancel: (id: string) => Promise<{ action: 'cancelled' | 'removed', fileRemoved: boolean, task: TaskRecord }>
  start: () => Promise<void>
  close: () => Promise<void>
}

export function dedupeKey (spec: DownloadSpec): string {
  return createHash('sha256').update(JSON.stringify([spec.url, spec.quality, spec.format, spec.audio_only])).digest('hex').slice(0, 40)
}

export function createTaskManager (deps: TaskManagerDeps): TaskManager {
  const { store, queue, storage, log } = deps
  const shared = queue.kind === 'bullmq'
  let timer: NodeJS.Timeout | null = null
  let lastBeat = 0
  let ticking = false
  let failing = false

  const interrupted = (task: TaskRecord): TaskRecord => revise(task, {
    state: 'failed',
    speed: null,
    eta: null,
    finished_at: new Date().toISOString(),
    error: { code: 'SERVICE_UNAVAILABLE', message: 'interrupted: the server process that held this download stopped' }
  })

  // Only records whose writer is gone are changed here, and only if nobody wrote in between (saveIf).
  async function reconcile (task: TaskRecord): Promise<TaskRecord> {
    if (isTerminal(task.state) || task.owner === deps.owner) return task
    if (!shared) {
      if (task.owner === null || await store.ownerAlive(task.owner)) return task
    } else {
      if (task.state === 'running' && task.owner !== null && await store.ownerAlive(task.owner)) return task
      if (task.state === 'queued' && Date.now() - Date.parse(task.updated_at) < deps.enqueueGraceMs) return task
      const job = await queue.jobState(task.id)
      if (job === 'active') return task
      if (job === 'waiting') return task.state === 'queued' ? task : { ...task, state: 'queued', owner: null, speed: null, eta: null }
    }
    const failed = interrupted(task)
    if (await store.saveIf(failed, task.seq)) return failed
    return await store.get(task.id) ?? failed
  }

  async function find (id: string): Promise<TaskRecord | null> {
    const task = await store.get(id)
    return task === null ? null : await reconcile(task)
  }

  async function get (id: string): Promise<TaskRecord> {
    const task = await find(id)
    if (task === null) throw new AppError('TASK_NOT_FOUND', `No download task ${id}`)
    return task
  }

  async function reusable (task: TaskRecord | null): Promise<boolean> {
    if (task === null) return false
    if (task.state === 'queued' || task.state === 'running') return true
    return task.state === 'completed' && task.file !== null && await storage.fileSize(task.file) !== null
  }

  async function submit (req: DownloadRequest): Promise<{ task: TaskRecord, reused: boolean }> {
    const refusal = deps.unavailable?.() ?? null
    if (refusal !== null) throw refusal
    const target = deps.registry.resolve({ url: req.url, platform: req.platform, id: req.id, kind: 'video' })
    const spec: DownloadSpec = {
      url: target.url,
      platform: target.platform.name,
      video_id: target.id,
      quality: req.quality,
      format: req.format,
      audio_only: req.audio_only,
      filename: req.filename
    }
    const key = dedupeKey(spec)
    const id = newTaskId()
    for (let i = 0; ; i++) {
      const holder = await store.claim(key, id)
      if (holder === null) break
      const existing = await find(holder)
      if (await reusable(existing) && existing !== null) return { task: existing, reused: true }
      if (await store.replace(key, holder, id)) break
      if (i >= 3) throw new AppError('SERVICE_UNAVAILABLE', 'The download could not be registered; try again')
    }
    const usage = await storage.usage()
    if (usage.usedBytes >= storage.quotaBytes) {
      await store.unclaim(key, id)
      throw new AppError('STORAGE_FULL', 'Download storage is full', { detail: `${usage.usedBytes} of ${storage.quotaBytes} bytes used; files expire after the retention period` })
    }
    const task = newRecord(id, spec, key, shared ? null : deps.owner)
    await store.save(task)
    try {
      await queue.enqueue(id)
    } catch (err) {
      await store.save(revise(task, { state: 'failed', finished_at: new Date().toISOString(), error: { code: 'SERVICE_UNAVAILABLE', message: 'the download queue is unavailable' } }))
      await store.unclaim(key, id)
      throw new AppError('SERVICE_UNAVAILABLE', 'The download queue is unavailable', { cause: err })
    }
    return { task, reused: false }
  }

  async function waitForEnd (id: string, ms: number): Promise<TaskRecord | null> {
    const until = Date.now() + ms
    for (;;) {
      const task = await find(id)
      if (task === null || isTerminal(task.state) || Date.now() >= until) return task
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  async function markCancelled (task: TaskRecord): Promise<TaskRecord> {
    const cancelled = revise(task, { state: 'cancelled', speed: null, eta: null, finished_at: new Date().toISOString() })
    if (await store.saveIf(cancelled, task.seq)) return cancelled
    return await get(task.id)
  }

  async function cancel (id: string): Promise<{ action: 'cancelled' | 'removed', fileRemoved: boolean, task: TaskRecord }> {
    const task = await get(id)
    if (isTerminal(task.state)) {
      const fileRemoved = task.file !== null && await storage.removeFile(task.file)
      await store.remove(id)
      await store.unclaim(task.dedupe_key, id)
      return { action: 'removed', fileRemoved, task }
    }
    await store.unclaim(task.dedupe_key, id)
    if (await queue.dequeue(id)) return { action: 'cancelled', fileRemoved: false, task: await markCancelled(task) }
    if (!queue.abort(id, 'cancel')) {
      await store.requestCancel(id)
      // a waiting task nobody will pick up (its owner is gone) has no one else to cancel it
      if (!shared && task.owner !== null && !await store.ownerAlive(task.owner)) return { action: 'cancelled', fileRemoved: false, task: await markCancelled(task) }
    }
    const after = await waitForEnd(id, deps.cancelWaitMs)
    return { action: 'cancelled', fileRemoved: false, task: after ?? task }
  }

  async function tick (): Promise<void> {
    const now = Date.now()
    if (now - lastBeat >= deps.heartbeatMs) {
      lastBeat = now
      await store.heartbeat(deps.owner)
    }
    for (const id of queue.localIds()) {
      if (!await store.cancelRequested(id)) continue
      if (await queue.dequeue(id)) {
        const task = await store.get(id)
        if (task !== null && !isTerminal(task.state)) await markCancelled(task)
      } else queue.abort(id, 'cancel')
    }
  }

  // Store and queue failures (Redis down, disk errors) are a 503 for the client, logged once here.
  function guard<A extends unknown[], R> (what: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args) => {
      try {
        return await fn(...args)
      } catch (err) {
        if (err instanceof AppError) throw err
        log.error({ err }, `download ${what} failed`)
        throw new AppError('SERVICE_UNAVAILABLE', 'Download state is unavailable right now; try again', { cause: err })
      }
    }
  }

  return {
    submit: guard('submit', submit),
    get: guard('read', get),
    find: guard('read', find),
    list: guard('list', async (status: TaskState | null) => {
      const all = await Promise.all((await store.list()).map(reconcile))
      return all.filter((t) => status === null || t.state === status).sort((a, b) => b.created_at.localeCompare(a.created_at))
    }),
    cancel: guard('cancel', cancel),
    async start () {
      store.onCancel((id) => { queue.abort(id, 'cancel') })
      await store.heartbeat(deps.owner)
      lastBeat = Date.now()
      timer = setInterval(() => {
        if (ticking) return
        ticking = true
        tick()
          .then(() => { if (failing) log.info('download housekeeping recovered'); failing = false })
          .catch((err: unknown) => { if (!failing) log.warn({ err }, 'download housekeeping failed'); failing = true })
          .finally(() => { ticking = false })
      }, deps.tickMs)
      timer.unref()
    },
    async close () {
      if (timer !== null) clearInterval(timer)
      const unstarted = await queue.close()
      for (const id of unstarted) {
        const task = await store.get(id)
        if (task !== null && !isTerminal(task.state)) {
          await store.save(revise(task, { state: 'failed', finished_at: new Date().toISOString(), error: { code: 'SHUTTING_DOWN', message: 'the server shut down before the download started' } }))
        }
      }
    }
  }
}
