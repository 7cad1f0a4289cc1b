import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseDash } from './dash.ts'
import { isManifestError } from '../manifest-error.ts'
import type { DashManifest, DashRepresentation } from './dash.ts'

const FIXTURES = new URL('../../../workers/fixtures/', import.meta.url)
const BASE = 'https://api.example.com/x/player/manifest.mpd?bvid=BV1xx'

function fixture (name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8')
}

function rep (manifest: DashManifest, id: string): DashRepresentation {
  const found = manifest.periods.flatMap(p => p.representations).find(r => r.id === id)
  assert.ok(found !== undefined, `representation ${id}`)
  return found
}

function assertManifestError (fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => isManifestError(err) && err.code === code)
}

test('parses a BiliBili-style SegmentBase MPD with signed BaseURLs', () => {
  const mpd = parseDash(fixture('bilibili.mpd'), BASE)
  assert.equal(mpd.type, 'static')
  assert.equal(mpd.isLive, false)
  assert.equal(mpd.duration, 212.016)
  assert.equal(mpd.minBufferTime, 1.5)
  assert.equal(mpd.periods.length, 1)
  assert.deepEqual(mpd.periods[0]?.representations.map(r => [r.kind, r.id]), [
    ['video', '80'], ['video', '64'], ['video', '12'], ['audio', '30280'], ['audio', '30216']
  ])
  const video = rep(mpd, '80')
  assert.equal(video.bandwidth, 2134520)
  assert.equal(video.width, 1920)
  assert.equal(video.height, 1080)
  assert.equal(video.frameRate, 29.412)
  assert.equal(video.codecs, 'avc1.640032')
  assert.equal(video.mimeType, 'video/mp4')
  assert.ok(video.baseUrl.startsWith('https://upos-sz-mirrorcos.bilivideo.com/upgcxcode/89/67/123456789/123456789-1-100080.m4s?e='))
  const query = new URL(video.baseUrl).searchParams
  assert.equal(query.get('deadline'), '1714560000')
  assert.equal(query.get('uparams'), 'e,uipk,nbs,deadline,gen,os,oi,trid,mid,platform')
  assert.ok(!video.baseUrl.includes('&amp;'))
  assert.deepEqual(video.init, { url: video.baseUrl, range: { start: 0, end: 1001 } })
  assert.deepEqual(video.indexRange, { start: 1002, end: 1547 })
  assert.equal(video.segments, null)

  assert.equal(new URL(rep(mpd, '64').baseUrl).searchParams.get('deadline'), '1714560000', 'CDATA BaseURL')
  assert.deepEqual(rep(mpd, '12').init?.range, { start: 0, end: 1124 }, 'init implied by indexRange')

  const audio = rep(mpd, '30280')
  assert.equal(audio.kind, 'audio')
  assert.equal(audio.lang, 'und')
  assert.equal(audio.audioSamplingRate, 44100)
  assert.equal(audio.width, null)
  assert.deepEqual(audio.indexRange, { start: 934, end: 1689 })
})

test('expands SegmentTemplate with $Number%05d$, inheritance and BaseURL at every level', () => {
  const mpd = parseDash(fixture('template.mpd'), BASE)
  assert.equal(mpd.duration, 45)
  assert.deepEqual(mpd.periods.map(p => [p.id, p.start, p.duration]), [['main', 0, 30], ['credits', 30, 15]])
  assert.deepEqual(mpd.periods[0]?.representations.map(r => r.id), ['v1080', 'v720', 'a128', 'sub-de'], 'image set is left out')

  const hd = rep(mpd, 'v1080')
  assert.equal(hd.baseUrl, 'https://cdn.example.com/vod/title-1/period-1/hd/')
  assert.equal(hd.frameRate, 30000 / 1001)
  assert.deepEqual(hd.init, { url: 'https://cdn.example.com/vod/title-1/period-1/hd/v1080/init.mp4', range: null })
  assert.equal(hd.segments?.length, 8)
  assert.equal(hd.segments?.[0]?.url, 'https://cdn.example.com/vod/title-1/period-1/hd/v1080/seg-00001.m4s')
  assert.equal(hd.segments?.[7]?.url, 'https://cdn.example.com/vod/title-1/period-1/hd/v1080/seg-00008.m4s')
  assert.deepEqual(hd.segments?.map(s => s.duration), [4, 4, 4, 4, 4, 4, 4, 2])
  assert.equal(hd.indexRange, null)

  const sd = rep(mpd, 'v720')
  assert.equal(sd.segments?.[0]?.url, 'https://cdn.example.com/vod/title-1/period-1/v720/seg-00010.m4s', 'startNumber overridden on the Representation')
  assert.equal(sd.segments?.length, 8)
})

test('expands a SegmentTimeline with r and r=-1 bounded by the period', () => {
  const mpd = parseDash(fixture('template.mpd'), BASE)
  const audio = rep(mpd, 'a128')
  assert.equal(audio.lang, 'en')
  assert.equal(audio.init?.url, 'https://cdn.example.com/vod/title-1/period-1/audio/128000/init.mp4')
  const segments = audio.segments ?? []
  assert.equal(segments.length, 15)
  assert.deepEqual(segments.slice(0, 5).map(s => s.url.replace('https://cdn.example.com/vod/title-1/period-1/audio/128000/', '')),
    ['0.m4s', '96256.m4s', '192512.m4s', '288768.m4s', '384000.m4s'])
  assert.equal(segments[3]?.duration, 95232 / 48000)
  assert.equal(segments.at(-1)?.url, `https://cdn.example.com/vod/title-1/period-1/audio/128000/${384000 + 10 * 96256}.m4s`)
  const total = segments.reduce((sum, s) => sum + s.duration, 0)
  assert.ok(total >= 30 && total < 32, `total ${total}`)
})

test('plain BaseURL representations and SegmentList', () => {
  const mpd = parseDash(fixture('template.mpd'), BASE)
  const text = rep(mpd, 'sub-de')
  assert.equal(text.kind, 'text')
  assert.equal(text.lang, 'de')
  assert.equal(text.init, null)
  assert.deepEqual(text.segments, [{ url: 'https://cdn.example.com/subs/de.vtt?x=1&y=2', duration: 30, range: null }])

  const credits = rep(mpd, 'credits-v')
  assert.equal(credits.codecs, 'avc1.4d401e')
  assert.deepEqual(credits.init, { url: 'https://other-cdn.example.org/credits-init.mp4', range: null })
  assert.deepEqual(credits.segments, [
    { url: 'https://other-cdn.example.org/credits.mp4', duration: 5, range: { start: 0, end: 999 } },
    { url: 'https://other-cdn.example.org/credits-2.m4s', duration: 5, range: null },
    { url: 'https://other-cdn.example.org/credits-3.m4s', duration: 5, range: { start: 100, end: 199 } }
  ])
})

test('a dynamic MPD is live; r=-1 without a period end yields one segment; $Time$ without timeline', () => {
  const xml = `<MPD type="dynamic" availabilityStartTime="2024-01-01T00:00:00Z"><Period id="p">
    <AdaptationSet mimeType="video/mp4"><SegmentTemplate timescale="10" media="t_$Time$_$$_$RepresentationID$.m4s">
      <SegmentTimeline><S t="100" d="20" r="-1"/></SegmentTimeline></SegmentTemplate>
      <Representation id="v" bandwidth="1"/></AdaptationSet>
    <AdaptationSet mimeType="audio/mp4"><SegmentTemplate duration="2" media="$Number$.m4s"/><Representation id="a" bandwidth="1"/></AdaptationSet>
  </Period></MPD>`
  const mpd = parseDash(xml, BASE)
  assert.equal(mpd.isLive, true)
  assert.equal(mpd.availabilityStartTime, '2024-01-01T00:00:00Z')
  assert.equal(mpd.duration, null)
  assert.deepEqual(rep(mpd, 'v').segments, [{ url: 'https://api.example.com/x/player/t_100_$_v.m4s', duration: 2, range: null }])
  assert.equal(rep(mpd, 'a').segments, null, 'cannot enumerate a live template without a timeline')
})

test('ISO 8601 durations in every form', () => {
  const cases: Array<[string, number | null]> = [
    ['PT1H2M3.5S', 3723.5], ['P1DT1S', 86401], ['PT0S', 0], ['P0Y0M0DT0H3M30.000S', 210], ['PT1,5S', 1.5],
    ['P', null], ['PT', null], ['1H', null], ['PT-5S', null], ['PTxS', null]
  ]
  for (const [value, expected] of cases) {
    const mpd = parseDash(`<MPD mediaPresentationDuration="${value}"/>`, BASE)
    assert.equal(mpd.duration, expected, value)
  }
})

test('refuses DOCTYPE, custom or unknown entities and anything that is not an MPD', () => {
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><MPD>&lol2;</MPD>'
  assertManifestError(() => parseDash(laughs, BASE), 'MANIFEST_INVALID')
  const external = '<!DOCTYPE MPD SYSTEM "file:///etc/passwd"><MPD/>'
  assertManifestError(() => parseDash(external, BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('<MPD><BaseURL>&xxe;</BaseURL></MPD>', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('<MPD><BaseURL>&#0;</BaseURL></MPD>', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('<MPD><BaseURL>a & b</BaseURL></MPD>', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('<html><body/></html>', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('#EXTM3U\n', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('', BASE), 'MANIFEST_INVALID')
  const decoded = parseDash('<MPD><BaseURL>https://a.test/&#x41;&#66;&lt;&gt;&quot;&apos;?q=1&amp;r=2</BaseURL><Period><AdaptationSet mimeType="audio/mp4"><Representation id="a"/></AdaptationSet></Period></MPD>', BASE)
  assert.equal(decoded.periods[0]?.representations[0]?.baseUrl, 'https://a.test/AB%3C%3E%22\'?q=1&r=2')
})

test('refuses malformed XML', () => {
  const bad = [
    '<MPD>', '<MPD></Period>', '<MPD/><MPD/>', 'text<MPD/>', '<MPD a="1" a="2"/>', '<MPD a=1/>', '<MPD a="<"/>',
    '<MPD><!-- open', '<MPD><![CDATA[x</MPD>', '<1MPD/>', '<MPD a="x/>', '<MPD attr/>'
  ]
  for (const xml of bad) assertManifestError(() => parseDash(xml, BASE), 'MANIFEST_INVALID')
})

test('bounds nesting depth, element count, size and segment expansion', () => {
  const deep = '<MPD>' + '<a>'.repeat(100_000) + '</a>'.repeat(100_000) + '</MPD>'
  const started = performance.now()
  assertManifestError(() => parseDash(deep, BASE), 'MANIFEST_TOO_LARGE')
  assert.ok(performance.now() - started < 1000)
  assertManifestError(() => parseDash('<MPD>' + '<a/>'.repeat(300_000) + '</MPD>', BASE), 'MANIFEST_TOO_LARGE')
  assertManifestError(() => parseDash('<MPD>' + ' '.repeat(9 * 1024 * 1024) + '</MPD>', BASE), 'MANIFEST_TOO_LARGE')
  const manyAttrs = '<MPD ' + Array.from({ length: 200 }, (_, i) => `a${i}="1"`).join(' ') + '/>'
  assertManifestError(() => parseDash(manyAttrs, BASE), 'MANIFEST_TOO_LARGE')
  const repeat = '<MPD><Period duration="PT1S"><AdaptationSet mimeType="video/mp4"><SegmentTemplate media="$Number$"><SegmentTimeline><S d="1" r="1000000000000"/></SegmentTimeline></SegmentTemplate><Representation id="v"/></AdaptationSet></Period></MPD>'
  assertManifestError(() => parseDash(repeat, BASE), 'MANIFEST_TOO_LARGE')
  const tiny = '<MPD><Period duration="P9999Y"><AdaptationSet mimeType="video/mp4"><SegmentTemplate media="$Number$" duration="1"/><Representation id="v"/></AdaptationSet></Period></MPD>'
  assertManifestError(() => parseDash(tiny, BASE), 'MANIFEST_TOO_LARGE')
})

test('ignores unknown template identifiers and over-wide format tags stay literal', () => {
  const xml = '<MPD><Period duration="PT2S"><AdaptationSet mimeType="video/mp4"><SegmentTemplate media="$Foo$-$Number%0999d$-$Number%03d$" duration="2"/><Representation id="v"/></AdaptationSet></Period></MPD>'
  const segment = rep(parseDash(xml, BASE), 'v').segments?.[0]
  assert.equal(segment?.url, 'https://api.example.com/x/player/$Foo$-$Number%0999d$-001')
})

test('skips representations without an id and tolerates missing attributes', () => {
  const xml = '<MPD><Period><AdaptationSet><Representation bandwidth="1" mimeType="video/mp4"/><Representation id="x" codecs="opus"/><Representation id="y"/></AdaptationSet></Period></MPD>'
  const mpd = parseDash(xml, BASE)
  assert.deepEqual(mpd.periods[0]?.representations.map(r => [r.id, r.kind, r.bandwidth, r.width, r.frameRate]), [['x', 'audio', 0, null, null]])
  assertManifestError(() => parseDash('<MPD><Period><AdaptationSet mimeType="video/mp4"><SegmentBase indexRange="9-1"/><Representation id="v"/></AdaptationSet></Period></MPD>', BASE), 'MANIFEST_INVALID')
  assertManifestError(() => parseDash('<MPD><Period><AdaptationSet mimeType="video/mp4"><SegmentTemplate duration="1"/><Representation id="v"/></AdaptationSet></Period></MPD>', BASE), 'MANIFEST_INVALID')
})
