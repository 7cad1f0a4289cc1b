import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { convertSubtitles, readCues, writeCues } from './convert.ts'
import type { SubtitleTask } from './convert.ts'
import { SUBTITLE_LIMITS } from './cues.ts'
import type { Cue } from './cues.ts'
import type { SubtitleInput } from '../protocol.ts'

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8')

function convert (text: string, from: SubtitleInput, to: 'vtt' | 'srt' = 'vtt'): string {
  const task: SubtitleTask = { bytes: bytes(text), from, to }
  const result = convertSubtitles(task)
  assert.ok(result.ok, result.ok ? '' : result.message)
  return result.value
}

function refused (text: string, from: SubtitleInput): string {
  const result = convertSubtitles({ bytes: bytes(text), from, to: 'vtt' })
  assert.equal(result.ok, false)
  return result.ok ? '' : result.message
}

test('WebVTT passes through re-serialized: only cues, checked settings, b/i/u, escaped text', () => {
  const upstream = [
    '\ufeffWEBVTT - a title',
    'Kind: captions',
    '',
    'STYLE',
    '::cue { background: url(https://tracker.example/x) }',
    '',
    'NOTE a comment with --> an arrow',
    '',
    'REGION',
    'id:fred width:40%',
    '',
    'intro',
    '00:01.000 --> 00:02.500 align:start position:10% region:fred line:bogus vertical:up',
    '<v Roger>Hello <b>bold</b> &amp; <c.yellow>classed</c> <script>alert(1)</script>',
    '<i>second line',
    '',
    '01:00:00.000 --> 01:00:01.000',
    'A &lt;tag&gt; &#65;&#x42;<00:00:01.500><c> word</c>',
    '00:00:03.000 --> 00:00:04.000',
    'a cue that follows without a blank line',
    '',
    '00:00:05.000 --> 00:00:04.000',
    'ends before it starts: dropped',
    '',
    '00:00:06.000 --> 00:00:07.000',
    '',
    'bad --> timing',
    'dropped',
    ''
  ].join('\r\n')
  assert.equal(convert(upstream, 'vtt'), [
    'WEBVTT',
    '',
    '00:00:01.000 --> 00:00:02.500 align:start position:10%',
    'Hello <b>bold</b> &amp; classed alert(1)',
    '<i>second line</i>',
    '',
    '00:00:03.000 --> 00:00:04.000',
    'a cue that follows without a blank line',
    '',
    '01:00:00.000 --> 01:00:01.000',
    'A &lt;tag&gt; AB word',
    '',
    ''
  ].join('\n'))
})

test('SubRip → WebVTT and WebVTT → SubRip', () => {
  const srt = '1\n00:00:01,000 --> 00:00:02,000\n<i>Hi</i> {\\an8}there\n\n2\n00:00:02,5 --> 00:00:03,000 X1:1\nA & B --> C\n\n'
  assert.equal(convert(srt, 'srt'), 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i>Hi</i> there\n\n00:00:02.500 --> 00:00:03.000\nA &amp; B --&gt; C\n\n')
  const vtt = 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000 align:end\n<b>x</b> &lt;i&gt; --&gt; y\n\n'
  assert.equal(convert(vtt, 'vtt', 'srt'), '1\n00:00:01,000 --> 00:00:02,000\n<b>x</b> \u2039i> --\u203a y\n\n')
})

test('json3 (YouTube) → WebVTT: text events become cues, window and append events are skipped', () => {
  const json3 = JSON.stringify({
    wireMagic: 'pb3',
    events: [
      { tStartMs: 0, dDurationMs: 60000, id: 1, wpWinPosId: 1, wsWinStyleId: 1 },
      { tStartMs: 1200, dDurationMs: 3000, wWinId: 1, segs: [{ utf8: 'never' }, { utf8: ' gonna', tOffsetMs: 400 }] },
      { tStartMs: 2000, dDurationMs: 1000, wWinId: 1, aAppend: 1, segs: [{ utf8: '\n' }] },
      { tStartMs: 4200, dDurationMs: 2000, segs: [{ utf8: 'give <you> up' }] },
      { tStartMs: 'x', dDurationMs: 1, segs: [{ utf8: 'bad time' }] }
    ]
  })
  assert.equal(convert(json3, 'json3'), 'WEBVTT\n\n00:00:01.200 --> 00:00:04.200\nnever gonna\n\n00:00:04.200 --> 00:00:06.200\ngive &lt;you&gt; up\n\n')
})

test('the content decides the reader when it says what it is; otherwise the named format must parse', () => {
  assert.match(convert('WEBVTT\n\n00:01.000 --> 00:02.000\nx\n', 'srt'), /^WEBVTT\n\n00:00:01\.000/)
  assert.match(convert('{"events":[{"tStartMs":0,"dDurationMs":5,"segs":[{"utf8":"y"}]}]}', 'vtt'), /\ny\n/)
  assert.match(refused('<html>not a subtitle</html>', 'vtt'), /not a WebVTT file/)
  assert.match(refused('<html>not a subtitle</html>', 'srt'), /not a SubRip file/)
  assert.match(refused('{"events": 3}', 'json3'), /not a json3 file/)
  assert.match(refused('{"events": [', 'json3'), /not JSON/)
  assert.equal(convert('WEBVTT\n', 'vtt'), 'WEBVTT\n\n')
  assert.equal(convert('', 'srt', 'srt'), '')
})

test('controls, blank lines and invalid UTF-8 never reach the output', () => {
  const raw = Buffer.concat([Buffer.from('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na\u0000b\u001b[31m\u2028c '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')])
  const result = convertSubtitles({ bytes: raw, from: 'vtt', to: 'vtt' })
  assert.ok(result.ok)
  assert.equal(result.value, 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nab[31mc \ufffd\ufffd\n\n')
})

test('bounds: cue count, cue length and time range', () => {
  const many = 'WEBVTT\n\n' + Array.from({ length: SUBTITLE_LIMITS.maxCues + 1 }, () => '00:00:01.000 --> 00:00:02.000\nx\n').join('\n')
  assert.match(refused(many, 'vtt'), /more than 100000 cues/)
  assert.match(refused(`WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n${'x'.repeat(SUBTITLE_LIMITS.maxCueChars + 1)}\n`, 'vtt'), /longer than/)
  assert.equal(convert('WEBVTT\n\n999:00:00.000 --> 999:00:01.000\nfar\n', 'vtt'), 'WEBVTT\n\n')
})

test('cues come out in start order', () => {
  const srt = '1\n00:00:05,000 --> 00:00:06,000\nlater\n\n2\n00:00:01,000 --> 00:00:02,000\nearlier\n'
  assert.equal(convert(srt, 'srt', 'srt'), '1\n00:00:01,000 --> 00:00:02,000\nearlier\n\n2\n00:00:05,000 --> 00:00:06,000\nlater\n\n')
})

test('property: any cues written as WebVTT or SubRip read back the same', () => {
  const run = fc.record({ text: fc.string({ minLength: 1, maxLength: 30, unit: 'binary' }), b: fc.boolean(), i: fc.boolean(), u: fc.boolean() })
  const cue = fc.record({ start: fc.integer({ min: 0, max: 3_600_000 }), length: fc.integer({ min: 1, max: 60_000 }), runs: fc.array(run, { minLength: 1, maxLength: 4 }) })
  fc.assert(fc.property(fc.array(cue, { maxLength: 20 }), fc.constantFrom('vtt' as const, 'srt' as const), (raw, to) => {
    // what the reader makes of these cues is the normal form; writing it and reading it again must not change it
    const first = readCues(bytes(writeCues(raw.map((c) => ({ start: c.start, end: c.start + c.length, settings: '', runs: c.runs })), to)), to)
    const again: Cue[] = readCues(bytes(writeCues(first, to)), to)
    assert.deepEqual(again, first)
    const out = writeCues(first, to)
    // no blank line inside a cue, no control characters
    assert.doesNotMatch(out, /[\u0000-\u0008\u000b-\u001f\u007f]/)
  }), { numRuns: 300 })
})
