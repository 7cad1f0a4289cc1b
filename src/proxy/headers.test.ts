import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildUpstreamHeaders, cleanFilename, contentDisposition, copiedResponseHeaders, isSafeHeaderValue } from './headers.ts'

const ASCII_HEADER = /^[\x20-\x7e]*$/

function filenameStar (value: string): string {
  const m = /filename\*=UTF-8''([A-Za-z0-9%!#$&+.^_`|~-]+)$/.exec(value)
  assert.ok(m !== null, value)
  return decodeURIComponent(m[1] ?? '')
}

test('Content-Disposition: ASCII fallback plus the exact UTF-8 name', () => {
  const cases: Array<[string, string]> = [
    ['clip.mp4', 'clip.mp4'],
    ['東京タワー.mp4', 'video.mp4'],
    ['Café – “best” (2024).webm', 'Cafe _ _best_ (2024).webm'],
    ['🎬🎬.mkv', 'video.mkv'],
    ['ab\'c*.mp4', 'ab\'c*.mp4'],
    ['50% off; "deal"', '50_ off_ _deal']
  ]
  for (const [name, fallback] of cases) {
    const v = contentDisposition(name)
    assert.ok(ASCII_HEADER.test(v), v)
    assert.ok(v.startsWith(`attachment; filename="${fallback}"; `), v)
    assert.equal(filenameStar(v), name)
  }
  assert.ok(contentDisposition('a.mp4', 'inline').startsWith('inline; '))
})

test('filenames cannot carry CR/LF, paths or lone surrogates', () => {
  const v = contentDisposition('a\r\nSet-Cookie: x=1\u0000/../b\\c\u2028.mp4')
  assert.ok(ASCII_HEADER.test(v), v)
  assert.equal(filenameStar(v), 'a Set-Cookie: x=1 .. b c .mp4')
  assert.equal(cleanFilename('\uD800bad'), '\uFFFDbad')
  assert.equal(filenameStar(contentDisposition('\uDC00x')), '\uFFFDx')
  assert.equal(cleanFilename('...'), 'video')
  assert.equal(cleanFilename('   '), 'video')
  assert.equal([...cleanFilename('字'.repeat(500))].length, 180)
})

test('upstream gets the format headers and our Range, never hop-by-hop or bad values', () => {
  const h = buildUpstreamHeaders({
    Referer: 'https://www.bilibili.com/',
    'User-Agent': 'UA',
    Connection: 'close',
    Host: 'evil',
    Range: 'bytes=0-',
    'Accept-Encoding': 'gzip',
    'X-Bad': 'a\r\nb',
    'Bad Name': 'x',
    'X-Uni': 'ü'
  }, 'bytes=5-', '"etag"')
  assert.deepEqual(h, { referer: 'https://www.bilibili.com/', 'user-agent': 'UA', 'accept-encoding': 'identity', range: 'bytes=5-', 'if-range': '"etag"' })
  assert.deepEqual(buildUpstreamHeaders({}, null, '"etag"'), { 'accept-encoding': 'identity' })
})

test('only safe response headers are copied', () => {
  const out = copiedResponseHeaders({
    'content-type': 'video/mp4',
    etag: '"x"',
    'cache-control': 'private, max-age=21000',
    'set-cookie': 'a=1',
    'access-control-allow-origin': '*',
    'last-modified': 'bad\u00ffvalue',
    server: 'gws'
  })
  assert.deepEqual(out, [['content-type', 'video/mp4'], ['etag', '"x"'], ['cache-control', 'private, max-age=21000']])
  assert.equal(isSafeHeaderValue('ok value\t1'), true)
  assert.equal(isSafeHeaderValue('x\ny'), false)
  assert.equal(isSafeHeaderValue('é'), false)
})
