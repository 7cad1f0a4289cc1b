// One contract suite, run against the memory limiter and against the Redis
// limiter on a real redis-server; then what happens when Redis goes away.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createMemoryRateLimiter, createRedisRateLimiter } from './rate-limit.ts'
import type { RateLimiter } from './rate-limit.ts'
import { createRedis, connectRedis } from '../redis.ts'
import type { Redis } from '../redis.ts'
import { createLogger } from '../log.ts'
import { startRedis, sleep } from '../testing/helpers.ts'
import type { StartedRedis } from '../testing/helpers.ts'

const T0 = 1_700_000_040_000 // a multiple of every window below (60 s)

interface Clock { now: () => number, set: (ms: number) => void }
function clock (start = T0): Clock {
  let t = start
  return { now: () => t, set: (ms) => { t = ms } }
}

type Make = (opts: { limit: number, windowSec: number, now: () => number }) => RateLimiter

async function hitN (l: RateLimiter, key: string, n: number): Promise<boolean[]> {
  const out: boolean[] = []
  for (let i = 0; i < n; i++) out.push((await l.hit(key)).allowed)
  return out
}

async function contract (t: TestContext, make: Make): Promise<void> {
  await t.test('allows the limit, then refuses with Retry-After', async () => {
    const c = clock(T0 + 500)
    const l = make({ limit: 3, windowSec: 10, now: c.now })
    const results = [await l.hit('a'), await l.hit('a'), await l.hit('a'), await l.hit('a')]
    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, false])
    assert.deepEqual(results.map((r) => r.remaining), [2, 1, 0, 0])
    for (const r of results) {
      assert.equal(r.limit, 3)
      assert.equal(r.resetSec, (T0 + 10_000) / 1000)
    }
    assert.equal(results[0]?.retryAfterSec, 0)
    assert.equal(results[3]?.retryAfterSec, 10, '9.5 s left rounds up')
    c.set(T0 + 9_999)
    assert.equal((await l.hit('a')).retryAfterSec, 1, 'never 0 while refused')
  })

  await t.test('counts each key separately', async () => {
    const c = clock()
    const l = make({ limit: 2, windowSec: 60, now: c.now })
    assert.deepEqual(await hitN(l, 'a', 3), [true, true, false])
    assert.deepEqual(await hitN(l, 'b', 2), [true, true])
  })

  await t.test('a hit may count for several requests (the items of a batch): allowed while its first fits', async () => {
    const c = clock()
    const l = make({ limit: 10, windowSec: 60, now: c.now })
    assert.equal((await l.hit('a')).remaining, 9)
    const batch = await l.hit('a', undefined, 8)
    assert.deepEqual([batch.allowed, batch.remaining], [true, 1])
    // 10 is within the limit, 11–14 are not: the hit is let through and every unit counted
    const over = await l.hit('a', undefined, 5)
    assert.deepEqual([over.allowed, over.remaining], [true, 0])
    const refused = await l.hit('a', undefined, 2)
    assert.equal(refused.allowed, false)
    assert.ok(refused.retryAfterSec >= 1)
    assert.equal((await l.hit('a')).allowed, false, 'the whole batch was counted')
  })

  await t.test('a new window starts a new count', async () => {
    const c = clock()
    const l = make({ limit: 2, windowSec: 5, now: c.now })
    assert.deepEqual(await hitN(l, 'a', 3), [true, true, false])
    c.set(T0 + 4_999)
    assert.equal((await l.hit('a')).allowed, false)
    c.set(T0 + 5_000)
    const r = await l.hit('a')
    assert.equal(r.allowed, true)
    assert.equal(r.remaining, 1)
    assert.equal(r.resetSec, (T0 + 10_000) / 1000)
  })
}

test('memory limiter', async (t) => {
  await contract(t, (o) => createMemoryRateLimiter(o))
})

test('memory limiter: a divisor grants each process its share; a per-key limit overrides', async () => {
  const c = clock()
  const l = createMemoryRateLimiter({ limit: 10, windowSec: 60, divisor: 2, now: c.now })
  assert.deepEqual(await hitN(l, 'a', 6), [true, true, true, true, true, false])
  assert.equal((await l.hit('a')).limit, 5)
  assert.deepEqual(await hitN(l, 'b', 3).then(() => l.hit('b', 4)).then((r) => [r.allowed, r.limit]), [false, 2])
  const tiny = createMemoryRateLimiter({ limit: 1, windowSec: 60, divisor: 4, now: c.now })
  assert.equal((await tiny.hit('x')).allowed, true, 'never less than 1')
})

test('redis limiter against a real redis-server', async (t) => {
  const server = await startRedis()
  const log = createLogger('silent', {})
  const clients: Redis[] = []
  t.after(async () => {
    for (const c of clients) c.disconnect()
    await server.stop()
  })
  const client = async (s: StartedRedis): Promise<Redis> => {
    const r = createRedis(s.url, log, { commandTimeoutMs: 500 })
    clients.push(r)
    assert.ok(await connectRedis(r, 3000), 'cannot connect to the test redis-server')
    return r
  }
  const redis = await client(server)
  const fallbackOf = (o: { limit: number, windowSec: number, now: () => number }): RateLimiter => createMemoryRateLimiter(o)
  const prefix = (): string => `test:${randomBytes(4).toString('hex')}:`

  let fallbackHits = 0
  await contract(t, (o) => {
    const memory = fallbackOf(o)
    const fallback: RateLimiter = { backend: 'memory', hit: (key) => { fallbackHits++; return memory.hit(key) } }
    return createRedisRateLimiter({ ...o, redis, prefix: prefix(), fallback })
  })
  assert.equal(fallbackHits, 0, 'the contract ran against Redis, not the fallback')

  await t.test('shares one count between clients (processes) and is atomic', async () => {
    const other = await client(server)
    const p = prefix()
    const c = clock()
    const opts = { limit: 10, windowSec: 60, now: c.now, prefix: p }
    const a = createRedisRateLimiter({ ...opts, redis, fallback: fallbackOf(opts) })
    const b = createRedisRateLimiter({ ...opts, redis: other, fallback: fallbackOf(opts) })
    const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => await (i % 2 === 0 ? a : b).hit('ip')))
    assert.equal(results.filter((r) => r.allowed).length, 10)
    const ttl = await redis.pttl(`${p}${T0}:ip`)
    assert.ok(ttl > 60_000 && ttl <= 61_000, `key expires with its window (pttl ${ttl})`)
  })

  await t.test('falls back to the memory limiter while Redis is down, then recovers', async () => {
    const c = clock()
    const opts = { limit: 2, windowSec: 60, now: c.now }
    // two workers without a shared store: each falls back to half the limit
    const fallback = createMemoryRateLimiter({ ...opts, divisor: 2 })
    const l = createRedisRateLimiter({ ...opts, redis, prefix: prefix(), fallback })
    assert.deepEqual(await hitN(l, 'x', 2), [true, true])
    await server.stop()
    const down = [await l.hit('x'), await l.hit('x')]
    assert.deepEqual(down.map((r) => r.allowed), [true, false], 'the fallback share applies')
    assert.equal(down[1]?.limit, 1)
    await server.restart()
    const deadline = Date.now() + 5000
    while (redis.status !== 'ready' && Date.now() < deadline) await sleep(50)
    assert.equal(redis.status, 'ready', 'ioredis reconnects after the restart')
    const back = await l.hit('x')
    assert.equal(back.limit, 2, 'Redis is used again once it is back')
    assert.equal(back.remaining, 1, 'the restarted Redis has a fresh count')
  })
  await t.test('a stalled Redis: the first command times out and drops the link; later hits fall back at once; back after', async () => {
    const c = clock()
    const opts = { limit: 5, windowSec: 60, now: c.now }
    let fallbackHits = 0
    const memory = createMemoryRateLimiter(opts)
    const fallback: RateLimiter = { backend: 'memory', hit: (key) => { fallbackHits++; return memory.hit(key) } }
    const l = createRedisRateLimiter({ ...opts, redis, prefix: prefix(), fallback })
    assert.equal((await l.hit('y')).remaining, 4)
    // a frozen Redis answers nothing and closes nothing, as a cut link does
    process.kill(server.pid(), 'SIGSTOP')
    try {
      const first = await l.hit('y')
      assert.equal(fallbackHits, 1, 'the timed-out command fell back')
      assert.equal(first.allowed, true)
      // the socket closes on the next turn of the loop
      const dropBy = Date.now() + 10_000
      while (redis.status === 'ready' && Date.now() < dropBy) await sleep(10)
      assert.notEqual(redis.status, 'ready', 'the link that timed out was dropped')
      // while ioredis reconnects, commands fail at once (no offline queue): no hit waits for a timeout
      await l.hit('y')
      assert.equal(fallbackHits, 2)
    } finally {
      process.kill(server.pid(), 'SIGCONT')
    }
    const deadline = Date.now() + 30_000
    while (redis.status !== 'ready' && Date.now() < deadline) await sleep(50)
    assert.equal(redis.status, 'ready', 'ioredis reconnects once Redis answers again')
    assert.equal((await l.hit('y')).limit, 5)
    assert.equal(fallbackHits, 2, 'Redis is used again')
  })
})
