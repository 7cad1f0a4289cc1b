// The info cache: a small per-worker L1 (LRU, short TTL) in front of an optional
// shared L2: Redis when there is one, else the store the primary keeps for its
// workers (cluster/host-state.ts, asked through cluster/host-backends.ts). Keys
// carry a version prefix so a format change invalidates old entries. L2
// failures are cache misses, never errors.
//
// What L2 holds is a record (record.ts): the value's expiry, the value, and
// the parts a hit is answered with in the form they are sent (the info's
// response body), so that a hit is one L2 read and one write, with nothing
// parsed. A hit fills L1 with the record, whose value is decoded on first
// use only. L1 keeps a few entries past their L1 TTL: an L2 read that returns
// the very bytes of such an entry revives it, with everything callers derived
// from it (entry.memo: stream plans, redirect headers), instead of decoding again.
import { packRecord, unpackRecord } from './record.ts'
import { redisFailed } from '../redis.ts'
import type { Redis } from '../redis.ts'

export const CACHE_VERSION = 'v2'

// The shared layer, one per process: bytes under a key, for a TTL; the L2 of every cache, and
// where waiters find a deterministic extraction error. Every failure is a miss (get) or nothing.
export interface CacheL2 {
  // redis: shared by every worker and host; primary: by this host's workers (no Redis)
  readonly kind: 'redis' | 'primary'
  get: (key: string) => Promise<Buffer | null>
  set: (key: string, value: Buffer, ttlSec: number) => Promise<void>
  delete: (key: string) => Promise<void>
}

export function redisL2 (redis: Redis): CacheL2 {
  return {
    kind: 'redis',
    // one command, and ioredis's own promise: a record carries its expiry (no PTTL)
    get: (key) => redis.getBuffer(key).catch((err: unknown) => { redisFailed(redis, err); return null }),
    async set (key, value, ttlSec) {
      try { await redis.set(key, value, 'EX', Math.ceil(ttlSec)) } catch (err) { redisFailed(redis, err) }
    },
    async delete (key) {
      try { await redis.del(key) } catch (err) { redisFailed(redis, err) }
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

// One cached value. `value` is decoded from the record on first read (it
// throws when the record does not decode; get() then treats it as a miss).
export interface CacheEntry<V> {
  readonly value: V
  // when the value expires everywhere (ms since the epoch)
  readonly expiresAt: number
  // a part stored beside the value, as it is sent; null when the record has none
  part: (name: string) => Buffer | null
  // what callers derive from the value once (serialized answers, plans), dropped with it
  readonly memo: Map<string, unknown>
}

export interface InfoCache<V> {
  readonly backend: 'memory' | 'redis'
  // an L1 hit (counted), or null; never asks L2
  peek: (key: string) => CacheEntry<V> | null
  // L1, then L2: an L1 hit at once, an L2 read as a promise (null: a miss), null without L2
  find: (key: string) => CacheEntry<V> | Promise<CacheEntry<V> | null> | null
  // the entry L1 holds for the key, live or past its L1 TTL, uncounted
  held: (key: string) => CacheEntry<V> | null
  get: (key: string) => Promise<V | null>
  // parts: stored beside the value (CacheEntry.part)
  set: (key: string, value: V, ttlSec: number, parts?: ReadonlyArray<readonly [string, Buffer]>) => Promise<void>
  delete: (key: string) => Promise<void>
  stats: () => CacheStats
  // the keys L1 holds whose values have not expired (the compat cache stats)
  keys: () => string[]
}

export interface CacheOptions<V> {
  l2: CacheL2 | null
  l1MaxEntries: number
  l1TtlSec: number
  encode: (value: V) => string
  decode: (bytes: Buffer) => V | null
  now?: () => number
}

export function cacheKey (kind: string, ...parts: string[]): string {
  return `vg:${CACHE_VERSION}:${kind}:${parts.join(':')}`
}

const VALUE = ''
const UNDECODED = Symbol('undecoded')

class Entry<V> implements CacheEntry<V> {
  readonly memo = new Map<string, unknown>()
  // served by peek() until then
  l1Until = 0
  // the L1 insertion count when it was last moved to the LRU's young end
  moved = 0
  #value: V | typeof UNDECODED
  constructor (
    readonly record: Buffer,
    readonly expiresAt: number,
    private readonly parts: ReadonlyMap<string, Buffer>,
    private readonly decode: (bytes: Buffer) => V | null,
    value: V | typeof UNDECODED
  ) { this.#value = value }

  get value (): V {
    if (this.#value !== UNDECODED) return this.#value
    const bytes = this.parts.get(VALUE)
    const value = bytes === undefined ? null : this.decode(bytes)
    if (value === null) throw new Error('a cache record whose value does not decode')
    this.#value = value
    return value
  }

  part (name: string): Buffer | null { return this.parts.get(name) ?? null }
}

export function createInfoCache<V> (opts: CacheOptions<V>): InfoCache<V> {
  const now = opts.now ?? Date.now
  const l1TtlMs = opts.l1TtlSec * 1000
  // A Map iterates in insertion order: re-inserting on hit makes it an LRU.
  const l1 = new Map<string, Entry<V>>()
  let l1Hits = 0
  let l1Misses = 0
  let l2Hits = 0
  let l2Misses = 0

  // Stores an entry (the most recently used), serving it for the L1 TTL or until the value expires.
  // L1 insertions so far: a hit moves its entry to the young end only when a
  // quarter of L1 came in since it was last moved (an LRU all the same for
  // eviction, without two map writes on every hit of a hot entry)
  let inserted = 0
  const moveAfter = Math.max(1, Math.floor(opts.l1MaxEntries / 4))
  const toYoungEnd = (key: string, entry: Entry<V>): void => {
    l1.delete(key)
    l1.set(key, entry)
    entry.moved = ++inserted
  }

  function remember (key: string, entry: Entry<V>, t: number): Entry<V> {
    entry.l1Until = Math.min(entry.expiresAt, t + l1TtlMs)
    toYoungEnd(key, entry)
    if (l1.size > opts.l1MaxEntries) {
      const oldest = l1.keys().next()
      if (oldest.done !== true) l1.delete(oldest.value)
    }
    return entry
  }

  function peek (key: string): Entry<V> | null {
    const entry = l1.get(key)
    if (entry === undefined) return null
    const t = now()
    if (entry.l1Until <= t) {
      if (entry.expiresAt <= t) l1.delete(key)
      return null
    }
    if (inserted - entry.moved >= moveAfter) toYoungEnd(key, entry)
    l1Hits++
    return entry
  }

  // An L2 record: the entry L1 holds when it has these very bytes, else a new one.
  function fromRecord (key: string, record: Buffer): Entry<V> | null {
    const t = now()
    const known = l1.get(key)
    if (known !== undefined && known.record.equals(record)) return known.expiresAt > t ? remember(key, known, t) : null
    // a copy: what a client library reads is often a view into its whole socket read
    const own = Buffer.from(record)
    const unpacked = unpackRecord(own)
    if (unpacked === null || unpacked.expiresAt <= t) return null
    return remember(key, new Entry(own, unpacked.expiresAt, unpacked.parts, opts.decode, UNDECODED), t)
  }

  const counted = (entry: Entry<V> | null): Entry<V> | null => {
    if (entry === null) l2Misses++
    else l2Hits++
    return entry
  }

  // one promise per read, no more: this is a hot path (a host that has not seen the video yet)
  const fromL2 = (l2: CacheL2, key: string): Promise<Entry<V> | null> => l2.get(key).then(
    (record) => counted(record === null ? null : fromRecord(key, record)),
    () => counted(null))

  function find (key: string): Entry<V> | Promise<Entry<V> | null> | null {
    const entry = peek(key)
    if (entry !== null) return entry
    l1Misses++
    return opts.l2 === null ? null : fromL2(opts.l2, key)
  }

  const backend = opts.l2?.kind === 'redis' ? 'redis' : 'memory'
  return {
    backend,
    peek,
    find,
    held: (key) => l1.get(key) ?? null,
    async get (key) {
      const entry = await find(key)
      if (entry === null) return null
      try {
        return entry.value
      } catch {
        if (l1.get(key) === entry) l1.delete(key)
        return null
      }
    },
    async set (key, value, ttlSec, parts = []) {
      if (ttlSec <= 0) return
      const t = now()
      const expiresAt = t + ttlSec * 1000
      const record = packRecord(expiresAt, [[VALUE, Buffer.from(opts.encode(value))], ...parts])
      remember(key, new Entry(record, expiresAt, unpackRecord(record)?.parts ?? new Map(), opts.decode, value), t)
      await opts.l2?.set(key, record, ttlSec)
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
    }),
    keys: () => {
      const t = now()
      const out: string[] = []
      for (const [key, entry] of l1) if (entry.expiresAt > t) out.push(key)
      return out
    }
  }
}
