// The info cache: a small per-worker L1 (LRU, short TTL) in front of an optional
// shared L2: Redis when there is one, else the store the primary keeps for its
// workers (cluster/host-state.ts, asked through cluster/host-backends.ts). Keys
// carry a version prefix so a schema change invalidates old entries. L2 failures
// are cache misses, never errors.
import type { Redis } from '../redis.ts'

export const CACHE_VERSION = 'v1'

// The shared layer, one per process: text values under a key, for a TTL; the L2 of every cache, and
// where waiters find a deterministic extraction error. Every failure is a miss (get) or nothing.
export interface CacheL2 {
  // redis: shared by every worker and host; primary: by this host's workers (no Redis)
  readonly kind: 'redis' | 'primary'
  get: (key: string) => Promise<{ text: string, ttlMs: number } | null>
  set: (key: string, text: string, ttlSec: number) => Promise<void>
  delete: (key: string) => Promise<void>
}

export function redisL2 (redis: Redis): CacheL2 {
  return {
    kind: 'redis',
    async get (key) {
      try {
        const [text, pttl] = await Promise.all([redis.get(key), redis.pttl(key)])
        return text === null ? null : { text, ttlMs: pttl }
      } catch { return null }
    },
    async set (key, text, ttlSec) {
      try { await redis.set(key, text, 'EX', Math.ceil(ttlSec)) } catch {}
    },
    async delete (key) {
      try { await redis.del(key) } catch {}
    }
  }
}

// hits and misses: of the whole cache; l1*/l2*: per layer (an L1 miss goes on to the L2 when there is one)
export interface CacheStats {
  hits: number
  misses: number
  l1Hits: number
  l1Misses: number
  l2Hits: number
  l2Misses: number
  l1Size: number
  backend: 'memory' | 'redis'
  l2: CacheL2['kind'] | null
}

// extra: what callers derive from the value once (e.g. its serialized body), dropped with it
export interface L1Entry<V> { value: V, expiresAt: number, extra: Map<string, Buffer> }

export interface InfoCache<V> {
  readonly backend: 'memory' | 'redis'
  peek: (key: string) => L1Entry<V> | null
  get: (key: string) => Promise<V | null>
  set: (key: string, value: V, ttlSec: number) => Promise<void>
  delete: (key: string) => Promise<void>
  stats: () => CacheStats
}

export interface CacheOptions<V> {
  l2: CacheL2 | null
  l1MaxEntries: number
  l1TtlSec: number
  encode: (value: V) => string
  decode: (text: string) => V | null
  now?: () => number
}

export function cacheKey (kind: string, ...parts: string[]): string {
  return `vg:${CACHE_VERSION}:${kind}:${parts.join(':')}`
}

export function createInfoCache<V> (opts: CacheOptions<V>): InfoCache<V> {
  const now = opts.now ?? Date.now
  // A Map iterates in insertion order: re-inserting on hit makes it an LRU.
  const l1 = new Map<string, L1Entry<V>>()
  let l1Hits = 0
  let l1Misses = 0
  let l2Hits = 0
  let l2Misses = 0

  function remember (key: string, value: V, ttlSec: number): void {
    const ttlMs = Math.min(ttlSec, opts.l1TtlSec) * 1000
    if (ttlMs <= 0) return
    l1.delete(key)
    l1.set(key, { value, expiresAt: now() + ttlMs, extra: new Map() })
    if (l1.size > opts.l1MaxEntries) {
      const oldest = l1.keys().next()
      if (oldest.done !== true) l1.delete(oldest.value)
    }
  }

  function peek (key: string): L1Entry<V> | null {
    const entry = l1.get(key)
    if (entry === undefined) return null
    if (entry.expiresAt <= now()) { l1.delete(key); return null }
    l1.delete(key)
    l1.set(key, entry)
    l1Hits++
    return entry
  }

  const backend = opts.l2?.kind === 'redis' ? 'redis' : 'memory'
  return {
    backend,
    peek,
    async get (key) {
      const entry = peek(key)
      if (entry !== null) return entry.value
      l1Misses++
      const l2 = opts.l2
      if (l2 !== null) {
        const stored = await l2.get(key)
        const value = stored === null ? null : opts.decode(stored.text)
        if (stored !== null && value !== null) {
          l2Hits++
          remember(key, value, Math.max(1, Math.floor(stored.ttlMs / 1000)))
          return value
        }
        l2Misses++
      }
      return null
    },
    async set (key, value, ttlSec) {
      if (ttlSec <= 0) return
      remember(key, value, ttlSec)
      await opts.l2?.set(key, opts.encode(value), ttlSec)
    },
    async delete (key) {
      l1.delete(key)
      await opts.l2?.delete(key)
    },
    stats: () => ({
      hits: l1Hits + l2Hits,
      misses: opts.l2 === null ? l1Misses : l2Misses,
      l1Hits,
      l1Misses,
      l2Hits,
      l2Misses,
      l1Size: l1.size,
      backend,
      l2: opts.l2?.kind ?? null
    })
  }
}
