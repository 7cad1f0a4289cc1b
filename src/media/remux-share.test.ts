import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { JOIN_WINDOW_BYTES, LAG_BYTES, createBroadcast } from './remux-share.ts'
import type { Subscription } from './remux-share.ts'

const MB = 1024 * 1024

async function drain (sub: Subscription): Promise<Buffer> {
  const parts: Buffer[] = []
  for (let c = await sub.next(); c !== null; c = await sub.next()) parts.push(c)
  return Buffer.concat(parts)
}

function source (count: number, size: number, pulled: { n: number }): Readable {
  return Readable.from((function * () {
    for (let i = 0; i < count; i++) { pulled.n++; yield Buffer.alloc(size, i % 251) }
  })(), { objectMode: false })
}

test('every subscriber gets the whole output, late joiners from byte 0', async () => {
  const b = createBroadcast()
  const first = b.join()
  assert.ok(first !== null)
  const pulled = { n: 0 }
  const pump = b.pump(source(6, 1000, pulled))
  const late = b.join()
  assert.ok(late !== null)
  const [x, y] = await Promise.all([drain(first), drain(late), pump])
  assert.equal(x.length, 6000)
  assert.ok(x.equals(y))
  assert.equal(b.join(), null, 'an ended broadcast takes no one new')
})

test('past the join window nobody new joins; the producer waits for a subscriber that lags too far', async () => {
  const b = createBroadcast()
  const fast = b.join()
  const slow = b.join()
  assert.ok(fast !== null && slow !== null)
  const pulled = { n: 0 }
  const count = Math.ceil((JOIN_WINDOW_BYTES + LAG_BYTES) / MB) + 4
  const pump = b.pump(source(count, MB, pulled))
  const fastDone = drain(fast)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.ok(pulled.n <= LAG_BYTES / MB + 2, `paced by the slowest: pulled ${pulled.n} MB`)
  assert.equal(b.join(), null, 'the first MBs are past the join window')
  const slowDone = drain(slow)
  const [a, c] = await Promise.all([fastDone, slowDone, pump])
  assert.equal(a.length, count * MB)
  assert.ok(a.equals(c))
})

test('the last subscriber leaving stops the producer and calls onEmpty', async () => {
  const b = createBroadcast()
  let emptied = 0
  b.onEmpty(() => { emptied++ })
  const one = b.join()
  const two = b.join()
  assert.ok(one !== null && two !== null)
  const pulled = { n: 0 }
  const pump = b.pump(source(1000, 64 * 1024, pulled))
  assert.ok((await one.next()) !== null)
  one.leave()
  assert.equal(emptied, 0)
  two.leave()
  assert.equal(emptied, 1)
  await pump
  assert.ok(pulled.n < 1000, `stopped pulling after everyone left (${pulled.n})`)
  assert.equal(await two.next(), null)
})
