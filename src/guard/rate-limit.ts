// Fixed-window rate limiting. The Redis limiter shares one count across every
// worker and host; the memory limiter counts in this process only and is
// handed its share of the limit, so N workers never let more than the limit
// through in total. Redis down = fall back to the memory share (fail safe).
import { redisFailed } from '../redis.ts'
import type { Redis } from '../redis.ts'

export interface RateResult {
  allowed: boolean
  limit: number
  remaining: number
  resetSec: number
  retryAfterSec: number
}

export interface RateLimiter {
  readonly backend: 'memory' | 'redis'
  // limit: this key's own limit (per-API-key limits); default: the limiter's.
  // cost: requests this hit counts for (a batch's further items); all are counted,
  // and the hit is allowed when its first one is still within the limit.
  hit: (key: string, limit?: number, cost?: number) => RateResult | Promise<RateResult>
}

function result (count: number, cost: number, limit: number, windowEndMs: number, now: number): RateResult {
  const allowed = count - cost + 1 <= limit
  return {
    allowed,
    limit,
    remaining: Math.max(0, limit - count),
    resetSec: Math.ceil(windowEndMs / 1000),
    retryAfterSec: allowed ? 0 : Math.max(1, Math.ceil((windowEndMs - now) / 1000))
  }
}

// divisor: the number of processes sharing the limit without a shared store;
// each enforces limit/divisor, so their total never exceeds the limit.
export function createMemoryRateLimiter (opts: { limit: number, windowSec: number, divisor?: number, now?: () => number }): RateLimiter {
  const share = (limit: number): number => Math.max(1, Math.floor(limit / (opts.divisor ?? 1)))
  const windowMs = opts.windowSec * 1000
  const now = opts.now ?? Date.now
  let windowStart = 0
  let counts = new Map<string, number>()
  return {
    backend: 'memory',
    hit (key, limit = opts.limit, cost = 1) {
      const t = now()
      const start = t - (t % windowMs)
      if (start !== windowStart) {
        windowStart = start
        counts = new Map()
      }
      const count = (counts.get(key) ?? 0) + cost
      counts.set(key, count)
      return result(count, cost, share(limit), start + windowMs, t)
    }
  }
}

const LUA = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`

export function createRedisRateLimiter (opts: { redis: Redis, limit: number, windowSec: number, prefix?: string, fallback: RateLimiter, now?: () => number }): RateLimiter {
  const windowMs = opts.windowSec * 1000
  const now = opts.now ?? Date.now
  const prefix = opts.prefix ?? 'vg:rl:'
  if (typeof (opts.redis as unknown as Record<string, unknown>).vgRateHitBy !== 'function') {
    opts.redis.defineCommand('vgRateHitBy', { numberOfKeys: 1, lua: LUA })
  }
  const run = (opts.redis as unknown as { vgRateHitBy: (key: string, ttl: number, cost: number) => Promise<unknown> }).vgRateHitBy.bind(opts.redis)
  return {
    backend: 'redis',
    async hit (key, limit = opts.limit, cost = 1) {
      const t = now()
      const start = t - (t % windowMs)
      if (opts.redis.status !== 'ready') return await opts.fallback.hit(key, limit, cost)
      try {
        const count = Number(await run(`${prefix}${start}:${key}`, windowMs + 1000, cost))
        return result(count, cost, limit, start + windowMs, t)
      } catch (err) {
        redisFailed(opts.redis, err)
        return await opts.fallback.hit(key, limit, cost)
      }
    }
  }
}
