// The queue without Redis: tasks run in the process that accepted them, at most
// `concurrency` at once (this worker's share of MAX_CONCURRENT_DOWNLOADS).
import type { Logger } from '../log.ts'
import type { AbortReason, DownloadQueue, TaskRunner } from './types.ts'

export interface LocalQueueOptions {
  concurrency: number
  run: TaskRunner
  log: Logger
}

export function createLocalQueue (opts: LocalQueueOptions): DownloadQueue {
  const waiting: string[] = []
  const active = new Map<string, { controller: AbortController, done: Promise<void> }>()
  let closed = false

  function pump (): void {
    // eslint-disable-next-line no-unmodified-loop-condition -- close() sets it; pump runs again after
    while (!closed && active.size < opts.concurrency && waiting.length > 0) {
      const id = waiting.shift()
      if (id === undefined) break
      const controller = new AbortController()
      const done = opts.run(id, controller.signal)
        .then(() => {}, (err: unknown) => opts.log.error({ err, taskId: id }, 'download task crashed'))
        .finally(() => {
          active.delete(id)
          pump()
        })
      active.set(id, { controller, done })
    }
  }

  return {
    kind: 'local',
    async enqueue (id) {
      if (closed) throw new Error('download queue is closed')
      waiting.push(id)
      pump()
    },
    async dequeue (id) {
      const i = waiting.indexOf(id)
      if (i === -1) return false
      waiting.splice(i, 1)
      return true
    },
    abort (id, reason: AbortReason) {
      const entry = active.get(id)
      if (entry === undefined) return false
      entry.controller.abort(reason)
      return true
    },
    async jobState (id) {
      if (active.has(id)) return 'active'
      return waiting.includes(id) ? 'waiting' : 'gone'
    },
    localIds: () => [...waiting, ...active.keys()],
    running: () => active.size,
    waiting: () => waiting.length,
    async close () {
      closed = true
      const unstarted = waiting.splice(0, waiting.length)
      for (const { controller } of active.values()) controller.abort('shutdown' satisfies AbortReason)
      await Promise.all([...active.values()].map(async (a) => await a.done))
      return unstarted
    }
  }
}
