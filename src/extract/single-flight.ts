// Merges concurrent work for one key: in this process always; across processes
// when there are locks — Redis's (every worker and host: a lock with a TTL, and a
// pub/sub notice when the holder is done) or, without Redis, the primary's for
// its workers (cluster/host-backends.ts). A waiter whose lock comes free without
// a result tries to take it itself, so one process at a time does the work. Every
// wait is bounded, and trouble with the locks means "do it yourself" — never a hang.
import { randomBytes } from 'node:crypto'
import { closeRedis, redisFailed } from '../redis.ts'
import type { Redis } from '../redis.ts'

export interface SingleFlight {
  // produce: do the work (and publish its result where readShared finds it);
  // readShared: the result another process produced, or null.
  run: <T>(key: string, produce: () => Promise<T>, readShared: () => Promise<T | null>) => Promise<T>
  stats: () => { local: number, remoteWaits: number, leads: number }
  close: () => Promise<void>
}

// Locks across processes, one backend per process.
export interface FlightLocks {
  // this process now holds the lock (its token), another holds it ('held'), or null: the locks
  // cannot be reached in time (the caller works alone)
  acquire: (key: string, ttlMs: number) => Promise<{ token: string } | 'held' | null>
  // gives the lock back and wakes the waiters; never throws
  release: (key: string, token: string) => void
  // resolves once the key's lock may have come free (released, expired, its holder gone), or after
  // at most waitMs (a backend that polls, sooner)
  released: (key: string, waitMs: number) => Promise<void>
  close: () => Promise<void>
}

export interface SingleFlightOptions {
  locks: FlightLocks | null
  lockTtlMs: number
  waitTimeoutMs: number
}

export function createSingleFlight (opts: SingleFlightOptions): SingleFlight {
  const inflight = new Map<string, Promise<unknown>>()
  let local = 0
  let remoteWaits = 0
  let leads = 0

  async function coordinated<T> (key: string, produce: () => Promise<T>, readShared: () => Promise<T | null>): Promise<T> {
    const locks = opts.locks
    if (locks === null) return await produce()
    const deadline = Date.now() + opts.waitTimeoutMs
    let waited = false
    for (;;) {
      const lock = await locks.acquire(key, opts.lockTtlMs)
      if (lock === null) return await produce()
      if (lock !== 'held') {
        leads++
        try {
          return await produce()
        } finally {
          locks.release(key, lock.token)
        }
      }
      if (!waited) { waited = true; remoteWaits++ }
      const existing = await readShared()
      if (existing !== null) return existing
      // Held past the wait bound (a holder that neither finishes nor lets go): work alone.
      if (Date.now() >= deadline) return await produce()
      // then read again: the holder's result, or none (it failed or died, or it is still at work at
      // a poll) and round again: take the lock, or wait for whoever holds it
      await locks.released(key, Math.max(1, deadline - Date.now()))
      const shared = await readShared()
      if (shared !== null) return shared
    }
  }

  return {
    run<T> (key: string, produce: () => Promise<T>, readShared: () => Promise<T | null>): Promise<T> {
      const running = inflight.get(key)
      if (running !== undefined) { local++; return running as Promise<T> }
      const p = coordinated(key, produce, readShared).finally(() => inflight.delete(key))
      inflight.set(key, p)
      return p
    },
    stats: () => ({ local, remoteWaits, leads }),
    async close () { await opts.locks?.close() }
  }
}

const CHANNEL = 'vg:v1:single-flight'
const UNLOCK = 'if redis.call(\'GET\', KEYS[1]) == ARGV[1] then return redis.call(\'DEL\', KEYS[1]) else return 0 end'
const lockKey = (key: string): string => `${key}:lock`

// Redis locks: SET NX PX, a compare-and-delete unlock, and a pub/sub notice when one is released.
export function redisLocks (redis: Redis, pollMs = 250): FlightLocks {
  const waiters = new Map<string, Set<() => void>>()
  const sub = redis.duplicate({ enableOfflineQueue: true, lazyConnect: false })
  sub.on('error', () => {})
  sub.subscribe(CHANNEL).catch(() => {})
  sub.on('message', (_channel: string, key: string) => {
    const set = waiters.get(key)
    if (set === undefined) return
    waiters.delete(key)
    for (const wake of set) wake()
  })

  return {
    async acquire (key, ttlMs) {
      if (redis.status !== 'ready') return null
      const token = randomBytes(8).toString('hex')
      try {
        return await redis.set(lockKey(key), token, 'PX', ttlMs, 'NX') === 'OK' ? { token } : 'held'
      } catch (err) {
        redisFailed(redis, err)
        return null
      }
    },
    release (key, token) {
      redis.eval(UNLOCK, 1, lockKey(key), token).catch(() => {})
      redis.publish(CHANNEL, key).catch(() => {})
    },
    async released (key, waitMs) {
      await new Promise<void>((resolve) => {
        let set = waiters.get(key)
        if (set === undefined) { set = new Set(); waiters.set(key, set) }
        const wake = (): void => { clearTimeout(timer); resolve() }
        // polling as well covers a lost notice (the subscriber reconnecting) and an expired lock
        const timer = setTimeout(() => { waiters.get(key)?.delete(wake); resolve() }, Math.min(pollMs, waitMs))
        set.add(wake)
      })
    },
    async close () {
      for (const set of waiters.values()) for (const wake of set) wake()
      waiters.clear()
      await closeRedis(sub)
    }
  }
}
