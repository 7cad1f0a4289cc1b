// Issue 15 with the shipped limits: one client floods batches (12 of 20 videos,
// on both batch routes) while another asks for single videos. Each batch item
// counts against the extract rate limit, and each client's queued + running
// extractions are capped (EXTRACT_MAX_PER_CLIENT), so most of the flood is
// refused with 429 and Retry-After, and the other client is answered.
// The fair queue itself, with these limits lifted: fairness.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BATCHES, flood, infoAs, page, startFloodable, warmUp } from '../../testing/flood.ts'

const FLOODER = '198.51.100.7'
const OTHER = '203.0.113.9'
const WARMUP = '192.0.2.44'

test('shipped limits: a flood of batches is refused past its share (429 with Retry-After) and another client is served', async (t) => {
  const s = await startFloodable(t, {})
  await warmUp(s, WARMUP, 4)
  const batches = flood(s, FLOODER, 150_000)
  for (let i = 0; i < 3; i++) {
    const r = await infoAs(s.cluster, OTHER, page(s.origin, `other-${i}`), 150_000)
    assert.equal(r.status, 200, JSON.stringify(r.body))
  }
  const answers = await Promise.all(batches)
  const refused = answers.filter((a) => a.status === 429)
  t.diagnostic(`flood: ${answers.length - refused.length} batches served, ${refused.length} refused`)
  assert.ok(answers.every((a) => a.status === 200 || a.status === 429), answers.map((a) => a.status).join(','))
  assert.ok(refused.length >= BATCHES / 2, `most of the flood is refused: ${answers.map((a) => a.status).join(',')}`)
  for (const r of refused) {
    assert.equal(r.body.code, 'RATE_LIMITED')
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
  }
})
