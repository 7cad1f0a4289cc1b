import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseHls, rewriteHls } from './hls.ts'
import { isManifestError } from '../manifest-error.ts'
import type { HlsUriKind } from './hls.ts'

const FIXTURES = new URL('../../../workers/fixtures/', import.meta.url)
const BASE = 'https://media.example.com/show/ep1/index.m3u8'
const URI_ATTRIBUTE = /(?:SERVER-)?URI=("[^"]*"|[^,]*)/g

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

function originalUris (text: string): string[] {
  const uris: string[] = []
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim()
    if (trimmed === '') continue
    if (!trimmed.startsWith('#')) uris.push(trimmed)
    else for (const match of trimmed.matchAll(URI_ATTRIBUTE)) uris.push((match[1] ?? '').replace(/"/g, ''))
  }
  return uris
}

function withoutUris (line: string): string {
  return line.replace(URI_ATTRIBUTE, 'URI=<>')
}

test('rewrites every URI in every fixture and leaves all other bytes alone', () => {
  for (const name of ['master.m3u8', 'media.m3u8', 'live.m3u8']) {
    const text = fixture(name)
    const { calls, mapUri } = createRecorder()
    const out = rewriteHls(text, BASE, mapUri)
    const before = text.split('\n')
    const after = out.split('\n')
    assert.equal(after.length, before.length, name)
    const originals = originalUris(text)
    assert.equal(calls.length, originals.length, `${name}: one mapUri call per URI`)
    for (const uri of originals) assert.ok(!out.includes(uri), `${name}: ${uri} survived`)
    for (const [i, line] of before.entries()) {
      const rewritten = after[i] ?? ''
      if (line.trim() !== '' && !line.startsWith('#')) {
        assert.match(rewritten, /^https:\/\/proxy\.test\/(variant|segment)\/\d+$/)
      } else if (line.includes('URI=')) {
        assert.equal(withoutUris(rewritten), withoutUris(line), `${name}: only the URI changes`)
        assert.match(rewritten, /URI="https:\/\/proxy\.test\//)
      } else {
        assert.equal(rewritten, line, `${name}: line ${i} unchanged`)
      }
    }
  }
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
  rewriteHls('#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="next-init.mp4"\n', BASE, mapUri)
  assert.deepEqual([...seen.keys()].sort(), ['iframe', 'key', 'map', 'media', 'segment', 'session-data', 'session-key', 'steering', 'variant'])
  assert.deepEqual(seen.get('variant')?.slice(0, 2), [
    'https://media.example.com/show/ep1/video/360p/index.m3u8',
    'https://media.example.com/abs/video/720p/index.m3u8?token=a%2Cb&x=1'
  ])
  assert.ok(seen.get('map')?.includes('https://media.example.com/show/ep1/next-init.mp4'))
  assert.ok(seen.get('media')?.includes('https://media.example.com/show/720p/live.m3u8'), 'rendition report')
  assert.ok(seen.get('segment')?.includes('https://media.example.com/show/ep1/seg2683.part1.m4s'), 'preload hint')
  assert.deepEqual(seen.get('steering'), ['https://media.example.com/steering?video=abc'])
  for (const urls of seen.values()) for (const url of urls) assert.ok(URL.canParse(url), url)
})

test('keeps BYTERANGE tags, CRLF line endings and the BOM', () => {
  const text = '\uFEFF#EXTM3U\r\n#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"\r\n#EXTINF:2,\r\n#EXT-X-BYTERANGE:100@720\r\nmedia.mp4\r\n'
  const out = rewriteHls(text, BASE, (_url, kind) => `/p/${kind}`)
  assert.equal(out, '\uFEFF#EXTM3U\r\n#EXT-X-MAP:URI="/p/map",BYTERANGE="720@0"\r\n#EXTINF:2,\r\n#EXT-X-BYTERANGE:100@720\r\n/p/segment\r\n')
})

test('encodes quotes and line breaks a mapper might return', () => {
  const out = rewriteHls('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:1,\na.ts\n', BASE, () => 'https://p.test/a"b\nc\r')
  assert.equal(out, '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="https://p.test/a%22b%0Ac%0D"\n#EXTINF:1,\nhttps://p.test/a%22b%0Ac%0D\n')
  const parsed = parseHls(out, BASE)
  assert.equal(parsed.kind === 'media' ? parsed.segments.length : -1, 1)
})

test('refuses a mapper result that would turn a URI line into a comment', () => {
  assert.throws(() => rewriteHls('#EXTM3U\n#EXTINF:1,\na.ts\n', BASE, () => '#EXT-X-ENDLIST'), TypeError)
})

test('quotes an unquoted URI attribute and leaves valueless or empty ones', () => {
  const text = '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=key.bin,IV=0x1\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI=""\n'
  const out = rewriteHls(text, BASE, (_url, kind) => `/p/${kind}`)
  assert.equal(out, '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="/p/key",IV=0x1\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI=""\n')
})

test('a rewritten playlist parses to the mapped URLs', () => {
  const out = rewriteHls(fixture('media.m3u8'), BASE, url => `https://proxy.test/s?u=${encodeURIComponent(url)}`)
  const media = parseHls(out, 'https://proxy.test/playlist')
  assert.equal(media.kind, 'media')
  if (media.kind !== 'media') return
  assert.equal(media.segments[0]?.uri, `https://proxy.test/s?u=${encodeURIComponent('https://media.example.com/show/ep1/media.mp4')}`)
  assert.deepEqual(media.segments[1]?.byterange, { length: 1200, offset: 1720 })
})

test('rejects non-playlists and relative base URLs with ManifestError', () => {
  assert.throws(() => rewriteHls('<xml/>', BASE, u => u), isManifestError)
  assert.throws(() => rewriteHls('#EXTM3U\n', 'relative.m3u8', u => u), isManifestError)
})
