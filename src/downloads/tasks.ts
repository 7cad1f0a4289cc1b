// The download use cases: submit (resolve, dedupe, caps, quota, enqueue), read
// with reconciliation (a task whose owner died is never left "running"), list,
// and cancel/remove, each for a caller who sees only its own tasks (admins see
// all; anyone else's task is "not found"). Also this process's housekeeping
// tick: heartbeat, and acting on cancel requests made through other processes.
import { createHash } from 'node:crypto'
import { AppError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { PlatformRegistry, Target } from '../platforms/index.ts'
import type { DownloadRequest, ListQuery } from './request.ts'
import { newTaskId } from './names.ts'
import { clientOf, taskIdOfFile, visibleTo } from './owner.ts'
import type { Caller } from './owner.ts'
import { newRecord, revise } from './record.ts'
import type { Storage } from './storage.ts'
import { isTerminal } from './types.ts'
import type { DownloadQueue, DownloadSpec, TaskCaps, TaskClient, TaskPage, TaskRecord, TaskStore } from './types.ts'

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
  // DOWNLOAD_TASKS_PER_CLIENT (admins are exempt) and DOWNLOAD_TASKS_MAX; 0 = none
  caps: TaskCaps
  // how long a finished task is kept (when a client at its cap gets a place back)
  retentionMs: number
  // throws the 4xx of an item the post does not have, or that is a photo (item=N), before anything is queued
  checkItem?: (target: Target, item: number) => Promise<void>
}

// A caller that owns what it creates (an anonymous one has been given a token).
export type OwnerCaller = Caller & { owner: string }

export interface TaskManager {
  submit: (req: DownloadRequest, caller: OwnerCaller) => Promise<{ task: TaskRecord, reused: boolean }>
  get: (id: string, caller: Caller) => Promise<TaskRecord>
  // no ownership check: for a caller already shown the task (progress events)
  find: (id: string) => Promise<TaskRecord | null>
  list: (caller: Caller, query: ListQuery) => Promise<TaskPage>
  cancel: (id: string, caller: Caller) => Promise<{ action: 'cancelled' | 'removed', fileRemoved: boolean, task: TaskRecord }>
  // whether a finished file may be served to this caller (it belongs to one of its tasks, or the caller is an admin)
  fileReadable: (name: string, caller: Caller) => Promise<boolean>
  start: () => Promise<void>
  close: () => Promise<void>
}

// Per owner: the same download asked for by two clients is two tasks, neither seeing the other's.
// Subtitle languages and the item count only when given, so keys of downloads without them are unchanged.
export function dedupeKey (spec: DownloadSpec, owner: string): string {
  const subs = spec.subtitles ?? []
  const item = spec.item === undefined ? [] : [`item${spec.item}`]
  return createHash('sha256').update(JSON.stringify([owner, spec.url, spec.quality, spec.format, spec.audio_only, ...(subs.length > 0 ? [subs] : []), ...item])).digest('hex').slice(0, 40)
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

  // Someone else's task answers as a missing one, so ids do not reveal what exists.
  async function get (id: string, caller: Caller): Promise<TaskRecord> {
    const stored = await store.get(id)
    if (stored === null || !visibleTo(stored, caller)) throw new AppError('TASK_NOT_FOUND', `No download task ${id}`)
    return await reconcile(stored)
  }

  async function capRefusal (verdict: 'client' | 'global', client: TaskClient): Promise<AppError> {
    if (verdict === 'global') {
      return new AppError('TASK_STORE_FULL', undefined, {
        detail: `the server holds its limit of ${deps.caps.global} download tasks (DOWNLOAD_TASKS_MAX); finished tasks expire after the retention period`
      })
    }
    // a place frees when the client's oldest task expires (or when the client deletes a finished one)
    const oldest = await store.oldest(client.quota)
    const now = Date.now()
    const from = oldest?.finished_at == null ? now : Date.parse(oldest.finished_at)
    const retryAfter = Math.max(1, Math.ceil((from + deps.retentionMs - now) / 1000))
    return new AppError('TOO_MANY_TASKS', `At most ${deps.caps.perClient} download tasks per client`, {
      detail: `finished tasks count until they expire: delete them (DELETE /api/v2/videos/tasks/{id}) to make room, or retry in ${retryAfter} s`,
      headers: { 'retry-after': String(retryAfter) }
    })
  }

  async function reusable (task: TaskRecord | null): Promise<boolean> {
    if (task === null) return false
    if (task.state === 'queued' || task.state === 'running') return true
    return task.state === 'completed' && task.file !== null && await storage.fileSize(task.file) !== null
  }

  async function submit (req: DownloadRequest, caller: OwnerCaller): Promise<{ task: TaskRecord, reused: boolean }> {
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
      filename: req.filename,
      ...(req.subtitles.length > 0 ? { subtitles: req.subtitles } : {}),
      ...(req.item === null ? {} : { item: req.item })
    }
    if (req.item !== null) await deps.checkItem?.(target, req.item)
    const key = dedupeKey(spec, caller.owner)
    const id = newTaskId()
    for (let i = 0; ; i++) {
      const holder = await store.claim(key, id)
      if (holder === null) break
      const existing = await find(holder)
      if (await reusable(existing) && existing !== null && visibleTo(existing, caller)) return { task: existing, reused: true }
      if (await store.replace(key, holder, id)) break
      if (i >= 3) throw new AppError('SERVICE_UNAVAILABLE', 'The download could not be registered; try again')
    }
    const client = clientOf(caller)
    const now = new Date()
    const verdict = await store.reserve(id, client, now.getTime(), { perClient: caller.admin ? 0 : deps.caps.perClient, global: deps.caps.global })
    if (verdict !== 'ok') {
      await store.unclaim(key, id)
      throw await capRefusal(verdict, client)
    }
    const usage = await storage.usage()
    if (usage.usedBytes >= storage.quotaBytes) {
      await store.release(id, client, now.getTime())
      await store.unclaim(key, id)
      throw new AppError('STORAGE_FULL', 'Download storage is full', { detail: `${usage.usedBytes} of ${storage.quotaBytes} bytes used; files expire after the retention period` })
    }
    const task = newRecord(id, spec, key, shared ? null : deps.owner, client, now)
    try {
      await store.save(task)
    } catch (err) {
      await store.release(id, client, now.getTime()).catch(() => {})
      await store.unclaim(key, id).catch(() => {})
      throw err
    }
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
    return await find(task.id) ?? cancelled
  }

  async function cancel (id: string, caller: Caller): Promise<{ action: 'cancelled' | 'removed', fileRemoved: boolean, task: TaskRecord }> {
    const task = await get(id, caller)
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

  // A page of the caller's tasks (an admin's: everyone's), newest first; costs the page, not the store.
  async function list (caller: Caller, query: ListQuery): Promise<TaskPage> {
    if (!caller.admin && caller.owner === null) return { tasks: [], total: 0 }
    const page = await store.page({ owner: caller.admin ? null : caller.owner, state: query.status }, query.offset, query.limit)
    const tasks = await Promise.all(page.tasks.map(reconcile))
    return { tasks: tasks.filter((t) => query.status === null || t.state === query.status), total: page.total }
  }

  async function fileReadable (name: string, caller: Caller): Promise<boolean> {
    if (caller.admin) return true
    const id = taskIdOfFile(name)
    const task = id === null ? null : await store.get(id)
    return task !== null && task.file === name && visibleTo(task, caller)
  }

  return {
    submit: guard('submit', submit),
    get: guard('read', get),
    find: guard('read', find),
    list: guard('list', list),
    cancel: guard('cancel', cancel),
    fileReadable: guard('read', fileReadable),
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
