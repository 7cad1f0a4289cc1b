import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildMasterPlaylist, buildMediaPlaylist, parseHls } from './hls.ts'

const BASE = 'https://vidgate.test/v1/hls/abc/master.m3u8'

test('buildMasterPlaylist output parses back to the same variants and audio', () => {
  const text = buildMasterPlaylist({
    variants: [
      { uri: 'video/1080.m3u8', bandwidth: 4_000_000, averageBandwidth: 3_500_000, resolution: { width: 1920, height: 1080 }, codecs: 'avc1.640028,mp4a.40.2', frameRate: 29.97, audioGroup: 'aac' },
      { uri: 'https://cdn.test/720.m3u8?a=1&b=2', bandwidth: 2_000_000.4 }
    ],
    audio: [
      { groupId: 'aac', name: 'English', language: 'en', default: true, uri: 'audio/en.m3u8' },
      { groupId: 'aac', name: 'Commentary "director"\ncut', default: false, uri: 'audio/c.m3u8' }
    ]
  })
  assert.ok(text.startsWith('#EXTM3U\n'))
  const master = parseHls(text, BASE)
  assert.equal(master.kind, 'master')
  if (master.kind !== 'master') return
  assert.deepEqual(master.variants.map(v => [v.uri, v.bandwidth, v.averageBandwidth, v.resolution, v.codecs, v.frameRate, v.audioGroup]), [
    ['https://vidgate.test/v1/hls/abc/video/1080.m3u8', 4_000_000, 3_500_000, { width: 1920, height: 1080 }, 'avc1.640028,mp4a.40.2', 29.97, 'aac'],
    ['https://cdn.test/720.m3u8?a=1&b=2', 2_000_000, null, null, null, null, null]
  ])
  assert.deepEqual(master.renditions.map(r => [r.type, r.groupId, r.name, r.language, r.default, r.uri]), [
    ['AUDIO', 'aac', 'English', 'en', true, 'https://vidgate.test/v1/hls/abc/audio/en.m3u8'],
    ['AUDIO', 'aac', 'Commentary \'director\' cut', null, false, 'https://vidgate.test/v1/hls/abc/audio/c.m3u8']
  ])
})

test('buildMediaPlaylist with an fMP4 map and byte ranges uses version 7 and parses back', () => {
  const segments = [
    { uri: 'https://cdn.test/v.mp4?deadline=1', duration: 2.002, byterange: { length: 5000, offset: 931 } },
    { uri: 'https://cdn.test/v.mp4?deadline=1', duration: 2.002, byterange: { length: 4000, offset: 5931 } },
    { uri: 'https://cdn.test/v.mp4?deadline=1', duration: 1.5, byterange: { length: 3000, offset: 9931 } }
  ]
  const text = buildMediaPlaylist({ targetDuration: 2, segments, map: { uri: 'https://cdn.test/v.mp4?deadline=1', byterange: { length: 931, offset: 0 } }, endList: true, version: 3 })
  assert.match(text, /^#EXT-X-VERSION:7$/m)
  assert.match(text, /^#EXT-X-TARGETDURATION:3$/m, 'target duration covers the longest segment')
  const media = parseHls(text, BASE)
  assert.equal(media.kind, 'media')
  if (media.kind !== 'media') return
  assert.equal(media.version, 7)
  assert.equal(media.isLive, false)
  assert.equal(media.playlistType, 'VOD')
  assert.deepEqual(media.segments.map(s => [s.uri, s.duration, s.byterange]), segments.map(s => [s.uri, s.duration, s.byterange]))
  assert.deepEqual(media.segments[0]?.map, { uri: 'https://cdn.test/v.mp4?deadline=1', byterange: { length: 931, offset: 0 } })
})

test('buildMediaPlaylist picks the lowest version the features need', () => {
  const plain = buildMediaPlaylist({ segments: [{ uri: 'a.ts', duration: 4 }], endList: false })
  assert.match(plain, /^#EXT-X-VERSION:3$/m)
  assert.doesNotMatch(plain, /ENDLIST|PLAYLIST-TYPE/)
  const ranged = buildMediaPlaylist({ segments: [{ uri: 'a.ts', duration: 4, byterange: { length: 1, offset: 0 } }], endList: true })
  assert.match(ranged, /^#EXT-X-VERSION:4$/m)
  const mapped = buildMediaPlaylist({ segments: [{ uri: 'a.m4s', duration: 4 }], map: { uri: 'init.mp4' }, endList: true, version: 9 })
  assert.match(mapped, /^#EXT-X-VERSION:9$/m)
  const live = parseHls(plain, BASE)
  assert.equal(live.kind === 'media' && live.isLive, true)
})

test('builders encode unsafe URIs and refuse invalid numbers', () => {
  const text = buildMediaPlaylist({ segments: [{ uri: 'a"b\nc.ts', duration: 1 }], map: { uri: 'i"n\rit.mp4' }, endList: true })
  assert.match(text, /^a%22b%0Ac\.ts$/m)
  assert.match(text, /URI="i%22n%0Dit\.mp4"/)
  assert.throws(() => buildMediaPlaylist({ segments: [{ uri: 'a.ts', duration: Number.NaN }], endList: true }), RangeError)
  assert.throws(() => buildMediaPlaylist({ segments: [{ uri: '#EXT-X-ENDLIST', duration: 1 }], endList: true }), TypeError)
  assert.throws(() => buildMasterPlaylist({ variants: [{ uri: 'v.m3u8', bandwidth: -1 }], audio: [] }), RangeError)
})
