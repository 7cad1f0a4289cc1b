import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { watchLoopDelay } from './loop-delay.ts'

function block (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* the stall being measured */ }
}

// A stall of L ms reads between L − resolution and L (plus scheduling jitter);
// the raw histogram would read L + resolution at worst.
for (const resolution of [10, 1]) {
  test(`loop delay at resolution ${resolution}: a 60 ms stall reads 60 − resolution to 60`, async () => {
    const d = watchLoopDelay(resolution)
    try {
      await sleep(50)
      d.reset()
      await sleep(200)
      const idle = d.maxMs()
      d.reset()
      await sleep(23)
      block(60)
      await sleep(30)
      const stalled = d.maxMs()
      // only the bound that load on the machine (later timers) cannot break: load can only
      // add to a reading (a CI run at load 20 read 187 ms), so there is no upper bound here
      assert.ok(stalled >= 60 - resolution - 0.5, `a 60 ms stall read ${stalled} ms`)
      assert.ok(idle < stalled - 30, `idle loop read ${idle} ms, the stall ${stalled} ms`)
    } finally {
      d.stop()
    }
  })
}
