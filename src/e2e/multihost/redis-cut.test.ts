// One of two hosts cut off Redis for 10 s under load (the switch end of its
// link to Redis taken down: packets dropped silently, clients still reach it;
// src/testing/netns.ts). It keeps answering cached info from its L1 with
// health degraded and no 5xx, and rejoins once the link is back: health ok,
// and what the other host puts in the shared cache is a hit on it again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import autocannon from 'autocannon'
import { sleep } from '../../testing/helpers.ts'
import { cleanupStack } from '../../testing/downloads.ts'
import { EXTRACTION_WAIT_MS, cacheCheck, createHostNet, get, startHostPair, until } from '../../testing/hosts.ts'
import { startOrigin } from '../../testing/origin.ts'

test('a host cut off Redis for 10 s under load: cached info from L1, health degraded, no 5xx; it rejoins', { timeout: 175_000 }, async (t) => {
  const later = cleanupStack(t)
  const net = createHostNet(later)
  const origin = await startOrigin({ listen: net.root.front })
  later(origin.close)
  const { a, b, node } = await startHostPair(later, net, {
    GENERIC_HOSTS: origin.host,
    RATE_LIMIT_MAX_REQUESTS: '1000000',
    RATE_LIMIT_EXTRACT_MAX_REQUESTS: '1000000'
  })
  // A extracts one video (then in its L1), B another (in Redis only, as far as A knows)
  const info = `/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`
  const other = `/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html?on=b`)}`
  const cold = await Promise.all([get(a.url + info, EXTRACTION_WAIT_MS), get(b.url + other, EXTRACTION_WAIT_MS)])
  assert.deepEqual(cold.map((r) => r.status), [200, 200], JSON.stringify(cold.map((r) => r.body)))
  assert.equal((await get(a.url + info)).body.cached, true)
  assert.equal(await cacheCheck(a.url), 'ok')

  // a bounded load on A (cached info and health) through the cut and a while after it
  let answered = 0
  const load = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: a.url,
      connections: 4,
      overallRate: 100,
      duration: 20,
      // a request that waits on a silently dropped Redis command (1 s timeout) must still finish
      timeout: 10,
      requests: [{ path: info }, { path: '/health' }]
    }, (err: unknown, result) => { if (err === null || err === undefined) resolve(result); else reject(err instanceof Error ? err : new Error(String(err))) })
    instance.on('response', () => { answered++ })
    later(() => { instance.stop() })
  })
  await until('the load to run', 30_000, async () => answered, (n) => n >= 50)

  node.a.cut('back')
  const cutAt = Date.now()
  let mended = false
  later(() => { if (!mended) node.a.mend('back') })
  await until('A to report Redis degraded', 9000, async () => await cacheCheck(a.url), (s) => s === 'degraded')
  const cached = await get(a.url + info)
  assert.equal(cached.status, 200, JSON.stringify(cached.body))
  assert.equal(cached.body.cached, true)
  assert.equal(await cacheCheck(b.url), 'ok', 'B keeps its Redis')
  // the fault lasts 10 s: this wait is its length, not a synchronisation
  await sleep(Math.max(0, 10_000 - (Date.now() - cutAt)))
  node.a.mend('back')
  mended = true
  const mendedAt = Date.now()

  await until('A to report Redis ok again', 90_000, async () => await cacheCheck(a.url), (s) => s === 'ok')
  const rejoinMs = Date.now() - mendedAt
  const result = await load
  t.diagnostic(`load on A: ${result.requests.total} requests, 2xx ${result['2xx']}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}, latency p50 ${result.latency.p50} ms max ${result.latency.max} ms; health ok ${rejoinMs} ms after the link returned`)
  assert.ok(result.requests.total >= 50, 'the load ran')
  assert.equal(result['5xx'], 0)
  assert.equal(result.non2xx, 0)
  assert.equal(result.errors, 0)

  // A reads the shared cache again: the video B extracted is a hit on A, not a new extraction
  const onA = await get(a.url + other)
  assert.equal(onA.status, 200)
  assert.equal(onA.body.cached, true)
  assert.equal(origin.hits('/page.html?on=b'), 1)
})
