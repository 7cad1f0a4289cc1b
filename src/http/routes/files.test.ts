// The pure parts of the finished-file route: Range parsing and content types.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { contentTypeOf, parseRange } from './files.ts'

test('ranges: single range, suffix, open end, unsatisfiable, multi ignored', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'full' })
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 })
  assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=50-500', 100), { kind: 'partial', start: 50, end: 99 })
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' })
  assert.deepEqual(parseRange('bytes=5-1', 100), { kind: 'unsatisfiable' })
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' })
  assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'full' })
  assert.equal(contentTypeOf('a.webm'), 'video/webm')
  assert.equal(contentTypeOf('a.M4A'), 'audio/mp4')
  assert.equal(contentTypeOf('noext'), 'application/octet-stream')
})
