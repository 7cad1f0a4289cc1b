import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findBox } from './sidx.ts'
import { buildHlsTask, dashRepresentationTask, findFmp4Index, fmp4IndexTask } from './split-tasks.ts'
import type { Fmp4Index } from './split-tasks.ts'

const HAS_FFMPEG = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0
const SKIP = HAS_FFMPEG ? false : 'ffmpeg is not installed'

function make (t: { after: (fn: () => void) => void }, movflags: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vidgate-split-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'v.mp4')
  const r = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=6:size=320x240:rate=25', '-c:v', 'libx264', '-g', '25', '-pix_fmt', 'yuv420p', '-movflags', movflags, file], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
  return new Uint8Array(readFileSync(file))
}

// What the HTTP side does: fetch more until the task has the whole index.
function indexFromPrefix (file: Uint8Array, first: number): { index: Fmp4Index, fetched: number } {
  let have = first
  for (let i = 0; i < 10; i++) {
    const index = findFmp4Index({ bytes: file.subarray(0, have), offset: 0 })
    if (index.kind === 'index') return { index, fetched: have }
    assert.ok(index.end > have, 'asks for more than it has')
    have = Math.min(file.length, index.end)
  }
  throw new Error('no index after 10 rounds')
}

test('an indexed fMP4: init = ftyp+moov, byte-range segments cover the file after the sidx, found from a short prefix', { skip: SKIP }, (t) => {
  const file = make(t, '+dash+global_sidx')
  const moov = findBox(file, 'moov')
  const sidx = findBox(file, 'sidx')
  assert.ok(moov !== null && sidx !== null)
  for (const first of [file.length, 4096, 100, sidx.start + 10]) {
    const { index } = indexFromPrefix(file, first)
    assert.equal(index.kind, 'index')
    if (index.kind !== 'index') return
    assert.deepEqual(index.init, { offset: 0, length: moov.end })
    assert.equal(index.segments[0]?.byterange.offset, sidx.end)
    let at: number = sidx.end
    for (const s of index.segments) { assert.equal(s.byterange.offset, at); at += s.byterange.length }
    assert.ok(Math.abs(index.duration - 6) < 0.05, `${index.duration} s`)
  }
  const fromRange = findFmp4Index({ bytes: file.subarray(sidx.start, sidx.end), offset: sidx.start })
  assert.equal(fromRange.kind, 'index', 'a DASH indexRange alone is enough')
  if (fromRange.kind === 'index') assert.equal(fromRange.init, null)
})

test('an fMP4 without a sidx, or a plain MP4, is refused as data, not thrown', { skip: SKIP }, (t) => {
  for (const flags of ['+frag_keyframe+empty_moov', '+faststart']) {
    const file = make(t, flags)
    const r = fmp4IndexTask({ bytes: file, offset: 0 })
    assert.equal(r.ok, false, flags)
    if (!r.ok) assert.match(r.message, /no segment index/)
  }
})

test('dashRepresentation picks by format id (exact or yt-dlp "<mpd_id>-<id>") or by URL, with SegmentBase ranges or template URLs', () => {
  const mpd = readFileSync(new URL('../../../workers/fixtures/bilibili.mpd', import.meta.url), 'utf8')
  const base = dashRepresentationTask({ text: mpd, baseUrl: 'https://www.bilibili.com/', formatId: 'dash-64', url: '' })
  assert.ok(base.ok)
  if (base.ok) {
    assert.equal(base.value.id, '64')
    assert.deepEqual(base.value.indexRange, { start: 1000, end: 1545 })
    assert.deepEqual(base.value.init?.range, { start: 0, end: 999 })
    assert.equal(base.value.segments, null)
  }
  const tpl = readFileSync(new URL('../../../workers/fixtures/template.mpd', import.meta.url), 'utf8')
  const v = dashRepresentationTask({ text: tpl, baseUrl: 'https://cdn.example.com/x.mpd', formatId: 'v720', url: '' })
  assert.ok(v.ok)
  if (v.ok) {
    assert.ok((v.value.segments?.length ?? 0) > 3)
    assert.match(v.value.segments?.[0]?.url ?? '', /v720\/seg-00010\.m4s$/)
    assert.match(v.value.init?.url ?? '', /v720\/init\.mp4$/)
  }
  const missing = dashRepresentationTask({ text: tpl, baseUrl: 'https://cdn.example.com/x.mpd', formatId: 'nope', url: 'https://elsewhere/' })
  assert.equal(missing.ok, false)
})

test('buildHls writes a master with the audio group and a byte-range media playlist', () => {
  const master = buildHlsTask({ master: { audio: [{ groupId: 'aud', name: 'Audio', default: true, uri: '/a/index.m3u8' }], variants: [{ uri: '/v/index.m3u8', bandwidth: 1e6, audioGroup: 'aud' }] } })
  assert.ok(master.ok)
  if (master.ok) assert.match(master.value, /#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,URI="\/a\/index\.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,AUDIO="aud"\n\/v\/index\.m3u8/)
  const media = buildHlsTask({ media: { endList: true, map: { uri: 'media.mp4', byterange: { offset: 0, length: 800 } }, segments: [{ uri: 'media.mp4', duration: 1, byterange: { offset: 900, length: 100 } }] } })
  assert.ok(media.ok)
  if (media.ok) assert.match(media.value, /#EXT-X-MAP:URI="media\.mp4",BYTERANGE="800@0"\n#EXTINF:1\.000000,\n#EXT-X-BYTERANGE:100@900\nmedia\.mp4/)
})
