// The worker side of the state the primary keeps without Redis (cluster/host-state.ts):
// the caches' L2 and the single-flight locks as backends of the interfaces the Redis
// ones implement (extract/cache.ts CacheL2, extract/single-flight.ts FlightLocks).
// A primary that does not answer in time is a miss, or no lock: the worker works alone.
import { SHARED_TIMEOUT_MS } from './link.ts'
import type { SharedChannel } from './link.ts'
import type { CacheL2 } from '../extract/cache.ts'
import type { FlightLocks } from '../extract/single-flight.ts'

type Stored = Awaited<ReturnType<CacheL2['get']>>

// The link carries text (JSON): a value's bytes as latin1, one character per
// byte, which V8 keeps as a one-byte string (the primary's size accounting holds).
const LINK_ENCODING = 'latin1'

export function hostL2 (channel: SharedChannel): CacheL2 {
  // one question per key at a time: a burst of misses in this worker asks once
  const reading = new Map<string, Promise<Stored>>()
  return {
    kind: 'primary',
    async get (key) {
      const running = reading.get(key)
      if (running !== undefined) return await running
      const asked = channel.ask({ op: 'get', key }, SHARED_TIMEOUT_MS)
        .then((r): Stored => r?.op === 'get' && r.value !== null ? Buffer.from(r.value, LINK_ENCODING) : null)
        .finally(() => reading.delete(key))
      reading.set(key, asked)
      return await asked
    },
    async set (key, value, ttlSec) { channel.tell({ op: 'set', key, value: value.toString(LINK_ENCODING), ttlMs: Math.ceil(ttlSec * 1000) }) },
    async delete (key) { channel.tell({ op: 'del', key }) }
  }
}

export function hostLocks (channel: SharedChannel): FlightLocks {
  return {
    async acquire (key, ttlMs) {
      const r = await channel.ask({ op: 'lock', key, ttlMs }, SHARED_TIMEOUT_MS)
      if (r?.op !== 'lock') return null
      return r.token === null ? 'held' : { token: r.token }
    },
    // after this worker's set of the result: the link keeps their order
    release (key, token) { channel.tell({ op: 'unlock', key, token }) },
    async released (key, waitMs) {
      // the primary answers when the lock is let go, or at waitMs itself
      await channel.ask({ op: 'wait', key, timeoutMs: waitMs }, waitMs + SHARED_TIMEOUT_MS)
    },
    async close () {}
  }
}
