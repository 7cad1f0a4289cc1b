import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createProgressTracker, parseOutputLine } from './progress.ts'
import { PROGRESS_PREFIX } from './args.ts'

// yt-dlp's total_bytes_estimate is fractional (a CI run's task view failed to serialize:
// total_bytes is an integer in the schema).
test('a fractional size estimate becomes whole bytes in the task progress', () => {
  const tracker = createProgressTracker()
  tracker.setParts(['18'])
  const line = parseOutputLine([PROGRESS_PREFIX, 'downloading', '1000', 'NA', '123456.78', '100.5', '3', '', '', '18'].join('\t'))
  assert.equal(line.kind, 'progress')
  if (line.kind !== 'progress') return
  const state = tracker.add(line.sample)
  assert.equal(state.total_bytes, 123457)
  assert.ok(Number.isInteger(state.downloaded_bytes))
})
