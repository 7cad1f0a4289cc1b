// Security, access side: admin endpoints and API keys, per-key and per-IP rate
// limits (X-Forwarded-For spoofing), the per-client stream cap, IPv6 grouping
// and header injection through `filename`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server, ServerResponse } from 'node:http'
import { startApp, raw } from '../../testing/helpers.ts'
import { createClientIpResolver } from '../../guard/client-ip.ts'
import { createLinkSigner } from '../../proxy/signer.ts'

const COOKIES = '# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\tv\n'
const ADMIN: ReadonlyArray<[string, string, string | undefined]> = [
  ['PUT', '/api/v2/auth/cookies/youtube', COOKIES],
  ['POST', '/api/v2/system/storage/cleanup', undefined]
]

async function status (url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000), ...init })
  await res.arrayBuffer()
  return res.status
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  return typeof a === 'object' && a !== null ? a.port : 0
}

test('admin endpoints: 403 for non-loopback without keys; 401/403/200 by key once keys exist', { timeout: 30_000 }, async (t) => {
  const open = await startApp({ TRUSTED_PROXIES: '127.0.0.1/32', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await open.close() })
  for (const [method, path, body] of ADMIN) {
    assert.equal(await status(open.url + path, { method, body, headers: { 'x-forwarded-for': '203.0.113.9' } }), 403, `${method} ${path} from a remote client`)
  }
  const keyed = await startApp({ API_KEYS: 'adminkey1:admin,userkey01', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await keyed.close() })
  for (const [method, path, body] of ADMIN) {
    assert.equal(await status(keyed.url + path, { method, body }), 401, `${path} without a key (even from loopback)`)
    assert.equal(await status(keyed.url + path, { method, body, headers: { 'x-api-key': 'wrongkey99' } }), 401, `${path} with a bad key`)
    assert.equal(await status(keyed.url + path, { method, body, headers: { 'x-api-key': 'userkey01' } }), 403, `${path} without the admin scope`)
    assert.equal(await status(keyed.url + path, { method, body, headers: { authorization: 'Bearer adminkey1' } }), 200, `${path} with admin`)
  }
  assert.equal(await status(`${keyed.url}/api/platforms`), 200, 'public endpoints stay open without REQUIRE_API_KEY')
})

test('REQUIRE_API_KEY: public endpoints need a key', { timeout: 20_000 }, async (t) => {
  const app = await startApp({ API_KEYS: 'userkey01', REQUIRE_API_KEY: 'true', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => { await app.close() })
  assert.equal(await status(`${app.url}/api/platforms`), 401)
  assert.equal(await status(`${app.url}/api/v2/videos/youtube/dQw4w9WgXcQ`), 401)
  assert.equal(await status(`${app.url}/api/platforms`, { headers: { 'x-api-key': 'userkey01' } }), 200)
})

test('per-key rate limit: the 4th request of k1 is 429, another key and the IP are unaffected', { timeout: 20_000 }, async (t) => {
  const app = await startApp({ API_KEYS: 'k1k1k1k1::3,k2k2k2k2', RATE_LIMIT_MAX_REQUESTS: '50', RATE_LIMIT_WINDOW: '86400' })
  t.after(async () => { await app.close() })
  const k1 = { headers: { 'x-api-key': 'k1k1k1k1' } }
  for (let i = 0; i < 3; i++) assert.equal(await status(`${app.url}/api/platforms`, k1), 200)
  const res = await fetch(`${app.url}/api/platforms`, k1)
  assert.equal(res.status, 429)
  assert.ok(Number(res.headers.get('retry-after')) >= 1)
  assert.equal(((await res.json()) as { code: string }).code, 'RATE_LIMITED')
  assert.equal(await status(`${app.url}/api/platforms`, { headers: { 'x-api-key': 'k2k2k2k2' } }), 200)
  assert.equal(await status(`${app.url}/api/platforms`), 200)
})

test('X-Forwarded-For does not bypass the IP limit unless the peer is a trusted proxy', { timeout: 20_000 }, async (t) => {
  const direct = await startApp({ RATE_LIMIT_MAX_REQUESTS: '3', RATE_LIMIT_WINDOW: '86400' })
  const proxied = await startApp({ RATE_LIMIT_MAX_REQUESTS: '3', TRUSTED_PROXIES: '127.0.0.1/32', RATE_LIMIT_WINDOW: '86400' })
  t.after(async () => { await direct.close(); await proxied.close() })
  const codes = async (url: string, xff: (i: number) => string): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < 5; i++) out.push(await status(`${url}/api/platforms`, { headers: { 'x-forwarded-for': xff(i) } }))
    return out
  }
  assert.deepEqual(await codes(direct.url, (i) => `198.51.100.${i}`), [200, 200, 200, 429, 429], 'spoofed XFF from an untrusted peer is ignored')
  assert.deepEqual(await codes(proxied.url, (i) => `198.51.100.${i}`), [200, 200, 200, 200, 200], 'behind a trusted proxy each client counts alone')
  assert.deepEqual(await codes(proxied.url, (i) => `203.0.113.${i}, 198.51.100.77`), [200, 200, 200, 429, 429], 'a spoofed left-most hop is not believed')
})

test('IPv6 clients are grouped by IPV6_PREFIX', () => {
  const by64 = createClientIpResolver([], 64)
  const a = by64.resolve('2001:db8:1:2::1', undefined)
  assert.equal(by64.resolve('2001:db8:1:2:ffff:eeee:dddd:cccc', undefined), a)
  assert.notEqual(by64.resolve('2001:db8:1:3::1', undefined), a)
  const by48 = createClientIpResolver([], 48)
  assert.equal(by48.resolve('2001:db8:1:3::1', undefined), by48.resolve('2001:db8:1:ffff::1', undefined))
  const trusted = createClientIpResolver(['::1/128'], 64)
  assert.equal(trusted.resolve('::1', '2001:db8:9:9::5'), trusted.resolve('::1', '2001:db8:9:9:1:2:3:4'))
  assert.equal(by64.resolve('203.0.113.9', '2001:db8::1'), '203.0.113.9', 'IPv4 untouched; XFF ignored without trusted proxies')
})

test('STREAM_MAX_PER_CLIENT caps concurrent streams per key; CR/LF in filename injects no header', { timeout: 30_000 }, async (t) => {
  const held = new Set<ServerResponse>()
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '1000000' })
    res.write(Buffer.alloc(1024))
    if (req.url === '/slow.mp4') held.add(res)
    else res.end(Buffer.alloc(1000000 - 1024))
  })
  const port = await listen(origin)
  const secret = 's'.repeat(40)
  const app = await startApp({ PROXY_SIGNING_SECRET: secret, GENERIC_HOSTS: `127.0.0.1:${port}`, STREAM_MAX_PER_CLIENT: '2', TRUSTED_PROXIES: '127.0.0.1/32', API_KEYS: 'streamkey1,streamkey2', RATE_LIMIT_ENABLED: 'false' })
  t.after(async () => {
    for (const r of held) r.destroy()
    origin.closeAllConnections()
    await app.close()
    await new Promise<void>((resolve) => origin.close(() => resolve()))
  })
  const signer = createLinkSigner(secret)
  const slow = `${app.url}/api/v2/proxy/${signer.sign({ route: 'proxy', url: `http://127.0.0.1:${port}/slow.mp4` }, 60)}`
  const ctl = new AbortController()
  const open = async (key: string): Promise<number> => {
    const res = await fetch(slow, { headers: { 'x-api-key': key }, signal: ctl.signal })
    if (res.status !== 200) await res.arrayBuffer()
    return res.status
  }
  assert.equal(await open('streamkey1'), 200)
  assert.equal(await open('streamkey1'), 200)
  assert.equal(await open('streamkey1'), 429, 'the third concurrent stream of one key')
  assert.equal(await open('streamkey2'), 200, 'another key has its own slots')
  ctl.abort()
  for (const r of held) r.destroy()

  const fast = signer.sign({ route: 'proxy', url: `http://127.0.0.1:${port}/fast.mp4` }, 60)
  const evil = encodeURIComponent('a.mp4"\r\nSet-Cookie: pwn=1\r\nX-Injected: 1\r\n\r\n<html>')
  const text = await raw(app.port, `GET /api/v2/proxy/${fast}?download=true&filename=${evil} HTTP/1.1\r\nHost: x\r\nX-API-Key: streamkey2\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n`, 10_000)
  const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase()
  assert.match(head, /^http\/1\.1 20[06]/)
  assert.ok(!head.includes('\r\nset-cookie:') && !head.includes('\r\nx-injected:'), head)
  assert.match(head, /\r\ncontent-disposition: attachment;[^\r\n]*\r\n/)
})
