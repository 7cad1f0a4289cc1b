import { test } from 'node:test'
import assert from 'node:assert/strict'
import { secondsText } from './context.ts'

test('secondsText writes milliseconds as seconds with six decimals, like toFixed(6)', () => {
  for (const ms of [0, 0.0004, 0.0006, 0.001, 0.125, 1, 12.3456, 999.9994, 999.9996, 1000, 1234.5678, 65432.1]) {
    assert.equal(secondsText(ms), (Math.round(ms * 1000) / 1e6).toFixed(6), String(ms))
  }
  assert.equal(secondsText(0.125), '0.000125')
  assert.equal(secondsText(1500), '1.500000')
})
