// The request policy, written once and compiled once per route (as fastify
// builds a route's context, with the steps that do not apply left out):
// admit() gives a request its id and runs the URL and body bounds, the API key
// check, the rate limit and the stream slot; settle() counts it in the metrics,
// logs it when slow (or always, with the access log) and ends its in-flight
// count. Each lane (lanes/uws.ts, lanes/hyper.ts) fills a RequestView from its
// own request object, as hono's adapters do, and only writes what admit
// returned, so a request gets the same answer whichever lane serves its route.
import { randomBytes } from 'node:crypto'
import { AppError, toErrorBody } from '../errors.ts'
import { serializeError } from '../schemas/error.ts'
import { createAccess, isLoopback } from '../guard/access.ts'
import { createClientIpResolver, forwardedFor, isRelayed } from '../guard/client-ip.ts'
import { createStreamSlots } from '../guard/stream-slots.ts'
import { createRequestMetrics } from '../ops/metrics.ts'
import type { Access } from '../guard/access.ts'
import type { ClientIpResolver } from '../guard/client-ip.ts'
import type { RateLimiter, RateResult } from '../guard/rate-limit.ts'
import type { RequestMetrics, RouteObserver } from '../ops/metrics.ts'
import type { Logger } from '../log.ts'
import type { PolicySettings } from '../config.ts'
import type { RequestContext } from './context.ts'
import type { LimitClass } from './route.ts'

export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"]
]
// what a browser script may read of our responses (CORS)
export const EXPOSED = 'X-Request-Id, X-Process-Time, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Stream-Mode, X-Task-Token, Content-Range, Content-Length, Accept-Ranges, Estimated-Content-Length'
// a client's X-Request-Id is echoed only when it looks like this
export const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/

// What the policy reads of a request. admit() reads it synchronously, before
// it returns (uWS's request object is only valid during its callback).
export interface RequestView {
  // as sent, upper case
  readonly method: string
  // the request target's length: the path, plus "?" and the query when there is one
  readonly urlBytes: number
  // a header by its lower-case name; '' when absent
  header: (name: string) => string
  // the socket peer's address as text, IPv4-mapped addresses dotted
  peer: () => string
}

// One request as admitted. It is the RequestContext routes get.
export interface Admission extends RequestContext {
  // the request's Origin, '' without one
  readonly origin: string
  peer: string
  ip: string
  // the route's rate-limit verdict; null when it has no limit
  limit: RateResult | null
  // why the request is refused (status, body, headers); null when let through
  refusal: AppError | null
  // gives back the stream slot the request holds
  release: (() => void) | null
  // what the rate limiter counts this request under, and the key's own limit (charge() reads them)
  limitKey: string
  keyLimit: number | undefined
}

// What the policy of a route depends on (a Route has all of it).
export interface RouteRules {
  readonly path: string
  readonly method: string
  readonly limit: LimitClass
  readonly admin: boolean
  readonly caller?: boolean
  readonly stream?: boolean
  readonly maxUrlLength?: number
}

export interface RoutePolicy {
  // The request id, then the URL and body bounds, API key, rate limit and
  // stream slot; the first refusal ends it. A promise only when the route's
  // limiter answers later (Redis); it never rejects.
  admit: (view: RequestView) => Admission | Promise<Admission>
}

export interface HeaderSink { header: (name: string, value: string) => unknown }

// The lane a route is compiled for: generated request ids are <prefix>-<n> on
// hyper-express and <prefix>_<n> on uWS, so logs and tests can tell which answered.
export type Lane = 'uws' | 'hyper'

export interface Policy {
  readonly settings: PolicySettings
  route: (rules: RouteRules, lane: Lane) => RoutePolicy
  // Outside the route table (preflight, not found, the error handler): id,
  // headers, metrics and logs; counted under `name` and the request's method.
  bare: (name: string) => { admit: (view: RequestView) => Admission }
  // After "x-request-id: <id>", as "\r\nname: value" lines for uWS's one header
  // block: the headers every response carries, then the request's own (CORS, rate limit).
  readonly fixedLines: string
  lines: (a: Admission) => string
  // The same headers, X-Request-Id first, one call each (hyper-express).
  headers: (a: Admission, res: HeaderSink) => void
  // The error to answer with: an AppError as it is; anything else is a bug, logged, and a 500.
  fault: (a: Admission, err: unknown) => AppError
  errorBody: (a: Admission, err: AppError) => string
  // metrics, the slow/access log, the stream slot and the in-flight count; endMs: when the response went out
  settle: (a: Admission, status: number, endMs?: number) => void
  inflight: () => number
  // requests started so far: a draining server waits until this stops moving
  seen: () => number
  draining: () => boolean
  drain: () => void
}

export interface PolicyDeps {
  log: Logger
  metrics?: RequestMetrics
  access?: Access
  clientIp?: ClientIpResolver
  limiters?: Partial<Record<LimitClass, RateLimiter>>
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
const NO_SCOPES: readonly string[] = []
const NO_CHARGE = async (): Promise<void> => {}
const lines = (headers: ReadonlyArray<readonly [string, string]>): string => headers.map(([k, v]) => `\r\n${k}: ${v}`).join('')

// CORS_ORIGINS: '*' allows any origin; otherwise a request's Origin is echoed
// only when it is one of the configured ones (case-insensitive). A configured
// value with a line break could never match a header, and is never written.
function corsOrigins (configured: readonly string[]): { any: boolean, allows: (origin: string) => boolean } {
  const allowed = new Set(configured.map((o) => o.toLowerCase()).filter((o) => !/[\r\n]/.test(o)))
  return { any: configured.includes('*'), allows: (origin) => allowed.has(origin.toLowerCase()) }
}

export function createPolicy (settings: PolicySettings, deps: PolicyDeps): Policy {
  const { log } = deps
  const metrics = deps.metrics ?? createRequestMetrics()
  const access = deps.access ?? createAccess([], false)
  const clientIp = deps.clientIp ?? createClientIpResolver([])
  const limiters = deps.limiters ?? {}
  const readForwarded = clientIp.trustsProxies
  const idPrefix = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`
  const idPrefixes: Readonly<Record<Lane, string>> = { hyper: `${idPrefix}-`, uws: `${idPrefix}_` }
  let idCounter = 0
  let inflight = 0
  let seen = 0
  let draining = false
  const streams = createStreamSlots()

  const origins = corsOrigins(settings.corsOrigins)
  const fixedLines = lines([...SECURITY_HEADERS, ...(origins.any ? [] : [['vary', 'Origin'] as const])])
  const corsAny = lines([['access-control-allow-origin', '*'], ['access-control-expose-headers', EXPOSED]])
  const corsTail = lines([['access-control-expose-headers', EXPOSED], ...(settings.corsCredentials ? [['access-control-allow-credentials', 'true'] as const] : [])])
  // Only browsers send Origin, and only they read CORS headers.
  const corsLines = (origin: string): string => {
    if (origin === '') return ''
    if (origins.any) return corsAny
    return origins.allows(origin) ? `\r\naccess-control-allow-origin: ${origin}${corsTail}` : ''
  }

  function open (view: RequestView, route: string, observe: RouteObserver, ids: string): Admission {
    inflight++
    seen++
    const sent = view.header('x-request-id')
    return {
      id: sent !== '' && SANE_ID.test(sent) ? sent : ids + (++idCounter).toString(36),
      startMs: performance.now(),
      method: view.method,
      route,
      observe,
      origin: view.header('origin'),
      peer: '',
      ip: '',
      status: 200,
      scopes: NO_SCOPES,
      keyId: null,
      admin: false,
      controller: null,
      client: '',
      local: false,
      charge: NO_CHARGE,
      limit: null,
      refusal: null,
      release: null,
      limitKey: '',
      keyLimit: undefined
    }
  }

  // This host itself: a loopback peer that is no trusted proxy and relays nobody. Behind a
  // reverse proxy on the same host (without TRUSTED_PROXIES) every client is a loopback
  // peer, and the proxy's forwarding headers are what tell them apart.
  const self = (peer: string, view: RequestView): boolean => isLoopback(peer) && !clientIp.isTrusted(peer) && !isRelayed(view.header)

  // Streams in flight per client (API key, else IP); the slot is given back when the request settles.
  function takeStream (a: Admission, cap: number): void {
    // This host is exempt: ffmpeg remuxes read their inputs through our own proxy.
    if (a.local) return
    const release = streams.take(a.client, cap)
    if (release === null) {
      a.refusal = new AppError('RATE_LIMITED', 'Too many concurrent streams', {
        detail: `at most ${cap} streams at once per client`, headers: { 'retry-after': '5' }
      })
      return
    }
    a.release = release
  }

  function route (rules: RouteRules, lane: Lane): RoutePolicy {
    const { path } = rules
    const ids = idPrefixes[lane]
    const observe = metrics.forRoute(path, rules.method.toUpperCase())
    const maxUrlBytes = rules.maxUrlLength ?? settings.maxUrlBytes
    const { maxBodyBytes } = settings
    const caller = rules.caller === true
    const checkKeys = rules.admin || caller || access.keysConfigured
    const limiter = limiters[rules.limit]
    const streamCap = rules.stream === true ? settings.streamsPerClient : 0
    // routes that may extract or stream need the client: extractions take turns per
    // client (src/extract/fair-queue.ts), streams take slots per client
    const needsClient = rules.limit === 'extract' || rules.stream === true
    const readClient = checkKeys || limiter !== undefined || streamCap > 0 || settings.accessLog || needsClient

    // A batch's further items, counted by the same key and limit as the request
    // itself; one function per route (no closure per request), called as a.charge().
    const charge = limiter === undefined
      ? NO_CHARGE
      : async function (this: Admission, units: number): Promise<void> {
        if (units <= 0) return
        const r = await limiter.hit(this.limitKey, this.keyLimit, units)
        this.limit = r
        if (!r.allowed) {
          throw new AppError('RATE_LIMITED', 'Rate limit exceeded', {
            detail: `each item of a batch counts as one request: at most ${r.limit} per window; retry in ${r.retryAfterSec} s`,
            headers: { 'retry-after': String(r.retryAfterSec) }
          })
        }
      }

    const limited = (a: Admission, r: RateResult): Admission => {
      a.limit = r
      if (!r.allowed) {
        a.refusal = new AppError('RATE_LIMITED', 'Rate limit exceeded', {
          detail: `at most ${r.limit} requests per window; retry in ${r.retryAfterSec} s`,
          headers: { 'retry-after': String(r.retryAfterSec) }
        })
      } else if (streamCap > 0) {
        takeStream(a, streamCap)
      }
      return a
    }

    return {
      admit (view) {
        const a = open(view, path, observe, ids)
        if (view.urlBytes > maxUrlBytes) {
          a.refusal = new AppError('URL_TOO_LONG', `The request URL is longer than ${maxUrlBytes} bytes`)
          return a
        }
        // Every method: an unread body is still buffered while an async handler runs.
        const length = view.header('content-length')
        if (length !== '' && Number(length) > maxBodyBytes) {
          a.refusal = new AppError('PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBodyBytes} bytes`)
          return a
        }
        if (!readClient) return a
        a.peer = view.peer()
        a.ip = clientIp.resolve(a.peer, readForwarded ? forwardedFor(view.header('x-forwarded-for'), view.header('forwarded')) : undefined)
        let keyLimit: number | null = null
        if (checkKeys) {
          const authorization = view.header('authorization')
          const apiKey = view.header('x-api-key')
          const key = access.identify(authorization === '' ? undefined : authorization, apiKey === '' ? undefined : apiKey)
          // this host itself (not a proxy on it relaying someone): admin while no key exists
          const loopback = (rules.admin || caller) && self(a.peer, view)
          try {
            access.check({ key, presented: authorization !== '' || apiKey !== '', admin: rules.admin, loopback })
          } catch (err) {
            a.refusal = fault(a, err)
            return a
          }
          if (key !== null) { a.scopes = key.scopes; a.keyId = key.id; keyLimit = key.limit }
          a.admin = rules.admin || (caller && access.isAdmin(key, loopback))
        }
        // this host itself, read now (the view is gone once a limiter answers later): exempt from the per-client caps
        if (needsClient) {
          a.local = self(a.peer, view)
          a.client = a.keyId === null ? `ip:${a.ip}` : `key:${a.keyId}`
        }
        if (limiter === undefined) {
          if (streamCap > 0) takeStream(a, streamCap)
          return a
        }
        // An API key is limited by its own count (and its own limit, when it has one).
        const limitKey = a.keyId === null ? a.ip : `key:${a.keyId}`
        a.limitKey = limitKey
        a.keyLimit = keyLimit ?? undefined
        a.charge = charge
        const r = a.keyId === null ? limiter.hit(a.ip) : limiter.hit(limitKey, keyLimit ?? undefined)
        if (r instanceof Promise) return r.then((x) => limited(a, x), (err: unknown) => { a.refusal = fault(a, err); return a })
        return limited(a, r)
      }
    }
  }

  function bare (name: string): { admit: (view: RequestView) => Admission } {
    return {
      admit (view) {
        const a = open(view, name, metrics.forRoute(name, METHODS.has(view.method) ? view.method : 'OTHER'), idPrefixes.hyper)
        if (settings.accessLog) {
          a.peer = view.peer()
          a.ip = clientIp.resolve(a.peer, readForwarded ? forwardedFor(view.header('x-forwarded-for'), view.header('forwarded')) : undefined)
        }
        return a
      }
    }
  }

  function fault (a: Admission, err: unknown): AppError {
    const app = err instanceof AppError ? err : null
    if (app === null) log.error({ err, reqId: a.id, route: a.route }, 'unhandled error')
    const out = app ?? new AppError('INTERNAL')
    a.status = out.statusCode
    return out
  }

  return {
    settings,
    route,
    bare,
    fixedLines,
    lines (a) {
      const l = a.limit
      const cors = corsLines(a.origin)
      return l === null ? cors : `${cors}\r\nx-ratelimit-limit: ${l.limit}\r\nx-ratelimit-remaining: ${l.remaining}\r\nx-ratelimit-reset: ${l.resetSec}`
    },
    headers (a, res) {
      res.header('x-request-id', a.id)
      for (const [k, v] of SECURITY_HEADERS) res.header(k, v)
      if (!origins.any) res.header('vary', 'Origin')
      if (a.origin !== '' && (origins.any || origins.allows(a.origin))) {
        res.header('access-control-allow-origin', origins.any ? '*' : a.origin)
        res.header('access-control-expose-headers', EXPOSED)
        if (!origins.any && settings.corsCredentials) res.header('access-control-allow-credentials', 'true')
      }
      const l = a.limit
      if (l !== null) {
        res.header('x-ratelimit-limit', String(l.limit))
        res.header('x-ratelimit-remaining', String(l.remaining))
        res.header('x-ratelimit-reset', String(l.resetSec))
      }
    },
    fault,
    errorBody: (a, err) => serializeError(toErrorBody(err, a.id)),
    settle (a, status, endMs = performance.now()) {
      inflight--
      if (a.release !== null) { a.release(); a.release = null }
      const ms = endMs - a.startMs
      a.observe(status, ms / 1000)
      if (settings.accessLog) log.info({ reqId: a.id, method: a.method, route: a.route, status, ms, ip: a.ip }, 'request')
      else if (settings.slowRequestMs > 0 && ms >= settings.slowRequestMs) log.warn({ reqId: a.id, method: a.method, route: a.route, status, ms }, 'slow request')
    },
    inflight: () => inflight,
    seen: () => seen,
    draining: () => draining,
    drain: () => { draining = true }
  }
}
