// The title headers' encodings: safe on any HTTP stack whatever the title holds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { asciiTitle, encodedTitle } from './compat-headers.ts'
import { vrchatFilename } from './compat.ts'

const PRINTABLE = /^[\x20-\x7e]*$/

test('X-Video-Title is the first 100 characters, ASCII-folded; the encoded twin is exact', () => {
  const cases = ['Ünïcödé', '中文タイトル😀', 'a\r\nSet-Cookie: x=1', '\u0000\u001f\u007f\u0085\u2028\u2029', '\uD800 lone \uDC00', 'ﬁ ＡＢＣ ²', '']
  for (const title of cases) {
    const folded = asciiTitle(title)
    assert.match(folded, PRINTABLE, JSON.stringify(title))
    const encoded = encodedTitle(title)
    assert.match(encoded, /^UTF-8''[A-Za-z0-9%!#$&+\-.^_`|~]*$/, JSON.stringify(title))
    assert.equal(decodeURIComponent(encoded.slice(7)), title.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'), JSON.stringify(title))
  }
  assert.equal(asciiTitle('Ünïcödé'), 'Unicode')
  assert.equal(asciiTitle('ﬁ ＡＢＣ ²'), 'fi ABC 2', 'compatibility forms fold too')
  assert.equal(asciiTitle('a\r\nSet-Cookie: x=1'), 'a  Set-Cookie: x=1')
  // 100 characters as the original cut them (code points: an emoji is one)
  const long = '😀'.repeat(60) + 'é'.repeat(60)
  assert.equal(Array.from(decodeURIComponent(encodedTitle(long).slice(7))).length, 100)
  assert.equal(asciiTitle(long), '?'.repeat(60) + 'e'.repeat(40))
})

test('VRChat file names follow the original\'s rules', () => {
  assert.equal(vrchatFilename('It\'s a "Title" – ünïcödé/../x'), 'Its_a_Title_unicode..x')
  assert.equal(vrchatFilename('中文'), 'video')
  assert.equal(vrchatFilename('  a   b  '), 'a_b')
})
