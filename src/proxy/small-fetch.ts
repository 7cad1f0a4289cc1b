// Whole small upstream answers (images, subtitle tracks) through the byte
// proxy's upstream client, so the same egress policy holds: http(s) only,
// public addresses unless allow-listed, checked per redirect, the operator's
// proxy per platform. An answer is read only while it stays within its bound
// and within this worker's budget for such reads, and within a deadline.
import { AppError } from '../errors.ts'
import { buildUpstreamHeaders } from './headers.ts'
import { toUpstreamError } from './upstream.ts'
import type { UpstreamClient } from './upstream.ts'

export interface ByteBudget { take: (bytes: number) => boolean, give: (bytes: number) => void, left: () => number }

export function createByteBudget (total: number): ByteBudget {
  let left = total
  return {
    take (bytes) {
      if (bytes > left) return false
      left -= bytes
      return true
    },
    give (bytes) { left += bytes },
    left: () => left
  }
}

export interface SmallFetch {
  url: string
  headers: Readonly<Record<string, string>>
  allow: readonly string[]
  platform: string | null
  maxBytes: number
  timeoutMs: number
  // what the answer is, for error messages ("image", "subtitle track")
  what: string
  signal?: AbortSignal
}

// status: the upstream's; body: the whole answer when it is 200, else empty
export interface SmallAnswer { status: number, type: string, body: Buffer }

function tooLarge (what: string, max: number): AppError {
  return new AppError('UPSTREAM_ERROR', `The ${what} is too large`, { detail: `larger than ${max} bytes` })
}

export async function fetchSmall (upstream: UpstreamClient, budget: ByteBudget, f: SmallFetch): Promise<SmallAnswer> {
  const deadline = AbortSignal.timeout(f.timeoutMs)
  const signal = f.signal === undefined ? deadline : AbortSignal.any([f.signal, deadline])
  let held = 0
  try {
    const res = await upstream.request({ url: f.url, method: 'GET', headers: buildUpstreamHeaders(f.headers, null, null), allow: f.allow, signal, platform: f.platform })
    const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
    if (res.status !== 200) {
      res.body.destroy()
      return { status: res.status, type, body: Buffer.alloc(0) }
    }
    const declared = Number(res.headers['content-length'] ?? '')
    if (Number.isFinite(declared) && declared > f.maxBytes) { res.body.destroy(); throw tooLarge(f.what, f.maxBytes) }
    const chunks: Buffer[] = []
    for await (const chunk of res.body) {
      const buf = chunk as Buffer
      if (held + buf.length > f.maxBytes) { res.body.destroy(); throw tooLarge(f.what, f.maxBytes) }
      if (!budget.take(buf.length)) {
        res.body.destroy()
        throw new AppError('STREAM_BUSY', `Too many ${f.what}s are being read; try again shortly`, { headers: { 'retry-after': '2' } })
      }
      held += buf.length
      chunks.push(buf)
    }
    return { status: 200, type, body: Buffer.concat(chunks, held) }
  } catch (err) {
    if (deadline.aborted && f.signal?.aborted !== true) {
      throw new AppError('UPSTREAM_TIMEOUT', `The ${f.what} server took too long to answer`, { detail: `more than ${f.timeoutMs / 1000} s` })
    }
    // a connection that breaks mid-body is the upstream's failure, not ours
    throw toUpstreamError(err)
  } finally {
    budget.give(held)
  }
}

// A per-worker LRU of small answers, bounded in bytes, each kept for a while.
export interface ByteCache<V extends { size: number }> {
  get: (key: string) => V | null
  set: (key: string, value: V) => void
}

export function createByteCache<V extends { size: number }> (opts: { maxBytes: number, ttlMs: number, now?: () => number }): ByteCache<V> {
  const now = opts.now ?? Date.now
  const entries = new Map<string, { value: V, until: number }>()
  let bytes = 0
  const drop = (key: string): void => {
    const e = entries.get(key)
    if (e === undefined) return
    entries.delete(key)
    bytes -= e.value.size
  }
  return {
    get (key) {
      const e = entries.get(key)
      if (e === undefined) return null
      if (e.until <= now()) { drop(key); return null }
      entries.delete(key)
      entries.set(key, e)
      return e.value
    },
    set (key, value) {
      drop(key)
      if (value.size > opts.maxBytes / 4) return
      entries.set(key, { value, until: now() + opts.ttlMs })
      bytes += value.size
      for (const oldest of entries.keys()) {
        if (bytes <= opts.maxBytes) break
        drop(oldest)
      }
    }
  }
}

// Concurrent asks for the same key share one run.
export function createFlights<T> (): (key: string, run: () => Promise<T>) => Promise<T> {
  const running = new Map<string, Promise<T>>()
  return async (key, run) => {
    const had = running.get(key)
    if (had !== undefined) return await had
    const p = run().finally(() => running.delete(key))
    running.set(key, p)
    return await p
  }
}
