import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { HLS_MAX_URIS, parseHls, rewriteHls, rewriteHlsParts } from './hls.ts'
import { isManifestError } from '../manifest-error.ts'
import type { HlsUriKind } from './hls.ts'

const FIXTURES = new URL('../../../workers/fixtures/', import.meta.url)
const BASE = 'https://media.example.com/show/ep1/index.m3u8'

function fixture (name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8')
}

function createRecorder () {
  const calls: Array<{ url: string, kind: HlsUriKind }> = []
  const mapUri = (url: string, kind: HlsUriKind): string => {
    calls.push({ url, kind })
    return `https://proxy.test/${kind}/${calls.length}`
  }
  return { calls, mapUri }
}

const p = (kind: string): string => `/p/${kind}`
const rewrite = (text: string): string => rewriteHls(text, BASE, (_url, kind) => p(kind))

function refused (text: string, code = 'MANIFEST_INVALID', why?: RegExp): void {
  assert.throws(() => rewriteHlsParts(text, BASE), (err: unknown) => {
    assert.ok(isManifestError(err), String(err))
    assert.equal(err.code, code, err.message)
    if (why !== undefined) assert.match(err.message, why)
    return true
  }, JSON.stringify(text))
}

// Every URI a reader could take from the output: URI lines and URI attributes.
function uriSites (text: string): string[] {
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (!line.startsWith('#')) out.push(line)
    else for (const m of line.matchAll(/(?:^|[:,])[A-Z0-9-]*URI=("[^"]*"|[^,]*)/g)) out.push((m[1] ?? '').replace(/"/g, ''))
  }
  return out
}

test('every fixture: every URI mapped, and the output is built from the parsed tags only', () => {
  for (const name of ['master.m3u8', 'media.m3u8', 'live.m3u8']) {
    const text = fixture(name)
    const { calls, mapUri } = createRecorder()
    const out = rewriteHls(text, BASE, mapUri)
    const mapped = new Set(calls.map((_, i) => `https://proxy.test/${calls[i]?.kind ?? ''}/${i + 1}`))
    for (const site of uriSites(out)) assert.ok(mapped.has(site), `${name}: ${site} is not one of ours`)
    for (const m of out.matchAll(/:\/\/|\/\/|skd:/g)) assert.ok(out.startsWith('://proxy.test/', m.index) || out.startsWith('//proxy.test/', m.index), `${name}: an upstream address survived:\n${out}`)
    assert.ok(!/^#(?!EXT)/m.test(out), `${name}: a comment survived`)
    assert.ok(out.startsWith('#EXTM3U\n') && out.endsWith('\n'))
  }
})

test('the master fixture: renditions, variants and I-frame streams are kept; steering, vendor tags and DRM session keys are not', () => {
  const out = rewrite(fixture('master.m3u8'))
  assert.equal(out, [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-SESSION-DATA:DATA-ID="com.example.lyrics",URI="/p/session-data"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="g0",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="/p/media"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="g0",NAME="Deutsch, Stereo",LANGUAGE="de",DEFAULT=NO,AUTOSELECT=YES,URI="/p/media"',
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="g1",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="/p/media"',
    '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="g2",NAME="CC1",LANGUAGE="en",INSTREAM-ID="CC1"',
    '#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970,AUDIO="g0",SUBTITLES="g1",CLOSED-CAPTIONS="g2"',
    '/p/variant',
    '#EXT-X-STREAM-INF:BANDWIDTH=2560000,AVERAGE-BANDWIDTH=2300000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30,AUDIO="g0",SUBTITLES="g1",CLOSED-CAPTIONS=NONE',
    '/p/variant',
    '#EXT-X-STREAM-INF:BANDWIDTH=7680000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,AUDIO="g0"',
    '/p/variant',
    '#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.5"',
    '/p/variant',
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,CODECS="avc1.4d401e",RESOLUTION=640x360,URI="/p/iframe"',
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=150000,CODECS="avc1.4d401f",RESOLUTION=1280x720,URI="/p/iframe"',
    ''
  ].join('\n'))
})

test('the media fixture: keys, maps, byte ranges, discontinuities and gaps stay in place; titles and cues go', () => {
  const out = rewrite(fixture('media.m3u8'))
  assert.equal(out, [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-TARGETDURATION:6',
    '#EXT-X-MEDIA-SEQUENCE:100',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-MAP:URI="/p/map",BYTERANGE="720@0"',
    '#EXT-X-KEY:METHOD=AES-128,URI="/p/key",IV=0x00000000000000000000000000000001',
    '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z',
    '#EXTINF:6.006,',
    '#EXT-X-BYTERANGE:1000@720',
    '/p/segment',
    '#EXTINF:6.006,',
    '#EXT-X-BYTERANGE:1200',
    '/p/segment',
    '#EXTINF:5.5,',
    '#EXT-X-BYTERANGE:900',
    '/p/segment',
    '#EXT-X-DISCONTINUITY',
    '#EXT-X-KEY:METHOD=AES-128,URI="/p/key"',
    '#EXT-X-MAP:URI="/p/map"',
    '#EXTINF:4,',
    '/p/segment',
    '#EXT-X-KEY:METHOD=NONE',
    '#EXTINF:4.000,',
    '#EXT-X-GAP',
    '/p/segment',
    '#EXTINF:2.5,',
    '/p/segment',
    '#EXT-X-ENDLIST',
    ''
  ].join('\n'))
})

test('low-latency parts, preload hints and rendition reports are rewritten; blocking-reload controls are not offered', () => {
  const out = rewrite(fixture('live.m3u8'))
  assert.match(out, /^#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=3\.0$/m)
  assert.match(out, /^#EXT-X-PART-INF:PART-TARGET=1\.0$/m)
  assert.equal(out.match(/^#EXT-X-PART:DURATION=1\.0,URI="\/p\/segment"/gm)?.length, 3)
  assert.match(out, /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="\/p\/segment"$/m)
  assert.match(out, /^#EXT-X-RENDITION-REPORT:URI="\/p\/media",LAST-MSN=2682,LAST-PART=1$/m)
  assert.ok(!out.includes('CAN-BLOCK-RELOAD') && !out.includes('CAN-SKIP'))
  refused('#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:1,\na.ts\n', 'MANIFEST_UNSUPPORTED')
})

test('passes absolute URLs and the right kind for each URI', () => {
  const seen = new Map<HlsUriKind, string[]>()
  const mapUri = (url: string, kind: HlsUriKind): string => {
    seen.set(kind, [...(seen.get(kind) ?? []), url])
    return 'https://proxy.test/x'
  }
  rewriteHls(fixture('master.m3u8'), BASE, mapUri)
  rewriteHls(fixture('media.m3u8'), BASE, mapUri)
  rewriteHls(fixture('live.m3u8'), BASE, mapUri)
  rewriteHls('#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="next-init.mp4"\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin",KEYFORMAT="identity"\n', BASE, mapUri)
  rewriteHls('#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI="/session.key"\n', BASE, mapUri)
  assert.deepEqual([...seen.keys()].sort(), ['iframe', 'key', 'map', 'media', 'segment', 'session-data', 'session-key', 'variant'])
  assert.deepEqual(seen.get('variant')?.slice(0, 2), [
    'https://media.example.com/show/ep1/video/360p/index.m3u8',
    'https://media.example.com/abs/video/720p/index.m3u8?token=a%2Cb&x=1'
  ])
  assert.ok(seen.get('map')?.includes('https://media.example.com/show/ep1/next-init.mp4'))
  assert.ok(seen.get('media')?.includes('https://media.example.com/show/720p/live.m3u8'), 'rendition report')
  assert.ok(seen.get('segment')?.includes('https://media.example.com/show/ep1/seg2683.part1.m4s'), 'preload hint')
  assert.deepEqual(seen.get('session-key'), ['https://media.example.com/session.key'])
  for (const urls of seen.values()) for (const url of urls) assert.ok(URL.canParse(url), url)
})

test('control characters anywhere refuse the playlist: NUL in a comment, tabs, DEL, NEL, U+2028, a BOM past the start', () => {
  const segment = '#EXTINF:1,\na.ts\n'
  for (const c of ['\u0000', '\t', '\u0001', '\u000b', '\u000c', '\u001f', '\u007f', '\u0085', '\u009f', '\u2028', '\u2029', '\uFEFF']) {
    refused(`#EXTM3U\n# a comment${c}http://10.0.0.1/seg.ts\n${segment}`, 'MANIFEST_INVALID', /control character/)
    refused(`#EXTM3U\n#EXTINF:1,title${c}http://10.0.0.1/seg.ts\na.ts\n`, 'MANIFEST_INVALID', /control character/)
    refused(`#EXTM3U\n${segment}a${c}.ts\n`, 'MANIFEST_INVALID', /control character/)
  }
  assert.equal(rewrite('\uFEFF#EXTM3U\r\n#EXTINF:1,\r\na.ts\r\n'), '#EXTM3U\n#EXTINF:1,\n/p/segment\n', 'a leading BOM and CRLF are fine')
})

test('malformed attribute lists refuse the playlist', () => {
  for (const attrs of [
    'METHOD=AES-128,URI="k.bin', // unterminated
    'METHOD=AES-128,URI="a",URI="b"', // repeated name
    'METHOD=AES-128,uri="k"', // lower-case name
    'METHOD=AES-128,URI="k",', // trailing comma
    'METHOD=AES-128,,URI="k"', // empty pair
    'METHOD=AES-128 URI="k"', // no comma
    'METHOD=AES-128,URI "k"', // no "="
    'METHOD=,URI="k"', // empty value
    'METHOD=AES-128,URI=k"x"' // a quote inside a bare value
  ]) refused(`#EXTM3U\n#EXT-X-KEY:${attrs}\n#EXTINF:1,\na.ts\n`, 'MANIFEST_INVALID', /attribute list/)
  refused('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="a\nv.m3u8\n', 'MANIFEST_INVALID', /attribute list/)
  refused('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=lots\nv.m3u8\n', 'MANIFEST_INVALID', /BANDWIDTH/)
  assert.equal(rewrite('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, URI=k.bin ,IV=0x1\n#EXTINF:1,\na.ts\n'), '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="/p/key",IV=0x1\n#EXTINF:1,\n/p/segment\n', 'spaces around commas and a bare URI are read one way only')
})

test('unknown tags and unknown attributes are dropped, URI-bearing or not', () => {
  const internal = 'http://169.254.169.254/latest'
  const out = rewrite([
    '#EXTM3U',
    `#EXT-X-FUTURE-THING:URI="${internal}"`,
    `#EXT-X-DATERANGE:ID="ad",CLASS="com.apple.hls.interstitial",START-DATE="2024-05-01T10:00:00Z",X-ASSET-URI="${internal}/ad.m3u8"`,
    `#EXT-X-START:TIME-OFFSET=-3.5,PRECISE=YES,URI="${internal}"`,
    `#EXT-X-MAP:URI="init.mp4",X-BACKUP-URI="${internal}/init.mp4"`,
    `#EXT-X-CUE-OUT:${internal}`,
    `#EXTINF:1,${internal}`,
    `#EXT-X-PROGRAM-DATE-TIME:${internal}`,
    `#EXT-X-part:URI="${internal}"`,
    `#EXTX-KEY:METHOD=AES-128,URI="${internal}"`,
    'a.ts',
    `#${internal}`,
    `${internal}/no-extinf.ts`
  ].join('\n'))
  assert.equal(out, '#EXTM3U\n#EXT-X-START:TIME-OFFSET=-3.5,PRECISE=YES\n#EXT-X-MAP:URI="/p/map"\n#EXTINF:1,\n/p/segment\n')
})

test('master tags: content steering is dropped, DRM keys are dropped, names are plain text and group ids are ours', () => {
  const out = rewrite([
    '#EXTM3U',
    '#EXT-X-CONTENT-STEERING:SERVER-URI="https://steer.example/x",PATHWAY-ID="A"',
    '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key",KEYFORMAT="com.apple.streamingkeydelivery"',
    '#EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="http://10.0.0.1/x <b>"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="http://10.0.0.1/",NAME="//10.0.0.1:80/a?b#c",LANGUAGE="en\'x",URI="a.m3u8"',
    '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="cc",INSTREAM-ID="CC1",URI="cc.m3u8"',
    '#EXT-X-MEDIA:TYPE=BOGUS,GROUP-ID="x",NAME="x",URI="bogus.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="http://10.0.0.1/",PATHWAY-ID="A",STABLE-VARIANT-ID="//x",CODECS="avc1/x"',
    'v.m3u8'
  ].join('\n'))
  assert.equal(out, [
    '#EXTM3U',
    '#EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="http10.0.0.1x b"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="g0",NAME="10.0.0.180abc",URI="/p/media"',
    '#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="g0"',
    '/p/variant',
    ''
  ].join('\n'))
})

test('keys: METHOD is required and known, identity keys need an http(s) URI, other key formats are dropped', () => {
  refused('#EXTM3U\n#EXT-X-KEY:URI="k"\n#EXTINF:1,\na.ts\n', 'MANIFEST_INVALID', /METHOD/)
  refused('#EXTM3U\n#EXT-X-KEY:METHOD=ROT13,URI="k"\n#EXTINF:1,\na.ts\n', 'MANIFEST_UNSUPPORTED')
  refused('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128\n#EXTINF:1,\na.ts\n', 'MANIFEST_INVALID', /URI/)
  refused('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="data:text/plain;base64,AAAA"\n#EXTINF:1,\na.ts\n', 'MANIFEST_UNSUPPORTED')
  refused('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k",IV=12\n#EXTINF:1,\na.ts\n', 'MANIFEST_INVALID', /IV/)
  assert.equal(
    rewrite('#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,AAAA",KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k.bin",KEYFORMAT="identity",KEYFORMATVERSIONS="1/2"\n#EXT-X-KEY:METHOD=NONE,URI="http://10.0.0.1/"\n#EXTINF:1,\na.ts\n'),
    '#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="/p/key",KEYFORMAT="identity",KEYFORMATVERSIONS="1/2"\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:1,\n/p/segment\n'
  )
})

test('URIs must be http(s), and lines that read two ways are refused', () => {
  for (const uri of ['file:///etc/passwd', 'data:video/mp2t;base64,AAAA', 'concat:a.ts|b.ts', 'subfile:,,start,0,end,1,,:x.ts', 'javascript:alert(1)', 'ftp://x/a.ts']) {
    refused(`#EXTM3U\n#EXTINF:1,\n${uri}\n`, 'MANIFEST_UNSUPPORTED')
    refused(`#EXTM3U\n#EXT-X-MAP:URI="${uri}"\n#EXTINF:1,\na.ts\n`, 'MANIFEST_UNSUPPORTED')
  }
  refused('#EXTM3U\n#EXTINF:1,\nhttp://[::1\n', 'MANIFEST_INVALID')
  refused('#EXTM3U\n  #EXTINF:1,\na.ts\n', 'MANIFEST_INVALID', /leading spaces/)
  refused('#EXTM3U\n #EXT-X-KEY:METHOD=AES-128,URI="http://10.0.0.1/"\n#EXTINF:1,\na.ts\n', 'MANIFEST_INVALID', /leading spaces/)
  refused('#EXTM3U\n#EXTINF:1,\n#EXTINF:2,\na.ts\n', 'MANIFEST_INVALID', /second #EXTINF/)
  refused('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv.m3u8\n', 'MANIFEST_INVALID', /without its URI/)
  refused('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\na.ts\n', 'MANIFEST_INVALID', /both/)
  refused('#EXTM3U\n#EXT-X-ENDLIST:now\n', 'MANIFEST_INVALID', /no value/)
  for (const text of ['', 'hello', '<html>#EXTM3U</html>', '\n#EXTM3U\n', '#EXTM3U8\n', '#EXTM3U:x\n']) refused(text, 'MANIFEST_INVALID')
  assert.equal(rewrite('#EXTM3U  \n#EXTINF:3.5,\n  seg 1.ts  \n'), '#EXTM3U\n#EXTINF:3.5,\n/p/segment\n', 'spaces around a URI are not part of it')
})

test('variables: defined values and query parameters are substituted; imports and undefined references are refused', () => {
  const seen: string[] = []
  const base = 'https://media.example.com/live/index.m3u8?token=abc'
  rewriteHls('#EXTM3U\n#EXT-X-DEFINE:NAME="host",VALUE="https://cdn.example.com"\n#EXT-X-DEFINE:QUERYPARAM="token"\n#EXTINF:1,\n{$host}/a.ts?t={$token}\n', base, (url) => { seen.push(url); return '/x' })
  assert.deepEqual(seen, ['https://cdn.example.com/a.ts?t=abc'])
  refused('#EXTM3U\n#EXT-X-DEFINE:IMPORT="host"\n#EXTINF:1,\n{$host}/a.ts\n', 'MANIFEST_UNSUPPORTED')
  refused('#EXTM3U\n#EXT-X-DEFINE:NAME="a",VALUE="1"\n#EXTINF:1,\n{$b}/a.ts\n', 'MANIFEST_INVALID', /undefined variable/)
  refused('#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM="missing"\n#EXTINF:1,\na.ts\n', 'MANIFEST_INVALID')
  refused('#EXTM3U\n#EXT-X-DEFINE:NAME="a",VALUE="1"\n#EXT-X-DEFINE:NAME="a",VALUE="2"\n', 'MANIFEST_INVALID', /twice/)
})

test('what follows the last segment stays, a lone #EXTINF does not; a URI without #EXTINF or #EXT-X-STREAM-INF is skipped', () => {
  assert.equal(rewrite('#EXTM3U\n#EXTINF:1,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\n'), '#EXTM3U\n#EXTINF:1,\n/p/segment\n#EXT-X-DISCONTINUITY\n')
  assert.equal(rewrite('#EXTM3U\nstray.ts\n#EXTINF:1,\na.ts\n'), '#EXTM3U\n#EXTINF:1,\n/p/segment\n')
  assert.equal(rewrite('#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="a.m3u8"\nstray.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\n'), '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="g0",NAME="x",URI="/p/media"\n')
})

test('encodes quotes, spaces and line breaks a mapper might return, and refuses one that would make a comment', () => {
  const out = rewriteHls('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:1,\na.ts\n', BASE, () => 'https://p.test/a"b\nc\r d')
  assert.equal(out, '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="https://p.test/a%22b%0Ac%0D%20d"\n#EXTINF:1,\nhttps://p.test/a%22b%0Ac%0D%20d\n')
  assert.throws(() => rewriteHls('#EXTM3U\n#EXTINF:1,\na.ts\n', BASE, () => '#EXT-X-ENDLIST'), TypeError)
})

test('a rewritten playlist parses to the mapped URLs with its byte ranges', () => {
  const out = rewriteHls(fixture('media.m3u8'), BASE, url => `https://proxy.test/s?u=${encodeURIComponent(url)}`)
  const media = parseHls(out, 'https://proxy.test/playlist')
  assert.equal(media.kind, 'media')
  if (media.kind !== 'media') return
  assert.equal(media.segments[0]?.uri, `https://proxy.test/s?u=${encodeURIComponent('https://media.example.com/show/ep1/media.mp4')}`)
  assert.deepEqual(media.segments[1]?.byterange, { length: 1200, offset: 1720 })
  assert.equal(media.segments.length, 6)
})

test('one slot per distinct URI and kind; more than HLS_MAX_URIS distinct URIs is refused', () => {
  const parts = rewriteHlsParts('#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:10@0\nm.mp4\n#EXTINF:1,\n#EXT-X-BYTERANGE:10\nm.mp4\n#EXT-X-MAP:URI="m.mp4"\n', BASE)
  assert.deepEqual(parts.uris, [{ url: 'https://media.example.com/show/ep1/m.mp4', kind: 'segment' }, { url: 'https://media.example.com/show/ep1/m.mp4', kind: 'map' }])
  assert.deepEqual(parts.slots, [0, 0, 1])
  assert.equal(parts.parts.length, 4)
  const many = '#EXTM3U\n' + Array.from({ length: HLS_MAX_URIS + 1 }, (_, i) => `#EXTINF:1,\n${i}.ts\n`).join('')
  refused(many, 'MANIFEST_TOO_LARGE')
})

test('rejects a relative base URL', () => {
  assert.throws(() => rewriteHls('#EXTM3U\n', 'relative.m3u8', u => u), isManifestError)
})
