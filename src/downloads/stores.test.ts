// The task stores' listing and cap contract, the same for state files and Redis:
// pages by owner and state, newest first, totals; reservations against the
// per-client and store-wide caps; a state change moving a task between state
// listings; removal. For state files also: two processes (two stores on one
// folder) see each other's changes at once, however fast they follow, and state
// from before the index existed is indexed at start.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../log.ts'
import { connectRedis, createRedis } from '../redis.ts'
import { sleep, startRedis } from '../testing/helpers.ts'
import { cleanupStack } from '../testing/downloads.ts'
import { createDirIndex } from './dir-index.ts'
import { newRecord, revise } from './record.ts'
import { createFileStore } from './store-files.ts'
import { createRedisStore } from './store-redis.ts'
import type { TaskClient, TaskRecord, TaskStore } from './types.ts'

const SPEC = { url: 'https://example.com/v', platform: 'generic', video_id: 'v', quality: 'best' as const, format: 'mp4' as const, audio_only: false, filename: null }
const ALICE: TaskClient = { owner: 't-alice', quota: 'i-alice' }
const BOB: TaskClient = { owner: 't-bob', quota: 'i-bob' }
const T0 = Date.parse('2026-12-01T00:00:00.000Z')

const id = (n: number): string => `task${String(n).padStart(12, '0')}`
const task = (n: number, client: TaskClient | null): TaskRecord => newRecord(id(n), SPEC, `key${n}`, null, client, new Date(T0 + n * 1000))
const ids = (tasks: TaskRecord[]): string[] => tasks.map((t) => t.id)

async function contract (store: TaskStore): Promise<void> {
  // alice: tasks 1, 3, 5; bob: 2, 4; 6 belongs to nobody (from before owners)
  for (const n of [1, 2, 3, 4, 5]) await store.save(task(n, n % 2 === 1 ? ALICE : BOB))
  await store.save(task(6, null))
  const all = await store.page({ owner: null, state: null }, 0, 10)
  assert.deepEqual(ids(all.tasks), [6, 5, 4, 3, 2, 1].map(id), 'newest first')
  assert.equal(all.total, 6)
  assert.deepEqual(ids((await store.page({ owner: null, state: null }, 2, 2)).tasks), [4, 3].map(id))
  const alice = await store.page({ owner: ALICE.owner, state: null }, 0, 10)
  assert.deepEqual(ids(alice.tasks), [5, 3, 1].map(id))
  assert.equal(alice.total, 3)
  assert.deepEqual(await store.page({ owner: 't-nobody', state: null }, 0, 10), { tasks: [], total: 0 })

  // a state change moves the task between state listings (the owner's and everyone's)
  const three = await store.get(id(3))
  assert.ok(three !== null)
  await store.save(revise(three, { state: 'running' }))
  assert.deepEqual(ids((await store.page({ owner: ALICE.owner, state: 'running' }, 0, 10)).tasks), [id(3)])
  assert.ok(await store.saveIf(revise(revise(three, { state: 'running' }), { state: 'completed' }), three.seq + 1))
  assert.deepEqual(ids((await store.page({ owner: ALICE.owner, state: 'running' }, 0, 10)).tasks), [])
  assert.deepEqual(ids((await store.page({ owner: null, state: 'completed' }, 0, 10)).tasks), [id(3)])
  assert.equal((await store.page({ owner: null, state: 'queued' }, 0, 10)).total, 5)

  // reservations (made now: an entry without a record is a task being created only so long): alice holds 3, bob 2, the store 6
  const now = Date.now()
  assert.equal(await store.reserve(id(7), ALICE, now, { perClient: 3, global: 0 }), 'client')
  assert.equal(await store.reserve(id(7), ALICE, now, { perClient: 4, global: 6 }), 'global')
  assert.equal(await store.reserve(id(7), BOB, now, { perClient: 3, global: 7 }), 'ok')
  assert.equal(await store.reserve(id(8), ALICE, now + 1, { perClient: 0, global: 7 }), 'global', 'the reservation counts')
  await store.release(id(7), BOB, now)
  assert.equal(await store.reserve(id(8), ALICE, now + 1, { perClient: 4, global: 7 }), 'ok', 'a release gives the place back')
  assert.equal((await store.oldest(ALICE.quota))?.id, id(1))

  // removal takes a task out of every listing and count
  await store.remove(id(1))
  assert.equal(await store.get(id(1)), null)
  assert.deepEqual(ids((await store.page({ owner: ALICE.owner, state: null }, 0, 10)).tasks), [5, 3].map(id))
  assert.equal((await store.oldest(ALICE.quota))?.id, id(3))
  assert.equal(await store.reserve(id(9), ALICE, now + 2, { perClient: 4, global: 0 }), 'ok', 'alice: 3 and 5, 8 reserved, now 9')
}

test('store contract: state files', async (t) => {
  const later = cleanupStack(t)
  const dir = mkdtempSync(join(tmpdir(), 'vg-store-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  const store = await createFileStore({ stateDir: dir, leaseMs: 10_000, pollMs: 100 })
  later(async () => await store.close())
  await contract(store)
})

test('store contract: Redis', async (t) => {
  const later = cleanupStack(t)
  const server = await startRedis()
  later(async () => await server.stop())
  const log = createLogger('silent', {})
  const redis = createRedis(server.url, log)
  later(() => redis.disconnect())
  assert.ok(await connectRedis(redis, 3000))
  const store = await createRedisStore({ redis, log, ttlSec: 3600, leaseMs: 10_000 })
  later(async () => await store.close())
  await contract(store)
})

test('state files: each process sees the others\' changes at once, however fast', async (t) => {
  const later = cleanupStack(t)
  const root = mkdtempSync(join(tmpdir(), 'vg-index-'))
  later(() => rmSync(root, { recursive: true, force: true }))
  // two indexes on one folder share nothing in memory, like two worker processes
  const a = createDirIndex(root)
  const b = createDirIndex(root)
  const entry = (n: number): string => `${String(T0 + n).padStart(13, '0')}-${id(n)}`
  await a.add('all', entry(1))
  assert.deepEqual(await b.entries('all'), [entry(1)])
  // a list read while the folder was quiet is reused until the folder changes
  await sleep(250)
  assert.deepEqual(await b.entries('all'), [entry(1)])
  for (let n = 2; n < 60; n++) {
    await a.add('all', entry(n))
    if (n % 7 === 0) await b.drop('all', entry(n - 1))
    const expected = Array.from({ length: n }, (_, i) => i + 1).filter((i) => i === n || (i + 1) % 7 !== 0).reverse().map(entry)
    assert.deepEqual(await b.entries('all'), expected, `after ${n} changes`)
    // a list reused under maxAgeMs may miss the other process's changes, never this one's
    assert.ok((await a.entries('all', 60_000)).includes(entry(n)))
  }
  assert.equal(await a.pruneEmpty(), 0)
  for (const name of await a.entries('all')) await a.drop('all', name)
  assert.equal(await b.pruneEmpty(), 1)
  assert.deepEqual(await a.entries('all'), [])
})

test('state files: tasks written before the index existed are listed after a start', async (t) => {
  const later = cleanupStack(t)
  const dir = mkdtempSync(join(tmpdir(), 'vg-store-'))
  later(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'tasks'))
  // a record as written then: no client field (JSON.stringify leaves out undefined)
  writeFileSync(join(dir, 'tasks', `${id(1)}.json`), JSON.stringify({ ...task(1, null), client: undefined }))
  const store = await createFileStore({ stateDir: dir, leaseMs: 10_000, pollMs: 100 })
  later(async () => await store.close())
  const page = await store.page({ owner: null, state: 'queued' }, 0, 10)
  assert.deepEqual(ids(page.tasks), [id(1)])
  assert.equal(page.tasks[0]?.client, null)
})
