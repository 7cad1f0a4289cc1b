import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AppError, ERRORS, isErrorCode, toErrorBody } from './errors.ts'
import type { ErrorCode } from './errors.ts'

test('the table decides the statuses', () => {
  const expected: Partial<Record<ErrorCode, number>> = {
    INVALID_INPUT: 400,
    UNAUTHORIZED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    PAYLOAD_TOO_LARGE: 413,
    URL_TOO_LONG: 414,
    UNSUPPORTED_URL: 422,
    RATE_LIMITED: 429,
    INTERNAL: 500,
    EXTRACTION_FAILED: 502,
    EXTRACTION_BUSY: 503,
    EXTRACTION_TIMEOUT: 504
  }
  for (const [code, status] of Object.entries(expected)) {
    assert.ok(isErrorCode(code))
    assert.equal(ERRORS[code].status, status, code)
    assert.equal(new AppError(code).statusCode, status, code)
  }
})

test('every entry is a 4xx/5xx with a sentence, and the table is frozen', () => {
  assert.ok(Object.isFrozen(ERRORS))
  for (const [code, e] of Object.entries(ERRORS)) {
    assert.match(code, /^[A-Z][A-Z0-9_]+$/)
    assert.ok(e.status >= 400 && e.status <= 599, code)
    assert.ok(e.message.length > 5, code)
  }
  assert.equal(isErrorCode('toString'), false)
  assert.equal(isErrorCode('NOPE'), false)
})

test('AppError carries code, status, detail, headers and cause', () => {
  const cause = new Error('root')
  const err = new AppError('RATE_LIMITED', 'slow down', { detail: 'retry in 3 s', headers: { 'retry-after': '3' }, cause })
  assert.ok(err instanceof Error)
  assert.equal(err.name, 'AppError')
  assert.equal(err.code, 'RATE_LIMITED')
  assert.equal(err.statusCode, 429)
  assert.equal(err.message, 'slow down')
  assert.equal(err.detail, 'retry in 3 s')
  assert.deepEqual(err.headers, { 'retry-after': '3' })
  assert.equal(err.cause, cause)
  assert.equal(new AppError('VIDEO_NOT_FOUND').message, ERRORS.VIDEO_NOT_FOUND.message)
})

test('toErrorBody for an AppError keeps its code, message and detail', () => {
  const now = new Date('2024-01-02T03:04:05.678Z')
  const body = toErrorBody(new AppError('INVALID_INPUT', 'quality must be one of best, worst', { detail: 'got "huge"' }), 'req-1', now)
  assert.deepEqual(body, {
    error: 'quality must be one of best, worst',
    code: 'INVALID_INPUT',
    detail: 'got "huge"',
    request_id: 'req-1',
    timestamp: '2024-01-02T03:04:05.678Z'
  })
})

test('toErrorBody for anything else is a generic INTERNAL that leaks nothing', () => {
  for (const err of [new Error('secret path /etc/shadow'), new TypeError('x is undefined'), 'a string', null]) {
    const body = toErrorBody(err, 'req-2')
    assert.equal(body.code, 'INTERNAL')
    assert.equal(body.error, ERRORS.INTERNAL.message)
    assert.equal(body.detail, null)
    assert.equal(body.request_id, 'req-2')
    assert.ok(!JSON.stringify(body).includes('shadow'))
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)))
  }
})
