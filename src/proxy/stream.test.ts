import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { get, sha256, startProxyFixture } from '../testing/proxy.ts'
import type { ProxyFixture } from '../testing/proxy.ts'

const SIZE = 32 * 1024 * 1024
let fx: ProxyFixture

before(async () => { fx = await startProxyFixture(SIZE) })
after(async () => {
  await fx.close()
  assert.deepEqual(fx.errors(), [], 'unhandled errors were logged')
})

describe('proxy streaming', () => {
  test('full body: 200, exact bytes, safe headers only', async () => {
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }))
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-length'], String(SIZE))
    assert.equal(r.headers['accept-ranges'], 'bytes')
    assert.equal(r.headers['content-type'], 'video/mp4')
    assert.equal(r.headers.etag, '"v1"')
    assert.equal(r.headers['set-cookie'], undefined)
    assert.equal(r.headers['x-origin-private'], undefined)
    assert.equal(r.headers['transfer-encoding'], undefined)
    assert.equal(sha256(r.body), sha256(fx.data))
    assert.equal(fx.proxy.inflight(), 0)
  })

  test('ranges: 206 with exact Content-Range and bytes', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=100-199', 100, 199], ['bytes=0-', 0, SIZE - 1], ['bytes=-500', SIZE - 500, SIZE - 1],
      ['bytes=5000000-15000000', 5000000, 15000000], [`bytes=${SIZE - 10}-${SIZE + 1000}`, SIZE - 10, SIZE - 1]
    ]
    for (const [range, s, e] of cases) {
      const r = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }), { headers: { range } })
      assert.equal(r.status, 206, range)
      assert.equal(r.headers['content-range'], `bytes ${s}-${e}/${SIZE}`, range)
      assert.equal(r.headers['content-length'], String(e - s + 1), range)
      assert.equal(sha256(r.body), sha256(fx.data.subarray(s, e + 1)), range)
    }
    assert.equal(fx.lastRequest('/media/plain').headers.range, `bytes=${SIZE - 10}-${SIZE + 1000}`)
  })

  test('several ranges get the whole file with 200', async () => {
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }), { headers: { range: 'bytes=0-1,5-9' } })
    assert.equal(r.status, 200)
    assert.equal(r.body.length, SIZE)
  })

  test('unsatisfiable range: 416 JSON with bytes */size', async () => {
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }), { headers: { range: `bytes=${SIZE}-` } })
    assert.equal(r.status, 416)
    assert.equal(r.headers['content-range'], `bytes */${SIZE}`)
    assert.equal(JSON.parse(r.body.toString()).code, 'RANGE_NOT_SATISFIABLE')
  })

  test('HEAD: headers and length, no body', async () => {
    const full = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }), { method: 'HEAD' })
    assert.equal(full.status, 200)
    assert.equal(full.headers['content-length'], String(SIZE))
    assert.equal(full.body.length, 0)
    assert.equal(fx.lastRequest('/media/plain').method, 'HEAD')
    const part = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }), { method: 'HEAD', headers: { range: 'bytes=10-19' } })
    assert.equal(part.status, 206)
    assert.equal(part.headers['content-length'], '10')
    assert.equal(part.headers['content-range'], `bytes 10-19/${SIZE}`)
    fx.origin.behave('nohead', { noHead: true })
    const fallback = await get(fx.proxy.port, fx.link({ url: fx.media('nohead') }), { method: 'HEAD' })
    assert.equal(fallback.status, 200)
    assert.equal(fallback.headers['content-length'], String(SIZE))
    assert.deepEqual(fx.origin.requests.filter((x) => x.path === '/media/nohead').map((x) => x.method), ['HEAD', 'GET'])
  })

  test('long signed links pass although they exceed MAX_URL_LENGTH', async () => {
    const path = fx.link({ url: `${fx.media('plain')}?pad=${randomBytes(2400).toString('base64url')}`, headers: { 'User-Agent': 'ua' } })
    assert.ok(path.length > 2048)
    const r = await get(fx.proxy.port, path, { headers: { range: 'bytes=0-9' } })
    assert.equal(r.status, 206)
    assert.equal(sha256(r.body), sha256(fx.data.subarray(0, 10)))
  })

  test('an upstream that ignores Range is cut locally', async () => {
    fx.origin.behave('norange', { ignoreRange: true })
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('norange') }), { headers: { range: 'bytes=1000000-1999999' } })
    assert.equal(r.status, 206)
    assert.equal(r.headers['content-range'], `bytes 1000000-1999999/${SIZE}`)
    assert.equal(sha256(r.body), sha256(fx.data.subarray(1000000, 2000000)))
    const bad = await get(fx.proxy.port, fx.link({ url: fx.media('norange') }), { headers: { range: `bytes=${SIZE + 5}-` } })
    assert.equal(bad.status, 416)
  })

  test('chunked upstream (no length) is relayed chunked', async () => {
    fx.origin.behave('chunked', { chunked: true })
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('chunked') }))
    assert.equal(r.status, 200)
    assert.equal(r.headers['transfer-encoding'], 'chunked')
    assert.equal(sha256(r.body), sha256(fx.data))
  })

  test('tampered and expired links: 403 INVALID_SIGNATURE, nothing fetched', async () => {
    const before = fx.origin.requests.length
    const token = fx.signer.sign({ route: 'proxy', url: fx.media('plain') }, 60)
    const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6)
    const expired = fx.signer.sign({ route: 'proxy', url: fx.media('plain') }, 0.001)
    await new Promise((resolve) => setTimeout(resolve, 5))
    for (const t of [flipped, expired, 'garbage', `${token}x`]) {
      const r = await get(fx.proxy.port, `/api/v2/proxy/${t}`)
      assert.equal(r.status, 403, t)
      assert.equal(JSON.parse(r.body.toString()).code, 'INVALID_SIGNATURE')
    }
    assert.equal(fx.origin.requests.length, before)
  })

  test('client headers never reach the origin; the format headers do', async () => {
    await get(fx.proxy.port, fx.link({ url: fx.media('plain'), headers: { Referer: 'https://www.bilibili.com/', 'User-Agent': 'vidgate-test' } }), {
      headers: { cookie: 'session=abc', authorization: 'Bearer t', 'x-api-key': 'k', 'x-forwarded-for': '1.2.3.4', range: 'bytes=0-9', 'if-range': '"v1"' }
    })
    const seen = fx.lastRequest('/media/plain').headers
    assert.equal(seen.referer, 'https://www.bilibili.com/')
    assert.equal(seen['user-agent'], 'vidgate-test')
    assert.equal(seen.range, 'bytes=0-9')
    assert.equal(seen['if-range'], '"v1"')
    for (const h of ['cookie', 'authorization', 'x-api-key', 'x-forwarded-for']) assert.equal(seen[h], undefined, h)
  })

  test('upstream failures before the first byte become JSON errors', async () => {
    const cases: Array<[string, number, string]> = [
      [`${fx.origin.base}/status/404`, 502, 'UPSTREAM_ERROR'],
      [`${fx.origin.base}/status/500`, 502, 'UPSTREAM_ERROR'],
      [`${fx.origin.base}/status/429`, 429, 'UPSTREAM_RATE_LIMITED'],
      [`${fx.origin.base}/status/403`, 502, 'UPSTREAM_ERROR'],
      [`${fx.origin.base}/hang`, 504, 'UPSTREAM_TIMEOUT'],
      ['http://127.0.0.1:1/nothing', 502, 'UPSTREAM_ERROR'],
      ['http://127.0.0.1:2/nothing', 403, 'FORBIDDEN']
    ]
    for (const [url, status, code] of cases) {
      const r = await get(fx.proxy.port, fx.link({ url }))
      assert.equal(r.status, status, url)
      const body = JSON.parse(r.body.toString())
      assert.equal(body.code, code, url)
      assert.equal(typeof body.request_id, 'string')
    }
  })

  test('Content-Disposition: CJK/emoji names survive, CR/LF cannot inject', async () => {
    const name = '東京の夜 🌃 "quoted" – clip'
    const r = await get(fx.proxy.port, fx.link({ url: fx.media('plain') }, `?download=true&filename=${encodeURIComponent(name)}`), { headers: { range: 'bytes=0-0' } })
    assert.equal(r.status, 206)
    const cd = r.headers['content-disposition'] ?? ''
    assert.match(cd, /^attachment; filename="[\x20-\x7e]+\.mp4"; filename\*=UTF-8''[A-Za-z0-9%._~!#$&+^`|-]+$/)
    assert.equal(decodeURIComponent(cd.split("UTF-8''")[1] ?? ''), `${name}.mp4`)
    const evil = await get(fx.proxy.port, fx.link({ url: fx.media('plain'), filename: 'a\r\nSet-Cookie: pwn=1\r\nX-Evil: 1.mp4' }, '?download=1'), { headers: { range: 'bytes=0-0' } })
    assert.equal(evil.status, 206)
    assert.equal(evil.headers['set-cookie'], undefined)
    assert.equal(evil.headers['x-evil'], undefined)
    assert.match(evil.headers['content-disposition'] ?? '', /^attachment; filename="a Set-Cookie: pwn=1 X-Evil: 1\.mp4"/)
  })

  test('SSRF: non-allowed hosts may not reach private addresses, not even by redirect', async () => {
    const port = fx.origin.port
    const refused = [
      `http://localhost:${port}/media/plain`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:80/',
      'http://10.0.0.1/x',
      'http://0x7f.0.0.1:80/',
      'file:///etc/passwd',
      `${fx.origin.base}/redirect?to=${encodeURIComponent(`http://localhost:${port}/media/plain`)}`,
      `${fx.origin.base}/redirect?to=${encodeURIComponent('http://192.168.1.1/')}`,
      `${fx.origin.base}/redirect?to=${encodeURIComponent('http://[::ffff:127.0.0.1]/')}`
    ]
    for (const url of refused) {
      const r = await get(fx.proxy.port, fx.link({ url }))
      assert.equal(r.status, 403, url)
      assert.equal(JSON.parse(r.body.toString()).code, 'FORBIDDEN', url)
    }
    const ok = await get(fx.proxy.port, fx.link({ url: `${fx.origin.base}/redirect?to=${encodeURIComponent('/media/plain')}` }), { headers: { range: 'bytes=0-99' } })
    assert.equal(ok.status, 206)
    assert.equal(sha256(ok.body), sha256(fx.data.subarray(0, 100)))
  })
})
