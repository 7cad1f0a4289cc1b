// Task state without Redis: small JSON files under <DOWNLOAD_DIRECTORY>/.vidgate,
// so every HTTP worker process on the host sees every task. Writes are atomic
// (temp file + rename); other processes notice changes by polling mtimes.
//   tasks/<id>.json   the record (written by its owner only)
//   keys/<key>        dedupe key → task id (created with link(), which fails if it exists)
//   cancel/<id>       a cancel request for the owner to act on
//   owners/<owner>    each process's heartbeat; a stale one means the owner died
import { link, mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { parseRecord } from './record.ts'
import type { TaskListener, TaskRecord, TaskStore } from './types.ts'

export interface FileStoreOptions {
  stateDir: string
  leaseMs: number
  pollMs: number
}

const isCode = (err: unknown, code: string): boolean => err instanceof Error && 'code' in err && err.code === code

async function ignoreMissing<T> (p: Promise<T>): Promise<T | null> {
  try {
    return await p
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null
    throw err
  }
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
  const dirs = { tasks: join(opts.stateDir, 'tasks'), keys: join(opts.stateDir, 'keys'), cancel: join(opts.stateDir, 'cancel'), owners: join(opts.stateDir, 'owners') }
  await Promise.all(Object.values(dirs).map(async (d) => await mkdir(d, { recursive: true })))
  const taskPath = (id: string): string => join(dirs.tasks, `${id}.json`)
  const keyPath = (key: string): string => join(dirs.keys, key)

  const listeners = new Map<string, Set<TaskListener>>()
  const seen = new Map<string, string>()
  let polling = false

  async function get (id: string): Promise<TaskRecord | null> {
    const text = await ignoreMissing(readFile(taskPath(id), 'utf8'))
    return text === null ? null : parseRecord(text)
  }

  function emit (id: string, task: TaskRecord | null): void {
    for (const l of listeners.get(id) ?? []) l(task)
  }

  async function save (task: TaskRecord): Promise<void> {
    await writeAtomic(taskPath(task.id), JSON.stringify(task))
    emit(task.id, task)
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
      await ignoreMissing(unlink(taskPath(id)))
      await ignoreMissing(unlink(join(dirs.cancel, id)))
      emit(id, null)
    },
    async list () {
      const names = await readdir(dirs.tasks)
      const tasks = await Promise.all(names.filter((n) => n.endsWith('.json')).map(async (n) => await get(n.slice(0, -5)).catch(() => null)))
      return tasks.filter((t) => t !== null)
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
    },
    async close () {
      clearInterval(timer)
      listeners.clear()
    }
  }
}
