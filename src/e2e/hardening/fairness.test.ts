// Issue 15: one client must not starve extraction for everyone. With the rate
// limit and the per-client cap lifted, one client's flood of batches (280
// videos from slow pages) fills the worker's queue, far more than it runs
// within EXTRACT_TIMEOUT in arrival order; another client still gets its turn
// (round-robin between clients) and is answered, and the flood's own items that
// waited out EXTRACT_TIMEOUT leave the queue with 504. The shipped limits that
// cut such a flood short: fairness-limits.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sleep } from '../../testing/helpers.ts'
import { flood, infoAs, page, queuedPerWorker, startFloodable, warmUp } from '../../testing/flood.ts'

const FLOODER = '198.51.100.7'
const OTHER = '203.0.113.9'
const WARMUP = '192.0.2.44'
// EXTRACT_TIMEOUT as shipped
const TIMEOUT_MS = 60_000

test('limits lifted: hundreds of queued extractions of one client, and another client still gets its turn within EXTRACT_TIMEOUT', async (t) => {
  // the flood must reach the queues whole: no rate limit, no per-client cap
  const s = await startFloodable(t, { RATE_LIMIT_ENABLED: 'false', EXTRACT_MAX_PER_CLIENT: '0' })
  // the warm yt-dlp processes up first (their start would count as waiting)
  await warmUp(s, WARMUP, 4)

  const batches = flood(s, FLOODER, TIMEOUT_MS + 90_000)
  // 240 videos, 4 slots, 2.5 s a page at best: in arrival order a new job would wait 150 s
  let queued: number[] = []
  for (let i = 0; i < 300; i++) {
    queued = await queuedPerWorker(s.cluster)
    if ((queued[0] ?? 0) >= 200) break
    await sleep(100)
  }
  assert.ok((queued[0] ?? 0) >= 200, `the flood is queued: ${queued.join(',')}`)

  // the other client's videos are answered (not 504): it waits for a slot, not for the flood
  for (let i = 0; i < 3; i++) {
    const r = await infoAs(s.cluster, OTHER, page(s.origin, `other-${i}`), TIMEOUT_MS + 30_000)
    assert.equal(r.status, 200, `request ${i}: ${JSON.stringify(r.body)}`)
  }

  // the flood's items that waited out EXTRACT_TIMEOUT left the queue with 504
  const answers = await Promise.all(batches)
  const codes = new Map<string, number>()
  const others = new Set<string>()
  let waitedOut = 0
  for (const a of answers) {
    assert.equal(a.status, 200, JSON.stringify(a.body).slice(0, 300))
    for (const r of a.body.results as Array<{ ok: boolean, error: { code: string, detail: string | null } | null }>) {
      const code = r.ok ? 'ok' : r.error?.code ?? '?'
      codes.set(code, (codes.get(code) ?? 0) + 1)
      if (code === 'EXTRACTION_TIMEOUT' && /extraction queue/.test(r.error?.detail ?? '')) waitedOut++
      else if (!r.ok) others.add(`${code}: ${(r.error?.detail ?? '').slice(-200)}`)
    }
  }
  // (on a loaded machine some also run out of time in yt-dlp, or fail there)
  t.diagnostic(`flood items: ${JSON.stringify(Object.fromEntries(codes))}, ${waitedOut} of them timed out in the queue; others: ${[...others].join(' | ')}`)
  assert.ok(waitedOut > 0, `some flood items timed out waiting: ${JSON.stringify(Object.fromEntries(codes))}`)
  assert.deepEqual(await queuedPerWorker(s.cluster), [0], 'nothing is left in the queue')
})
