// The upstream client: one keep-alive undici Pool per origin (bounded, idle
// ones evicted), manual redirects, and the SSRF guard. Hosts outside the
// allow-list may only reach public addresses; that is checked on the resolved
// addresses (custom lookup) and again on the socket actually connected, so a
// DNS rebind between check and connect cannot reach an internal address.
// With an operator's outbound proxy for the platform (YTDLP_PROXY, <PLATFORM>_PROXY:
// media URLs are often bound to the address that extracted them) requests leave
// through it; the proxy resolves names, so the host is checked here first, on the
// addresses it resolves to, and the proxy itself is trusted (the operator's).
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { LookupAddress, LookupOptions } from 'node:dns'
import { Pool, ProxyAgent, Socks5ProxyAgent, buildConnector } from 'undici'
import type { Dispatcher } from 'undici'
import { AppError } from '../errors.ts'
import { hostMatcher, isPublicAddress } from './address.ts'

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

export interface UpstreamClient {
  request: (req: UpstreamRequest) => Promise<UpstreamResponse>
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

  const plainConnect = buildConnector({ timeout: connectTimeoutMs })
  const checkedConnect = buildConnector({ timeout: connectTimeoutMs, lookup: guardedLookup(resolve) })
  const guardedConnect: buildConnector.connector = (opts, cb) => {
    checkedConnect(opts, (err, socket) => {
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

  async function request (req: UpstreamRequest): Promise<UpstreamResponse> {
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
        if (req.signal.aborted) throw err
        throw toUpstreamError(err)
      }
      const release = (): void => { if (entry !== null) { entry.active--; entry.lastUsedMs = Date.now() } }
      res.body.once('close', release)
      // undici turns a plain destroy() of an unfinished body into an 'error'
      // event; with no listener that is an uncaught exception. Readers still
      // see errors (async iteration and pipeline() have their own listeners).
      res.body.on('error', ignore)
      const location = res.headers.location
      if (REDIRECTS.has(res.statusCode) && typeof location === 'string') {
        await res.body.dump({ limit: 65536 }).catch(() => {})
        if (hop >= maxRedirects) throw new AppError('UPSTREAM_ERROR', 'The media server redirected too many times')
        let next: URL
        // A Location that does not parse is the media server's fault: 502, never a TypeError (500).
        try { next = new URL(location, url) } catch (err) { throw new AppError('UPSTREAM_ERROR', 'The media server redirected to an invalid URL', { cause: err }) }
        if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !ORIGIN_BOUND.has(k)))
        url = next
        continue
      }
      const flat: Record<string, string> = {}
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
      return { url: url.href, status: res.statusCode, headers: flat, body: res.body }
    }
  }

  return {
    request,
    origins: () => pools.size,
    async close () {
      clearInterval(sweep)
      const all = [...pools.values()]
      pools.clear()
      const agents = [...proxies.values()]
      proxies.clear()
      await Promise.all([...all.map(async (e) => await e.pool.destroy()), ...agents.map(async (a) => await a.destroy())])
    }
  }
}
