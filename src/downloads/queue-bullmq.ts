// The queue with Redis: one BullMQ queue shared by every vidgate process on
// every host, and a worker in each process taking up to `concurrency` jobs, so a
// task runs wherever there is capacity. A process that dies mid-download loses
// its job lock; BullMQ's stalled check puts the job back in the queue and
// another worker starts it again (at most `maxStalledCount` times, then it is
// dropped and the task is marked failed on the next read). A clean shutdown
// hands its running jobs straight back to the queue.
import { Queue, Worker, WaitingError } from 'bullmq'
import type { Job } from 'bullmq'
import type { Redis } from '../redis.ts'
import type { Logger } from '../log.ts'
import type { AbortReason, DownloadQueue, QueueJobState, TaskRunner } from './types.ts'

export interface BullQueueOptions {
  redis: Redis
  log: Logger
  concurrency: number
  run: TaskRunner
  lockMs: number
  stalledIntervalMs: number
  maxStalledCount: number
  // close() gives up on a clean BullMQ shutdown after this long (Redis may be down)
  closeTimeoutMs?: number
  queueName?: string
  prefix?: string
}

interface JobData { id: string }

async function withTimeout<T> (p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms) })
  p.catch(() => {})
  try {
    return await Promise.race([p, deadline])
  } finally {
    clearTimeout(timer)
  }
}

export async function createBullQueue (opts: BullQueueOptions): Promise<DownloadQueue> {
  const name = opts.queueName ?? 'downloads'
  const prefix = opts.prefix ?? 'vg:bull'
  // BullMQ needs a connection that waits instead of failing fast (its worker blocks on Redis)
  const connection = opts.redis.duplicate({ lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined })
  connection.on('error', (err) => opts.log.debug({ err }, 'download queue connection error'))
  const active = new Map<string, AbortController>()
  const queue = new Queue<JobData>(name, { connection, prefix })
  queue.on('error', (err) => opts.log.warn({ err }, 'download queue error'))

  const processor = async (job: Job<JobData>, token?: string): Promise<void> => {
    const id = job.data.id
    const controller = new AbortController()
    active.set(id, controller)
    try {
      const outcome = await opts.run(id, controller.signal)
      if (outcome === 'requeue') {
        await job.moveToWait(token)
        throw new WaitingError()
      }
    } finally {
      active.delete(id)
    }
  }
  const worker = new Worker<JobData>(name, processor, {
    connection,
    prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockMs,
    stalledInterval: opts.stalledIntervalMs,
    maxStalledCount: opts.maxStalledCount,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 }
  })
  worker.on('error', (err) => opts.log.warn({ err }, 'download worker error'))
  worker.on('stalled', (jobId) => opts.log.warn({ taskId: jobId }, 'download job stalled; requeued'))
  // Redis being down at start must not hold up the server; BullMQ connects when it returns
  if (await withTimeout(worker.waitUntilReady(), 5000) === 'timeout') opts.log.warn('download worker is waiting for Redis')

  return {
    kind: 'bullmq',
    async enqueue (id) {
      const added = queue.add('download', { id }, { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: true })
      if (await withTimeout(added, 5000) === 'timeout') throw new Error('the download queue did not answer in time')
    },
    async dequeue (id) {
      const job = await queue.getJob(id)
      if (job === undefined) return false
      try {
        // fails while a worker holds the job's lock
        await job.remove()
        return true
      } catch {
        return false
      }
    },
    abort (id, reason: AbortReason) {
      const controller = active.get(id)
      if (controller === undefined) return false
      controller.abort(reason)
      return true
    },
    async jobState (id): Promise<QueueJobState> {
      const state = await queue.getJobState(id)
      if (state === 'active') return 'active'
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return 'waiting'
      return 'gone'
    },
    localIds: () => [...active.keys()],
    running: () => active.size,
    waiting: () => 0,
    async close () {
      // stop fetching first, then hand the running jobs back
      const closing = worker.close()
      for (const controller of active.values()) controller.abort('shutdown' satisfies AbortReason)
      const clean = closing.then(async () => await queue.close())
      // With Redis down a clean close cannot happen: do not wait for it.
      const waitMs = connection.status === 'ready' ? opts.closeTimeoutMs ?? 10_000 : 500
      if (await withTimeout(clean, waitMs) === 'timeout') {
        opts.log.warn('download queue did not close in time; dropping its Redis connections')
        // the worker's and queue's own connections would otherwise keep reconnecting
        // BullMQ's lock-renewal timer only stops in a completed close(); stop it here
        // (bullmq 6 internals) or it keeps the process alive.
        const lockManager: unknown = Reflect.get(worker, 'lockManager')
        if (typeof lockManager === 'object' && lockManager !== null && 'close' in lockManager && typeof lockManager.close === 'function') {
          await Promise.resolve(Reflect.apply(lockManager.close, lockManager, [])).catch(() => {})
        }
        await Promise.race([Promise.allSettled([worker.disconnect(), queue.disconnect()]), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
        connection.disconnect()
        return []
      }
      await connection.quit().catch(() => { connection.disconnect() })
      return []
    }
  }
}
