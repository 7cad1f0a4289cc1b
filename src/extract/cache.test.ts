import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createInfoCache, redisL2, cacheKey } from './cache.ts'
import { redisLocks, createSingleFlight } from './single-flight.ts'
import { createRedis, connectRedis } from '../redis.ts'
import { createLogger } from '../log.ts'
import { startRedis } from '../testing/helpers.ts'

const codec = { encode: (v: { n: number }) => JSON.stringify(v), decode: (t: string) => JSON.parse(t) as { n: number } }

test('L1 is an LRU with a TTL', async () => {
  let now = 1000
  const cache = createInfoCache({ l2: null, l1MaxEntries: 2, l1TtlSec: 10, now: () => now, ...codec })
  await cache.set('a', { n: 1 }, 100)
  await cache.set('b', { n: 2 }, 100)
  assert.deepEqual(await cache.get('a'), { n: 1 })
  await cache.set('c', { n: 3 }, 100)
  assert.equal(await cache.get('b'), null, 'the least recently used entry was evicted')
  assert.deepEqual(await cache.get('a'), { n: 1 })
  now += 10_001
  assert.equal(await cache.get('a'), null, 'L1 entries expire after the L1 TTL')
  await cache.set('d', { n: 4 }, 0)
  assert.equal(await cache.get('d'), null, 'a zero TTL stores nothing')
  assert.equal(cacheKey('info', 'youtube', 'x'), 'vg:v1:info:youtube:x')
})

test('Redis L2: shared between caches, TTL kept, and a stopped Redis is a miss', async (t) => {
  const server = await startRedis()
  const log = createLogger('silent', {})
  const r1 = createRedis(server.url, log, { commandTimeoutMs: 300 })
  const r2 = createRedis(server.url, log, { commandTimeoutMs: 300 })
  await connectRedis(r1, 2000)
  await connectRedis(r2, 2000)
  t.after(async () => { r1.disconnect(); r2.disconnect(); await server.stop() })
  const a = createInfoCache({ l2: redisL2(r1), l1MaxEntries: 10, l1TtlSec: 5, ...codec })
  const b = createInfoCache({ l2: redisL2(r2), l1MaxEntries: 10, l1TtlSec: 5, ...codec })
  await a.set('k', { n: 7 }, 30)
  assert.deepEqual(await b.get('k'), { n: 7 })
  const ttl = await r1.ttl('k')
  assert.ok(ttl > 25 && ttl <= 30)
  await r1.set('bad', 'not json{')
  const strict = createInfoCache({ l2: redisL2(r1), l1MaxEntries: 10, l1TtlSec: 5, encode: codec.encode, decode: (t) => { try { return JSON.parse(t) as { n: number } } catch { return null } } })
  assert.equal(await strict.get('bad'), null, 'undecodable values are misses')
  await server.stop()
  const started = Date.now()
  assert.equal(await createInfoCache({ l2: redisL2(r2), l1MaxEntries: 10, l1TtlSec: 5, ...codec }).get('k'), null)
  await b.set('z', { n: 1 }, 30)
  assert.ok(Date.now() - started < 2000, 'Redis failures are fast misses')
})

test('single-flight merges concurrent work in-process and across Redis clients', async (t) => {
  const local = createSingleFlight({ locks: null, lockTtlMs: 1000, waitTimeoutMs: 1000 })
  let runs = 0
  const work = async (): Promise<number> => { runs++; await new Promise((resolve) => setTimeout(resolve, 50)); return 42 }
  const values = await Promise.all(Array.from({ length: 50 }, async () => await local.run('k', work, async () => null)))
  assert.deepEqual(new Set(values), new Set([42]))
  assert.equal(runs, 1)

  const server = await startRedis()
  const log = createLogger('silent', {})
  const clients = [createRedis(server.url, log), createRedis(server.url, log)]
  await Promise.all(clients.map(async (c) => await connectRedis(c, 2000)))
  const flights = clients.map((redis) => createSingleFlight({ locks: redisLocks(redis, 100), lockTtlMs: 5000, waitTimeoutMs: 5000 }))
  t.after(async () => { for (const f of flights) await f.close(); for (const c of clients) c.disconnect(); await server.stop() })
  await new Promise((resolve) => setTimeout(resolve, 100))
  let shared: number | null = null
  let produced = 0
  const produce = async (): Promise<number> => { produced++; await new Promise((resolve) => setTimeout(resolve, 300)); shared = 7; return 7 }
  const results = await Promise.all(flights.map(async (f) => await f.run('job', produce, async () => shared)))
  assert.deepEqual(results, [7, 7])
  assert.equal(produced, 1, 'one process did the work, the other waited for it')
})

test('single-flight: a holder that fails without a result hands over to one waiter at a time', async (t) => {
  const server = await startRedis()
  const log = createLogger('silent', {})
  const clients = [createRedis(server.url, log), createRedis(server.url, log), createRedis(server.url, log)]
  await Promise.all(clients.map(async (c) => await connectRedis(c, 2000)))
  const flights = clients.map((redis) => createSingleFlight({ locks: redisLocks(redis, 100), lockTtlMs: 5000, waitTimeoutMs: 10_000 }))
  t.after(async () => { for (const f of flights) await f.close(); for (const c of clients) c.disconnect(); await server.stop() })
  await new Promise((resolve) => setTimeout(resolve, 100))
  let shared: number | null = null
  let runs = 0
  let active = 0
  let most = 0
  const produce = async (): Promise<number> => {
    runs++
    active++
    most = Math.max(most, active)
    await new Promise((resolve) => setTimeout(resolve, 200))
    active--
    // the first holder fails with nothing to share (a timeout): one waiter takes over, the other waits for it
    if (runs === 1) throw new Error('timed out')
    shared = 9
    return 9
  }
  const results = await Promise.allSettled(flights.map(async (f) => await f.run('handover', produce, async () => shared)))
  assert.equal(results.filter((r) => r.status === 'rejected').length, 1)
  assert.deepEqual(results.flatMap((r) => r.status === 'fulfilled' ? [r.value] : []), [9, 9])
  assert.equal(runs, 2, 'the failed run and one more')
  assert.equal(most, 1, 'never two at once')
})
