import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRemuxCache } from './remux-cache.ts'
import type { RemuxCache } from './remux-cache.ts'

function folder (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-remux-cache-test-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

const used = (dir: string): number => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0)

async function put (cache: RemuxCache, key: string, chunks: Buffer[]): Promise<boolean> {
  const w = await cache.create(key)
  assert.ok(w !== null)
  for (const c of chunks) if (!(await w.append(c))) return false
  return (await w.commit()) !== null
}

test('a written file is found under its key with its bytes; the folder never holds more than the cap', async (t) => {
  const dir = folder(t)
  const cache = createRemuxCache({ dir, maxBytes: 2500, ttlMs: 3600_000 })
  assert.equal(await cache.find('a'), null)
  assert.ok(await put(cache, 'a', [Buffer.alloc(600, 1), Buffer.alloc(400, 2)]))
  const a = await cache.find('a')
  assert.equal(a?.size, 1000)
  assert.deepEqual(readFileSync(a?.path ?? ''), Buffer.concat([Buffer.alloc(600, 1), Buffer.alloc(400, 2)]))
  // b is served after a was: a is the least recently used when c needs room
  assert.ok(await put(cache, 'b', [Buffer.alloc(1000, 3)]))
  const old = (Date.now() - 60_000) / 1000
  utimesSync(a?.path ?? '', old, old)
  assert.ok(await cache.find('b') !== null)
  assert.ok(await put(cache, 'c', [Buffer.alloc(700, 4), Buffer.alloc(300, 5)]))
  assert.ok(used(dir) <= 2500, `${used(dir)} bytes`)
  assert.equal(await cache.find('a'), null, 'the least recently used went first')
  assert.ok(await cache.find('b') !== null)
  assert.ok(await cache.find('c') !== null)
})

test('a file bigger than the cap is not kept, and its partial file is gone', async (t) => {
  const dir = folder(t)
  const cache = createRemuxCache({ dir, maxBytes: 1000, ttlMs: 3600_000 })
  assert.equal(await put(cache, 'big', [Buffer.alloc(600), Buffer.alloc(600)]), false)
  assert.deepEqual(readdirSync(dir), [])
  assert.equal(await cache.find('big'), null)
})

test('files not served for the TTL expire; parts of processes that are gone are deleted; 0 MB is no cache', async (t) => {
  const dir = folder(t)
  let now = Date.now()
  const cache = createRemuxCache({ dir, maxBytes: 10_000, ttlMs: 60_000, now: () => now })
  assert.ok(await put(cache, 'a', [Buffer.alloc(100)]))
  now += 30_000
  assert.ok(await cache.find('a') !== null, 'within the TTL (and the use counts)')
  now += 61_000
  assert.equal(await cache.find('a'), null, 'not served for longer than the TTL')
  assert.deepEqual(readdirSync(dir), [])
  // a part left by a process that died (pid 2^22 + 1 is above Linux's pid_max)
  writeFileSync(join(dir, `${'0'.repeat(40)}.4194305.1.part`), Buffer.alloc(500))
  assert.ok(await put(cache, 'b', [Buffer.alloc(100)]))
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.part')), [])
  const off = createRemuxCache({ dir: join(dir, 'off'), maxBytes: 0, ttlMs: 60_000 })
  assert.equal(await off.create('x'), null)
  assert.equal(await off.find('b'), null)
})
