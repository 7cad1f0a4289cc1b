// Two hosts up (each in its own network namespace, one Redis in a third; see
// src/testing/hosts.ts): a client that hits both is held to one rate-limit
// count, and concurrent requests for one uncached video to both hosts make one
// fetch of the origin's page (real yt-dlp, GENERIC_HOSTS).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cleanupStack } from '../../testing/downloads.ts'
import { EXTRACTION_WAIT_MS, createHostNet, get, startHostPair } from '../../testing/hosts.ts'
import { startOrigin } from '../../testing/origin.ts'

test('both hosts up: one rate-limit count and one extraction across hosts', { timeout: 175_000 }, async (t) => {
  const later = cleanupStack(t)
  const net = createHostNet(later)
  const origin = await startOrigin({ pageDelayMs: 300, listen: net.root.front })
  later(origin.close)
  const { a, b } = await startHostPair(later, net, {
    GENERIC_HOSTS: origin.host,
    RATE_LIMIT_MAX_REQUESTS: '1000',
    RATE_LIMIT_EXTRACT_MAX_REQUESTS: '30',
    // a fixed window: one that ended mid-test would reset the count
    RATE_LIMIT_WINDOW: '86400'
  })

  // concurrent requests for one uncached video, half to each host: one fetch of the page
  const info = `/api/v2/videos?url=${encodeURIComponent(`${origin.url}/page.html`)}`
  const burst = await Promise.all(Array.from({ length: 20 }, async (_, i) => await get(`${i % 2 === 0 ? a.url : b.url}${info}`, EXTRACTION_WAIT_MS)))
  assert.deepEqual([...new Set(burst.map((r) => r.status))], [200], JSON.stringify(burst.find((r) => r.status !== 200)?.body))
  assert.equal(origin.hits('/page.html'), 1, 'one extraction for concurrent misses across both hosts')
  const fromB = await get(b.url + info)
  assert.equal(fromB.body.cached, true)

  // this client (one address) has 30 extract requests per window on both hosts together; 21 are used
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await get(`${i % 2 === 0 ? a.url : b.url}${info}`)).status)
  assert.deepEqual(statuses, [...Array(9).fill(200), 429, 429, 429])
  assert.equal(origin.hits('/page.html'), 1)
})
