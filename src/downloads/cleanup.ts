// Storage housekeeping, on a timer (CLEANUP_INTERVAL) and on demand: files past
// TEMP_FILE_RETENTION_HOURS, the task records that pointed at them, finished
// records past the same age, and temp folders no live task owns. Several
// processes may run it at once; every step tolerates the others.
import type { Logger } from '../log.ts'
import type { Storage } from './storage.ts'
import type { TaskManager } from './tasks.ts'
import { isTerminal } from './types.ts'
import type { TaskStore } from './types.ts'

export interface CleanupCounts {
  removed_files: number
  removed_bytes: number
  removed_temp_dirs: number
  removed_tasks: number
}

export interface CleanupDeps {
  storage: Storage
  store: TaskStore
  manager: TaskManager
  retentionMs: number
  // a temp folder touched this recently is left alone even without a live task
  tempGraceMs: number
}

export async function runCleanup (deps: CleanupDeps, now = Date.now()): Promise<CleanupCounts> {
  const { storage, store, manager } = deps
  const files = await storage.removeExpiredFiles(now)
  let removedTasks = 0
  for (const task of await store.list()) {
    if (!isTerminal(task.state)) continue
    const age = now - Date.parse(task.finished_at ?? task.updated_at)
    const fileGone = task.state === 'completed' && (task.file === null || await storage.fileSize(task.file) === null)
    if (age < deps.retentionMs && !fileGone) continue
    if (task.file !== null) await storage.removeFile(task.file)
    await store.remove(task.id)
    await store.unclaim(task.dedupe_key, task.id)
    removedTasks++
  }
  const tempDirs = await storage.removeTempDirs(async (id) => {
    const task = await manager.find(id).catch(() => null)
    return task !== null && !isTerminal(task.state)
  }, deps.tempGraceMs)
  await store.prune()
  return { removed_files: files.files, removed_bytes: files.bytes, removed_temp_dirs: tempDirs, removed_tasks: removedTasks }
}

export function startCleanupTimer (deps: CleanupDeps, intervalMs: number, log: Logger): () => void {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    runCleanup(deps)
      .then((c) => { if (c.removed_files + c.removed_temp_dirs + c.removed_tasks > 0) log.info(c, 'download storage cleaned') })
      .catch((err: unknown) => log.warn({ err }, 'download storage cleanup failed'))
      .finally(() => { running = false })
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
