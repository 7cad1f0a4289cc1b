// The upstream client: one keep-alive undici Pool per origin (bounded, idle
// ones evicted), manual redirects, and the SSRF guard. Hosts outside the
// allow-list may only reach public addresses; that is checked on the resolved
// addresses (custom lookup) and again on the socket actually connected, so a
// DNS rebind between check and connect cannot reach an internal address.
// With an operator's outbound proxy for the platform (YTDLP_PROXY, <PLATFORM>_PROXY:
// media URLs are often bound to the address that extracted them) requests leave
// through it; the proxy resolves names, so the host is checked here first, on the
// addresses it resolves to, and the proxy itself is trusted (the operator's).
// relay() is the byte proxy's way in: direct connections go through the proxy's
// own HTTP/1.1 client (wire.ts: no garbage per read), under the same checks;
// through an operator's proxy it is undici's body, delivered the same way.
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { LookupAddress, LookupOptions } from 'node:dns'
import type { Readable } from 'node:stream'
import { Pool, ProxyAgent, Socks5ProxyAgent, buildConnector } from 'undici'
import type { Dispatcher } from 'undici'
import { AppError } from '../errors.ts'
import { hostMatcher, isPublicAddress } from './address.ts'
import { createWire, WireError } from './wire.ts'
import type { OnRead, RelayBody } from './wire.ts'

export type { RelayBody } from './wire.ts'

export type Resolve = (hostname: string) => Promise<LookupAddress[]>

export interface UpstreamOptions {
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  // idle time between body bytes; a stream as a whole has no time limit
  bodyIdleTimeoutMs?: number
  maxRedirects?: number
  connectionsPerOrigin?: number
  maxOrigins?: number
  idleOriginMs?: number
  highWaterMark?: number
  resolve?: Resolve
  // the operator's outbound proxy for a platform's media (null: direct)
  proxyFor?: (platform: string | null) => string | null
}

export interface UpstreamRequest {
  url: string
  method: 'GET' | 'HEAD'
  headers: Record<string, string>
  // hosts (host or host:port) exempt from the public-address check
  allow: readonly string[]
  signal: AbortSignal
  // whose media this is: picks the outbound proxy (null or absent: the default one)
  platform?: string | null
}

export interface UpstreamResponse {
  url: string
  status: number
  headers: Record<string, string>
  // a Node Readable, plus undici's dump()/text()/arrayBuffer()
  body: Dispatcher.ResponseData['body']
}

// The same, with a body the byte proxy relays without a copy or a promise per piece.
export interface RelayResponse {
  url: string
  status: number
  headers: Record<string, string>
  body: RelayBody
}

export interface UpstreamClient {
  request: (req: UpstreamRequest) => Promise<UpstreamResponse>
  relay: (req: UpstreamRequest) => Promise<RelayResponse>
  origins: () => number
  close: () => Promise<void>
}

const ignore = (): void => {}
const REDIRECTS = new Set([301, 302, 303, 307, 308])
// Never sent to another origin after a redirect.
const ORIGIN_BOUND = new Set(['cookie', 'authorization', 'proxy-authorization'])

interface Entry { pool: Pool, active: number, lastUsedMs: number }

// The detail says why, never which host or address: an error must not echo an address the policy refused.
function refused (why: string): AppError {
  return new AppError('FORBIDDEN', 'The media URL points to an address the proxy may not fetch', { detail: why })
}

const defaultResolve: Resolve = async (hostname) => await dnsLookup(hostname, { all: true, verbatim: true })

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

function guardedLookup (resolve: Resolve) {
  return (hostname: string, options: LookupOptions, cb: LookupCallback): void => {
    resolve(hostname).then((all) => {
      const family = options.family === 4 || options.family === 6 ? options.family : 0
      const ok = all.filter((a) => isPublicAddress(a.address) && (family === 0 || a.family === family))
      const first = ok[0]
      if (first === undefined) { cb(refused('the host resolves only to non-public addresses'), ''); return }
      if (options.all === true) cb(null, ok)
      else cb(null, first.address, first.family)
    }, (err: NodeJS.ErrnoException) => cb(err, ''))
  }
}

export function toUpstreamError (err: unknown): AppError {
  if (err instanceof AppError) return err
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : ''
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new AppError('UPSTREAM_TIMEOUT', undefined, { detail: code, cause: err })
  }
  return new AppError('UPSTREAM_ERROR', 'The media server could not be reached', { detail: code === '' ? null : code, cause: err })
}

// undici's body (through an operator's proxy) as a RelayBody: its 'data' events,
// paused while the consumer holds a piece.
function readableBody (body: Readable): RelayBody {
  return {
    start (onData, done) {
      let settled = false
      const settle = (err: Error | null): void => {
        if (settled) return
        settled = true
        done(err)
      }
      body.on('data', (chunk: Buffer) => { if (!settled && !onData(chunk)) body.pause() })
      body.once('end', () => settle(null))
      body.once('error', settle)
      body.once('close', () => settle(body.readableEnded ? null : new WireError('the media body ended early', 'UND_ERR_SOCKET')))
    },
    resume () { body.resume() },
    destroy () { if (!body.destroyed) body.destroy() }
  }
}

export function createUpstream (options: UpstreamOptions = {}): UpstreamClient {
  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000
  const headersTimeoutMs = options.headersTimeoutMs ?? 15_000
  const bodyIdleTimeoutMs = options.bodyIdleTimeoutMs ?? 60_000
  const maxRedirects = options.maxRedirects ?? 5
  const maxOrigins = options.maxOrigins ?? 64
  const idleOriginMs = options.idleOriginMs ?? 120_000
  const highWaterMark = options.highWaterMark ?? 64 * 1024
  const resolve = options.resolve ?? defaultResolve
  const pools = new Map<string, Entry>()
  const proxies = new Map<string, Dispatcher>()

  function proxyAgent (proxyUrl: string): Dispatcher {
    let agent = proxies.get(proxyUrl)
    if (agent === undefined) {
      if (proxyUrl.startsWith('socks4')) throw new AppError('UPSTREAM_ERROR', 'The outbound proxy cannot relay media', { detail: 'SOCKS4 proxies work for yt-dlp only; use socks5, socks5h or http(s) in YTDLP_PROXY / <PLATFORM>_PROXY' })
      const timeouts = { headersTimeout: headersTimeoutMs, bodyTimeout: bodyIdleTimeoutMs }
      agent = proxyUrl.startsWith('socks')
        ? new Socks5ProxyAgent(proxyUrl.replace(/^socks5h:/, 'socks5:'), { ...timeouts, connect: buildConnector({ timeout: connectTimeoutMs }) })
        // http targets are forwarded as proxies expect them (CONNECT only for https, which many proxies allow on 443 alone)
        : new ProxyAgent({ uri: proxyUrl, ...timeouts, proxyTunnel: false, connect: { timeout: connectTimeoutMs } })
      proxies.set(proxyUrl, agent)
    }
    return agent
  }

  // Through a proxy we cannot see the connected address: the name must resolve to public addresses only.
  async function checkThroughProxy (bare: string): Promise<void> {
    if (isIP(bare) !== 0) return
    let all: LookupAddress[]
    try { all = await resolve(bare) } catch (err) { throw toUpstreamError(err) }
    if (all.length === 0 || all.some((a) => !isPublicAddress(a.address))) throw refused('the host resolves to a non-public address')
  }

  // guarded: names resolve to public addresses only, and the connected address is checked again
  const connector = (guarded: boolean, onread?: OnRead): buildConnector.connector => {
    const extra = onread === undefined ? {} : { onread }
    if (!guarded) return buildConnector({ timeout: connectTimeoutMs, ...extra })
    const checked = buildConnector({ timeout: connectTimeoutMs, lookup: guardedLookup(resolve), ...extra })
    return (opts, cb) => {
      checked(opts, (err, socket) => {
        if (err !== null) { cb(err, null); return }
        const remote = socket.remoteAddress ?? ''
        if (!isPublicAddress(remote)) {
          socket.destroy()
          cb(refused('the host connected to a non-public address'), null)
          return
        }
        cb(null, socket)
      })
    }
  }
  const plainConnect = connector(false)
  const guardedConnect = connector(true)
  const wire = createWire({
    connector,
    headersTimeoutMs,
    bodyIdleTimeoutMs,
    keepAliveMs: 30_000,
    maxOrigins
  })

  function evict (nowMs: number, force: boolean): void {
    for (const [key, e] of pools) {
      if (e.active > 0) continue
      if (!force && nowMs - e.lastUsedMs < idleOriginMs) continue
      pools.delete(key)
      e.pool.close().catch(() => {})
      if (force) return
    }
  }
  const sweep = setInterval(() => evict(Date.now(), false), Math.max(1000, Math.min(idleOriginMs, 60_000)))
  sweep.unref()

  function poolFor (origin: string, guarded: boolean): Entry {
    const key = `${guarded ? 'g' : 'a'} ${origin}`
    let e = pools.get(key)
    if (e !== undefined) {
      pools.delete(key)
      pools.set(key, e)
      return e
    }
    if (pools.size >= maxOrigins) evict(Date.now(), true)
    e = {
      pool: new Pool(origin, {
        connect: guarded ? guardedConnect : plainConnect,
        connections: options.connectionsPerOrigin ?? 256,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        headersTimeout: headersTimeoutMs,
        bodyTimeout: bodyIdleTimeoutMs
      }),
      active: 0,
      lastUsedMs: Date.now()
    }
    pools.set(key, e)
    return e
  }

  interface Hop<B> { status: number, headers: Record<string, string>, body: B }
  type Send<B> = (url: URL, headers: Record<string, string>, guarded: boolean, proxyUrl: string | null) => Promise<Hop<B>>

  // The request, with its redirects followed and every hop held to the policy.
  async function follow<B> (req: UpstreamRequest, send: Send<B>, drop: (body: B) => Promise<void>): Promise<Hop<B> & { url: string }> {
    const allowed = hostMatcher(req.allow)
    let url: URL
    try { url = new URL(req.url) } catch (err) { throw new AppError('UPSTREAM_ERROR', 'The media URL is invalid', { cause: err }) }
    let headers = req.headers
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused(`${url.protocol} only http and https are allowed`)
      if (url.username !== '' || url.password !== '') throw refused('credentials in URLs are not allowed')
      const guarded = !allowed(url)
      const bare = url.hostname.replace(/^\[|\]$/g, '')
      if (guarded && isIP(bare) !== 0 && !isPublicAddress(bare)) throw refused('not a public address')
      // the same egress as the extraction that produced the URL (yt-dlp gets the same proxy)
      const proxyUrl = options.proxyFor?.(req.platform ?? null) ?? null
      if (proxyUrl !== null && guarded) await checkThroughProxy(bare)
      let res: Hop<B>
      try {
        res = await send(url, headers, guarded, proxyUrl)
      } catch (err) {
        if (req.signal.aborted) throw err
        throw toUpstreamError(err)
      }
      const location = res.headers.location
      if (REDIRECTS.has(res.status) && location !== undefined) {
        await drop(res.body)
        if (hop >= maxRedirects) throw new AppError('UPSTREAM_ERROR', 'The media server redirected too many times')
        let next: URL
        // A Location that does not parse is the media server's fault: 502, never a TypeError (500).
        try { next = new URL(location, url) } catch (err) { throw new AppError('UPSTREAM_ERROR', 'The media server redirected to an invalid URL', { cause: err }) }
        if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !ORIGIN_BOUND.has(k)))
        url = next
        continue
      }
      return { ...res, url: url.href }
    }
  }

  // One hop through undici: the origin's pool, or the operator's proxy.
  async function undiciSend (req: UpstreamRequest, url: URL, headers: Record<string, string>, guarded: boolean, proxyUrl: string | null): Promise<Hop<UpstreamResponse['body']>> {
    const entry = proxyUrl === null ? poolFor(url.origin, guarded) : null
    if (entry !== null) {
      entry.active++
      entry.lastUsedMs = Date.now()
    }
    let res
    try {
      const options = { path: url.pathname + url.search, method: req.method, headers, signal: req.signal, highWaterMark }
      res = entry !== null ? await entry.pool.request(options) : await proxyAgent(proxyUrl ?? '').request({ ...options, origin: url.origin })
    } catch (err) {
      if (entry !== null) entry.active--
      throw err
    }
    const release = (): void => { if (entry !== null) { entry.active--; entry.lastUsedMs = Date.now() } }
    res.body.once('close', release)
    // undici turns a plain destroy() of an unfinished body into an 'error'
    // event; with no listener that is an uncaught exception. Readers still
    // see errors (async iteration and pipeline() have their own listeners).
    res.body.on('error', ignore)
    const flat: Record<string, string> = {}
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
    // several Location headers: not a redirect to follow
    if (Array.isArray(res.headers.location)) delete flat.location
    return { status: res.statusCode, headers: flat, body: res.body }
  }

  async function request (req: UpstreamRequest): Promise<UpstreamResponse> {
    return await follow(req,
      async (url, headers, guarded, proxyUrl) => await undiciSend(req, url, headers, guarded, proxyUrl),
      async (body) => { await body.dump({ limit: 65536 }).catch(() => {}) })
  }

  async function relay (req: UpstreamRequest): Promise<RelayResponse> {
    return await follow<RelayBody>(req, async (url, headers, guarded, proxyUrl) => {
      if (proxyUrl === null) return await wire.request(url, req.method, headers, req.signal, guarded)
      const res = await undiciSend(req, url, headers, guarded, proxyUrl)
      return { ...res, body: readableBody(res.body) }
    }, async (body) => { body.destroy() })
  }

  return {
    request,
    relay,
    origins: () => pools.size + wire.origins(),
    async close () {
      clearInterval(sweep)
      wire.close()
      const all = [...pools.values()]
      pools.clear()
      const agents = [...proxies.values()]
      proxies.clear()
      await Promise.all([...all.map(async (e) => await e.pool.destroy()), ...agents.map(async (a) => await a.destroy())])
    }
  }
}
