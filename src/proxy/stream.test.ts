import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createLinkSigner } from './signer.ts'
import type { LinkInput, ReextractRef } from './signer.ts'
import { createUpstream } from './upstream.ts'
import { proxyRoutes } from './routes.ts'
import { get, mediaBytes, sha256, startOrigin, startProxyServer } from './testing.ts'
import type { Origin, ProxyServer } from './testing.ts'
import type { MediaTarget } from './stream.ts'

const SIZE = 32 * 1024 * 1024
const data = mediaBytes(SIZE)
const signer = createLinkSigner('test-secret')
const upstream = createUpstream({ headersTimeoutMs: 1500 })
let origin: Origin
let proxy: ProxyServer
const refreshes: ReextractRef[] = []
const refreshTo = new Map<string, () => MediaTarget>()

const link = (input: LinkInput, query = ''): string => `/api/v2/proxy/${signer.sign(input, 60)}${query}`
const media = (name: string, gen?: number): string => `${origin.base}/media/${name}${gen === undefined ? '' : `/${gen}`}`
const lastRequest = (prefix: string): NonNullable<Origin['requests'][number]> => {
  const r = origin.requests.filter((x) => x.path.startsWith(prefix)).at(-1)
  assert.ok(r !== undefined, `origin saw no request for ${prefix}`)
  return r
}
const waitFor = async (check: () => boolean, ms = 3000): Promise<void> => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function socketBufferMax (): number {
  try {
    const tcp = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2])
    const core = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8').trim())
    return Math.max(tcp, core)
  } catch {
    return 4 * 1024 * 1024
  }
}

before(async () => {
  origin = await startOrigin(data, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://o')
    if (url.pathname === '/hang') return true
    if (url.pathname === '/redirect') { res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end(); return true }
    const status = /^\/status\/(\d{3})$/.exec(url.pathname)
    if (status !== null) { res.writeHead(Number(status[1])).end('upstream says no'); return true }
    return false
  })
  const allowHosts = [`127.0.0.1:${origin.port}`, '127.0.0.1:1']
  const resolveRef = async (ref: ReextractRef): Promise<MediaTarget> => {
    refreshes.push(ref)
    const next = refreshTo.get(ref.id)
    if (next === undefined) throw new Error('no refresh scripted')
    return next()
  }
  proxy = await startProxyServer(proxyRoutes({ signer, upstream, allowHosts, resolveRef }))
})

after(async () => {
  await proxy.close()
  await upstream.close()
  await origin.close()
})

describe('proxy streaming', () => {
  test('full body: 200, exact bytes, safe headers only', async () => {
    const r = await get(proxy.port, link({ url: media('plain') }))
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-length'], String(SIZE))
    assert.equal(r.headers['accept-ranges'], 'bytes')
    assert.equal(r.headers['content-type'], 'video/mp4')
    assert.equal(r.headers.etag, '"v1"')
    assert.equal(r.headers['set-cookie'], undefined)
    assert.equal(r.headers['x-origin-private'], undefined)
    assert.equal(r.headers['transfer-encoding'], undefined)
    assert.equal(sha256(r.body), sha256(data))
    assert.equal(proxy.pipeline.inflight(), 0)
  })

  test('ranges: 206 with exact Content-Range and bytes', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=100-199', 100, 199], ['bytes=0-', 0, SIZE - 1], ['bytes=-500', SIZE - 500, SIZE - 1],
      ['bytes=5000000-15000000', 5000000, 15000000], [`bytes=${SIZE - 10}-${SIZE + 1000}`, SIZE - 10, SIZE - 1]
    ]
    for (const [range, s, e] of cases) {
      const r = await get(proxy.port, link({ url: media('plain') }), { headers: { range } })
      assert.equal(r.status, 206, range)
      assert.equal(r.headers['content-range'], `bytes ${s}-${e}/${SIZE}`, range)
      assert.equal(r.headers['content-length'], String(e - s + 1), range)
      assert.equal(sha256(r.body), sha256(data.subarray(s, e + 1)), range)
    }
    assert.equal(lastRequest('/media/plain').headers.range, `bytes=${SIZE - 10}-${SIZE + 1000}`)
  })

  test('several ranges get the whole file with 200', async () => {
    const r = await get(proxy.port, link({ url: media('plain') }), { headers: { range: 'bytes=0-1,5-9' } })
    assert.equal(r.status, 200)
    assert.equal(r.body.length, SIZE)
  })

  test('unsatisfiable range: 416 JSON with bytes */size', async () => {
    const r = await get(proxy.port, link({ url: media('plain') }), { headers: { range: `bytes=${SIZE}-` } })
    assert.equal(r.status, 416)
    assert.equal(r.headers['content-range'], `bytes */${SIZE}`)
    assert.equal(JSON.parse(r.body.toString()).code, 'RANGE_NOT_SATISFIABLE')
  })

  test('HEAD: headers and length, no body', async () => {
    const full = await get(proxy.port, link({ url: media('plain') }), { method: 'HEAD' })
    assert.equal(full.status, 200)
    assert.equal(full.headers['content-length'], String(SIZE))
    assert.equal(full.body.length, 0)
    assert.equal(lastRequest('/media/plain').method, 'HEAD')
    const part = await get(proxy.port, link({ url: media('plain') }), { method: 'HEAD', headers: { range: 'bytes=10-19' } })
    assert.equal(part.status, 206)
    assert.equal(part.headers['content-length'], '10')
    assert.equal(part.headers['content-range'], `bytes 10-19/${SIZE}`)
  })

  test('an upstream that ignores Range is cut locally', async () => {
    origin.behave('norange', { ignoreRange: true })
    const r = await get(proxy.port, link({ url: media('norange') }), { headers: { range: 'bytes=1000000-1999999' } })
    assert.equal(r.status, 206)
    assert.equal(r.headers['content-range'], `bytes 1000000-1999999/${SIZE}`)
    assert.equal(sha256(r.body), sha256(data.subarray(1000000, 2000000)))
    const bad = await get(proxy.port, link({ url: media('norange') }), { headers: { range: `bytes=${SIZE + 5}-` } })
    assert.equal(bad.status, 416)
  })

  test('chunked upstream (no length) is relayed chunked', async () => {
    origin.behave('chunked', { chunked: true })
    const r = await get(proxy.port, link({ url: media('chunked') }))
    assert.equal(r.status, 200)
    assert.equal(r.headers['transfer-encoding'], 'chunked')
    assert.equal(sha256(r.body), sha256(data))
  })

  test('tampered and expired links: 403 INVALID_SIGNATURE, nothing fetched', async () => {
    const before = origin.requests.length
    const token = signer.sign({ url: media('plain') }, 60)
    const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6)
    const expired = signer.sign({ url: media('plain') }, 0.001)
    await new Promise((resolve) => setTimeout(resolve, 5))
    for (const t of [flipped, expired, 'garbage', `${token}x`]) {
      const r = await get(proxy.port, `/api/v2/proxy/${t}`)
      assert.equal(r.status, 403, t)
      assert.equal(JSON.parse(r.body.toString()).code, 'INVALID_SIGNATURE')
    }
    assert.equal(origin.requests.length, before)
  })

  test('client headers never reach the origin; the format headers do', async () => {
    await get(proxy.port, link({ url: media('plain'), headers: { Referer: 'https://www.bilibili.com/', 'User-Agent': 'vidgate-test' } }), {
      headers: { cookie: 'session=abc', authorization: 'Bearer t', 'x-api-key': 'k', 'x-forwarded-for': '1.2.3.4', range: 'bytes=0-9', 'if-range': '"v1"' }
    })
    const seen = lastRequest('/media/plain').headers
    assert.equal(seen.referer, 'https://www.bilibili.com/')
    assert.equal(seen['user-agent'], 'vidgate-test')
    assert.equal(seen.range, 'bytes=0-9')
    assert.equal(seen['if-range'], '"v1"')
    for (const h of ['cookie', 'authorization', 'x-api-key', 'x-forwarded-for']) assert.equal(seen[h], undefined, h)
  })

  test('client abort stops the upstream request', async () => {
    origin.behave('abort', { dripBytes: 65536, dripMs: 5 })
    const r = await get(proxy.port, link({ url: media('abort') }), { abortAfter: 256 * 1024 })
    assert.equal(r.error, 'aborted by test')
    await waitFor(() => lastRequest('/media/abort').closedEarly)
    assert.ok(lastRequest('/media/abort').sent < SIZE / 2)
    await waitFor(() => proxy.pipeline.inflight() === 0)
  })

  test('403 mid-stream: re-extracts once and resumes at the exact offset', async () => {
    origin.behave('exp', { gen: 1, resetAfter: 3_000_001, resets: 1 })
    refreshTo.set('exp1', () => ({ url: media('exp', 2), headers: {} }))
    const n = refreshes.length
    const r = await get(proxy.port, link({ url: media('exp', 1), ref: { platform: 'generic', id: 'exp1', formatId: 'f' } }))
    assert.equal(r.status, 200)
    assert.equal(refreshes.length, n + 1)
    assert.equal(sha256(r.body), sha256(data))
    const tail = origin.requests.filter((x) => x.path.startsWith('/media/exp')).slice(-2)
    assert.equal(tail[0]?.headers.range, 'bytes=3000001-' + String(SIZE - 1))
    assert.equal(tail[1]?.path, '/media/exp/2')
    assert.equal(tail[1]?.headers.range, 'bytes=3000001-' + String(SIZE - 1))
  })

  test('403 before any byte and an expired URL both re-extract first', async () => {
    origin.behave('exp2', { gen: 5 })
    refreshTo.set('exp2', () => ({ url: media('exp2', 5), headers: {} }))
    const r = await get(proxy.port, link({ url: media('exp2', 4), ref: { platform: 'generic', id: 'exp2', formatId: 'f' } }), { headers: { range: 'bytes=7-70000' } })
    assert.equal(r.status, 206)
    assert.equal(sha256(r.body), sha256(data.subarray(7, 70001)))
    const n = origin.requests.length
    const ahead = await get(proxy.port, link({ url: media('exp2', 4), urlExpiresAt: Date.now() / 1000 - 1, ref: { platform: 'generic', id: 'exp2', formatId: 'f' } }), { headers: { range: 'bytes=0-99' } })
    assert.equal(ahead.status, 206)
    assert.deepEqual(origin.requests.slice(n).map((x) => x.path), ['/media/exp2/5'])
  })

  test('a reset mid-stream resumes; one that keeps resetting cuts the connection', async () => {
    origin.behave('flaky', { resetAfter: 5_000_000, resets: 2 })
    const ok = await get(proxy.port, link({ url: media('flaky') }), { headers: { range: 'bytes=1000-' } })
    assert.equal(ok.status, 206)
    assert.equal(sha256(ok.body), sha256(data.subarray(1000)))
    origin.behave('broken', { resetAfter: 1_000_000 })
    const cut = await get(proxy.port, link({ url: media('broken') }))
    assert.equal(cut.status, 200)
    assert.notEqual(cut.error, null)
    assert.ok(cut.body.length < SIZE)
    assert.equal(sha256(cut.body), sha256(data.subarray(0, cut.body.length)))
    await waitFor(() => proxy.pipeline.inflight() === 0)
  })

  test('upstream failures before the first byte become JSON errors', async () => {
    const cases: Array<[string, number, string]> = [
      [`${origin.base}/status/404`, 502, 'UPSTREAM_ERROR'],
      [`${origin.base}/status/500`, 502, 'UPSTREAM_ERROR'],
      [`${origin.base}/status/429`, 429, 'UPSTREAM_RATE_LIMITED'],
      [`${origin.base}/status/403`, 502, 'UPSTREAM_ERROR'],
      [`${origin.base}/hang`, 504, 'UPSTREAM_TIMEOUT'],
      ['http://127.0.0.1:1/nothing', 502, 'UPSTREAM_ERROR'],
      ['http://127.0.0.1:2/nothing', 403, 'FORBIDDEN']
    ]
    for (const [url, status, code] of cases) {
      const r = await get(proxy.port, link({ url }))
      assert.equal(r.status, status, url)
      const body = JSON.parse(r.body.toString())
      assert.equal(body.code, code, url)
      assert.equal(typeof body.request_id, 'string')
    }
  })

  test('Content-Disposition: CJK/emoji names survive, CR/LF cannot inject', async () => {
    const name = '東京の夜 🌃 "quoted" – clip'
    const r = await get(proxy.port, link({ url: media('plain') }, `?download=true&filename=${encodeURIComponent(name)}`), { headers: { range: 'bytes=0-0' } })
    assert.equal(r.status, 206)
    const cd = r.headers['content-disposition'] ?? ''
    assert.match(cd, /^attachment; filename="[\x20-\x7e]+\.mp4"; filename\*=UTF-8''[A-Za-z0-9%._~!#$&+^`|-]+$/)
    assert.equal(decodeURIComponent(cd.split("UTF-8''")[1] ?? ''), `${name}.mp4`)
    const evil = await get(proxy.port, link({ url: media('plain'), filename: 'a\r\nSet-Cookie: pwn=1\r\nX-Evil: 1.mp4' }, '?download=1'), { headers: { range: 'bytes=0-0' } })
    assert.equal(evil.status, 206)
    assert.equal(evil.headers['set-cookie'], undefined)
    assert.equal(evil.headers['x-evil'], undefined)
    assert.match(evil.headers['content-disposition'] ?? '', /^attachment; filename="a Set-Cookie: pwn=1 X-Evil: 1\.mp4"/)
  })

  test('SSRF: non-allowed hosts may not reach private addresses, not even by redirect', async () => {
    const port = origin.port
    const refused = [
      `http://localhost:${port}/media/plain`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:80/',
      'http://10.0.0.1/x',
      'http://0x7f.0.0.1:80/',
      'file:///etc/passwd',
      `${origin.base}/redirect?to=${encodeURIComponent(`http://localhost:${port}/media/plain`)}`,
      `${origin.base}/redirect?to=${encodeURIComponent('http://192.168.1.1/')}`,
      `${origin.base}/redirect?to=${encodeURIComponent('http://[::ffff:127.0.0.1]/')}`
    ]
    for (const url of refused) {
      const r = await get(proxy.port, link({ url }))
      assert.equal(r.status, 403, url)
      assert.equal(JSON.parse(r.body.toString()).code, 'FORBIDDEN', url)
    }
    const ok = await get(proxy.port, link({ url: `${origin.base}/redirect?to=${encodeURIComponent('/media/plain')}` }), { headers: { range: 'bytes=0-99' } })
    assert.equal(ok.status, 206)
    assert.equal(sha256(ok.body), sha256(data.subarray(0, 100)))
  })

  test('a paused reader does not make the server buffer the file', async () => {
    origin.behave('paused', {})
    let ahead = -1
    const r = await get(proxy.port, link({ url: media('paused') }), {
      pauseAt: 1024 * 1024,
      pauseMs: 1500,
      onPaused: (read) => { ahead = lastRequest('/media/paused').sent - read }
    })
    assert.equal(r.status, 200)
    assert.equal(sha256(r.body), sha256(data))
    // What may sit between origin and client is the kernel's socket buffers (a
    // send buffer of up to wmem_max and a receive buffer per hop) plus undici's
    // 64 KiB; buffering in the server would put the whole rest of the file there.
    const bound = 2 * socketBufferMax() + 4 * 1024 * 1024
    assert.ok(ahead > 0 && ahead < bound && ahead < SIZE / 2, `origin ran ${ahead} bytes ahead of the paused reader (bound ${bound})`)
  })

})
