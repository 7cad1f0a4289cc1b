// Merges concurrent work for one key: in this process always; across processes
// and hosts when Redis is there (a lock with a TTL, and a pub/sub notice when
// the holder is done). Every wait is bounded, and Redis trouble means "do it
// yourself" — never a hang.
import { randomBytes } from 'node:crypto'
import { closeRedis } from '../redis.ts'
import type { Redis } from '../redis.ts'

export interface SingleFlight {
  // produce: do the work (and publish its result where readShared finds it);
  // readShared: the result another process produced, or null.
  run: <T>(key: string, produce: () => Promise<T>, readShared: () => Promise<T | null>) => Promise<T>
  stats: () => { local: number, remoteWaits: number, leads: number }
  close: () => Promise<void>
}

export interface SingleFlightOptions {
  redis: Redis | null
  lockTtlMs: number
  waitTimeoutMs: number
  pollMs?: number
}

const CHANNEL = 'vg:v1:single-flight'
const UNLOCK = 'if redis.call(\'GET\', KEYS[1]) == ARGV[1] then return redis.call(\'DEL\', KEYS[1]) else return 0 end'

export function createSingleFlight (opts: SingleFlightOptions): SingleFlight {
  const inflight = new Map<string, Promise<unknown>>()
  const waiters = new Map<string, Set<() => void>>()
  let subscriber: Redis | null = null
  let local = 0
  let remoteWaits = 0
  let leads = 0

  if (opts.redis !== null) {
    const sub = opts.redis.duplicate({ enableOfflineQueue: true, lazyConnect: false })
    sub.on('error', () => {})
    sub.subscribe(CHANNEL).catch(() => {})
    sub.on('message', (_channel: string, key: string) => {
      const set = waiters.get(key)
      if (set === undefined) return
      waiters.delete(key)
      for (const wake of set) wake()
    })
    subscriber = sub
  }

  async function waitFor (key: string, readShared: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + opts.waitTimeoutMs
    const pollMs = opts.pollMs ?? 250
    while (Date.now() < deadline) {
      const notified = new Promise<void>((resolve) => {
        let set = waiters.get(key)
        if (set === undefined) { set = new Set(); waiters.set(key, set) }
        const wake = (): void => { clearTimeout(timer); resolve() }
        const timer = setTimeout(() => { waiters.get(key)?.delete(wake); resolve() }, pollMs)
        set.add(wake)
      })
      await notified
      // Polling as well covers a lost notice (subscriber reconnecting).
      if (await readShared().then((v) => v !== null, () => true)) return
      const lock = await opts.redis?.exists(lockKey(key)).catch(() => 0)
      if (lock === 0) return
    }
  }

  const lockKey = (key: string): string => `${key}:lock`

  async function coordinated<T> (key: string, produce: () => Promise<T>, readShared: () => Promise<T | null>): Promise<T> {
    const redis = opts.redis
    if (redis === null || redis.status !== 'ready') return await produce()
    const token = randomBytes(8).toString('hex')
    let acquired: string | null
    try {
      acquired = await redis.set(lockKey(key), token, 'PX', opts.lockTtlMs, 'NX')
    } catch {
      return await produce()
    }
    if (acquired === 'OK') {
      leads++
      try {
        return await produce()
      } finally {
        redis.eval(UNLOCK, 1, lockKey(key), token).catch(() => {})
        redis.publish(CHANNEL, key).catch(() => {})
      }
    }
    remoteWaits++
    const existing = await readShared()
    if (existing !== null) return existing
    await waitFor(key, readShared)
    const shared = await readShared()
    return shared ?? await produce()
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
    async close () {
      for (const set of waiters.values()) for (const wake of set) wake()
      waiters.clear()
      if (subscriber !== null) await closeRedis(subscriber)
    }
  }
}
