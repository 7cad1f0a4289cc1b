import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createInfoCache, cacheKey, redisL2 } from './cache.ts'
import { packRecord, unpackRecord } from './record.ts'
import { redisLocks, createSingleFlight } from './single-flight.ts'
import { createRedis, connectRedis } from '../redis.ts'
import { createLogger } from '../log.ts'
import { startRedis } from '../testing/helpers.ts'

const codec = { encode: (v: { n: number }) => JSON.stringify(v), decode: (b: Buffer) => JSON.parse(b.toString()) as { n: number } }

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
  assert.equal(cacheKey('info', 'youtube', 'x'), 'vg:v2:info:youtube:x')
})

test('Redis L2: shared between caches, TTL kept, and a stopped Redis is a miss', { timeout: 60_000 }, async (t) => {
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
  const strict = createInfoCache({ l2: redisL2(r1), l1MaxEntries: 10, l1TtlSec: 5, encode: codec.encode, decode: (b) => { try { return JSON.parse(b.toString()) as { n: number } } catch { return null } } })
  assert.equal(await strict.get('bad'), null, 'undecodable values are misses')
  await server.stop()
  // Redis failures are misses (a hang fails by the test's timeout)
  assert.equal(await createInfoCache({ l2: redisL2(r2), l1MaxEntries: 10, l1TtlSec: 5, ...codec }).get('k'), null)
  await b.set('z', { n: 1 }, 30)
})

test('a record holds the expiry and named parts, read back as views; other bytes are no record', () => {
  const record = packRecord(1234.5, [['', Buffer.from('{"n":1}')], ['body', Buffer.from('héllo')], ['empty', Buffer.alloc(0)]])
  const read = unpackRecord(record)
  assert.ok(read !== null)
  assert.equal(read.expiresAt, 1234.5)
  assert.deepEqual([...read.parts.keys()], ['', 'body', 'empty'])
  assert.equal(read.parts.get('body')?.toString(), 'héllo')
  assert.equal(read.parts.get('body')?.buffer, record.buffer, 'a view into the record, not a copy')
  assert.equal(read.parts.get('empty')?.length, 0)
  assert.equal(unpackRecord(record.subarray(0, record.length - 1)), null, 'a truncated record')
  assert.equal(unpackRecord(Buffer.concat([record, Buffer.from('x')])), null, 'trailing bytes')
  assert.equal(unpackRecord(Buffer.from('{"n":1}')), null, 'a value of the old format')
})

test('an L2 hit fills L1, is answered from its parts without decoding, and the same bytes revive the entry and its memo', async (t) => {
  const server = await startRedis()
  const log = createLogger('silent', {})
  const redis = createRedis(server.url, log)
  await connectRedis(redis, 2000)
  t.after(async () => { redis.disconnect(); await server.stop() })
  let decoded = 0
  const counting = { encode: codec.encode, decode: (b: Buffer) => { decoded++; return codec.decode(b) } }
  const writer = createInfoCache({ l2: redisL2(redis), l1MaxEntries: 10, l1TtlSec: 60, ...counting })
  await writer.set('k', { n: 5 }, 30, [['body', Buffer.from('{"answer":5}')]])
  assert.equal(await redis.pttl('k') > 25_000, true, 'L2 keeps the full TTL')

  let now = Date.now()
  const reader = createInfoCache({ l2: redisL2(redis), l1MaxEntries: 10, l1TtlSec: 5, now: () => now, ...counting })
  assert.equal(reader.peek('k'), null)
  const found = reader.find('k')
  assert.ok(found instanceof Promise, 'an L1 miss reads L2')
  const entry = await found
  assert.ok(entry !== null)
  assert.equal(entry.part('body')?.toString(), '{"answer":5}')
  assert.equal(decoded, 0, 'the body is answered as stored: nothing decoded')
  assert.ok(entry.expiresAt > now + 25_000 && entry.expiresAt <= now + 30_000, 'the expiry comes with the record (no PTTL)')
  assert.equal(reader.peek('k'), entry, 'the L2 hit filled L1')
  assert.deepEqual(entry.value, { n: 5 })
  assert.equal(decoded, 1)
  entry.memo.set('plan', 'derived once')
  assert.deepEqual(reader.stats(), { hits: 2, misses: 0, l1Hits: 1, l1Misses: 1, l2Hits: 1, l2Misses: 0, l1Size: 1, backend: 'redis', l2: 'redis' })

  now += 5_001
  assert.equal(reader.peek('k'), null, 'past the L1 TTL, L2 is asked again')
  const again = await reader.find('k')
  assert.equal(again, entry, 'L2 returned the same bytes: the entry is revived')
  assert.equal(again?.memo.get('plan'), 'derived once')
  assert.equal(decoded, 1, 'and nothing is decoded again')

  await writer.set('k', { n: 6 }, 30, [['body', Buffer.from('{"answer":6}')]])
  now += 5_001
  const changed = await reader.find('k')
  assert.ok(changed !== null && changed !== entry, 'new bytes make a new entry')
  assert.equal(changed.memo.size, 0)
  assert.deepEqual(changed.value, { n: 6 })

  // with CACHE_L1_TTL=0 every lookup reads L2, and equal bytes still skip decoding
  const off = createInfoCache({ l2: redisL2(redis), l1MaxEntries: 10, l1TtlSec: 0, ...counting })
  const first = await off.find('k')
  assert.ok(first !== null)
  assert.deepEqual(first.value, { n: 6 })
  const decodes = decoded
  assert.equal(off.peek('k'), null, 'L1 serves nothing')
  assert.equal(await off.find('k'), first)
  assert.deepEqual(await off.get('k'), { n: 6 })
  assert.equal(decoded, decodes)
  assert.equal(off.stats().l2Hits, 3)
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
