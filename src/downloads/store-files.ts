// Task state without Redis: small JSON files under <DOWNLOAD_DIRECTORY>/.vidgate,
// so every HTTP worker process on the host sees every task. Writes are atomic
// (temp file + rename); other processes notice changes by polling mtimes.
//   tasks/<id>.json   the record (written by its owner only)
//   keys/<key>        dedupe key → task id (created with link(), which fails if it exists)
//   cancel/<id>       a cancel request for the owner to act on
//   owners/<owner>    each process's heartbeat; a stale one means the owner died
//   index/<scope>/    ordered sets of task ids for listings and caps (dir-index.ts):
//                     all, all.<state>, o.<client>, o.<client>.<state>, q.<quota>
// Index entries are written before the record and removed before it, so a
// crash leaves at worst an entry without a record, which listings skip and
// drop once it is older than ENTRY_GRACE_MS.
import { readFile as readFileCallback } from 'node:fs'
import { link, mkdir, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createDirIndex, entryName, parseEntry } from './dir-index.ts'
import { parseRecord } from './record.ts'
import { ENTRY_GRACE_MS, isTerminal, TASK_STATES } from './types.ts'
import type { TaskClient, TaskListener, TaskRecord, TaskScope, TaskState, TaskStore } from './types.ts'

export interface FileStoreOptions {
  stateDir: string
  leaseMs: number
  pollMs: number
}

// A page of a listing reads its records at once: 50 small files took 2-3 ms with
// the callback readFile and 4-5 ms with fs/promises' (Node 20, page cache, busy 2 cores).
const readFile = promisify(readFileCallback)

const isCode = (err: unknown, code: string): boolean => err instanceof Error && 'code' in err && err.code === code

async function ignoreMissing<T> (p: Promise<T>): Promise<T | null> {
  try {
    return await p
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null
    throw err
  }
}

// the store-wide count behind DOWNLOAD_TASKS_MAX may be this old (a folder of every task is read at most this often)
const GLOBAL_COUNT_MAX_AGE_MS = 1000
const MAX_INDEXED = 10_000

export function fileScope (scope: TaskScope): string {
  const base = scope.owner === null ? 'all' : `o.${scope.owner}`
  return scope.state === null ? base : `${base}.${scope.state}`
}
const quotaScope = (quota: string): string => `q.${quota}`

// Where a task is a member in `state`; `others`: the state scopes it must not be in.
function scopesOf (client: TaskClient | null, state: TaskState): { member: string[], others: string[] } {
  const owners: Array<string | null> = client === null ? [null] : [null, client.owner]
  const member = owners.map((owner) => fileScope({ owner, state: null }))
  const others: string[] = []
  for (const owner of owners) {
    member.push(fileScope({ owner, state }))
    for (const s of TASK_STATES) if (s !== state) others.push(fileScope({ owner, state: s }))
  }
  if (client !== null) member.push(quotaScope(client.quota))
  return { member, others }
}

export async function writeAtomic (path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(tmp, data)
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

export async function createFileStore (opts: FileStoreOptions): Promise<TaskStore> {
  const dirs = {
    tasks: join(opts.stateDir, 'tasks'),
    keys: join(opts.stateDir, 'keys'),
    cancel: join(opts.stateDir, 'cancel'),
    owners: join(opts.stateDir, 'owners'),
    index: join(opts.stateDir, 'index')
  }
  // state written before the index existed is indexed once, at the first start that finds it missing
  const unindexed = await ignoreMissing(stat(dirs.index)) === null
  await Promise.all(Object.values(dirs).map(async (d) => await mkdir(d, { recursive: true })))
  const taskPath = (id: string): string => join(dirs.tasks, `${id}.json`)
  const keyPath = (key: string): string => join(dirs.keys, key)
  const index = createDirIndex(dirs.index)

  const listeners = new Map<string, Set<TaskListener>>()
  const seen = new Map<string, string>()
  // what this process last indexed per unfinished task: progress writes skip the index
  const indexed = new Map<string, string>()
  // per client: the reservation in progress
  const reserving = new Map<string, Promise<void>>()
  let polling = false

  async function get (id: string): Promise<TaskRecord | null> {
    const text = await ignoreMissing(readFile(taskPath(id), 'utf8'))
    return text === null ? null : parseRecord(text)
  }

  function emit (id: string, task: TaskRecord | null): void {
    for (const l of listeners.get(id) ?? []) l(task)
  }

  async function indexTask (task: TaskRecord): Promise<void> {
    const mark = `${task.state}|${task.client?.owner ?? ''}|${task.client?.quota ?? ''}|${task.created_at}`
    if (indexed.get(task.id) === mark) return
    const entry = entryName(Date.parse(task.created_at), task.id)
    const { member, others } = scopesOf(task.client, task.state)
    await Promise.all(member.map(async (scope) => await index.add(scope, entry)))
    await Promise.all(others.map(async (scope) => await index.drop(scope, entry)))
    if (isTerminal(task.state)) indexed.delete(task.id)
    else {
      if (indexed.size >= MAX_INDEXED) indexed.clear()
      indexed.set(task.id, mark)
    }
  }

  async function unindex (task: TaskRecord): Promise<void> {
    indexed.delete(task.id)
    const entry = entryName(Date.parse(task.created_at), task.id)
    const { member, others } = scopesOf(task.client, task.state)
    await Promise.all([...member, ...others].map(async (scope) => await index.drop(scope, entry)))
  }

  async function save (task: TaskRecord): Promise<void> {
    await indexTask(task)
    await writeAtomic(taskPath(task.id), JSON.stringify(task))
    emit(task.id, task)
  }

  // How many tasks a scope holds, dropping entries that lost their record (a crash) once past the grace.
  async function liveCount (scope: string): Promise<number> {
    const now = Date.now()
    let count = 0
    for (const name of await index.entries(scope)) {
      const e = parseEntry(name)
      if (e === null) continue
      if (now - e.createdMs > ENTRY_GRACE_MS && await ignoreMissing(stat(taskPath(e.id))) === null) await index.drop(scope, name)
      else count++
    }
    return count
  }

  async function readKey (key: string): Promise<string | null> {
    const text = await ignoreMissing(readFile(keyPath(key), 'utf8'))
    return text === null || text === '' ? null : text
  }

  async function claim (key: string, id: string): Promise<string | null> {
    for (let i = 0; i < 5; i++) {
      const tmp = `${keyPath(key)}.${randomBytes(6).toString('hex')}.tmp`
      await writeFile(tmp, id)
      try {
        await link(tmp, keyPath(key))
        return null
      } catch (err) {
        if (!isCode(err, 'EEXIST')) throw err
      } finally {
        await unlink(tmp).catch(() => {})
      }
      const holder = await readKey(key)
      if (holder !== null) return holder
    }
    throw new Error(`dedupe key ${key} keeps changing`)
  }

  // Two submitters replacing the same stale key at once may both win; the cost is one duplicate download.
  async function replace (key: string, staleId: string, id: string): Promise<boolean> {
    if (await readKey(key) !== staleId) return false
    await writeAtomic(keyPath(key), id)
    return true
  }

  // One shared timer polls the mtimes of watched records; a change is read and emitted.
  async function poll (): Promise<void> {
    for (const id of listeners.keys()) {
      const s = await ignoreMissing(stat(taskPath(id))).catch(() => null)
      const mark = s === null ? 'gone' : `${s.mtimeMs}:${s.size}:${s.ino}`
      if (seen.get(id) === mark) continue
      seen.set(id, mark)
      emit(id, s === null ? null : await get(id).catch(() => null))
    }
  }
  if (unindexed) {
    for (const name of (await readdir(dirs.tasks)).filter((n) => n.endsWith('.json'))) {
      const task = await get(name.slice(0, -5)).catch(() => null)
      if (task !== null) await indexTask(task)
    }
  }

  const timer = setInterval(() => {
    if (polling || listeners.size === 0) return
    polling = true
    poll().finally(() => { polling = false })
  }, opts.pollMs)
  timer.unref()

  return {
    kind: 'files',
    get,
    save,
    async saveIf (task, expectedSeq) {
      const current = await get(task.id)
      if (current !== null && current.seq !== expectedSeq) return false
      await save(task)
      return true
    },
    async remove (id) {
      const task = await get(id)
      if (task !== null) await unindex(task)
      await ignoreMissing(unlink(taskPath(id)))
      await ignoreMissing(unlink(join(dirs.cancel, id)))
      emit(id, null)
    },
    async list () {
      const names = await readdir(dirs.tasks)
      const tasks = await Promise.all(names.filter((n) => n.endsWith('.json')).map(async (n) => await get(n.slice(0, -5)).catch(() => null)))
      return tasks.filter((t) => t !== null)
    },
    async page (scope, offset, limit) {
      const name = fileScope(scope)
      const entries = await index.entries(name)
      const tasks: TaskRecord[] = []
      const now = Date.now()
      let i = offset
      while (tasks.length < limit && i < entries.length) {
        const batch = entries.slice(i, i + limit - tasks.length)
        i += batch.length
        const records = await Promise.all(batch.map(async (entry) => {
          const e = parseEntry(entry)
          return e === null ? null : await get(e.id).catch(() => null)
        }))
        for (const [j, task] of records.entries()) {
          const entry = batch[j] ?? ''
          if (task === null) {
            if (now - (parseEntry(entry)?.createdMs ?? now) > ENTRY_GRACE_MS) await index.drop(name, entry)
            continue
          }
          // the index is a hint, the record decides (a state change may be half-written)
          if (scope.state !== null && task.state !== scope.state) continue
          if (scope.owner !== null && task.client?.owner !== scope.owner) continue
          tasks.push(task)
        }
      }
      return { tasks, total: entries.length }
    },
    // Add first, then count: two processes racing for a client's last place may both be
    // refused, never both let in. Within this process one client's reservations queue.
    async reserve (id, client, createdMs, caps) {
      const quota = quotaScope(client.quota)
      const before = reserving.get(quota) ?? Promise.resolve()
      const turn = before.then(async () => {
        const entry = entryName(createdMs, id)
        await index.add(quota, entry)
        await index.add('all', entry)
        let verdict: 'ok' | 'client' | 'global' = 'ok'
        if (caps.perClient > 0 && (await index.entries(quota)).length > caps.perClient && await liveCount(quota) > caps.perClient) verdict = 'client'
        else if (caps.global > 0 && (await index.entries('all', GLOBAL_COUNT_MAX_AGE_MS)).length > caps.global) verdict = 'global'
        if (verdict !== 'ok') {
          await index.drop(quota, entry)
          await index.drop('all', entry)
        }
        return verdict
      })
      const settled = turn.then(() => {}, () => {})
      reserving.set(quota, settled)
      void settled.then(() => { if (reserving.get(quota) === settled) reserving.delete(quota) })
      return await turn
    },
    async release (id, client, createdMs) {
      const entry = entryName(createdMs, id)
      await index.drop(quotaScope(client.quota), entry)
      await index.drop('all', entry)
    },
    async oldest (quota) {
      const entries = await index.entries(quotaScope(quota))
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = parseEntry(entries[i] ?? '')
        const task = e === null ? null : await get(e.id).catch(() => null)
        if (task !== null) return task
      }
      return null
    },
    claim,
    replace,
    async unclaim (key, id) {
      if (await readKey(key) === id) await ignoreMissing(unlink(keyPath(key)))
    },
    async requestCancel (id) { await writeFile(join(dirs.cancel, id), '') },
    async cancelRequested (id) { return await ignoreMissing(stat(join(dirs.cancel, id))) !== null },
    onCancel () {},
    async heartbeat (owner) {
      const path = join(dirs.owners, owner)
      const now = new Date()
      try {
        await utimes(path, now, now)
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err
        await writeFile(path, String(process.pid))
      }
    },
    async ownerAlive (owner) {
      const s = await ignoreMissing(stat(join(dirs.owners, owner)))
      return s !== null && Date.now() - s.mtimeMs < opts.leaseMs
    },
    watch (id, listener) {
      let set = listeners.get(id)
      if (set === undefined) listeners.set(id, set = new Set())
      set.add(listener)
      return () => {
        set.delete(listener)
        if (set.size === 0) { listeners.delete(id); seen.delete(id) }
      }
    },
    async prune () {
      const now = Date.now()
      for (const name of await readdir(dirs.owners)) {
        const s = await ignoreMissing(stat(join(dirs.owners, name)))
        if (s !== null && now - s.mtimeMs > opts.leaseMs * 100) await ignoreMissing(unlink(join(dirs.owners, name)))
      }
      // temp files of writes interrupted by a crash
      for (const dir of [dirs.tasks, dirs.keys]) {
        for (const name of (await readdir(dir)).filter((n) => n.endsWith('.tmp'))) {
          const s = await ignoreMissing(stat(join(dir, name)))
          if (s !== null && now - s.mtimeMs > 60_000) await ignoreMissing(unlink(join(dir, name)))
        }
      }
      for (const id of await readdir(dirs.cancel)) {
        if (await ignoreMissing(stat(taskPath(id))) === null) await ignoreMissing(unlink(join(dirs.cancel, id)))
      }
      // folders of clients whose tasks are all gone
      await index.pruneEmpty()
    },
    async close () {
      clearInterval(timer)
      listeners.clear()
    }
  }
}
