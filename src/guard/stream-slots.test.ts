import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createStreamSlots } from './stream-slots.ts'

test('stream slots cap each client on its own and come back once per release', () => {
  const slots = createStreamSlots()
  const a1 = slots.take('ip:a', 2)
  const a2 = slots.take('ip:a', 2)
  assert.ok(a1 !== null && a2 !== null)
  assert.equal(slots.take('ip:a', 2), null, 'a third stream is refused')
  assert.ok(slots.take('ip:b', 2) !== null, 'another client keeps its own slots')
  a1()
  a1()
  assert.equal(slots.held('ip:a'), 1, 'a double release gives back one slot')
  assert.ok(slots.take('ip:a', 2) !== null)
  a2()
  assert.equal(slots.held('ip:a'), 1)
})
