// Property test of the playlist rewriter (workers/hls/hls-rewrite.ts) with
// hostile playlists: random tags (known, unknown, misspelt), random attribute
// lists, URIs at internal addresses and in other schemes, variable references,
// control bytes spliced anywhere, odd line ends and leading spaces. Every
// playlist is either refused with a ManifestError or rewritten so that every
// URI in it is one of the mapper's links and nothing else in it can be read
// as one; the output is plain (no control character, LF only) and is its own
// rewrite (the strict parser reads it back one way).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { rewriteHls } from '../../workers/hls/hls.ts'
import { strictAttributes } from '../../workers/hls/hls-lex.ts'
import { isManifestError } from '../../workers/manifest-error.ts'

const BASE = 'http://127.0.0.1:8081/hostile/index.m3u8?token=t'
const OURS = 'https://vidgate.test/api/v2/'

const INTERNAL = [
  'http://127.0.0.1:9/canary.ts', 'http://[::1]/k.bin', 'http://169.254.169.254/latest/meta-data', '//10.0.0.1/seg.ts', 'http://localhost/x.m3u8',
  'https://internal.corp/key', 'http://user:pw@10.1.1.1/a.ts', 'http://0x7f000001/a', 'file:///etc/passwd', 'data:text/plain,hi', 'skd://k',
  'concat:a.ts|b.ts', 'subfile:,,start,0,end,1,,:x.ts', 'javascript:alert(1)', '/abs/path.ts', 'rel.ts', '../up.m3u8', '{$v}/x.ts', 'a b.ts', '?q=1'
]
const CONTROL = ['\u0000', '\t', '\u000b', '\u000c', '\u001f', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029', '\ufeff', '\r']
const TAGS = [
  '#EXT-X-KEY', '#EXT-X-MAP', '#EXT-X-MEDIA', '#EXT-X-STREAM-INF', '#EXT-X-I-FRAME-STREAM-INF', '#EXT-X-SESSION-KEY', '#EXT-X-SESSION-DATA',
  '#EXT-X-PRELOAD-HINT', '#EXT-X-RENDITION-REPORT', '#EXT-X-PART', '#EXT-X-CONTENT-STEERING', '#EXT-X-DATERANGE', '#EXT-X-DEFINE', '#EXT-X-START',
  '#EXT-X-SERVER-CONTROL', '#EXT-X-PART-INF', '#EXT-X-FUTURE', '#EXT-X-key', '#EXTX-MAP', '#EXT-X-CUE-OUT'
]
const NAMES = [
  'URI', 'URI', 'URI', 'SERVER-URI', 'X-ASSET-URI', 'X-ASSET-LIST', 'METHOD', 'METHOD', 'IV', 'KEYFORMAT', 'TYPE', 'TYPE', 'GROUP-ID', 'NAME', 'BANDWIDTH',
  'CODECS', 'AUDIO', 'LANGUAGE', 'DATA-ID', 'VALUE', 'BYTERANGE', 'DURATION', 'TIME-OFFSET', 'INSTREAM-ID', 'QUERYPARAM', 'IMPORT', 'CLOSED-CAPTIONS',
  'PART-TARGET', 'HOLD-BACK', 'LAST-MSN', 'uri', 'X-Y'
]
const VALUES = [
  'AES-128', 'AES-128', 'NONE', 'SAMPLE-AES', 'AUDIO', 'SUBTITLES', 'CLOSED-CAPTIONS', 'PART', 'MAP', 'YES', 'NO', '1000', '0x0001', '"identity"',
  '"com.apple.streamingkeydelivery"', '"CC1"', '"g"', '"100@0"', '-1.5', '2.0', '"{$v}"', '"v"', '"token"', '"en"', '"avc1.64001f,mp4a.40.2"'
]

const junk = fc.string({ unit: 'binary', maxLength: 10 })
const uri = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INTERNAL) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...INTERNAL), junk).map(([a, b]) => a + b) }
)
const value = fc.oneof(
  { weight: 3, arbitrary: uri.map((u) => `"${u}"`) },
  { weight: 1, arbitrary: uri },
  { weight: 4, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 1, arbitrary: junk },
  { weight: 1, arbitrary: junk.map((j) => `"${j}"`) }
)
const attributes = fc.tuple(fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { minLength: 1, maxLength: 6 }), fc.constantFrom(',', ',', ',', ', ', ',,'))
  .map(([pairs, sep]) => pairs.map(([n, v]) => `${n}=${v}`).join(sep))
const line = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...TAGS), attributes).map(([t, a]) => `${t}:${a}`) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('1', '2.5', '4.', '-1', 'abc'), fc.option(fc.oneof(uri, junk))).map(([d, t]) => `#EXTINF:${d},${t ?? ''}`) },
  { weight: 4, arbitrary: uri },
  { weight: 1, arbitrary: fc.oneof(uri, junk).map((x) => `#${x}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('#EXT-X-ENDLIST', '#EXT-X-DISCONTINUITY', '#EXT-X-BYTERANGE:100@0', '#EXT-X-BYTERANGE:100', '#EXT-X-TARGETDURATION:4',
      '#EXT-X-VERSION:7', '#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z', '#EXT-X-GAP', '#EXT-X-SKIP:SKIPPED-SEGMENTS=1', '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-DEFINE:NAME="v",VALUE="http://127.0.0.1:9"', '#EXT-X-DEFINE:QUERYPARAM="token"', '#EXT-X-INDEPENDENT-SEGMENTS')
  },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(uri, junk), fc.constantFrom(...CONTROL), fc.oneof(uri, fc.constantFrom(...TAGS))).map(([a, c, b]) => a + c + b) }
)
// well-formed lines of each playlist kind whose URIs point at internal addresses
const httpUri = fc.constantFrom(...INTERNAL.filter((u) => !/^(file|data|skd|concat|subfile|javascript):/.test(u)))
const mediaLine = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('2', '2.5', '4.'), fc.option(fc.oneof(uri, junk)), httpUri).map(([d, t, u]) => `#EXTINF:${d},${t ?? ''}\n${u}`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-KEY:METHOD=AES-128,URI="${u}",IV=0x1`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-MAP:URI="${u}",BYTERANGE="100@0"`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-PART:DURATION=1.0,URI="${u}",INDEPENDENT=YES`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${u}"`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-RENDITION-REPORT:URI="${u}",LAST-MSN=1`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-DATERANGE:ID="i",CLASS="com.apple.hls.interstitial",X-ASSET-URI="${u}"`) }
)
const masterLine = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('"a"', '"http://127.0.0.1:9/"', 'NONE'), httpUri).map(([g, u]) => `#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=${g},CLOSED-CAPTIONS=${g}\n${u}`) },
  { weight: 2, arbitrary: fc.tuple(httpUri, httpUri).map(([n, u]) => `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="${n}",LANGUAGE="en",URI="${u}"`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="${u}"`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-SESSION-DATA:DATA-ID="d",URI="${u}"`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-SESSION-KEY:METHOD=AES-128,URI="${u}"`) },
  { weight: 1, arbitrary: httpUri.map((u) => `#EXT-X-CONTENT-STEERING:SERVER-URI="${u}"`) }
)
const body = (good: fc.Arbitrary<string>): fc.Arbitrary<string[]> => fc.array(fc.oneof({ weight: 8, arbitrary: good }, { weight: 1, arbitrary: line }), { maxLength: 24 })
const playlist = fc.tuple(
  fc.constantFrom('#EXTM3U', '#EXTM3U', '\uFEFF#EXTM3U', '#EXTM3U '),
  fc.oneof(body(mediaLine), body(masterLine)),
  fc.constantFrom('\n', '\n', '\r\n', '\r'),
  fc.constantFrom('', '', '', '', '', ' ')
).map(([header, lines, eol, lead]) => header + eol + lines.map((l) => lead + l.replace(/\n/g, eol) + eol).join(''))

const ATTRIBUTE_TAGS = new Set(['#EXT-X-KEY', '#EXT-X-MAP', '#EXT-X-MEDIA', '#EXT-X-STREAM-INF', '#EXT-X-I-FRAME-STREAM-INF', '#EXT-X-SESSION-KEY',
  '#EXT-X-SESSION-DATA', '#EXT-X-PRELOAD-HINT', '#EXT-X-RENDITION-REPORT', '#EXT-X-PART', '#EXT-X-START', '#EXT-X-SERVER-CONTROL', '#EXT-X-PART-INF'])
const VALUE_TAGS = new Set(['#EXTINF', '#EXT-X-VERSION', '#EXT-X-TARGETDURATION', '#EXT-X-MEDIA-SEQUENCE', '#EXT-X-DISCONTINUITY-SEQUENCE', '#EXT-X-PLAYLIST-TYPE',
  '#EXT-X-BYTERANGE', '#EXT-X-PROGRAM-DATE-TIME', '#EXT-X-BITRATE'])
const BARE_TAGS = new Set(['#EXTM3U', '#EXT-X-ENDLIST', '#EXT-X-DISCONTINUITY', '#EXT-X-GAP', '#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-I-FRAMES-ONLY'])

// Every URI-looking thing in out is one of links: URI lines and URI attributes
// are links; every other attribute value and tag value holds nothing a reader
// could take for an address (no ":", "//", "\", "%", "?" or "#").
function assertOnlyOurs (out: string, links: ReadonlySet<string>): number {
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/.test(out), `a control character in the output: ${JSON.stringify(out)}`)
  assert.ok(out.startsWith('#EXTM3U\n') && out.endsWith('\n'), JSON.stringify(out))
  let uris = 0
  for (const text of out.slice(0, -1).split('\n')) {
    assert.notEqual(text, '', 'no blank lines')
    if (!text.startsWith('#')) { assert.ok(links.has(text), `a URI line that is not ours: ${text}`); uris++; continue }
    const colon = text.indexOf(':')
    const tag = colon === -1 ? text : text.slice(0, colon)
    const rest = colon === -1 ? null : text.slice(colon + 1)
    if (BARE_TAGS.has(tag)) { assert.equal(rest, null, text); continue }
    assert.ok(rest !== null, text)
    if (VALUE_TAGS.has(tag)) { assert.match(rest, /^[0-9A-Z.,@:+-]*$/, text); continue }
    assert.ok(ATTRIBUTE_TAGS.has(tag), `a tag the rewriter does not model: ${text}`)
    for (const [name, attr] of strictAttributes(rest, text)) {
      if (name.includes('URI')) { assert.ok(links.has(attr.value), `a URI attribute that is not ours: ${text}`); uris++; continue }
      assert.ok(!/[:\\%?#]|\/\//.test(attr.value), `${name} could be read as an address: ${text}`)
    }
  }
  return uris
}

test('hostile playlists are refused or rewritten to our links only, in a form the strict parser reads back unchanged', () => {
  let accepted = 0
  let withUris = 0
  let refusedCount = 0
  fc.assert(fc.property(playlist, (text) => {
    const links = new Set<string>()
    let out: string
    try {
      out = rewriteHls(text, BASE, (url, kind) => {
        assert.ok(url.startsWith('http://') || url.startsWith('https://'), `the mapper was handed ${url}`)
        const link = `${OURS}${kind === 'variant' || kind === 'media' || kind === 'iframe' ? 'hls' : 'proxy'}/${links.size}/seg.ts`
        links.add(link)
        return link
      })
    } catch (err) {
      assert.ok(isManifestError(err), `not a ManifestError: ${String(err)}`)
      refusedCount++
      return
    }
    accepted++
    if (assertOnlyOurs(out, links) > 0) withUris++
    assert.equal(rewriteHls(out, `${OURS}hls/x`, (url) => url), out, 'the output is its own rewrite')
  }), { numRuns: 3000 })
  // the property held over real outputs, not only over refusals
  assert.ok(accepted >= 300 && withUris >= 150 && refusedCount >= 300, `accepted ${accepted}, with URIs ${withUris}, refused ${refusedCount}`)
})

test('each kind of hostile line alone: refused, or dropped, or rewritten to ours', () => {
  const cases: Array<[string, 'refused' | 'ours']> = [
    ['#EXTM3U\n# comment\u0000http://127.0.0.1:9/canary.ts\n#EXTINF:1,\na.ts\n', 'refused'],
    ['#EXTM3U\n#EXTINF:1,title\u2028http://127.0.0.1:9/canary.ts\na.ts\n', 'refused'],
    ['#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="http://127.0.0.1:9/k\n#EXTINF:1,\na.ts\n', 'refused'],
    ['#EXTM3U\n#EXT-X-MAP:URI="file:///etc/passwd"\n#EXTINF:1,\na.ts\n', 'refused'],
    ['#EXTM3U\n#EXT-X-UNKNOWN:URI="http://127.0.0.1:9/x"\n#EXTINF:1,\na.ts\n', 'ours'],
    ['#EXTM3U\n#EXT-X-DATERANGE:ID="a",START-DATE="2024-01-01T00:00:00Z",X-ASSET-URI="http://127.0.0.1:9/ad.m3u8"\n#EXTINF:1,\na.ts\n', 'ours'],
    ['#EXTM3U\n#EXT-X-START:TIME-OFFSET=0,URI="http://127.0.0.1:9/x"\n#EXTINF:1,\na.ts\n', 'ours'],
    ['#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI="http://127.0.0.1:9/steer"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n', 'ours'],
    ['#EXTM3U\n#EXT-X-SESSION-DATA:DATA-ID="x",URI="http://127.0.0.1:9/data.json"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://127.0.0.1:9/v.m3u8\n', 'ours']
  ]
  for (const [text, expected] of cases) {
    const links = new Set<string>()
    let out: string | null = null
    try {
      out = rewriteHls(text, BASE, (_url, kind) => { const l = `${OURS}${kind}/${links.size}`; links.add(l); return l })
    } catch (err) {
      assert.ok(isManifestError(err), String(err))
    }
    assert.equal(out === null ? 'refused' : 'ours', expected, JSON.stringify(text))
    if (out !== null) {
      assertOnlyOurs(out, links)
      assert.ok(!out.includes('127.0.0.1'), out)
    }
  }
})
