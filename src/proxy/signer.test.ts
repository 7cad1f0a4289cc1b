import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import { AppError } from '../errors.ts'
import { createLinkSigner } from './signer.ts'

const signer = createLinkSigner('s3cret')

function youtubeLikeUrl (): string {
  const sig = (n: number): string => randomBytes(n).toString('base64url')
  return `https://rr3---sn-4g5e6nsz.googlevideo.com/videoplayback?expire=1767225600&ei=${sig(18)}&ip=203.0.113.7&id=o-${sig(33)}` +
    `&itag=137&aitags=133%2C134%2C135%2C136%2C137%2C160&source=youtube&requiressl=yes&xpc=${sig(20)}&mh=aB&mm=31%2C29&mn=sn-4g5e6nsz%2Csn-4g5e7nzz` +
    `&ms=au%2Crdu&mv=m&mvi=3&pl=24&initcwndbps=1537500&vprv=1&svpuc=1&mime=video%2Fmp4&ns=${sig(18)}&rqh=1&gir=yes&clen=94214539&dur=634.566` +
    `&lmt=1700000000000000&mt=1767200000&fvip=5&keepalive=yes&fexp=51326932&c=WEB&sefc=1&txp=5535434&n=${sig(12)}` +
    `&sparams=expire%2Cei%2Cip%2Cid%2Caitags%2Csource%2Crequiressl%2Cxpc%2Cvprv%2Csvpuc%2Cmime%2Cns%2Crqh%2Cgir%2Cclen%2Cdur%2Clmt&sig=${sig(66)}` +
    `&lsparams=mh%2Cmm%2Cmn%2Cms%2Cmv%2Cmvi%2Cpl%2Cinitcwndbps&lsig=${sig(50)}`
}

function expectInvalid (fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof AppError && err.code === 'INVALID_SIGNATURE' && err.statusCode === 403)
}

test('round-trips the payload', () => {
  const token = signer.sign({
    route: 'proxy',
    url: 'https://cdn.example/v.mp4?x=1',
    headers: { Referer: 'https://www.bilibili.com/', 'User-Agent': 'UA' },
    urlExpiresAt: 1767225600,
    ref: { platform: 'bilibili', id: 'BV1xx411c7mD', formatId: '30080' },
    filename: '東京 🌃.mp4'
  }, 600)
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
  const p = signer.verify(token, 'proxy')
  assert.equal(p.url, 'https://cdn.example/v.mp4?x=1')
  assert.deepEqual(p.headers, { Referer: 'https://www.bilibili.com/', 'User-Agent': 'UA' })
  assert.equal(p.urlExpiresAt, 1767225600)
  assert.deepEqual(p.ref, { platform: 'bilibili', id: 'BV1xx411c7mD', formatId: '30080' })
  assert.equal(p.filename, '東京 🌃.mp4')
  assert.ok(Math.abs(p.expiresAt - (Date.now() / 1000 + 600)) < 2)
})

test('minimal payload gets defaults', () => {
  const p = signer.verify(signer.sign({ route: 'proxy', url: 'https://a.example/x' }, 60), 'proxy')
  assert.deepEqual(p.headers, {})
  assert.equal(p.ref, null)
  assert.equal(p.filename, null)
  assert.equal(p.urlExpiresAt, null)
})

test('credentials are never embedded in the readable token', () => {
  const token = signer.sign({ route: 'proxy', url: 'https://a.example/x', headers: { Cookie: 'SID=1', authorization: 'Bearer x', Referer: 'r' } }, 60)
  assert.deepEqual(signer.verify(token, 'proxy').headers, { Referer: 'r' })
})

test('a YouTube-length URL with headers stays well under 2 KB', () => {
  const url = youtubeLikeUrl()
  assert.ok(url.length > 900, String(url.length))
  const token = signer.sign({
    route: 'proxy',
    url,
    headers: { 'User-Agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', Origin: 'https://www.youtube.com', Referer: 'https://www.youtube.com/' },
    urlExpiresAt: 1767225600,
    ref: { platform: 'youtube', id: 'dQw4w9WgXcQ', formatId: '137' },
    filename: 'Rick Astley - Never Gonna Give You Up (Official Music Video).mp4'
  }, 21600)
  assert.ok(token.length < 1600, `token is ${token.length} chars for a ${url.length}-char URL`)
})

test('tampered, foreign, malformed and expired tokens are refused', () => {
  const token = signer.sign({ route: 'proxy', url: 'https://a.example/x' }, 60)
  const [body = '', sig = ''] = token.split('.')
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
  expectInvalid(() => signer.verify(`${flip(body, 3)}.${sig}`, 'proxy'))
  expectInvalid(() => signer.verify(`${body}.${flip(sig, 0)}`, 'proxy'))
  expectInvalid(() => createLinkSigner('other').verify(token, 'proxy'))
  for (const bad of ['', '.', 'abc', `${body}.`, `${body}.${sig}.x`, `${body}!.${sig}`, `${body}.${sig}A`, 'x'.repeat(20000)]) expectInvalid(() => signer.verify(bad, 'proxy'))
  expectInvalid(() => signer.verify(token, 'proxy', Date.now() + 61_000))
  assert.equal(signer.verify(token, 'proxy', Date.now() + 59_000).url, 'https://a.example/x')
})

test('only the canonical spelling of a signature verifies, not the 15 others that decode to the same bytes', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const token = signer.sign({ route: 'proxy', url: 'https://a.example/x' }, 60)
  const at = alphabet.indexOf(token.at(-1) ?? '')
  // the last of 22 characters carries 2 bits of the 128-bit MAC in its high bits; the low 4 are unused
  const spellings = Array.from({ length: 16 }, (_, low) => token.slice(0, -1) + (alphabet[(at & 0b110000) | low] ?? ''))
  const bytes = (t: string): string => Buffer.from(t.slice(-22), 'base64url').toString('hex')
  assert.equal(new Set(spellings.map(bytes)).size, 1, 'all 16 decode to the same MAC')
  assert.ok(spellings.includes(token))
  for (const t of spellings) {
    if (t === token) assert.equal(signer.verify(t, 'proxy').url, 'https://a.example/x')
    else expectInvalid(() => signer.verify(t, 'proxy'))
  }
})

test('a link verifies on the route class it was made for only', () => {
  const routes = ['proxy', 'hls', 'split'] as const
  for (const made of routes) {
    const token = signer.sign({ route: made, url: 'https://a.example/x' }, 60)
    for (const used of routes) {
      if (used === made) assert.equal(signer.verify(token, used).route, made)
      else assert.throws(() => signer.verify(token, used), (err: unknown) => err instanceof AppError && err.code === 'INVALID_SIGNATURE' && /made for the/.test(err.detail ?? ''))
    }
  }
})

test('a correctly signed body that is not a valid payload is refused', () => {
  // Forge MACs the way the signer does, to reach the payload checks behind the signature.
  const forge = (raw: Buffer): string => {
    const body = deflateRawSync(raw).toString('base64url')
    const mac = createHmac('sha256', 's3cret').update('vidgate:proxy-link:v2:').update(body).digest().subarray(0, 16)
    return `${body}.${mac.toString('base64url')}`
  }
  const future = Math.floor(Date.now() / 1000) + 60
  assert.equal(signer.verify(forge(Buffer.from(JSON.stringify({ k: 'proxy', u: 'https://a.example/x', e: future }))), 'proxy').url, 'https://a.example/x')
  const k = 'proxy'
  for (const bad of [{ k, u: 1, e: future }, { k, u: 'x' }, { k, u: 'x', e: future, h: { a: 1 } }, { k, u: 'x', e: future, r: ['a', 'b'] }, [1, 2], { u: 'x', e: future }, { k: 'files', u: 'x', e: future }]) {
    expectInvalid(() => signer.verify(forge(Buffer.from(JSON.stringify(bad))), 'proxy'))
  }
  expectInvalid(() => signer.verify(forge(Buffer.from('not json')), 'proxy'))
  expectInvalid(() => signer.verify(forge(Buffer.alloc(10 * 1024 * 1024, 32)), 'proxy'))
})

test('rejects an empty secret and a non-positive TTL', () => {
  assert.throws(() => createLinkSigner(''), TypeError)
  assert.throws(() => signer.sign({ route: 'proxy', url: 'x' }, 0), TypeError)
  assert.throws(() => signer.sign({ route: 'files' as 'proxy', url: 'x' }, 60), TypeError)
})
