import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { AppError } from '../errors.ts'
import { createUpstream } from './upstream.ts'
import type { RelayBody, UpstreamRequest } from './upstream.ts'
import { mediaBytes, startOrigin } from '../testing/proxy.ts'
import type { Origin } from '../testing/proxy.ts'

const data = mediaBytes(1024)
const origins: Origin[] = []
let allow: string[] = []

before(async () => {
  for (let i = 0; i < 3; i++) {
    origins.push(await startOrigin(data, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://o')
      if (url.pathname === '/redirect') { res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end('moved'); return true }
      if (url.pathname === '/loop') { res.writeHead(301, { location: '/loop' }).end(); return true }
      return false
    }))
  }
  allow = origins.map((o) => `127.0.0.1:${o.port}`)
})

after(async () => { for (const o of origins) await o.close() })

const req = (url: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest =>
  ({ url, method: 'GET', headers: {}, allow, signal: new AbortController().signal, ...extra })

async function refusal (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return err instanceof AppError ? err.code : `other: ${String(err)}` }
  return 'none'
}

test('a host that resolves to a private address is refused before connecting', async () => {
  const seen: string[] = []
  const upstream = createUpstream({ resolve: async (host) => { seen.push(host); return [{ address: '127.0.0.1', family: 4 }] } })
  const before = origins[0]?.requests.length
  assert.equal(await refusal(upstream.request(req(`http://rebind.test:${origins[0]?.port}/media/a`))), 'FORBIDDEN')
  assert.deepEqual(seen, ['rebind.test'])
  assert.equal(origins[0]?.requests.length, before)
  await upstream.close()
})

test('redirects: followed, re-checked per hop, bounded, credentials stay on their origin', async () => {
  const upstream = createUpstream()
  const [a, b] = origins
  assert.ok(a !== undefined && b !== undefined)
  const r = await upstream.request(req(`${a.base}/redirect?to=${encodeURIComponent(`${b.base}/media/x`)}`, { headers: { cookie: 'fmt=1', referer: 'https://ref.example/' } }))
  assert.equal(r.status, 200)
  assert.equal(r.url, `${b.base}/media/x`)
  await r.body.dump()
  const atB = b.requests.at(-1)
  assert.equal(atB?.headers.referer, 'https://ref.example/')
  assert.equal(atB?.headers.cookie, undefined)
  assert.equal(a.requests.at(-1)?.headers.cookie, 'fmt=1')
  assert.equal(await refusal(upstream.request(req(`${a.base}/loop`))), 'UPSTREAM_ERROR')
  assert.equal(a.requests.filter((x) => x.path === '/loop').length, 6)
  const outside = upstream.request(req(`${a.base}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/')}`))
  assert.equal(await refusal(outside), 'FORBIDDEN')
  assert.equal(await refusal(upstream.request(req('ftp://127.0.0.1/x'))), 'FORBIDDEN')
  // a Location that is no URL is the media server's error (502), not a TypeError
  assert.equal(await refusal(upstream.request(req(`${a.base}/redirect?to=${encodeURIComponent('http://[::1')}`))), 'UPSTREAM_ERROR')
  assert.equal(await refusal(upstream.request(req(`http://u:p@127.0.0.1:${a.port}/media/x`))), 'FORBIDDEN')
  await upstream.close()
})

test('one keep-alive pool per origin, bounded and evicted when idle', async () => {
  const upstream = createUpstream({ maxOrigins: 2, idleOriginMs: 100 })
  for (const o of origins) {
    for (let i = 0; i < 2; i++) {
      const r = await upstream.request(req(`${o.base}/media/x`))
      assert.equal(Buffer.compare(Buffer.from(await r.body.arrayBuffer()), data), 0)
    }
    assert.ok(upstream.origins() <= 2)
  }
  const last = origins[2]?.requests.slice(-2).map((x) => x.headers.connection)
  assert.deepEqual(last, ['keep-alive', 'keep-alive'])
  await new Promise((resolve) => setTimeout(resolve, 1300))
  assert.equal(upstream.origins(), 0)
  await upstream.close()
})

test('a plain destroy() of an unread body is not an uncaught error', async () => {
  const upstream = createUpstream()
  const r = await upstream.request(req(`${origins[0]?.base}/media/x`))
  r.body.destroy()
  await new Promise((resolve) => setTimeout(resolve, 50))
  await upstream.close()
})

// relay() (the byte proxy's way in: the wire client for direct connections) under the same policy
async function drain (body: RelayBody): Promise<Buffer> {
  const parts: Buffer[] = []
  return await new Promise((resolve, reject) => {
    body.start((piece) => { parts.push(Buffer.from(piece)); return true }, (err) => { if (err === null) resolve(Buffer.concat(parts)); else reject(err) })
  })
}

test('relay: names resolving to private addresses are refused, redirects are re-checked per hop and bounded', async () => {
  const seen: string[] = []
  const rebinding = createUpstream({ resolve: async (host) => { seen.push(host); return [{ address: '127.0.0.1', family: 4 }] } })
  const before = origins[0]?.requests.length
  assert.equal(await refusal(rebinding.relay(req(`http://rebind.test:${origins[0]?.port}/media/a`))), 'FORBIDDEN')
  assert.deepEqual(seen, ['rebind.test'])
  assert.equal(origins[0]?.requests.length, before)
  await rebinding.close()

  const upstream = createUpstream()
  const [a, b] = origins
  assert.ok(a !== undefined && b !== undefined)
  const r = await upstream.relay(req(`${a.base}/redirect?to=${encodeURIComponent(`${b.base}/media/x`)}`, { headers: { cookie: 'fmt=1', referer: 'https://ref.example/' } }))
  assert.equal(r.status, 200)
  assert.equal(r.url, `${b.base}/media/x`)
  assert.equal(Buffer.compare(await drain(r.body), data), 0)
  assert.equal(b.requests.at(-1)?.headers.referer, 'https://ref.example/')
  assert.equal(b.requests.at(-1)?.headers.cookie, undefined)
  assert.equal(a.requests.at(-1)?.headers.cookie, 'fmt=1')
  const loops = a.requests.filter((x) => x.path === '/loop').length
  assert.equal(await refusal(upstream.relay(req(`${a.base}/loop`))), 'UPSTREAM_ERROR')
  assert.equal(a.requests.filter((x) => x.path === '/loop').length - loops, 6)
  assert.equal(await refusal(upstream.relay(req(`${a.base}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/')}`))), 'FORBIDDEN')
  assert.equal(await refusal(upstream.relay(req(`http://u:p@127.0.0.1:${a.port}/media/x`))), 'FORBIDDEN')
  // one request each, over the connection kept alive
  const count = a.requests.length
  for (let i = 0; i < 2; i++) assert.equal(Buffer.compare(await drain((await upstream.relay(req(`${a.base}/media/x`))).body), data), 0)
  assert.deepEqual(a.requests.slice(count).map((x) => x.headers.connection), ['keep-alive', 'keep-alive'])
  assert.ok(upstream.origins() >= 1)
  await upstream.close()
})
