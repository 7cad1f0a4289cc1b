// The extraction queue's fairness, caps and deadlines, with jobs the test
// finishes itself: who starts next is decided by the queue, not by timing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AppError } from '../errors.ts'
import { ClientCapError, createFairQueue } from './fair-queue.ts'
import type { FairQueueOptions, Requester } from './fair-queue.ts'

const A: Requester = { id: 'ip:198.51.100.1', capped: true }
const B: Requester = { id: 'ip:198.51.100.2', capped: true }
const C: Requester = { id: 'key:c', capped: true }
const LOCAL: Requester = { id: 'ip:127.0.0.1', capped: false }

// Jobs that record when they start and end when the test says so.
function harness (opts: Partial<FairQueueOptions> = {}) {
  const q = createFairQueue({ slots: 1, maxQueued: 1000, perClient: 0, timeoutMs: 60_000, ...opts })
  const started: string[] = []
  const lefts: number[] = []
  const finishers = new Map<string, () => void>()
  const submit = (who: Requester, name: string): Promise<string> => q.submit(who, async (leftMs) => {
    started.push(name)
    lefts.push(leftMs)
    await new Promise<void>((resolve) => finishers.set(name, resolve))
    return name
  })
  // ends a running job and lets the queue start the next one
  const finish = async (name: string): Promise<void> => {
    const done = finishers.get(name)
    assert.ok(done !== undefined, `${name} is not running (started: ${started.join(',')})`)
    done()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { q, started, lefts, submit, finish }
}

test('a client flooding the queue delays another client by one job per client ahead, not by its whole queue', async () => {
  const h = harness()
  const results = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((n) => h.submit(A, n))
  const b1 = h.submit(B, 'b1')
  const c1 = h.submit(C, 'c1')
  const b2 = h.submit(B, 'b2')
  assert.deepEqual(h.started, ['a1'])
  assert.equal(h.q.stats().queued, 8)
  for (const n of ['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4', 'a5']) await h.finish(n)
  await h.finish('a6')
  assert.deepEqual(h.started, ['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4', 'a5', 'a6'], 'round-robin between the clients with waiting jobs (none running)')
  assert.deepEqual(await Promise.all([...results, b1, c1, b2]), ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'c1', 'b2'])
  assert.deepEqual(h.q.stats(), { queued: 0, running: 0, clients: 0, expired: 0, refused: 0 })
})

test('the slots run at once; the rest wait', async () => {
  const h = harness({ slots: 3 })
  const all = ['a1', 'a2', 'a3', 'a4'].map((n) => h.submit(A, n))
  const b = h.submit(B, 'b1')
  assert.deepEqual(h.started, ['a1', 'a2', 'a3'])
  assert.deepEqual(h.q.stats(), { queued: 2, running: 3, clients: 2, expired: 0, refused: 0 })
  await h.finish('a2')
  assert.deepEqual(h.started, ['a1', 'a2', 'a3', 'b1'], 'the client with fewer jobs running goes first')
  await h.finish('a1')
  assert.deepEqual(h.started.at(-1), 'a4')
  for (const n of ['a3', 'a4', 'b1']) await h.finish(n)
  await Promise.all([...all, b])
})

test('a capped client gets 429 with Retry-After past its queued + running jobs; others and the server itself do not', async () => {
  const h = harness({ perClient: 3 })
  const jobs = ['a1', 'a2', 'a3'].map((n) => h.submit(A, n))
  const refused = await h.submit(A, 'a4').then(() => null, (err: unknown) => err)
  assert.ok(refused instanceof ClientCapError, String(refused))
  assert.equal(refused.code, 'RATE_LIMITED')
  assert.equal(refused.statusCode, 429)
  assert.equal(refused.client, A.id)
  assert.match(refused.headers?.['retry-after'] ?? '', /^[1-9]\d*$/)
  assert.match(refused.detail ?? '', /at most 3 extractions queued or running at once per client/)
  assert.throws(() => h.q.admit(A, 1), ClientCapError)
  // a batch asks for all its items at once
  assert.doesNotThrow(() => h.q.admit(B, 3))
  assert.throws(() => h.q.admit(B, 4), ClientCapError)
  const b = h.submit(B, 'b1')
  const local = Array.from({ length: 5 }, (_, i) => h.submit(LOCAL, `l${i}`))
  assert.equal(h.q.load(A.id), 3)
  assert.equal(h.q.load(LOCAL.id), 5, 'uncapped')
  assert.equal(h.q.stats().refused, 3)
  // a finished job frees its place
  await h.finish('a1')
  assert.equal(h.q.load(A.id), 2)
  const a5 = h.submit(A, 'a5')
  for (const n of ['a2', 'b1', 'l0', 'a3', 'l1', 'a5', 'l2', 'l3', 'l4']) await h.finish(n)
  await Promise.all([...jobs, b, a5, ...local])
  assert.equal(h.q.stats().clients, 0)
})

test('the queue as a whole is bounded: past it EXTRACTION_BUSY', async () => {
  const h = harness({ maxQueued: 2 })
  const jobs = [h.submit(A, 'a1'), h.submit(B, 'b1'), h.submit(C, 'c1')]
  const busy = await h.submit(A, 'a2').then(() => null, (err: unknown) => err)
  assert.ok(busy instanceof AppError && busy.code === 'EXTRACTION_BUSY', String(busy))
  assert.equal(busy.statusCode, 503)
  assert.ok(busy.headers?.['retry-after'] !== undefined)
  assert.equal(h.q.load(A.id), 1, 'a refused job holds no place')
  for (const n of ['a1', 'b1', 'c1']) await h.finish(n)
  await Promise.all(jobs)
  // no queue at all: a job runs only when a slot is free
  const none = harness({ maxQueued: 0 })
  const first = none.submit(A, 'x')
  await assert.rejects(none.submit(B, 'y'), (err: unknown) => err instanceof AppError && err.code === 'EXTRACTION_BUSY')
  await none.finish('x')
  await first
})

test('the deadline counts the wait: a job still queued at EXTRACT_TIMEOUT leaves the queue with 504, one that starts gets what is left', async () => {
  let t = 1_000_000
  const h = harness({ timeoutMs: 200, now: () => t })
  const a1 = h.submit(A, 'a1')
  const b1 = h.submit(B, 'b1')
  const c1 = h.submit(C, 'c1')
  assert.deepEqual(h.lefts, [200], 'a job that starts at once gets the whole timeout')
  // b1 is picked up when a1 ends, 150 ms after it was queued
  t += 150
  await h.finish('a1')
  assert.deepEqual(h.started, ['a1', 'b1'])
  assert.deepEqual(h.lefts, [200, 50])
  // c1 never gets a slot: its timer (the queue's own) ends it
  const err = await c1.then(() => null, (e: unknown) => e)
  assert.ok(err instanceof AppError && err.code === 'EXTRACTION_TIMEOUT', String(err))
  assert.equal(err.statusCode, 504)
  assert.match(err.detail ?? '', /extraction queue/)
  assert.deepEqual(h.q.stats(), { queued: 0, running: 1, clients: 1, expired: 1, refused: 0 })
  assert.equal(h.q.load(C.id), 0, 'an expired job holds no place')
  await h.finish('b1')
  assert.deepEqual(h.started, ['a1', 'b1'], 'the expired job never started')
  assert.deepEqual(await Promise.all([a1, b1]), ['a1', 'b1'])
})

test('a job is not started with too little of its time left (a tenth, at most 1 s): it leaves the queue instead', async () => {
  let t = 5_000_000
  const h = harness({ timeoutMs: 200, now: () => t })
  const a1 = h.submit(A, 'a1')
  const b1 = h.submit(B, 'b1').then(() => null, (e: unknown) => e)
  t += 185
  await h.finish('a1')
  const err = await b1
  assert.ok(err instanceof AppError && err.code === 'EXTRACTION_TIMEOUT', String(err))
  assert.match(err.detail ?? '', /waited 0\.2 s in this worker's extraction queue/)
  assert.deepEqual(h.started, ['a1'])
  assert.deepEqual(h.q.stats(), { queued: 0, running: 0, clients: 0, expired: 1, refused: 0 })
  assert.equal(await a1, 'a1')
})

test('a job that throws or rejects frees its slot', async () => {
  const q = createFairQueue({ slots: 1, maxQueued: 10, perClient: 2, timeoutMs: 60_000 })
  await assert.rejects(q.submit(A, () => { throw new Error('sync') }), /sync/)
  await assert.rejects(q.submit(A, async () => { throw new Error('async') }), /async/)
  assert.equal(await q.submit(A, async () => 'ok'), 'ok')
  assert.deepEqual(q.stats(), { queued: 0, running: 0, clients: 0, expired: 0, refused: 0 })
})
