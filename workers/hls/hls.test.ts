import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseHls } from './hls.ts'
import { isManifestError } from '../manifest-error.ts'
import type { HlsMasterPlaylist, HlsMediaPlaylist, HlsPlaylist } from './hls.ts'

// dist/workers/hls/hls.test.js -> repository root is three levels up.
const FIXTURES = new URL('../../../workers/fixtures/', import.meta.url)
const BASE = 'https://media.example.com/show/ep1/master.m3u8'

function fixture (name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8')
}

function asMaster (playlist: HlsPlaylist): HlsMasterPlaylist {
  assert.equal(playlist.kind, 'master')
  return playlist as HlsMasterPlaylist
}

function asMedia (playlist: HlsPlaylist): HlsMediaPlaylist {
  assert.equal(playlist.kind, 'media')
  return playlist as HlsMediaPlaylist
}

function assertManifestError (fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => isManifestError(err) && err.code === code)
}

test('parses a master playlist with variants, renditions, i-frame streams and session keys', () => {
  const master = asMaster(parseHls(fixture('master.m3u8'), BASE))
  assert.equal(master.version, 6)
  assert.equal(master.independentSegments, true)
  assert.equal(master.variants.length, 4)
  assert.deepEqual(master.variants[0], {
    uri: 'https://media.example.com/show/ep1/video/360p/index.m3u8',
    bandwidth: 1280000,
    averageBandwidth: 1000000,
    resolution: { width: 640, height: 360 },
    codecs: 'avc1.4d401e,mp4a.40.2',
    frameRate: 29.97,
    audioGroup: 'aud',
    videoGroup: null,
    subtitlesGroup: 'subs',
    closedCaptionsGroup: 'cc'
  })
  assert.equal(master.variants[1]?.uri, 'https://media.example.com/abs/video/720p/index.m3u8?token=a%2Cb&x=1')
  assert.equal(master.variants[1]?.closedCaptionsGroup, null)
  assert.equal(master.variants[2]?.uri, 'https://other.example.org/1080p/index.m3u8')
  assert.equal(master.variants[3]?.resolution, null)
  assert.equal(master.variants[3]?.averageBandwidth, null)

  assert.equal(master.renditions.length, 4)
  assert.deepEqual(master.renditions[0], {
    type: 'AUDIO',
    groupId: 'aud',
    name: 'English',
    language: 'en',
    default: true,
    autoselect: true,
    forced: false,
    channels: '2',
    uri: 'https://media.example.com/show/ep1/audio/en/index.m3u8'
  })
  assert.equal(master.renditions[1]?.name, 'Deutsch, Stereo')
  assert.equal(master.renditions[1]?.uri, 'https://media.example.com/show/alt/audio/de/index.m3u8')
  assert.equal(master.renditions[3]?.type, 'CLOSED-CAPTIONS')
  assert.equal(master.renditions[3]?.uri, null)

  assert.deepEqual(master.iFrameStreams.map(s => s.uri), [
    'https://media.example.com/show/ep1/video/360p/iframes.m3u8',
    'https://media.example.com/show/ep1/video/720p/iframes.m3u8'
  ])
  assert.equal(master.iFrameStreams[1]?.bandwidth, 150000)
  assert.deepEqual(master.sessionKeys, [{
    method: 'SAMPLE-AES',
    uri: 'skd://key-server/session',
    iv: null,
    keyFormat: 'com.apple.streamingkeydelivery',
    keyFormatVersions: '1'
  }])
  assert.ok(master.unknownTags.includes('#EXT-X-VENDOR-THING:foo=bar'))
})

test('parses a VOD media playlist with keys, maps, byte ranges and discontinuities', () => {
  const base = 'https://media.example.com/show/ep1/video/720p/index.m3u8'
  const media = asMedia(parseHls(fixture('media.m3u8'), base))
  assert.equal(media.version, 7)
  assert.equal(media.targetDuration, 6)
  assert.equal(media.mediaSequence, 100)
  assert.equal(media.playlistType, 'VOD')
  assert.equal(media.endList, true)
  assert.equal(media.isLive, false)
  assert.equal(media.segments.length, 6)
  assert.ok(Math.abs(media.totalDuration - 28.012) < 1e-9)

  const [s0, s1, s2, s3, s4, s5] = media.segments
  assert.ok(s0 !== undefined && s1 !== undefined && s2 !== undefined && s3 !== undefined && s4 !== undefined && s5 !== undefined)
  assert.equal(s0.uri, 'https://media.example.com/show/ep1/video/720p/media.mp4')
  assert.equal(s0.title, 'first segment')
  assert.equal(s0.duration, 6.006)
  assert.equal(s0.mediaSequence, 100)
  assert.equal(s0.programDateTime, '2024-05-01T10:00:00.000Z')
  assert.deepEqual(s0.byterange, { length: 1000, offset: 720 })
  assert.deepEqual(s1.byterange, { length: 1200, offset: 1720 }, 'offset implied by the previous sub-range')
  assert.deepEqual(s2.byterange, { length: 900, offset: 2920 })
  assert.deepEqual(s0.map, { uri: 'https://media.example.com/show/ep1/video/720p/init.mp4', byterange: { length: 720, offset: 0 } })
  assert.deepEqual(s0.key, {
    method: 'AES-128',
    uri: 'https://keys.example.com/k1?id=1',
    iv: '0x00000000000000000000000000000001',
    keyFormat: null,
    keyFormatVersions: null
  })
  assert.equal(s2.discontinuity, false)
  assert.equal(s3.discontinuity, true)
  assert.equal(s3.discontinuitySequence, 1)
  assert.equal(s3.uri, 'https://media.example.com/show/ep1/video/720p/ad/segment0.ts')
  assert.equal(s3.key?.uri, 'https://media.example.com/show/ep1/video/720p/keys/k2.bin')
  assert.equal(s3.map?.uri, 'https://media.example.com/show/ep1/video/other/init2.mp4')
  assert.equal(s3.map?.byterange, null)
  assert.deepEqual(s3.tags, ['#EXT-X-CUE-OUT:DURATION=8'])
  assert.equal(s3.byterange, null)
  assert.equal(s4.key, null, 'METHOD=NONE clears the key')
  assert.equal(s4.gap, true)
  assert.equal(s5.uri, 'https://media.example.com/root/segment-last.m4s?sig=xyz')
  assert.equal(s5.mediaSequence, 105)
})

test('parses a live playlist: no ENDLIST means isLive, unknown tags are kept', () => {
  const base = 'https://live.example.com/channel/1080p/live.m3u8'
  const media = asMedia(parseHls(fixture('live.m3u8'), base))
  assert.equal(media.isLive, true)
  assert.equal(media.endList, false)
  assert.equal(media.playlistType, null)
  assert.equal(media.mediaSequence, 2680)
  assert.equal(media.discontinuitySequence, 7)
  assert.deepEqual(media.segments.map(s => s.mediaSequence), [2680, 2681, 2682])
  assert.equal(media.segments[0]?.discontinuitySequence, 7)
  assert.equal(media.segments[0]?.map?.uri, 'https://live.example.com/channel/1080p/init-live.mp4')
  assert.equal(media.segments[2]?.tags.length, 2)
  assert.ok(media.unknownTags.some(t => t.startsWith('#EXT-X-SERVER-CONTROL:')))
  assert.ok(media.unknownTags.some(t => t.startsWith('#EXT-X-RENDITION-REPORT:')), 'trailing tags are kept')
})

test('an EVENT playlist with ENDLIST is not live', () => {
  const media = asMedia(parseHls('#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n', BASE))
  assert.equal(media.playlistType, 'EVENT')
  assert.equal(media.isLive, false)
})

test('tolerates CRLF, a BOM, blank lines, comments and stray whitespace', () => {
  const text = '\uFEFF#EXTM3U\r\n\r\n#EXT-X-TARGETDURATION:4\r\n# comment\r\n  #EXTINF:3.5,\r\n  seg 1.ts  \r\n\r\n#EXTINF:4,\rseg2.ts\r\n#EXT-X-ENDLIST'
  const media = asMedia(parseHls(text, BASE))
  assert.deepEqual(media.segments.map(s => s.uri), [
    'https://media.example.com/show/ep1/seg%201.ts',
    'https://media.example.com/show/ep1/seg2.ts'
  ])
  assert.deepEqual(media.segments.map(s => s.duration), [3.5, 4])
  assert.equal(media.isLive, false)
})

test('parses a CRLF copy of every fixture like the LF original', () => {
  for (const name of ['master.m3u8', 'media.m3u8', 'live.m3u8']) {
    const text = fixture(name)
    assert.deepEqual(parseHls(text.replace(/\n/g, '\r\n'), BASE), parseHls(text, BASE), name)
  }
})

test('rejects text without the #EXTM3U header', () => {
  for (const text of ['', 'hello', '<html>#EXTM3U</html>', '\n#EXTM3U\n', '{"EXTM3U":1}']) {
    assertManifestError(() => parseHls(text, BASE), 'MANIFEST_INVALID')
  }
})

test('rejects a relative base URL', () => {
  assertManifestError(() => parseHls('#EXTM3U\n', '/relative/only.m3u8'), 'MANIFEST_INVALID')
})

test('rejects oversized playlists and lines without scanning them quadratically', () => {
  const hugeLine = '#EXTM3U\n#EXTINF:1,\n' + 'a'.repeat(2 * 1024 * 1024) + '\n'
  assertManifestError(() => parseHls(hugeLine, BASE), 'MANIFEST_TOO_LARGE')
  const huge = '#EXTM3U\n' + '#EXTINF:1,\nx.ts\n'.repeat(1_100_000)
  assertManifestError(() => parseHls(huge, BASE), 'MANIFEST_TOO_LARGE')
  const longAttributes = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,' + 'X=Y,'.repeat(200_000) + '\nv.m3u8\n'
  const started = performance.now()
  const master = asMaster(parseHls(longAttributes, BASE))
  assert.equal(master.variants[0]?.bandwidth, 1)
  assert.ok(performance.now() - started < 2000)
})

test('skips entries that lack required attributes and refuses broken required tags', () => {
  const master = asMaster(parseHls([
    '#EXTM3U',
    '#EXT-X-MEDIA:GROUP-ID="a",NAME="no type"',
    '#EXT-X-MEDIA:TYPE=AUDIO,NAME="no group"',
    '#EXT-X-MEDIA:TYPE=BOGUS,GROUP-ID="a",NAME="x"',
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1',
    '#EXT-X-STREAM-INF:RESOLUTION=axb,FRAME-RATE=fast',
    'v.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=5',
    ''
  ].join('\n'), BASE))
  assert.equal(master.renditions.length, 0)
  assert.equal(master.iFrameStreams.length, 0)
  assert.deepEqual(master.variants.map(v => [v.bandwidth, v.resolution, v.frameRate]), [[0, null, null]])

  assertManifestError(() => parseHls('#EXTM3U\n#EXT-X-KEY:URI="k"\n#EXTINF:1,\na.ts\n', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseHls('#EXTM3U\n#EXT-X-MAP:BYTERANGE="1@0"\n', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseHls('#EXTM3U\n#EXTINF:abc,\na.ts\n', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseHls('#EXTM3U\n#EXTINF:-1,\na.ts\n', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseHls('#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:x@y\na.ts\n', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseHls('#EXTM3U\n#EXTINF:1,\nhttp://[::1\n', BASE), 'MANIFEST_INVALID')
})

test('survives garbage after the header', () => {
  const garbage = '#EXTM3U\n' + Array.from({ length: 500 }, (_, i) => String.fromCharCode(33 + (i * 7919) % 90).repeat(i % 13)).join('\n')
  const result = (() => {
    try {
      return parseHls(garbage, BASE)
    } catch (err) {
      assert.ok(isManifestError(err))
      return null
    }
  })()
  if (result !== null) assert.equal(result.kind, 'media')
  const attributes = asMaster(parseHls('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH="unterminated,=,,==,"\nv.m3u8\n', BASE))
  assert.equal(attributes.variants[0]?.bandwidth, 0)
  const proto = asMaster(parseHls('#EXTM3U\n#EXT-X-STREAM-INF:__proto__=1,BANDWIDTH=2\nv.m3u8\n', BASE))
  assert.equal(proto.variants[0]?.bandwidth, 2)
})
