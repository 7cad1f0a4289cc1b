// The state the primary keeps for its workers when there is no Redis (REDIS_URL
// empty), so that a host extracts a video once, whichever worker is asked:
// - the caches' L2: text values, each for the TTL its worker gave (the one the
//   Redis L2 would get), least recently used out first past maxBytes;
// - the single-flight locks: each expires (ttlMs), and is let go when its
//   worker exits; whoever waits on it is told at once.
// Workers ask over the link (SharedRequest in cluster/link.ts); the primary
// still serves no HTTP. Plain maps and timers: nothing here can block.
import { randomBytes } from 'node:crypto'
import type { SharedReply, SharedRequest } from './link.ts'

export interface HostStateOptions {
  maxBytes: number
  now?: () => number
  // how often expired values are dropped (they are also dropped when read)
  sweepMs?: number
}

export interface HostState {
  // one worker's request; reply is called once for get, lock and wait, never for the others
  handle: (worker: number, req: SharedRequest, reply: (r: SharedReply) => void) => void
  // a worker exited: its locks are let go (their waiters told) and its waits dropped
  workerGone: (worker: number) => void
  stats: () => { entries: number, bytes: number, locks: number, waits: number }
  close: () => void
}

interface Entry { value: string, bytes: number, expiresAt: number }
interface Lock { token: string, worker: number, timer: NodeJS.Timeout }
interface Wait { worker: number, timer: NodeJS.Timeout, reply: (r: SharedReply) => void }

export function createHostState (opts: HostStateOptions): HostState {
  const now = opts.now ?? Date.now
  // A Map iterates in insertion order: re-inserting on a hit makes it an LRU.
  const values = new Map<string, Entry>()
  let bytes = 0
  const locks = new Map<string, Lock>()
  const waits = new Map<string, Set<Wait>>()

  function drop (key: string): void {
    const entry = values.get(key)
    if (entry === undefined) return
    values.delete(key)
    bytes -= entry.bytes
  }

  function store (key: string, value: string, ttlMs: number): void {
    drop(key)
    // UTF-16 in V8 at worst; the key is kept once more in the map
    const size = value.length * 2 + key.length * 2
    if (size > opts.maxBytes) return
    values.set(key, { value, bytes: size, expiresAt: now() + ttlMs })
    bytes += size
    for (const oldest of values.keys()) {
      if (bytes <= opts.maxBytes) break
      drop(oldest)
    }
  }

  function read (key: string): SharedReply {
    const entry = values.get(key)
    const left = entry === undefined ? 0 : entry.expiresAt - now()
    if (entry === undefined || left <= 0) { drop(key); return { op: 'get', value: null, ttlMs: 0 } }
    values.delete(key)
    values.set(key, entry)
    return { op: 'get', value: entry.value, ttlMs: left }
  }

  function letGo (key: string): void {
    const lock = locks.get(key)
    if (lock === undefined) return
    clearTimeout(lock.timer)
    locks.delete(key)
    const waiting = waits.get(key)
    waits.delete(key)
    for (const w of waiting ?? []) { clearTimeout(w.timer); w.reply({ op: 'wait', free: true }) }
  }

  function lock (worker: number, key: string, ttlMs: number): SharedReply {
    if (locks.has(key)) return { op: 'lock', key, token: null }
    const token = randomBytes(8).toString('hex')
    locks.set(key, { token, worker, timer: setTimeout(() => letGo(key), ttlMs) })
    return { op: 'lock', key, token }
  }

  function wait (worker: number, key: string, timeoutMs: number, reply: (r: SharedReply) => void): void {
    if (!locks.has(key)) { reply({ op: 'wait', free: true }); return }
    let set = waits.get(key)
    if (set === undefined) { set = new Set(); waits.set(key, set) }
    const w: Wait = {
      worker,
      reply,
      timer: setTimeout(() => {
        set.delete(w)
        if (set.size === 0 && waits.get(key) === set) waits.delete(key)
        reply({ op: 'wait', free: false })
      }, timeoutMs)
    }
    set.add(w)
  }

  const sweeper = setInterval(() => {
    const t = now()
    for (const [key, entry] of values) if (entry.expiresAt <= t) drop(key)
  }, opts.sweepMs ?? 30_000).unref()

  return {
    handle (worker, req, reply) {
      switch (req.op) {
        case 'get': reply(read(req.key)); break
        case 'set': store(req.key, req.value, req.ttlMs); break
        case 'del': drop(req.key); break
        case 'lock': reply(lock(worker, req.key, req.ttlMs)); break
        case 'unlock': if (locks.get(req.key)?.token === req.token) letGo(req.key); break
        case 'wait': wait(worker, req.key, req.timeoutMs, reply); break
      }
    },
    workerGone (worker) {
      for (const [key, set] of waits) {
        for (const w of set) if (w.worker === worker) { clearTimeout(w.timer); set.delete(w) }
        if (set.size === 0) waits.delete(key)
      }
      for (const [key, l] of locks) if (l.worker === worker) letGo(key)
    },
    stats: () => ({ entries: values.size, bytes, locks: locks.size, waits: [...waits.values()].reduce((n, s) => n + s.size, 0) }),
    close () {
      clearInterval(sweeper)
      for (const key of [...locks.keys()]) letGo(key)
      values.clear()
      bytes = 0
    }
  }
}
