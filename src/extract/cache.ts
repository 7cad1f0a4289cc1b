// The info cache: a small per-worker L1 (LRU, short TTL) in front of an optional
// shared L2 in Redis. Keys carry a version prefix so a schema change invalidates
// old entries. Redis failures are cache misses, never errors.
import type { Redis } from '../redis.ts'

export const CACHE_VERSION = 'v1'

// hits and misses: of the whole cache; l1*/l2*: per layer (an L1 miss goes on to L2 when there is Redis)
export interface CacheStats { hits: number, misses: number, l1Hits: number, l1Misses: number, l2Hits: number, l2Misses: number, l1Size: number, backend: 'memory' | 'redis' }

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
  redis: Redis | null
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

  return {
    backend: opts.redis === null ? 'memory' : 'redis',
    peek,
    async get (key) {
      const entry = peek(key)
      if (entry !== null) return entry.value
      l1Misses++
      const redis = opts.redis
      if (redis !== null) {
        try {
          const [text, pttl] = await Promise.all([redis.get(key), redis.pttl(key)])
          const value = text === null ? null : opts.decode(text)
          if (value !== null) {
            l2Hits++
            remember(key, value, Math.max(1, Math.floor(pttl / 1000)))
            return value
          }
        } catch {}
        l2Misses++
      }
      return null
    },
    async set (key, value, ttlSec) {
      if (ttlSec <= 0) return
      remember(key, value, ttlSec)
      const redis = opts.redis
      if (redis === null) return
      try { await redis.set(key, opts.encode(value), 'EX', Math.ceil(ttlSec)) } catch {}
    },
    async delete (key) {
      l1.delete(key)
      try { await opts.redis?.del(key) } catch {}
    },
    stats: () => ({
      hits: l1Hits + l2Hits,
      misses: opts.redis === null ? l1Misses : l2Misses,
      l1Hits,
      l1Misses,
      l2Hits,
      l2Misses,
      l1Size: l1.size,
      backend: opts.redis === null ? 'memory' : 'redis'
    })
  }
}
