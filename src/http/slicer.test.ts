import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as turn } from 'node:timers/promises'
import { createSlicer } from './slicer.ts'

function busy (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* a task's synchronous work */ }
}

test('a burst of tasks runs in arrival order, a budget per loop turn', async () => {
  const slicer = createSlicer(5)
  const ran: number[] = []
  const turnOf: number[] = []
  let turns = 0
  let counting = true
  const tick = (): void => { turns++; if (counting) setImmediate(tick) }
  setImmediate(tick)
  for (let i = 0; i < 20; i++) slicer.run(() => { busy(2); ran.push(i); turnOf.push(turns) })
  // within the first turn only as many as fit in the budget ran at once
  assert.ok(ran.length >= 1 && ran.length <= 3, `ran ${ran.length} at once`)
  assert.ok(slicer.queued() > 0)
  while (slicer.queued() > 0) await turn()
  counting = false
  assert.deepEqual(ran, Array.from({ length: 20 }, (_, i) => i))
  // 20 × 2 ms at 5 ms per turn: spread over several turns, none holding more than ~3 tasks
  const perTurn = new Map<number, number>()
  for (const t of turnOf) perTurn.set(t, (perTurn.get(t) ?? 0) + 1)
  assert.ok(perTurn.size >= 6, `only ${perTurn.size} turns`)
  assert.ok(Math.max(...perTurn.values()) <= 3, `a turn ran ${Math.max(...perTurn.values())} tasks`)
})

test('tasks that fit in the budget run at once, and a new turn opens a new slice', async () => {
  const slicer = createSlicer(50)
  let n = 0
  for (let i = 0; i < 10; i++) slicer.run(() => { n++ })
  assert.equal(n, 10)
  assert.equal(slicer.queued(), 0)
  await turn()
  await turn()
  slicer.run(() => { n++ })
  assert.equal(n, 11)
})
