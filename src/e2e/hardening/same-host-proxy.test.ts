// Behind a reverse proxy on the same host, without TRUSTED_PROXIES, every client's
// socket peer is 127.0.0.1. What the proxy adds (X-Forwarded-For, X-Real-IP,
// Forwarded, Via, ...) tells its requests from the host's own: they get neither
// the admin endpoints (while no API key exists) nor the stream cap's exemption.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startCluster } from '../../testing/helpers.ts'
import { createLinkSigner } from '../../proxy/signer.ts'
import { FORWARDING_HEADERS } from '../../guard/client-ip.ts'

const CLEANUP = '/api/v2/system/storage/cleanup'

async function listen (server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
const close = async (server: Server): Promise<void> => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }

// A reverse proxy as nginx is usually set up: X-Real-IP, X-Forwarded-For and -Proto.
async function startRelay (target: string): Promise<{ url: string, server: Server }> {
  const server = createServer((req, res) => {
    const headers = { ...req.headers, 'x-real-ip': '198.51.100.7', 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' }
    const up = request(`${target}${req.url ?? '/'}`, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    up.on('error', () => { res.destroy() })
    res.on('close', () => { up.destroy() })
    req.pipe(up)
  })
  return { url: await listen(server), server }
}

async function status (url: string, init: RequestInit = {}): Promise<{ status: number, body: Record<string, unknown> | null }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000), ...init })
  const text = await res.text()
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) as Record<string, unknown> : null }
}

test('admin endpoints without API keys: open to the host itself, refused to requests a same-host proxy relays', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster({ workers: 1, env: { RATE_LIMIT_ENABLED: 'false' } })
  const relay = await startRelay(cluster.url)
  t.after(async () => { await close(relay.server); await cluster.stop() })

  assert.equal((await status(cluster.url + CLEANUP, { method: 'POST' })).status, 200, 'the host itself')
  const relayed = await status(relay.url + CLEANUP, { method: 'POST' })
  assert.equal(relayed.status, 403, 'through the reverse proxy')
  assert.equal(relayed.body?.code, 'FORBIDDEN')
  for (const name of FORWARDING_HEADERS) {
    const value = name === 'forwarded' ? 'for=198.51.100.7;proto=https' : name === 'via' ? '1.1 proxy' : '198.51.100.7'
    assert.equal((await status(cluster.url + CLEANUP, { method: 'POST', headers: { [name]: value } })).status, 403, `a loopback request with ${name}`)
  }
  assert.equal((await status(cluster.url + CLEANUP, { method: 'POST' })).status, 200, 'the host itself, still')
})

test('the stream cap: relayed clients count, the host itself (ffmpeg reading our links) is exempt', { timeout: 60_000 }, async (t) => {
  // a media server that sends the first bytes and then holds the stream open
  const held = new Set<() => void>()
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '1000000' })
    res.write(Buffer.alloc(1000))
    held.add(() => res.destroy())
  })
  const originUrl = await listen(origin)
  const secret = 'same-host-proxy-test-secret-0123456789'
  // the test mints the links, so it must know the secret; the origin is on loopback, so it is a generic host
  const cluster = await startCluster({ workers: 1, env: { RATE_LIMIT_ENABLED: 'false', STREAM_MAX_PER_CLIENT: '1', PROXY_SIGNING_SECRET: secret, GENERIC_HOSTS: new URL(originUrl).host } })
  const relay = await startRelay(cluster.url)
  t.after(async () => { for (const end of held) end(); await close(relay.server); await close(origin); await cluster.stop() })
  const link = `/api/v2/proxy/${createLinkSigner(secret).sign({ route: 'proxy', url: `${originUrl}/v.mp4` }, 60)}`

  const open = async (base: string): Promise<AbortController> => {
    const abort = new AbortController()
    const res = await fetch(base + link, { signal: abort.signal })
    assert.equal(res.status, 200)
    const reader = res.body?.getReader()
    await reader?.read()
    return abort
  }
  const own = [await open(cluster.url), await open(cluster.url)]
  const first = await open(relay.url)
  const second = await status(relay.url + link)
  assert.equal(second.status, 429, 'the second stream of one relayed client')
  assert.equal(second.body?.code, 'RATE_LIMITED')
  for (const a of [...own, first]) a.abort()
})
