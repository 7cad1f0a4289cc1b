// The primary's store and locks for its workers without Redis (host-state.ts), and
// the link's checks on the messages that carry them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHostState } from './host-state.ts'
import { parsePrimaryMessage, parseWorkerMessage, SHARED_MAX_MS } from './link.ts'
import type { SharedReply, SharedRequest } from './link.ts'

function asker (state: ReturnType<typeof createHostState>, worker: number) {
  return async (req: SharedRequest): Promise<SharedReply> => await new Promise((resolve) => state.handle(worker, req, resolve))
}

test('values: the TTL each worker gave, least recently used out first past the byte bound', async (t) => {
  let now = 1000
  // each value below is 2 × (1 + 1000) bytes: two fit, a third does not
  const state = createHostState({ maxBytes: 4500, now: () => now })
  t.after(state.close)
  const ask = asker(state, 1)
  const tell = (req: SharedRequest): void => state.handle(2, req, () => assert.fail('set, del and unlock are not answered'))
  const v = (c: string): string => c.repeat(1000)
  tell({ op: 'set', key: 'a', value: v('a'), ttlMs: 30_000 })
  tell({ op: 'set', key: 'b', value: v('b'), ttlMs: 60_000 })
  assert.deepEqual(await ask({ op: 'get', key: 'a' }), { op: 'get', value: v('a'), ttlMs: 30_000 }, 'another worker reads what one stored')
  tell({ op: 'set', key: 'c', value: v('c'), ttlMs: 60_000 })
  assert.deepEqual(await ask({ op: 'get', key: 'b' }), { op: 'get', value: null, ttlMs: 0 }, 'b, the least recently used, went')
  assert.equal(state.stats().entries, 2)
  now += 10_000
  assert.deepEqual(await ask({ op: 'get', key: 'a' }), { op: 'get', value: v('a'), ttlMs: 20_000 }, 'the TTL counts down')
  now += 20_000
  assert.deepEqual(await ask({ op: 'get', key: 'a' }), { op: 'get', value: null, ttlMs: 0 }, 'expired')
  tell({ op: 'del', key: 'c' })
  assert.deepEqual(await ask({ op: 'get', key: 'c' }), { op: 'get', value: null, ttlMs: 0 })
  tell({ op: 'set', key: 'huge', value: 'x'.repeat(5000), ttlMs: 1000 })
  assert.deepEqual(state.stats(), { entries: 0, bytes: 0, locks: 0, waits: 0 }, 'a value larger than the bound is not kept')
})

test('locks: one holder, its token frees it, waiters are told; a dead holder or the expiry frees it too', async (t) => {
  const state = createHostState({ maxBytes: 1 << 20 })
  t.after(state.close)
  const w1 = asker(state, 1)
  const w2 = asker(state, 2)
  const got = await w1({ op: 'lock', key: 'k', ttlMs: 60_000 })
  assert.ok(got.op === 'lock' && typeof got.token === 'string')
  assert.deepEqual(await w2({ op: 'lock', key: 'k', ttlMs: 60_000 }), { op: 'lock', key: 'k', token: null })
  const waiting = w2({ op: 'wait', key: 'k', timeoutMs: 60_000 })
  state.handle(2, { op: 'unlock', key: 'k', token: 'not-the-token' }, () => {})
  assert.equal(state.stats().locks, 1, 'a wrong token frees nothing')
  state.handle(1, { op: 'unlock', key: 'k', token: got.token ?? '' }, () => {})
  assert.deepEqual(await waiting, { op: 'wait', free: true })
  assert.deepEqual(await w2({ op: 'wait', key: 'k', timeoutMs: 60_000 }), { op: 'wait', free: true }, 'a free lock: at once')

  // the holder's worker exits: its waiters are told, its own waits are dropped
  assert.ok((await w1({ op: 'lock', key: 'k', ttlMs: 60_000 }) as { token: unknown }).token !== null)
  await w1({ op: 'lock', key: 'other', ttlMs: 60_000 })
  const theirs = w2({ op: 'wait', key: 'k', timeoutMs: 60_000 })
  state.handle(1, { op: 'wait', key: 'other', timeoutMs: 60_000 }, () => assert.fail('a gone worker is not answered'))
  state.workerGone(1)
  assert.deepEqual(await theirs, { op: 'wait', free: true })
  assert.deepEqual(state.stats(), { entries: 0, bytes: 0, locks: 0, waits: 0 })

  // a holder that never lets go: the expiry frees it; a wait that outlasts its bound says so
  assert.ok((await w1({ op: 'lock', key: 'stuck', ttlMs: 200 }) as { token: unknown }).token !== null)
  assert.deepEqual(await w2({ op: 'wait', key: 'stuck', timeoutMs: 60_000 }), { op: 'wait', free: true })
  await w1({ op: 'lock', key: 'long', ttlMs: 60_000 })
  assert.deepEqual(await w2({ op: 'wait', key: 'long', timeoutMs: 50 }), { op: 'wait', free: false })
  assert.equal(state.stats().waits, 0)
})

test('the link takes only well-formed shared messages and bounds their spans', () => {
  assert.equal(parseWorkerMessage({ type: 'vidgate:shared', id: '1', req: { op: 'get' } }), null, 'no key')
  assert.equal(parseWorkerMessage({ type: 'vidgate:shared', id: '1', req: { op: 'lock', key: 'k', ttlMs: -1 } }), null)
  assert.equal(parseWorkerMessage({ type: 'vidgate:shared', id: '1', req: { op: 'set', key: 'k', value: 1, ttlMs: 5 } }), null)
  assert.equal(parseWorkerMessage({ type: 'vidgate:shared', id: '1', req: { op: 'drop-all', key: 'k' } }), null)
  assert.equal(parseWorkerMessage({ type: 'vidgate:shared', id: 1, req: { op: 'get', key: 'k' } }), null)
  assert.deepEqual(parseWorkerMessage({ type: 'vidgate:shared', id: '1', req: { op: 'wait', key: 'k', timeoutMs: 1e12 } }),
    { type: 'vidgate:shared', id: '1', req: { op: 'wait', key: 'k', timeoutMs: SHARED_MAX_MS } })
  assert.deepEqual(parsePrimaryMessage({ type: 'vidgate:shared-reply', id: '2', reply: { op: 'lock', key: 'k', token: null } }),
    { type: 'vidgate:shared-reply', id: '2', reply: { op: 'lock', key: 'k', token: null } })
  assert.equal(parsePrimaryMessage({ type: 'vidgate:shared-reply', id: '2', reply: { op: 'get', value: 3, ttlMs: 1 } }), null)
})
