import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AppError } from '../errors.ts'
import { formatContentRange, parseContentRange, parseRange, parseUnsatisfiedSize, rangeHeader, resolveRange } from './range.ts'
import { planResponse, resumeStart } from './plan.ts'

test('parseRange: single, open, suffix, several, and what is ignored', () => {
  assert.deepEqual(parseRange('bytes=0-99'), { kind: 'from', start: 0, end: 99 })
  assert.deepEqual(parseRange('bytes=100-'), { kind: 'from', start: 100, end: null })
  assert.deepEqual(parseRange('bytes=-500'), { kind: 'suffix', length: 500 })
  assert.deepEqual(parseRange('Bytes = 5-5'), { kind: 'from', start: 5, end: 5 })
  assert.deepEqual(parseRange('bytes=0-1, 5-9'), { kind: 'multi' })
  assert.deepEqual(parseRange('bytes=0-1,'), { kind: 'from', start: 0, end: 1 })
  for (const ignored of [undefined, '', 'bytes=', 'bytes=-', 'bytes=5-2', 'items=0-1', 'bytes=a-b', 'bytes=1-2-3', 'bytes 0-1', 'bytes=9999999999999999-']) {
    assert.deepEqual(parseRange(ignored), { kind: 'none' }, String(ignored))
  }
})

test('resolveRange against a size; null means 416', () => {
  assert.deepEqual(resolveRange({ kind: 'from', start: 0, end: 99 }, 1000), { start: 0, end: 99 })
  assert.deepEqual(resolveRange({ kind: 'from', start: 990, end: 5000 }, 1000), { start: 990, end: 999 })
  assert.deepEqual(resolveRange({ kind: 'from', start: 10, end: null }, 1000), { start: 10, end: 999 })
  assert.deepEqual(resolveRange({ kind: 'suffix', length: 5000 }, 1000), { start: 0, end: 999 })
  assert.equal(resolveRange({ kind: 'from', start: 1000, end: null }, 1000), null)
  assert.equal(resolveRange({ kind: 'suffix', length: 0 }, 1000), null)
  assert.equal(resolveRange({ kind: 'suffix', length: 10 }, 0), null)
})

test('Content-Range parsing and formatting', () => {
  assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 99, size: 1000 })
  assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, end: 9, size: null })
  for (const bad of [undefined, 'bytes 9-5/10', 'bytes 0-10/10', 'bytes */10', 'items 0-1/2', 'bytes 0-1']) assert.equal(parseContentRange(bad), null, String(bad))
  assert.equal(parseUnsatisfiedSize('bytes */1234'), 1234)
  assert.equal(parseUnsatisfiedSize('bytes 0-1/2'), null)
  assert.equal(formatContentRange({ start: 1, end: 2 }, 3), 'bytes 1-2/3')
  assert.equal(formatContentRange({ start: 1, end: 2 }, null), 'bytes 1-2/*')
  assert.equal(rangeHeader({ kind: 'from', start: 3, end: null }), 'bytes=3-')
  assert.equal(rangeHeader({ kind: 'suffix', length: 7 }), 'bytes=-7')
  assert.equal(rangeHeader({ kind: 'multi' }), null)
})

const code = (fn: () => unknown): string => {
  try { fn() } catch (err) { return err instanceof AppError ? `${err.code} ${err.statusCode}` : 'other' }
  return 'none'
}

test('plan: an upstream that honours Range', () => {
  const spec = parseRange('bytes=100-199')
  assert.deepEqual(planResponse(206, { 'content-range': 'bytes 100-199/1000' }, spec, false), { status: 206, start: 100, end: 199, size: 1000, upstreamStart: 100 })
  // a CDN that rounds the range out: we still answer exactly what was asked
  assert.deepEqual(planResponse(206, { 'content-range': 'bytes 0-65535/1000000' }, spec, false), { status: 206, start: 100, end: 199, size: 1000000, upstreamStart: 0 })
  assert.deepEqual(planResponse(206, { 'content-range': 'bytes 0-999/1000' }, parseRange(undefined), false), { status: 200, start: 0, end: 999, size: 1000, upstreamStart: 0 })
  assert.equal(code(() => planResponse(206, {}, spec, false)), 'UPSTREAM_ERROR 502')
  assert.equal(code(() => planResponse(206, { 'content-range': 'bytes 150-199/1000' }, spec, false)), 'UPSTREAM_ERROR 502')
})

test('plan: an upstream that ignores Range is cut locally, unless If-Range was sent', () => {
  const spec = parseRange('bytes=-10')
  assert.deepEqual(planResponse(200, { 'content-length': '1000' }, spec, false), { status: 206, start: 990, end: 999, size: 1000, upstreamStart: 0 })
  assert.deepEqual(planResponse(200, { 'content-length': '1000' }, spec, true), { status: 200, start: 0, end: 999, size: 1000, upstreamStart: 0 })
  assert.deepEqual(planResponse(200, {}, spec, false), { status: 200, start: 0, end: null, size: null, upstreamStart: 0 })
  assert.equal(code(() => planResponse(200, { 'content-length': '1000' }, parseRange('bytes=1000-'), false)), 'RANGE_NOT_SATISFIABLE 416')
})

test('plan: upstream statuses map to our codes', () => {
  const none = parseRange(undefined)
  assert.equal(code(() => planResponse(416, { 'content-range': 'bytes */5' }, none, false)), 'RANGE_NOT_SATISFIABLE 416')
  try { planResponse(416, { 'content-range': 'bytes */5' }, none, false) } catch (err) {
    assert.ok(err instanceof AppError)
    assert.equal(err.headers?.['content-range'], 'bytes */5')
  }
  assert.equal(code(() => planResponse(404, {}, none, false)), 'UPSTREAM_ERROR 502')
  assert.equal(code(() => planResponse(403, {}, none, false)), 'UPSTREAM_ERROR 502')
  assert.equal(code(() => planResponse(429, {}, none, false)), 'UPSTREAM_RATE_LIMITED 429')
  assert.equal(code(() => planResponse(503, {}, none, false)), 'UPSTREAM_ERROR 502')
})

test('resume: where the new body starts, and refusing a changed file', () => {
  assert.equal(resumeStart(206, { 'content-range': 'bytes 500-999/1000' }, 500, 1000), 500)
  assert.equal(resumeStart(206, { 'content-range': 'bytes 0-999/1000' }, 500, 1000), 0)
  assert.equal(resumeStart(200, { 'content-length': '1000' }, 500, 1000), 0)
  assert.equal(code(() => resumeStart(206, { 'content-range': 'bytes 600-999/1000' }, 500, 1000)), 'UPSTREAM_ERROR 502')
  assert.equal(code(() => resumeStart(206, { 'content-range': 'bytes 500-1999/2000' }, 500, 1000)), 'UPSTREAM_ERROR 502')
  assert.equal(code(() => resumeStart(200, { 'content-length': '2000' }, 500, 1000)), 'UPSTREAM_ERROR 502')
  assert.equal(code(() => resumeStart(403, {}, 500, 1000)), 'UPSTREAM_ERROR 502')
})
