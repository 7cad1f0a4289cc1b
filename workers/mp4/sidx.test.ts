import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findBox, parseSidx, segmentsFromSidx } from './sidx.ts'
import { parseDash } from '../dash/dash.ts'
import { buildMediaPlaylist, parseHls } from '../hls/hls.ts'
import { isManifestError } from '../manifest-error.ts'

const HAS_FFMPEG = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0
const SKIP = HAS_FFMPEG ? false : 'ffmpeg is not installed'
const SOURCE = ['-f', 'lavfi', '-i', 'testsrc=duration=6:size=320x240:rate=25', '-c:v', 'libx264', '-g', '25', '-pix_fmt', 'yuv420p']

function ffmpeg (args: string[]): void {
  const result = spawnSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...SOURCE, ...args], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(result.status, 0, result.stderr)
}

function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-sidx-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function boxTypeAt (buf: Uint8Array, offset: number): string {
  return Buffer.from(buf.subarray(offset + 4, offset + 8)).toString('latin1')
}

test('parses the global sidx of a real fragmented MP4 and accounts for every byte', { skip: SKIP }, (t) => {
  const file = join(tempDir(t), 'frag.mp4')
  ffmpeg(['-movflags', '+dash+global_sidx+skip_trailer', file])
  const buf = new Uint8Array(readFileSync(file))
  const location = findBox(buf, 'sidx')
  assert.ok(location !== null)
  assert.equal(findBox(buf, 'ftyp')?.start, 0)
  assert.ok((findBox(buf, 'moov')?.end ?? Infinity) <= location.start, 'init segment precedes the index')

  const sidx = parseSidx(buf, location.start)
  assert.equal(sidx.boxStart, location.start)
  assert.equal(sidx.boxEnd, location.end)
  assert.ok(sidx.references.length >= 6)
  assert.ok(sidx.references.every(ref => ref.type === 'media' && ref.startsWithSap))
  const bytes = sidx.references.reduce((sum, ref) => sum + ref.size, 0)
  assert.equal(sidx.boxEnd + bytes, buf.length, 'sidx end + referenced bytes = file size')
  const seconds = sidx.references.reduce((sum, ref) => sum + ref.duration, 0)
  assert.ok(Math.abs(seconds - 6) < 0.05, `durations sum to ${seconds}`)
  for (const ref of sidx.references) assert.equal(boxTypeAt(buf, ref.offset), 'moof', `reference at ${ref.offset}`)
  assert.equal(sidx.references[0]?.offset, sidx.boxEnd)

  const fetched = buf.subarray(location.start, location.end)
  assert.deepEqual(parseSidx(fetched, findBox(fetched, 'sidx')?.start ?? -1, location.start), sidx, 'same result from a fetched index range')

  const segments = segmentsFromSidx(sidx, location.end - 1)
  const uri = 'https://cdn.test/v.m4s?deadline=1'
  const text = buildMediaPlaylist({ segments: segments.map(s => ({ uri, ...s })), map: { uri, byterange: { length: location.start, offset: 0 } }, endList: true })
  const media = parseHls(text, 'https://vidgate.test/p.m3u8')
  assert.equal(media.kind, 'media')
  if (media.kind !== 'media') return
  assert.deepEqual(media.segments.map(s => s.byterange), segments.map(s => s.byterange))
  assert.ok(Math.abs(media.totalDuration - 6) < 0.05)
})

test('with the mfra trailer the file is init + sidx + fragments + mfra', { skip: SKIP }, (t) => {
  const file = join(tempDir(t), 'trailer.mp4')
  ffmpeg(['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+global_sidx', file])
  const buf = new Uint8Array(readFileSync(file))
  const location = findBox(buf, 'sidx')
  const mfra = findBox(buf, 'mfra')
  assert.ok(location !== null && mfra !== null)
  const sidx = parseSidx(buf, location.start)
  const bytes = sidx.references.reduce((sum, ref) => sum + ref.size, 0)
  assert.equal(sidx.boxEnd + bytes + (mfra.end - mfra.start), buf.length)
  assert.equal(mfra.end, buf.length)
})

test('the DASH muxer\'s SegmentList ranges match the sidx references', { skip: SKIP }, (t) => {
  const dir = tempDir(t)
  ffmpeg(['-f', 'dash', '-single_file', '1', '-global_sidx', '1', '-seg_duration', '1', join(dir, 'out.mpd')])
  const mpd = parseDash(readFileSync(join(dir, 'out.mpd'), 'utf8'), 'https://origin.test/v/out.mpd')
  const rep = mpd.periods[0]?.representations[0]
  assert.ok(rep !== undefined && rep.segments !== null && rep.init?.range != null)
  assert.equal(rep.kind, 'video')
  assert.equal(rep.init.url, 'https://origin.test/v/out-stream0.mp4')
  const buf = new Uint8Array(readFileSync(join(dir, 'out-stream0.mp4')))
  const location = findBox(buf, 'sidx')
  assert.ok(location !== null)
  const sidx = parseSidx(buf, location.start)
  assert.equal(rep.init.range.end + 1, sidx.boxEnd, 'the MPD init range covers ftyp, moov and sidx')
  assert.deepEqual(rep.segments.map(s => s.range), sidx.references.map(ref => ({ start: ref.offset, end: ref.offset + ref.size - 1 })))
  assert.equal(rep.segments.at(-1)?.range?.end, buf.length - 1)
})

function box (type: string, body: number[]): number[] {
  const size = 8 + body.length
  return [size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, ...Buffer.from(type, 'latin1'), ...body]
}

function u32 (value: number): number[] {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]
}

function u64 (value: number): number[] {
  return [...u32(Math.floor(value / 2 ** 32)), ...u32(value >>> 0)]
}

function sidxV1 (references: Array<[type: 0 | 1, size: number, duration: number]>): number[] {
  const refs = references.flatMap(([type, size, duration]) => [...u32(type * 2 ** 31 + size), ...u32(duration), 0x90, 0, 0, 0])
  return box('sidx', [1, 0, 0, 0, ...u32(1), ...u32(1000), ...u64(2 ** 40), ...u64(100), 0, 0, references.length >> 8, references.length & 255, ...refs])
}

test('parses a version 1 sidx with 64-bit fields and first_offset after a leading box', () => {
  const bytes = [...box('free', [1, 2, 3, 4]), ...sidxV1([[0, 5000, 2000], [0, 7000, 1500]])]
  const buf = new Uint8Array(bytes)
  const location = findBox(buf, 'sidx')
  assert.deepEqual(location, { type: 'sidx', start: 12, end: bytes.length, headerSize: 8 })
  const sidx = parseSidx(buf, 12, 1000)
  assert.equal(sidx.version, 1)
  assert.equal(sidx.timescale, 1000)
  assert.equal(sidx.earliestPresentationTime, 2 ** 40)
  assert.equal(sidx.earliestPresentationTimeSec, 2 ** 40 / 1000)
  assert.equal(sidx.boxStart, 1012)
  assert.deepEqual(sidx.references, [
    { type: 'media', size: 5000, duration: 2, offset: 1000 + bytes.length + 100, startsWithSap: true },
    { type: 'media', size: 7000, duration: 1.5, offset: 1000 + bytes.length + 5100, startsWithSap: true }
  ])
  assert.deepEqual(segmentsFromSidx(sidx, 1000 + bytes.length - 1).map(s => s.byterange.offset), [1000 + bytes.length + 100, 1000 + bytes.length + 5100])
})

test('findBox handles 64-bit and to-end sizes and stops at truncation', () => {
  const large = new Uint8Array([0, 0, 0, 1, ...Buffer.from('wide', 'latin1'), ...u64(20), 9, 9, 9, 9, ...box('sidx', [])])
  assert.deepEqual(findBox(large, 'sidx'), { type: 'sidx', start: 20, end: 28, headerSize: 8 })
  assert.deepEqual(findBox(large, 'wide'), { type: 'wide', start: 0, end: 20, headerSize: 16 })
  const toEnd = new Uint8Array([0, 0, 0, 0, ...Buffer.from('mdat', 'latin1'), 1, 2, 3])
  assert.deepEqual(findBox(toEnd, 'mdat'), { type: 'mdat', start: 0, end: 11, headerSize: 8 })
  assert.equal(findBox(new Uint8Array([0, 0, 0, 4, 1, 2, 3, 4]), 'sidx'), null, 'size below header')
  assert.equal(findBox(new Uint8Array([0, 0]), 'sidx'), null)
  assert.equal(findBox(new Uint8Array(box('moov', [1])), 'sidx'), null)
})

test('refuses malformed, truncated or hierarchical indexes', () => {
  const good = sidxV1([[0, 10, 10]])
  const invalid = (fn: () => unknown, code = 'MANIFEST_INVALID'): void => {
    assert.throws(fn, (err: unknown) => isManifestError(err) && err.code === code)
  }
  invalid(() => parseSidx(new Uint8Array(good.slice(0, -4)), 0))
  invalid(() => parseSidx(new Uint8Array(box('moof', good.slice(8))), 0))
  invalid(() => parseSidx(new Uint8Array(good), 4))
  invalid(() => parseSidx(new Uint8Array(good), -1))
  const zeroTimescale = [...good]
  zeroTimescale.splice(16, 4, 0, 0, 0, 0)
  invalid(() => parseSidx(new Uint8Array(zeroTimescale), 0))
  const tooMany = [...good]
  tooMany.splice(38, 2, 0xff, 0xff)
  invalid(() => parseSidx(new Uint8Array(tooMany), 0))
  const badVersion = [...good]
  badVersion[8] = 7
  invalid(() => parseSidx(new Uint8Array(badVersion), 0))
  const huge = [...good]
  huge.splice(20, 8, ...u32(0x7fffffff), ...u32(0xffffffff))
  invalid(() => parseSidx(new Uint8Array(huge), 0))

  const hierarchical = parseSidx(new Uint8Array(sidxV1([[1, 500, 4000], [0, 10, 10]])), 0)
  assert.equal(hierarchical.references[0]?.type, 'index')
  invalid(() => segmentsFromSidx(hierarchical, 0), 'MANIFEST_UNSUPPORTED')
  const flat = parseSidx(new Uint8Array(good), 0)
  invalid(() => segmentsFromSidx(flat, 10_000), 'MANIFEST_INVALID')
})
