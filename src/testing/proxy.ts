// Test fixtures for the proxy (imported by tests and bench/proxy.ts only): a
// deterministic media file, a node:http origin with scripted misbehaviour,
// the real server (the default policy, both lanes), and a plain node:http client.
import { createCipheriv, createHash } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadConfig } from '../config.ts'
import { createPolicy } from '../http/policy.ts'
import { createHttpServer } from '../http/server.ts'
import type { Route } from '../http/route.ts'
import { pino } from 'pino'
import { parseRange, resolveRange } from '../proxy/range.ts'
import { proxyRoutes } from '../http/routes/proxy.ts'
import { createLinkSigner } from '../proxy/signer.ts'
import type { LinkInput, LinkSigner, ReextractRef } from '../proxy/signer.ts'
import type { MediaTarget } from '../proxy/stream.ts'
import { createUpstream } from '../proxy/upstream.ts'

// AES-CTR keystream: fast, deterministic, incompressible.
export function mediaBytes (size: number, seed = 'vidgate'): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16)
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size))
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

export interface OriginRequest { path: string, method: string, headers: IncomingHttpHeaders, closedEarly: boolean, sent: number }

export interface OriginBehaviour {
  // serve the file at the first gen only; older gens answer 403 (an expired URL)
  gen?: number
  // cut the connection after this many body bytes (per response; a list: per
  // response in turn, the last one repeating)
  resetAfter?: number | readonly number[]
  // how many responses get cut (default: all)
  resets?: number
  ignoreRange?: boolean
  chunked?: boolean
  dripBytes?: number
  dripMs?: number
  chunkBytes?: number
  noHead?: boolean
}

export interface Origin {
  port: number
  base: string
  requests: OriginRequest[]
  behave: (path: string, b: OriginBehaviour) => void
  close: () => Promise<void>
}

type Extra = (req: IncomingMessage, res: ServerResponse) => boolean

export async function startOrigin (data: Buffer, extra?: Extra): Promise<Origin> {
  const requests: OriginRequest[] = []
  const behaviours = new Map<string, OriginBehaviour>()
  const cuts = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin')
    const rec: OriginRequest = { path: url.pathname + url.search, method: req.method ?? '', headers: req.headers, closedEarly: false, sent: 0 }
    requests.push(rec)
    res.on('close', () => { if (!res.writableFinished) rec.closedEarly = true })
    if (extra?.(req, res) === true) return
    const m = /^\/media\/([\w-]+)(?:\/(\d+))?$/.exec(url.pathname)
    if (m === null) { res.statusCode = 404; res.end('not found'); return }
    const name = m[1] ?? ''
    const b = behaviours.get(name) ?? {}
    if (b.gen !== undefined && Number(m[2] ?? '0') !== b.gen) { res.statusCode = 403; res.end('expired'); return }
    if (b.noHead === true && req.method === 'HEAD') { res.statusCode = 405; res.end(); return }
    let start = 0
    let end = data.length - 1
    const spec = b.ignoreRange === true ? { kind: 'none' as const } : parseRange(req.headers.range)
    if (spec.kind === 'from' || spec.kind === 'suffix') {
      const r = resolveRange(spec, data.length)
      if (r === null) { res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end(); return }
      start = r.start
      end = r.end
      res.statusCode = 206
      res.setHeader('content-range', `bytes ${start}-${end}/${data.length}`)
    }
    res.setHeader('content-type', 'video/mp4')
    res.setHeader('etag', '"v1"')
    res.setHeader('set-cookie', 'origin=secret')
    res.setHeader('x-origin-private', 'leak')
    if (b.ignoreRange !== true) res.setHeader('accept-ranges', 'bytes')
    if (b.chunked !== true) res.setHeader('content-length', String(end - start + 1))
    if (req.method === 'HEAD') { res.end(); return }
    const cutNo = cuts.get(name) ?? 0
    const limits = b.resetAfter === undefined ? [] : typeof b.resetAfter === 'number' ? [b.resetAfter] : b.resetAfter
    const limit = limits[Math.min(cutNo, limits.length - 1)]
    const cut = limit !== undefined && (b.resets === undefined || cutNo < b.resets) ? limit : Infinity
    if (cut !== Infinity) cuts.set(name, cutNo + 1)
    let pos = start
    const step = (): void => {
      while (pos <= end) {
        if (rec.sent >= cut) {
          if (b.gen !== undefined) b.gen++
          if (rec.sent === 0) res.flushHeaders()
          setImmediate(() => req.socket.destroy())
          return
        }
        const n = Math.min(b.dripBytes ?? b.chunkBytes ?? 65536, end + 1 - pos, cut - rec.sent)
        const ok = res.write(data.subarray(pos, pos + n))
        pos += n
        rec.sent += n
        if (b.dripMs !== undefined) { setTimeout(step, b.dripMs); return }
        if (!ok) { res.once('drain', step); return }
      }
      res.end()
    }
    step()
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    requests,
    behave: (path, b) => { behaviours.set(path, b); cuts.delete(path) },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

// errors(): what the policy logged at error level (unhandled errors); inflight(): requests not yet settled.
export interface ProxyServer { port: number, inflight: () => number, errors: () => string[], close: () => Promise<void> }

export async function startProxyServer (routes: readonly Route[], maxUrlLength = 2048, port = 0): Promise<ProxyServer> {
  const errors: string[] = []
  // the default policy, with these tests' bounds and no slow-request log or stream cap
  const settings = loadConfig({ MAX_URL_LENGTH: String(maxUrlLength), MAX_REQUEST_BODY_SIZE: '1024', SLOW_REQUEST_MS: '0', STREAM_MAX_PER_CLIENT: '0' }).policy
  const policy = createPolicy(settings, { log: pino({ level: 'error' }, { write: (line: string) => { errors.push(line) } }) })
  const server = createHttpServer({ routes, policy })
  const bound = await server.listen(port, '127.0.0.1')
  return { port: bound, inflight: policy.inflight, errors: () => errors, close: async () => await server.shutdown(1000) }
}

export interface Reply { status: number, headers: IncomingHttpHeaders, body: Buffer, error: string | null }

export interface GetOptions {
  method?: string
  headers?: Record<string, string>
  // reads this many bytes and then destroys the connection
  abortAfter?: number
  // destroys the connection after this long, answered or not
  abortAfterMs?: number
  // slows the reader: bytes per tick, and the tick
  readBytes?: number
  readEveryMs?: number
  onBytes?: (received: number) => void
  // stops reading once this many bytes arrived, for pauseMs, then calls onPaused and reads on
  pauseAt?: number
  pauseMs?: number
  onPaused?: (received: number) => void
  // false: count the bytes but do not keep them (body stays empty)
  keep?: boolean
}

export async function get (port: number, path: string, opts: GetOptions = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      let received = 0
      const done = (error: string | null): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error })
      let paused = false
      res.on('data', (chunk: Buffer) => {
        if (opts.keep !== false) chunks.push(chunk)
        received += chunk.length
        opts.onBytes?.(received)
        if (!paused && opts.pauseAt !== undefined && received >= opts.pauseAt) {
          paused = true
          res.pause()
          setTimeout(() => { opts.onPaused?.(received); res.resume() }, opts.pauseMs ?? 1000)
        }
        if (opts.abortAfter !== undefined && received >= opts.abortAfter) { req.destroy(); done('aborted by test') }
      })
      if (opts.readBytes !== undefined) throttle(res, opts.readBytes, opts.readEveryMs ?? 10)
      res.on('end', () => done(null))
      res.on('error', (err) => done(err.message))
      res.on('aborted', () => done('aborted'))
    })
    req.on('error', (err) => { if (opts.abortAfter === undefined && opts.abortAfterMs === undefined) reject(err) })
    if (opts.abortAfterMs !== undefined) {
      const timer = setTimeout(() => { req.destroy(); resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: 'aborted by test' }) }, opts.abortAfterMs)
      req.on('close', () => clearTimeout(timer))
    }
    req.end()
  })
}

// Reads at most `bytes` per tick by pausing the stream between ticks.
function throttle (res: IncomingMessage, bytes: number, everyMs: number): void {
  let budget = bytes
  res.on('data', (chunk: Buffer) => {
    budget -= chunk.length
    if (budget <= 0) res.pause()
  })
  const timer = setInterval(() => {
    budget = bytes
    if (res.isPaused()) res.resume()
  }, everyMs)
  res.on('close', () => clearInterval(timer))
}

export async function waitFor (check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

// An origin with /hang, /redirect?to= and /status/NNN besides /media/<name>[/<gen>],
// and the proxy route in front of it; 127.0.0.1:1 is allowed too (nothing listens).
export interface ProxyFixture {
  data: Buffer
  origin: Origin
  proxy: ProxyServer
  signer: LinkSigner
  // what resolveRef was asked, and what it answers per ref.id
  refreshes: ReextractRef[]
  refreshTo: Map<string, () => MediaTarget>
  // a link for the proxy route
  link: (input: Omit<LinkInput, 'route'>, query?: string) => string
  media: (name: string, gen?: number) => string
  lastRequest: (prefix: string) => OriginRequest
  errors: () => string[]
  close: () => Promise<void>
}

export async function startProxyFixture (size: number): Promise<ProxyFixture> {
  const data = mediaBytes(size)
  const signer = createLinkSigner('test-secret')
  const upstream = createUpstream({ headersTimeoutMs: 1500 })
  const refreshes: ReextractRef[] = []
  const refreshTo = new Map<string, () => MediaTarget>()
  const origin = await startOrigin(data, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://o')
    if (url.pathname === '/hang') return true
    if (url.pathname === '/redirect') { res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end(); return true }
    const status = /^\/status\/(\d{3})$/.exec(url.pathname)
    if (status !== null) { res.writeHead(Number(status[1])).end('upstream says no'); return true }
    return false
  })
  const resolveRef = async (ref: ReextractRef): Promise<MediaTarget> => {
    refreshes.push(ref)
    const next = refreshTo.get(ref.id)
    if (next === undefined) throw new Error('no refresh scripted')
    return next()
  }
  const proxy = await startProxyServer(proxyRoutes({ signer, upstream, allowHosts: [`127.0.0.1:${origin.port}`, '127.0.0.1:1'], resolveRef }))
  return {
    data,
    origin,
    proxy,
    signer,
    refreshes,
    refreshTo,
    link: (input, query = '') => `/api/v2/proxy/${signer.sign({ ...input, route: 'proxy' }, 60)}${query}`,
    media: (name, gen) => `${origin.base}/media/${name}${gen === undefined ? '' : `/${gen}`}`,
    lastRequest (prefix) {
      const r = origin.requests.filter((x) => x.path.startsWith(prefix)).at(-1)
      if (r === undefined) throw new Error(`origin saw no request for ${prefix}`)
      return r
    },
    errors: proxy.errors,
    async close () {
      await proxy.close()
      await upstream.close()
      await origin.close()
    }
  }
}
