// The egress proxy: every fetch that yt-dlp and ffmpeg make leaves through it, so
// they are held to the byte proxy's address policy whatever they follow (redirects,
// embedded media, playlists, keys). Inside each worker, on 127.0.0.1:
//
// - one listener per outbound route (direct, or each distinct operator proxy of
//   YTDLP_PROXY / <PLATFORM>_PROXY): yt-dlp gets `--proxy http://127.0.0.1:<port>`
//   of its platform's route, so the egress knows where to chain to;
// - an HTTP forward proxy (absolute-form requests, relayed by undici, redirects
//   passed back to the client, never followed here) and CONNECT tunnels (node:net)
//   for https;
// - names are resolved here. A host outside GENERIC_HOSTS reaches public addresses
//   only: direct, the resolved answers are filtered and the connected socket is
//   checked again (no rebinding between check and connect); through the operator's
//   proxy (which resolves names itself) every answer must be public first, as
//   src/proxy/upstream.ts does. The operator's proxy itself is trusted.
// - a "local" listener for ffmpeg's remux inputs: only this worker's own signed
//   media links (the byte proxy checks those again), nothing else.
//
// A refusal is 403 "Refused by the egress policy" and never names the address;
// refused hosts are remembered for a while so that error texts that quote them
// (yt-dlp's) are redacted before a client sees them (redactRefused).
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { lookup as dnsLookup } from 'node:dns/promises'
import { connect as netConnect, isIP } from 'node:net'
import type { Socket } from 'node:net'
import { pipeline } from 'node:stream'
import { Agent, Client, ProxyAgent } from 'undici'
import type { Dispatcher, buildConnector } from 'undici'
import { hostMatcher, isPublicAddress } from './address.ts'
import type { Resolve } from './upstream.ts'
import { socksConnect } from './socks.ts'

export interface EgressOptions {
  // GENERIC_HOSTS: hosts (host or host:port) exempt from the public-address check
  allow: readonly string[]
  // the operator's outbound proxy for a platform's traffic (null: direct)
  proxyFor: (platform: string | null) => string | null
  // every platform a caller may ask a URL for (null included when used)
  platforms: ReadonlyArray<string | null>
  // the local listener's only target: this worker's HTTP server ("127.0.0.1:PORT"),
  // and the path prefixes of its signed media links
  local?: { target: () => string | null, paths: readonly string[] }
  resolve?: Resolve
  // client connections across all listeners
  maxConnections?: number
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  // no bytes either way for this long ends a tunnel or a relayed body
  idleTimeoutMs?: number
  onRefused?: (why: string) => void
}

export interface Egress {
  start: () => Promise<void>
  // the proxy URL yt-dlp gets for a platform's runs
  url: (platform: string | null) => string
  // the proxy URL ffmpeg gets for remux inputs
  localUrl: () => string
  stats: () => { connections: number, refused: number }
  close: () => Promise<void>
}

const REFUSED_STATUS = 'Refused by the egress policy'

export class EgressRefused extends Error {
  constructor (readonly why: string) {
    super(`${REFUSED_STATUS}: ${why}`)
    this.name = 'EgressRefused'
  }
}

// Hosts refused lately (bounded, expiring), so that texts quoting them can be redacted.
const REMEMBER_MS = 15 * 60_000
const REMEMBER_MAX = 512
const refusedHosts = new Map<string, number>()

function remember (host: string): void {
  const h = host.toLowerCase()
  if (h === '') return
  refusedHosts.delete(h)
  refusedHosts.set(h, Date.now() + REMEMBER_MS)
  while (refusedHosts.size > REMEMBER_MAX) {
    const oldest = refusedHosts.keys().next().value
    if (oldest === undefined) break
    refusedHosts.delete(oldest)
  }
}

// The egress refused this host lately (a name or a literal address, without brackets).
export function wasRefused (host: string): boolean {
  const until = refusedHosts.get(host.toLowerCase())
  return until !== undefined && until >= Date.now()
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// Replaces every host the egress refused lately (with its port and any URL around
// it) by "[refused address]": error details never echo an address the policy refused.
export function redactRefused (text: string): string {
  if (refusedHosts.size === 0 || text === '') return text
  const now = Date.now()
  let out = text
  for (const [host, until] of refusedHosts) {
    if (until < now) { refusedHosts.delete(host); continue }
    const bare = escapeRe(host)
    const forms = host.includes(':') ? `\\[${bare}\\]|${bare}` : bare
    // a URL with that host (to its end), else the host with an optional port
    out = out.replace(new RegExp(`[a-z][a-z0-9+.-]*://(?:[^\\s/@'"]*@)?(?:${forms})(?![\\w.-])[^\\s'"<>)]*`, 'gi'), (url) => {
      // sentence punctuation after a URL is not part of it
      const trail = /[:;,.]+$/.exec(url)?.[0] ?? ''
      return `[refused address]${trail}`
    })
    out = out.replace(new RegExp(`(?<![\\w.-])(?:${forms})(?::\\d+)?(?![\\w.-])`, 'gi'), '[refused address]')
  }
  return out
}

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'host'])
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

function requestHeaders (req: IncomingMessage, host: string): Record<string, string | string[]> {
  const listed = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter((s) => s !== ''))
  const out: Record<string, string | string[]> = { host }
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k)) continue
    out[k] = v
  }
  return out
}

function responseHeaders (headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter((s) => s !== ''))
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k === 'connection' || k === 'keep-alive' || k === 'transfer-encoding' || k === 'proxy-connection' || listed.has(k)) continue
    out[k] = v
  }
  return out
}

const defaultResolve: Resolve = async (hostname) => await dnsLookup(hostname, { all: true, verbatim: true })

type Route = { kind: 'direct' } | { kind: 'http', proxy: string } | { kind: 'socks', proxy: string } | { kind: 'local' }

interface Lane {
  route: Route
  server: Server
  port: number
  forward: Dispatcher
}

function routeOf (proxy: string | null): Route {
  if (proxy === null) return { kind: 'direct' }
  return proxy.startsWith('socks') ? { kind: 'socks', proxy } : { kind: 'http', proxy }
}

function tcpConnect (host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port })
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('connect timeout')) }, timeoutMs)
    socket.once('connect', () => { clearTimeout(timer); socket.off('error', reject); resolve(socket) })
    socket.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

// "host:port" of a CONNECT request, or null when it is not one.
function authority (target: string): { host: string, port: number } | null {
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[^\s/?#@[\]:]+):\d{1,5}$/.test(target)) return null
  let url: URL
  try { url = new URL(`http://${target}`) } catch { return null }
  const port = Number(/:(\d+)$/.exec(target)?.[1])
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port }
}

export function createEgress (options: EgressOptions): Egress {
  const resolve = options.resolve ?? defaultResolve
  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000
  const headersTimeoutMs = options.headersTimeoutMs ?? 30_000
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000
  const maxConnections = options.maxConnections ?? 512
  const allowed = hostMatcher(options.allow)
  const lanes = new Map<string, Lane>()
  const laneOfPlatform = new Map<string | null, string>()
  let localLane: Lane | null = null
  let connections = 0
  let refusals = 0
  // CONNECT sockets leave their server: closed here on close()
  const tunnels = new Set<Socket>()
  let started: Promise<void> | null = null
  let closed = false

  const refuse = (host: string, why: string): EgressRefused => {
    refusals++
    remember(host.replace(/^\[|\]$/g, ''))
    options.onRefused?.(why)
    return new EgressRefused(why)
  }

  const isAllowed = (host: string, port: number): boolean => {
    try { return allowed(new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}`)) } catch { return false }
  }

  // Through an operator's proxy we cannot see the connected address: the name must
  // resolve to public addresses only. Returns what the proxy should be asked for.
  async function checkForProxy (host: string, port: number, proxy: string): Promise<string> {
    if (isAllowed(host, port)) return host
    if (isIP(host) !== 0) {
      if (!isPublicAddress(host)) throw refuse(host, 'not a public address')
      return host
    }
    const all = await resolve(host)
    if (all.length === 0 || all.some((a) => !isPublicAddress(a.address))) throw refuse(host, 'resolves to a non-public address')
    // socks5/socks4 (not 5h/4a) take an address: the one we checked
    if (/^socks(?:5|4):/.test(proxy)) {
      const v4 = all.find((a) => a.family === 4)
      const pick = proxy.startsWith('socks4:') ? v4 : (v4 ?? all[0])
      if (pick === undefined) throw new Error('no IPv4 address for a SOCKS4 proxy')
      return pick.address
    }
    return host
  }

  // A connected socket to host:port on the direct route, checked.
  async function openDirect (host: string, port: number): Promise<Socket> {
    if (isAllowed(host, port)) return await tcpConnect(host, port, connectTimeoutMs)
    let candidates: string[]
    if (isIP(host) !== 0) candidates = [host]
    else candidates = (await resolve(host)).map((a) => a.address)
    const ok = candidates.filter((a) => isPublicAddress(a))
    const first = ok[0]
    if (first === undefined) throw refuse(host, isIP(host) !== 0 ? 'not a public address' : 'resolves only to non-public addresses')
    const socket = await tcpConnect(first, port, connectTimeoutMs)
    if (!isPublicAddress(socket.remoteAddress ?? '')) {
      socket.destroy()
      throw refuse(host, 'connected to a non-public address')
    }
    return socket
  }

  async function openSocks (host: string, port: number, proxy: string): Promise<Socket> {
    const target = await checkForProxy(host, port, proxy)
    return await socksConnect(proxy, { host: target, port }, connectTimeoutMs)
  }

  async function openViaHttpProxy (host: string, port: number, proxy: string): Promise<Socket> {
    await checkForProxy(host, port, proxy)
    const proxyUrl = new URL(proxy)
    const client = new Client(proxyUrl.origin, { connect: { timeout: connectTimeoutMs }, headersTimeout: headersTimeoutMs })
    const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`
    const headers: Record<string, string> = { host: authority }
    if (proxyUrl.username !== '') headers['proxy-authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`).toString('base64')}`
    try {
      const { statusCode, socket } = await client.connect({ path: authority, headers })
      if (statusCode !== 200) { socket.destroy(); throw new Error(`the outbound proxy answered CONNECT with ${statusCode}`) }
      return socket as Socket
    } finally {
      client.close().catch(() => {})
    }
  }

  async function openTunnel (lane: Lane, host: string, port: number): Promise<Socket> {
    switch (lane.route.kind) {
      case 'direct': return await openDirect(host, port)
      case 'socks': return await openSocks(host, port, lane.route.proxy)
      case 'http': return await openViaHttpProxy(host, port, lane.route.proxy)
      case 'local': throw refuse(host, 'the local route carries this server\'s own links only')
    }
  }

  // undici's connector contract, over our checked sockets (plain http targets only).
  const connector = (open: (host: string, port: number) => Promise<Socket>): buildConnector.connector =>
    (opts, cb) => {
      open(opts.hostname.replace(/^\[|\]$/g, ''), Number(opts.port === '' ? 80 : opts.port)).then((s) => cb(null, s), (err: Error) => cb(err, null))
    }

  function forwardDispatcher (route: Route): Dispatcher {
    const common = { headersTimeout: headersTimeoutMs, bodyTimeout: idleTimeoutMs, keepAliveTimeout: 10_000, connections: 64 }
    switch (route.kind) {
      // http targets are forwarded as proxies expect them; the name is checked before each request
      case 'http': return new ProxyAgent({ uri: route.proxy, proxyTunnel: false, connect: { timeout: connectTimeoutMs }, headersTimeout: headersTimeoutMs, bodyTimeout: idleTimeoutMs })
      case 'socks': return new Agent({ ...common, connect: connector(async (h, p) => await openSocks(h, p, route.proxy)) })
      case 'direct': return new Agent({ ...common, connect: connector(openDirect) })
      case 'local': return new Agent({ ...common, connect: connector(async (h, p) => await tcpConnect(h, p, connectTimeoutMs)) })
    }
  }

  function reply (res: ServerResponse, status: number, reason: string): void {
    if (res.headersSent) { res.destroy(); return }
    res.writeHead(status, reason, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
    res.end(`${reason}\n`)
  }

  function failure (err: unknown): { status: number, reason: string } {
    const e = err instanceof Error ? err : new Error(String(err))
    const inner = e.cause instanceof Error ? e.cause : null
    if (e instanceof EgressRefused || inner instanceof EgressRefused) return { status: 403, reason: REFUSED_STATUS }
    const code = 'code' in e ? String(e.code) : ''
    if (/TIMEOUT/.test(code) || /timeout/i.test(e.message)) return { status: 504, reason: 'Gateway Timeout' }
    return { status: 502, reason: 'Bad Gateway' }
  }

  function onRequest (lane: Lane, req: IncomingMessage, res: ServerResponse): void {
    let url: URL
    try { url = new URL(req.url ?? '') } catch { reply(res, 400, 'Bad Request'); return }
    if (url.protocol !== 'http:') { reply(res, 400, 'Bad Request'); return }
    if (url.username !== '' || url.password !== '') { refuse(url.hostname, 'credentials in URLs'); reply(res, 403, REFUSED_STATUS); return }
    if (!METHODS.has(req.method ?? '')) { reply(res, 405, 'Method Not Allowed'); return }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const port = url.port === '' ? 80 : Number(url.port)
    if (lane.route.kind === 'local') {
      const target = options.local?.target() ?? null
      const okPath = (options.local?.paths ?? []).some((p) => url.pathname.startsWith(p))
      if (target === null || url.host !== target || !okPath || (req.method !== 'GET' && req.method !== 'HEAD')) {
        refuse(host, 'not one of this server\'s media links')
        reply(res, 403, REFUSED_STATUS)
        return
      }
    }
    const abort = new AbortController()
    res.once('close', () => { if (!res.writableFinished) abort.abort() })
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    const precheck = lane.route.kind === 'http' ? checkForProxy(host, port, lane.route.proxy) : Promise.resolve(host)
    precheck.then(async () => await lane.forward.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: req.method as Dispatcher.HttpMethod,
      headers: requestHeaders(req, url.host),
      body: hasBody ? req : null,
      signal: abort.signal
    })).then((up) => {
      up.body.on('error', () => {})
      res.writeHead(up.statusCode, responseHeaders(up.headers))
      pipeline(up.body, res, () => {})
    }, (err: unknown) => {
      if (abort.signal.aborted) { res.destroy(); return }
      const f = failure(err)
      reply(res, f.status, f.reason)
    })
  }

  function onConnect (lane: Lane, req: IncomingMessage, client: Socket, head: Buffer): void {
    client.on('error', () => {})
    tunnels.add(client)
    client.once('close', () => tunnels.delete(client))
    const fail = (status: number, reason: string): void => {
      if (client.destroyed) return
      client.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason) + 1}\r\nConnection: close\r\n\r\n${reason}\n`)
    }
    const target = authority(req.url ?? '')
    if (target === null) { fail(400, 'Bad Request'); return }
    client.setTimeout(idleTimeoutMs, () => client.destroy())
    openTunnel(lane, target.host, target.port).then((upstream) => {
      if (client.destroyed || closed) { upstream.destroy(); client.destroy(); return }
      upstream.on('error', () => client.destroy())
      client.on('error', () => upstream.destroy())
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      upstream.setTimeout(idleTimeoutMs, () => { upstream.destroy(); client.destroy() })
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      client.pipe(upstream)
      upstream.pipe(client)
    }, (err: unknown) => {
      const f = failure(err)
      fail(f.status, f.reason)
    })
  }

  async function listen (route: Route): Promise<Lane> {
    const server = createServer({ requestTimeout: headersTimeoutMs, headersTimeout: headersTimeoutMs, keepAliveTimeout: 5_000 })
    const lane: Lane = { route, server, port: 0, forward: forwardDispatcher(route) }
    server.on('connection', (socket: Socket) => {
      if (connections >= maxConnections || closed) { socket.destroy(); return }
      connections++
      socket.once('close', () => { connections-- })
    })
    server.setTimeout(idleTimeoutMs)
    server.on('request', (req: IncomingMessage, res: ServerResponse) => onRequest(lane, req, res))
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => onConnect(lane, req, socket, head))
    server.on('clientError', (_err, socket: Socket) => { socket.destroy() })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // exclusive: in a cluster worker a shared listen is accepted by the primary and handed over
      // (round-robin), so every yt-dlp connection would pass through it and stop when it stalls
      server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => { server.off('error', reject); resolve() })
    })
    const addr = server.address()
    lane.port = typeof addr === 'object' && addr !== null ? addr.port : 0
    // its own connections (keep-alive clients) must not hold a closing worker open
    server.unref()
    return lane
  }

  async function startAll (): Promise<void> {
    const wanted = new Map<string, Route>()
    for (const platform of options.platforms) {
      const proxy = options.proxyFor(platform)
      const key = proxy ?? 'direct'
      laneOfPlatform.set(platform, key)
      wanted.set(key, routeOf(proxy))
    }
    for (const [key, route] of wanted) lanes.set(key, await listen(route))
    if (options.local !== undefined) localLane = await listen({ kind: 'local' })
  }

  const base = (lane: Lane): string => `http://127.0.0.1:${lane.port}`

  return {
    async start () {
      started ??= startAll()
      await started
    },
    url (platform) {
      const key = laneOfPlatform.get(platform) ?? options.proxyFor(platform) ?? 'direct'
      const lane = lanes.get(key)
      if (lane === undefined) throw new Error(`the egress proxy has no route for ${String(platform)} (not started?)`)
      return base(lane)
    },
    localUrl () {
      if (localLane === null) throw new Error('the egress proxy has no local route (not started?)')
      return base(localLane)
    },
    stats: () => ({ connections, refused: refusals }),
    async close () {
      closed = true
      const all = [...lanes.values(), ...(localLane === null ? [] : [localLane])]
      lanes.clear()
      localLane = null
      for (const socket of tunnels) socket.destroy()
      await Promise.all(all.map(async (lane) => {
        lane.server.closeAllConnections()
        await new Promise<void>((resolve) => lane.server.close(() => resolve()))
        await lane.forward.destroy().catch(() => {})
      }))
    }
  }
}
