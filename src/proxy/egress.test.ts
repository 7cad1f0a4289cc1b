// The egress proxy on its own: what it relays, what it refuses (and that the
// refused server sees nothing), the operator's proxy chained behind it (http and
// SOCKS5), the local route for ffmpeg, and redaction of refused addresses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request } from 'node:http'
import type { IncomingMessage, Server } from 'node:http'
import { createServer as createTcpServer, connect } from 'node:net'
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net'
import { createEgress, redactRefused } from './egress.ts'
import type { Egress, EgressOptions } from './egress.ts'
import { startForwardProxy } from '../testing/origin.ts'

interface Site { server: Server, host: string, port: number, hits: string[], close: () => Promise<void> }

interface Reply { status: number, headers?: Record<string, string>, body?: string }

async function site (handler: (req: IncomingMessage, body: string) => Reply): Promise<Site> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { body += c })
    req.on('end', () => {
      hits.push(`${req.method ?? ''} ${req.url ?? ''}`)
      const out = handler(req, body)
      res.writeHead(out.status, out.headers ?? {})
      res.end(out.body ?? '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return { server, host: `127.0.0.1:${port}`, port, hits, close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) } }
}

interface Answer { status: number, reason: string, headers: IncomingMessage['headers'], body: string }

// An absolute-form request through an HTTP proxy, as yt-dlp and ffmpeg send it.
async function viaProxy (proxy: string, url: string, init: { method?: string, body?: string } = {}): Promise<Answer> {
  const p = new URL(proxy)
  return await new Promise((resolve, reject) => {
    const req = request({ host: p.hostname, port: p.port, method: init.method ?? 'GET', path: url, headers: { host: new URL(url).host } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

// CONNECT host:port, then one plain HTTP/1.0 GET through the tunnel: the status line of each.
async function tunnel (proxy: string, authority: string, path = '/'): Promise<{ connect: string, inner: string }> {
  const p = new URL(proxy)
  return await new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(p.port), p.hostname)
    let data = ''
    let connectLine = ''
    socket.setEncoding('utf8')
    socket.on('error', reject)
    socket.on('connect', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`))
    socket.on('data', (chunk: string) => {
      data += chunk
      if (connectLine === '' && data.includes('\r\n\r\n')) {
        connectLine = data.split('\r\n')[0] ?? ''
        data = data.slice(data.indexOf('\r\n\r\n') + 4)
        if (connectLine.includes(' 200 ')) socket.write(`GET ${path} HTTP/1.0\r\nHost: ${authority}\r\n\r\n`)
      }
    })
    socket.on('close', () => resolve({ connect: connectLine, inner: data.split('\r\n')[0] ?? '' }))
  })
}

// A minimal SOCKS5 server (no authentication, CONNECT) that records its targets.
async function socksServer (): Promise<{ url: string, targets: string[], close: () => Promise<void> }> {
  const targets: string[] = []
  const open = new Set<Socket>()
  const server: TcpServer = createTcpServer((client) => {
    open.add(client)
    client.once('close', () => open.delete(client))
    client.once('data', (hello) => {
      if (hello[0] !== 5) { client.destroy(); return }
      client.write(Buffer.from([5, 0]))
      client.once('data', (req) => {
        let host = ''
        let at = 4
        if (req[3] === 1) { host = [...req.subarray(4, 8)].join('.'); at = 8 } else if (req[3] === 3) { const n = req[4] ?? 0; host = req.subarray(5, 5 + n).toString(); at = 5 + n }
        const port = req.readUInt16BE(at)
        targets.push(`${host}:${port}`)
        const up = connect(port, host, () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))
          client.pipe(up)
          up.pipe(client)
        })
        up.on('error', () => { client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])) })
        client.on('error', () => up.destroy())
      })
    })
    client.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return { url: `socks5://127.0.0.1:${port}`, targets, close: async () => { for (const c of open) c.destroy(); await new Promise<void>((resolve) => server.close(() => resolve())) } }
}

async function startEgress (t: { after: (fn: () => Promise<void>) => void }, opts: Partial<EgressOptions> & { allow: readonly string[] }): Promise<Egress> {
  const egress = createEgress({ proxyFor: () => null, platforms: [null], ...opts })
  await egress.start()
  t.after(async () => { await egress.close() })
  return egress
}

test('direct: an allowed host is relayed (redirects passed back, never followed); an internal address is refused and never reached', async (t) => {
  const canary = await site(() => ({ status: 200, body: 'internal secret' }))
  const origin = await site((req, body): Reply => {
    if (req.url === '/redirect') return { status: 302, headers: { location: `http://${canary.host}/secret` } }
    if (req.url === '/echo') return { status: 201, headers: { 'x-got': req.headers['x-test'] as string ?? '' }, body: `${req.method ?? ''}:${body}` }
    return { status: 200, headers: { 'content-type': 'text/html' }, body: 'page' }
  })
  t.after(async () => { await origin.close(); await canary.close() })
  const refusedWhy: string[] = []
  const egress = await startEgress(t, { allow: [origin.host], onRefused: (why) => refusedWhy.push(why) })
  const proxy = egress.url(null)

  const page = await viaProxy(proxy, `http://${origin.host}/page`)
  assert.equal(page.status, 200)
  assert.equal(page.body, 'page')

  const posted = await viaProxy(proxy, `http://${origin.host}/echo`, { method: 'POST', body: 'a=1' })
  assert.equal(posted.status, 201)
  assert.equal(posted.body, 'POST:a=1')

  const redirect = await viaProxy(proxy, `http://${origin.host}/redirect`)
  assert.equal(redirect.status, 302, 'the redirect goes back to the client')
  assert.equal(redirect.headers.location, `http://${canary.host}/secret`)

  const refused = await viaProxy(proxy, `http://${canary.host}/secret`)
  assert.equal(refused.status, 403)
  assert.equal(refused.reason, 'Refused by the egress policy')
  assert.ok(!refused.body.includes(canary.host) && !refused.body.includes('127.0.0.1'), refused.body)

  const viaTunnel = await tunnel(proxy, canary.host, '/secret')
  assert.match(viaTunnel.connect, /^HTTP\/1\.1 403 /)
  assert.ok(!viaTunnel.connect.includes('127.0.0.1'))

  const allowedTunnel = await tunnel(proxy, origin.host, '/page')
  assert.match(allowedTunnel.connect, /^HTTP\/1\.1 200 /)
  assert.match(allowedTunnel.inner, /^HTTP\/1\.1 200 /)

  assert.deepEqual(canary.hits, [], 'the internal server saw no request')
  assert.equal(egress.stats().refused, 2)
  assert.deepEqual(refusedWhy, ['not a public address', 'not a public address'])
})

test('names are resolved by the egress: a name that resolves to an internal address is refused, direct and as a tunnel', async (t) => {
  const canary = await site(() => ({ status: 200, body: 'internal' }))
  t.after(async () => { await canary.close() })
  const resolve = async (name: string): Promise<Array<{ address: string, family: number }>> => {
    if (name === 'rebind.test' || name === 'mixed.test') return name === 'mixed.test' ? [{ address: '10.0.0.1', family: 4 }, { address: '::1', family: 6 }] : [{ address: '127.0.0.1', family: 4 }]
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
  }
  const egress = await startEgress(t, { allow: [], resolve })
  const proxy = egress.url(null)
  for (const name of ['rebind.test', 'mixed.test']) {
    const r = await viaProxy(proxy, `http://${name}:${canary.port}/x`)
    assert.equal(r.status, 403, name)
    assert.match((await tunnel(proxy, `${name}:${canary.port}`)).connect, /^HTTP\/1\.1 403 /, name)
  }
  for (const literal of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '10.1.2.3', '169.254.169.254', '0.0.0.0']) {
    assert.equal((await viaProxy(proxy, `http://${literal}:${canary.port}/x`)).status, 403, literal)
    assert.match((await tunnel(proxy, `${literal}:${canary.port}`)).connect, /^HTTP\/1\.1 403 /, literal)
  }
  const missing = await viaProxy(proxy, 'http://nowhere.test/x')
  assert.equal(missing.status, 502)
  assert.deepEqual(canary.hits, [])
})

test('chained to the operator\'s http proxy: allowed hosts go through it; internal ones are refused before it', async (t) => {
  const canary = await site(() => ({ status: 200, body: 'internal' }))
  const origin = await site(() => ({ status: 200, body: 'page' }))
  const operator = await startForwardProxy()
  t.after(async () => { await operator.close(); await origin.close(); await canary.close() })
  const egress = await startEgress(t, { allow: [origin.host], proxyFor: (p) => p === 'youtube' ? operator.url : null, platforms: [null, 'youtube'] })
  assert.notEqual(egress.url('youtube'), egress.url(null), 'each outbound route has its own listener')

  const page = await viaProxy(egress.url('youtube'), `http://${origin.host}/page`)
  assert.equal(page.status, 200)
  assert.equal(page.body, 'page')
  assert.deepEqual(operator.seen, [`http://${origin.host}/page`])

  const direct = await viaProxy(egress.url(null), `http://${origin.host}/page`)
  assert.equal(direct.status, 200)
  assert.equal(operator.seen.length, 1, 'the direct route does not use the platform\'s proxy')

  assert.equal((await viaProxy(egress.url('youtube'), `http://${canary.host}/x`)).status, 403)
  assert.match((await tunnel(egress.url('youtube'), canary.host)).connect, /^HTTP\/1\.1 403 /)
  assert.equal(operator.seen.length, 1)
  assert.deepEqual(canary.hits, [])
})

test('chained to the operator\'s SOCKS5 proxy: forward and tunnel through it; internal ones are refused before it', async (t) => {
  const canary = await site(() => ({ status: 200, body: 'internal' }))
  const origin = await site(() => ({ status: 200, body: 'page' }))
  const socks = await socksServer()
  t.after(async () => { await socks.close(); await origin.close(); await canary.close() })
  const egress = await startEgress(t, { allow: [origin.host], proxyFor: () => socks.url, platforms: [null] })
  const proxy = egress.url(null)

  const page = await viaProxy(proxy, `http://${origin.host}/page`)
  assert.equal(page.status, 200)
  assert.equal(page.body, 'page')
  const tunnelled = await tunnel(proxy, origin.host, '/page')
  assert.match(tunnelled.inner, /^HTTP\/1\.1 200 /)
  assert.deepEqual(socks.targets, [origin.host, origin.host])

  assert.equal((await viaProxy(proxy, `http://${canary.host}/x`)).status, 403)
  assert.match((await tunnel(proxy, canary.host)).connect, /^HTTP\/1\.1 403 /)
  assert.equal(socks.targets.length, 2)
  assert.deepEqual(canary.hits, [])
})

test('the local route reaches only this server\'s own media links', async (t) => {
  const self = await site(() => ({ status: 200, body: 'media' }))
  const canary = await site(() => ({ status: 200, body: 'internal' }))
  t.after(async () => { await self.close(); await canary.close() })
  const egress = await startEgress(t, { allow: [canary.host], local: { target: () => self.host, paths: ['/api/v2/proxy/', '/api/v2/hls/'] } })
  const local = egress.localUrl()
  assert.equal((await viaProxy(local, `http://${self.host}/api/v2/proxy/abc`)).status, 200)
  assert.equal((await viaProxy(local, `http://${self.host}/api/v2/hls/abc`)).status, 200)
  assert.equal((await viaProxy(local, `http://${self.host}/api/v2/system/health`)).status, 403)
  assert.equal((await viaProxy(local, `http://${self.host}/api/v2/proxy/abc`, { method: 'POST', body: 'x' })).status, 403)
  // even a GENERIC_HOSTS entry: ffmpeg reads our links only
  assert.equal((await viaProxy(local, `http://${canary.host}/api/v2/proxy/abc`)).status, 403)
  assert.match((await tunnel(local, self.host)).connect, /^HTTP\/1\.1 403 /)
  assert.deepEqual(self.hits, ['GET /api/v2/proxy/abc', 'GET /api/v2/hls/abc'])
  assert.deepEqual(canary.hits, [])
})

test('refused addresses are redacted from texts, in URLs and bare, and nothing else is', async (t) => {
  const egress = await startEgress(t, { allow: [] })
  await viaProxy(egress.url(null), 'http://127.0.0.9:4567/secret?a=1')
  await viaProxy(egress.url(null), 'http://[::1]:4568/x')
  const text = 'ERROR: [generic] Unable to download http://127.0.0.9:4567/secret?a=1: HTTP Error 403 (127.0.0.9:4567, host 127.0.0.9) via [::1]:4568; http://127.0.0.99/ ok'
  const out = redactRefused(text)
  assert.ok(!out.includes('127.0.0.9:') && !out.includes('127.0.0.9)') && !out.includes('::1'), out)
  assert.ok(out.includes('http://127.0.0.99/'), 'another address stays')
  assert.equal(out, 'ERROR: [generic] Unable to download [refused address]: HTTP Error 403 ([refused address], host [refused address]) via [refused address]; http://127.0.0.99/ ok')
})
