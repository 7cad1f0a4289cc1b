// Infos never echo an address the egress policy refuses: the scrubber against
// literal addresses, localhost names, GENERIC_HOSTS entries, names that do not
// resolve (the system resolver, for .invalid) and a name resolving inward.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lookup } from 'node:dns/promises'
import { AppError } from '../errors.ts'
import { createScrubber } from './scrub.ts'
import type { MediaFormat, MediaInfo, PlaylistInfo } from '../../workers/protocol.ts'

function format (id: string, url: string, extra: Partial<MediaFormat> = {}): MediaFormat {
  return {
    format_id: id,
    url,
    manifest_url: null,
    ext: 'mp4',
    protocol: 'https',
    width: 640,
    height: 360,
    fps: 25,
    vcodec: 'avc1',
    acodec: 'mp4a',
    has_audio: true,
    has_video: true,
    bitrate: 800,
    filesize: null,
    headers: {},
    expires_at: null,
    fragment_base_url: null,
    fragments: null,
    language: null,
    format_note: null,
    dynamic_range: null,
    ...extra
  }
}

function info (formats: MediaFormat[], extra: Partial<MediaInfo> = {}): MediaInfo {
  return {
    id: 'v',
    title: 'T',
    description: null,
    duration: 2,
    uploader: null,
    uploader_id: null,
    upload_date: null,
    view_count: null,
    like_count: null,
    thumbnail: null,
    thumbnails: [],
    is_live: false,
    webpage_url: 'https://93.184.216.34/watch',
    extractor: 'generic',
    formats,
    subtitles: [],
    subtitle_tracks: [],
    automatic_captions: [],
    expires_at: null,
    ...extra
  }
}

// the system resolver, except one name that an attacker's DNS points inward
const resolve = async (hostname: string): Promise<Array<{ address: string, family: number }>> =>
  hostname === 'intranet.example' ? [{ address: '93.184.216.34', family: 4 }, { address: '10.20.30.40', family: 4 }] : await lookup(hostname, { all: true, verbatim: true })

const INTERNAL = /10\.0\.0\.1|10\.20|127\.0\.0\.1:9|\[::1\]|169\.254|localhost|intranet|\[fd00/

test('formats, thumbnails and the page URL on refused addresses are dropped; the rest stay as they were', async () => {
  const scrub = createScrubber({ allow: ['127.0.0.1:8080', 'media.test'], resolve })
  const kept = [
    format('public', 'https://93.184.216.34/a.mp4'),
    format('allowed', 'http://127.0.0.1:8080/b.mp4'),
    format('allowed-name', 'http://media.test/c.mp4'),
    format('unresolvable', 'https://nothing-here.invalid/d.mp4'),
    format('public-v6', 'https://[2606:4700:4700::1111]/e.mp4')
  ]
  const refused = [
    format('private', 'http://10.0.0.1/x.mp4'),
    format('loopback-other-port', 'http://127.0.0.1:9/x.mp4'),
    format('loopback-v6', 'http://[::1]:8080/x.mp4'),
    format('link-local', 'http://169.254.169.254/latest/meta-data/'),
    format('localhost', 'http://localhost:8080/x.mp4'),
    format('sub-localhost', 'http://api.localhost/x.mp4'),
    format('ula', 'http://[fd00::5]/x.mp4'),
    format('resolves-inward', 'https://intranet.example/x.mp4'),
    // the URL itself is public, the manifest or a fragment is not
    format('manifest', 'https://93.184.216.34/m.m3u8', { manifest_url: 'http://10.0.0.1/m.m3u8' }),
    format('fragment', 'https://93.184.216.34/f.mp4', { fragment_base_url: 'http://127.0.0.1:9/', fragments: [{ path: 'seg1' }] }),
    format('fragment-url', 'https://93.184.216.34/g.mp4', { fragments: [{ url: 'http://10.0.0.1/seg1' }] })
  ]
  const thumbnails = [{ url: 'https://93.184.216.34/t1.jpg', width: 1, height: 1 }, { url: 'http://10.0.0.1/t2.jpg', width: 2, height: 2 }]
  const track = (lang: string, url: string): MediaInfo['subtitle_tracks'][number] => ({ lang, name: null, automatic: false, formats: ['vtt'], source: { ext: 'vtt', url, headers: {} } })
  const tracks = [track('en', 'https://93.184.216.34/en.vtt'), track('de', 'http://[::1]/de.vtt')]
  const out = await scrub(info([...kept, ...refused], { thumbnails, thumbnail: 'http://10.0.0.1/t2.jpg', webpage_url: 'http://localhost/page.html', subtitle_tracks: tracks }))
  assert.deepEqual(out.formats.map((f) => f.format_id), kept.map((f) => f.format_id))
  assert.deepEqual(out.thumbnails, [thumbnails[0]])
  assert.equal(out.thumbnail, 'https://93.184.216.34/t1.jpg', 'the best thumbnail left')
  assert.equal(out.webpage_url, null)
  assert.deepEqual(out.subtitle_tracks.map((t) => t.lang), ['en'])
  assert.doesNotMatch(JSON.stringify(out), INTERNAL)

  // nothing refused: the very same object
  const clean = info(kept)
  assert.equal(await scrub(clean), clean)
})

test('an info whose every format is refused is EGRESS_REFUSED (403), naming no address', async () => {
  const scrub = createScrubber({ allow: [], resolve })
  const err = await scrub(info([format('a', 'http://10.0.0.1/x.mp4'), format('b', 'http://127.0.0.1:8080/y.mp4')])).then(() => null, (e: unknown) => e)
  assert.ok(err instanceof AppError, String(err))
  assert.equal(err.code, 'EGRESS_REFUSED')
  assert.equal(err.statusCode, 403)
  assert.match(err.detail ?? '', /GENERIC_HOSTS.*Every format of this video is on such an address/)
  assert.doesNotMatch(`${err.message} ${err.detail ?? ''}`, INTERNAL)
})

test('playlist entries on refused addresses are dropped', async () => {
  const scrub = createScrubber({ allow: [], resolve })
  const playlist: PlaylistInfo = {
    id: 'p',
    title: 'P',
    uploader: null,
    entry_count: 4,
    entries: [
      { id: '1', title: null, duration: null, url: 'https://93.184.216.34/1' },
      { id: '2', title: null, duration: null, url: 'http://192.168.1.1/2' },
      { id: '3', title: null, duration: null, url: 'dQw4w9WgXcQ' },
      { id: '4', title: null, duration: null, url: 'https://intranet.example/4' }
    ]
  }
  const out = await scrub(playlist)
  assert.deepEqual(out.entries.map((e) => e.id), ['1', '3'])
})

test('items of a post on refused addresses are dropped; fewer than two left is a single video', async () => {
  const scrub = createScrubber({ allow: [], resolve })
  const video = (index: number, url: string): NonNullable<MediaInfo['entries']>[number] =>
    ({ index, kind: 'video', id: `v${index}`, title: null, duration: null, thumbnail: null, image: null, width: null, height: null, formats: [format('http', url)], expires_at: null })
  const photo = (index: number, url: string): NonNullable<MediaInfo['entries']>[number] =>
    ({ index, kind: 'photo', id: `p${index}`, title: null, duration: null, thumbnail: url, image: url, width: null, height: null, formats: [], expires_at: null })
  const fine = [video(1, 'https://93.184.216.34/1.mp4'), video(2, 'https://93.184.216.34/2.mp4'), photo(3, 'https://93.184.216.34/3.jpg')]
  const kept = info([format('http', 'https://93.184.216.34/1.mp4')], { entries: fine })
  assert.equal(await scrub(kept), kept, 'nothing refused: the same object')
  const mixed = await scrub(info([format('http', 'https://93.184.216.34/1.mp4')], {
    entries: [...fine, video(4, 'http://10.0.0.1/4.mp4'), photo(5, 'http://127.0.0.1:9/5.jpg')]
  }))
  assert.deepEqual(mixed.entries?.map((e) => e.index), [1, 2, 3])
  assert.doesNotMatch(JSON.stringify(mixed), INTERNAL)
  const lone = await scrub(info([format('http', 'https://93.184.216.34/1.mp4')], { entries: [fine[0] ?? video(1, ''), photo(2, 'http://[::1]/2.jpg')] }))
  assert.ok(!('entries' in lone))
})
