import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { MediaFormat, MediaInfo } from '../protocol.ts'
import { normalizeMediaInfo, normalizePlaylist } from './normalize.ts'
import { parseUrlExpiry } from './url-expiry.ts'

// compiled to dist/workers/ytdlp/*.test.js; fixtures are read from the source tree
const FIXTURES = fileURLToPath(new URL('../../../workers/fixtures/', import.meta.url))

function fixture (name: string): unknown {
  return JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8'))
}

function format (info: MediaInfo, id: string): MediaFormat {
  const found = info.formats.find(f => f.format_id === id)
  assert.ok(found, `format ${id} missing`)
  return found
}

test('youtube: progressive, split video/audio, headers, expiry, captions', () => {
  const info = normalizeMediaInfo(fixture('youtube'))
  assert.equal(info.id, 'dQw4w9WgXcQ')
  assert.equal(info.extractor, 'youtube')
  assert.equal(info.upload_date, '2009-10-25')
  assert.equal(info.duration, 212)
  assert.equal(info.uploader, 'Rick Astley')
  assert.equal(info.uploader_id, '@RickAstleyYT')
  assert.equal(info.is_live, false)
  assert.equal(info.thumbnail, 'https://i.ytimg.com/vi_webp/dQw4w9WgXcQ/maxresdefault.webp')
  assert.deepEqual(info.thumbnails[0], { url: 'https://i.ytimg.com/vi/dQw4w9WgXcQ/3.jpg', width: null, height: null })
  assert.deepEqual(info.subtitles, ['en', 'de-DE'])
  assert.deepEqual(info.automatic_captions, ['en', 'de', 'ja'])
  // one track per language and kind; the source is the format the subtitle task reads best (vtt here)
  assert.deepEqual(info.subtitle_tracks.map((t) => [t.lang, t.automatic, t.source?.ext]), [
    ['en', false, 'vtt'], ['de-DE', false, 'vtt'], ['en', true, 'vtt'], ['de', true, 'vtt'], ['ja', true, 'vtt']])
  const en = info.subtitle_tracks[0]
  assert.deepEqual(en?.formats, ['json3', 'srv1', 'srv2', 'srv3', 'ttml', 'vtt'])
  assert.equal(en?.name, 'English')
  assert.match(en?.source?.url ?? '', /^https:\/\/www\.youtube\.com\/api\/timedtext\?.*fmt=vtt/)
  assert.equal(info.expires_at, '2024-11-24T15:20:00.000Z')

  assert.equal(info.formats.some(f => f.format_id === 'sb0'), false, 'storyboard dropped')
  const progressive = format(info, '18')
  assert.equal(progressive.has_audio, true)
  assert.equal(progressive.has_video, true)
  assert.equal(progressive.filesize, 13354542, 'filesize_approx used when filesize is absent')
  assert.equal(progressive.bitrate, 503.654)
  assert.deepEqual(Object.keys(progressive.headers), ['User-Agent'])

  const video = format(info, '137')
  assert.deepEqual([video.has_video, video.has_audio, video.acodec, video.vcodec], [true, false, null, 'avc1.640028'])
  assert.deepEqual([video.width, video.height, video.fps, video.filesize], [1920, 1080, 25, 59018367])
  assert.equal(format(info, '248').vcodec, 'vp9')

  const audio = format(info, '140')
  assert.deepEqual([audio.has_video, audio.has_audio, audio.vcodec, audio.ext], [false, true, null, 'm4a'])
  assert.equal(format(info, '251').acodec, 'opus')

  const hls = format(info, '95')
  assert.equal(hls.protocol, 'm3u8_native')
  assert.equal(hls.expires_at, '2024-11-24T15:20:00.000Z', 'read from the /expire/ path segment')
  assert.match(hls.manifest_url ?? '', /hls_variant/)
})

test('bilibili: DASH split streams keep the Referer and expire at deadline', () => {
  const info = normalizeMediaInfo(fixture('bilibili'))
  assert.equal(info.id, 'BV1GJ411x7h7')
  assert.equal(info.upload_date, '2019-12-25')
  // danmaku is BiliBili's comment stream, not a subtitle track
  assert.deepEqual(info.subtitles, [])
  assert.deepEqual(info.subtitle_tracks, [])
  assert.equal(info.expires_at, '2024-11-24T13:30:00.000Z')
  const video = format(info, '100026')
  assert.deepEqual([video.has_video, video.has_audio, video.height], [true, false, 1080])
  assert.equal(video.headers.Referer, 'https://www.bilibili.com/')
  assert.equal(video.headers['User-Agent']?.startsWith('Mozilla/5.0'), true)
  assert.equal(Object.hasOwn(video.headers, 'Accept'), false)
  const audio = format(info, '30280')
  assert.deepEqual([audio.has_video, audio.has_audio, audio.filesize], [false, true, 5092873])
  assert.equal(format(info, '100113').vcodec, 'hev1.1.6.L120.90')
})

test('twitter: progressive variants with unknown codecs count as audio+video', () => {
  const info = normalizeMediaInfo(fixture('twitter'))
  const progressive = format(info, 'http-2176')
  assert.deepEqual([progressive.has_video, progressive.has_audio, progressive.vcodec, progressive.acodec], [true, true, null, null])
  assert.deepEqual([progressive.width, progressive.height, progressive.bitrate], [1280, 720, 2176])
  const hls = format(info, 'hls-2346')
  assert.deepEqual([hls.protocol, hls.has_video, hls.has_audio], ['m3u8_native', true, false])
  const audio = format(info, 'hls-audio-128000-Audio')
  assert.deepEqual([audio.has_video, audio.has_audio], [false, true])
  assert.equal(info.expires_at, null)
  assert.equal(info.upload_date, '2022-10-05')
})

test('instagram: hex oe expiry (earliest wins), Cookie never forwarded', () => {
  const info = normalizeMediaInfo(fixture('instagram'))
  assert.equal(format(info, '101').expires_at, '2024-11-29T21:16:11.000Z')
  assert.equal(info.expires_at, '2024-11-29T19:57:04.000Z')
  for (const f of info.formats) {
    assert.equal(Object.keys(f.headers).some(h => h.toLowerCase() === 'cookie'), false)
    assert.equal(f.headers.Referer, 'https://www.instagram.com/')
  }
  assert.deepEqual([format(info, '101').has_video, format(info, '101').has_audio], [true, true])
  const dashVideo = format(info, 'dash-1081456826361286v')
  assert.deepEqual([dashVideo.has_video, dashVideo.has_audio, dashVideo.filesize], [true, false, 10912733])
  const dashAudio = format(info, 'dash-1508287609808386ad')
  assert.deepEqual([dashAudio.has_video, dashAudio.has_audio], [false, true])
  assert.equal(info.uploader_id, '787132')
})

test('twitch: HLS variants of a VOD', () => {
  const info = normalizeMediaInfo(fixture('twitch'))
  assert.equal(info.id, 'v2012345678')
  assert.equal(info.is_live, false)
  assert.equal(info.extractor, 'twitch:vod')
  assert.equal(info.upload_date, '2024-11-23')
  assert.equal(info.formats.length, 6)
  assert.ok(info.formats.every(f => f.protocol === 'm3u8_native'))
  assert.deepEqual([format(info, 'Audio_Only').has_video, format(info, 'Audio_Only').has_audio], [false, true])
  const source = format(info, '1080p60')
  assert.deepEqual([source.height, source.fps, source.has_audio, source.format_note], [1080, 60, true, 'Source'])
  // Twitch's chat replay is not a subtitle track
  assert.deepEqual(info.subtitles, [])
})

test('flat playlist', () => {
  const list = normalizePlaylist(fixture('youtube-playlist'))
  assert.equal(list.id, 'PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI')
  assert.equal(list.uploader, 'Rick Astley')
  assert.equal(list.entry_count, 5)
  assert.equal(list.entries.length, 5)
  assert.deepEqual(list.entries[0], {
    id: 'dQw4w9WgXcQ', title: 'Rick Astley - Never Gonna Give You Up (Official Music Video)', duration: 212, url: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ'
  })
  assert.equal(list.entries[3]?.duration, null)
})

test('a single video asked for as a playlist becomes a playlist of one', () => {
  const list = normalizePlaylist(fixture('youtube'))
  assert.equal(list.entry_count, 1)
  assert.equal(list.entries[0]?.url, 'https://www.youtube.com/watch?v=dQw4w9WgXcQ')
})

test('inference when yt-dlp does not know the codecs', () => {
  const info = normalizeMediaInfo({
    id: 'x',
    formats: [
      { format_id: 'a', url: 'https://cdn.test/a.m4a', ext: 'm4a' },
      { format_id: 'b', url: 'https://cdn.test/b', ext: 'mp4', resolution: 'audio only' },
      { format_id: 'c', url: 'https://cdn.test/c.mp4', ext: 'mp4', height: 720, format_note: 'DASH video only' },
      { format_id: 'd', url: 'https://cdn.test/d.mp4', ext: 'mp4', vcodec: null },
      { format_id: 'e', ext: 'mp4' }
    ]
  })
  const flags = info.formats.map(f => [f.format_id, f.has_video, f.has_audio])
  assert.deepEqual(flags, [['a', false, true], ['b', false, true], ['c', true, false], ['d', true, true]])
  assert.equal(info.title, 'x', 'title falls back to the id')
  assert.equal(info.formats[0]?.protocol, 'https')
})

test('a multi-video page uses its first playable entry; bad output throws', () => {
  const info = normalizeMediaInfo({ _type: 'playlist', id: 'page', entries: [{ id: 'page-1', title: 'One', formats: [{ url: 'http://127.0.0.1/v.mp4', ext: 'mp4' }] }] })
  assert.equal(info.id, 'page-1')
  assert.equal(info.formats[0]?.format_id, '0')
  assert.throws(() => normalizeMediaInfo(null), /not a JSON object/)
  assert.throws(() => normalizeMediaInfo({ title: 'no id' }), /no id/)
  assert.throws(() => normalizePlaylist([]), /not a JSON object/)
})

test('url expiry parameters', () => {
  const cases: [string, string | null][] = [
    ['https://rr1---sn-x.googlevideo.com/videoplayback?expire=1732461600&ip=1.2.3.4', '2024-11-24T15:20:00.000Z'],
    ['https://upos-sz-mirrorcos.bilivideo.com/a.m4s?e=x&deadline=1732455000', '2024-11-24T13:30:00.000Z'],
    ['https://scontent.cdninstagram.com/v.mp4?oh=00_x&oe=674A2F1B', '2024-11-29T21:16:11.000Z'],
    ['https://d111.cloudfront.net/v.mp4?Expires=1732461600&Signature=x', '2024-11-24T15:20:00.000Z'],
    ['https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Date=20241124T150000Z&X-Amz-Expires=1200', '2024-11-24T15:20:00.000Z'],
    ['https://akamai.test/v.m3u8?hdnts=exp=1732461600~acl=/*~hmac=ab', '2024-11-24T15:20:00.000Z'],
    ['https://video.twimg.com/v.mp4?tag=12', null],
    ['https://cdn.test/v.mp4?expire=12', null],
    ['not a url', null]
  ]
  for (const [url, expected] of cases) assert.equal(parseUrlExpiry(url), expected, url)
})

test('subtitle tracks: the source prefers vtt, then srt, then json3; unreadable-only tracks have none; odd keys are dropped', () => {
  const info = normalizeMediaInfo({
    id: 'x',
    formats: [],
    subtitles: {
      fr: [{ ext: 'json3', url: 'https://s.example/fr.json3' }, { ext: 'srt', url: 'https://s.example/fr.srt', http_headers: { Referer: 'https://r.example/', Cookie: 'no' } }],
      es: [{ ext: 'ttml', url: 'https://s.example/es.ttml' }],
      it: [{ url: 'https://s.example/it.VTT?x=1' }],
      'bad lang': [{ ext: 'vtt', url: 'https://s.example/x.vtt' }],
      pt: [{ ext: 'vtt', url: 'file:///etc/passwd' }],
      nl: [{ ext: 'vtt', data: 'WEBVTT' }],
      live_chat: [{ ext: 'json', url: 'https://s.example/chat' }]
    },
    automatic_captions: { en: [{ ext: 'json3', url: 'https://s.example/en.json3' }] }
  })
  assert.deepEqual(info.subtitles, ['fr', 'es', 'it'])
  assert.deepEqual(info.automatic_captions, ['en'])
  assert.deepEqual(info.subtitle_tracks, [
    { lang: 'fr', name: null, automatic: false, formats: ['json3', 'srt'], source: { ext: 'srt', url: 'https://s.example/fr.srt', headers: { Referer: 'https://r.example/' } } },
    { lang: 'es', name: null, automatic: false, formats: ['ttml'], source: null },
    { lang: 'it', name: null, automatic: false, formats: ['vtt'], source: { ext: 'vtt', url: 'https://s.example/it.VTT?x=1', headers: {} } },
    { lang: 'en', name: null, automatic: true, formats: ['json3'], source: { ext: 'json3', url: 'https://s.example/en.json3', headers: {} } }
  ])
})

const clip = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ format_id: 'http-832', url: `https://video.twimg.com/${name}.mp4`, ext: 'mp4', vcodec: 'avc1', acodec: 'mp4a.40.2', height: 720, ...extra })

test('a post of several items: its first video is the info, and every video and photo is an entry', () => {
  const raw = {
    _type: 'playlist',
    id: 'post',
    title: 'Post',
    entries: [
      // an Instagram carousel's photo: no formats, a picture
      { id: 'p1', title: 'Post #1', formats: [], thumbnails: [{ url: 'https://scontent.test/small.jpg', width: 150, height: 150 }, { url: 'https://scontent.test/big.jpg?oe=674A2F1B', width: 1080, height: 1350 }] },
      { id: 'v2', title: 'Post #2', duration: 4.5, thumbnail: 'https://pbs.twimg.com/v2.jpg', formats: [clip('v2', { url: 'https://video.twimg.com/v2.mp4?expire=1732461600' })] },
      // no media at all: left out, its number kept by the others
      { id: 'gone', title: 'Post #3' },
      { id: 'v4', title: 'Post #4', formats: [clip('v4')] },
      // a photo listed as an image format
      { id: 'p5', formats: [{ format_id: 'orig', url: 'https://pbs.twimg.com/media/p5.png', ext: 'png', width: 2048, height: 1024 }, { format_id: 'small', url: 'https://pbs.twimg.com/media/p5s.png', ext: 'png', width: 680, height: 340 }] }
    ]
  }
  const info = normalizeMediaInfo(raw)
  assert.equal(info.id, 'v2', 'the first video, as before')
  assert.equal(info.title, 'Post #2')
  assert.deepEqual(info.formats.map((f) => f.url), ['https://video.twimg.com/v2.mp4?expire=1732461600'])
  assert.deepEqual(info.entries?.map((e) => [e.index, e.kind, e.id, e.image, e.width, e.height, e.formats.length]), [
    [1, 'photo', 'p1', 'https://scontent.test/big.jpg?oe=674A2F1B', 1080, 1350, 0],
    [2, 'video', 'v2', null, null, null, 1],
    [4, 'video', 'v4', null, null, null, 1],
    [5, 'photo', 'p5', 'https://pbs.twimg.com/media/p5.png', 2048, 1024, 0]
  ])
  assert.equal(info.entries?.[1]?.duration, 4.5)
  assert.equal(info.entries?.[1]?.thumbnail, 'https://pbs.twimg.com/v2.jpg')
  assert.equal(info.entries?.[0]?.thumbnail, 'https://scontent.test/big.jpg?oe=674A2F1B')
  // the earliest expiry of any item's media (the Instagram picture's oe= is earlier than v2's expire=)
  assert.equal(info.entries?.[0]?.expires_at, '2024-11-29T21:16:11.000Z')
  assert.equal(info.entries?.[1]?.expires_at, '2024-11-24T15:20:00.000Z')
  assert.equal(info.expires_at, '2024-11-24T15:20:00.000Z')
})

test('multi_video results are items too; one usable item is a single video without entries', () => {
  const parts = normalizeMediaInfo({ _type: 'multi_video', id: 'BV1', title: 'Parts', entries: [{ id: 'BV1_part1', formats: [clip('a')] }, { id: 'BV1_part2', formats: [clip('b')] }] })
  assert.equal(parts.id, 'BV1_part1')
  assert.deepEqual(parts.entries?.map((e) => [e.index, e.kind, e.formats[0]?.url]), [[1, 'video', 'https://video.twimg.com/a.mp4'], [2, 'video', 'https://video.twimg.com/b.mp4']])
  const one = normalizeMediaInfo({ _type: 'playlist', id: 'page', entries: [{ id: 'page-1', formats: [clip('a')] }, { id: 'nothing' }] })
  assert.equal(one.id, 'page-1')
  assert.ok(!('entries' in one), 'a single item: the info as it always was')
  const single = normalizeMediaInfo(fixture('twitter'))
  assert.ok(!('entries' in single))
})
