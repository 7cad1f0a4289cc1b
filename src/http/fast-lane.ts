// The fast lane for the hottest endpoints: JSON GET routes whose body is a
// refreshed snapshot (/, health, auth status), and routes with a peek that
// often has the body in memory (cached video info). They run the same policy
// as the pipeline (request id, security and CORS headers, URL bound, API keys,
// rate limit, metrics, drain) directly on uWS, without hyper-express's
// per-request Request/Response objects, which profiles showed to be most of
// their cost.
//
// Per request it makes as few calls into uWS as it can: every uWS call copies
// its strings across the native boundary, and bench/ showed a dozen
// writeHeader calls costing as much as all the policy code. So the header
// block is built as one string and written with one writeHeader call (uWS
// writes "name: value\r\n" verbatim; the value carries the other lines).
// Nothing in that block comes from the request except the request id, which
// is only echoed when it matches SANE_ID, and the CORS origin, which is only
// echoed when it is one of the configured origins.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import { randomBytes } from 'node:crypto'
import { AppError, toErrorBody } from '../errors.ts'
import { serializeError } from '../schemas/error.ts'
import { isLoopback } from '../guard/access.ts'
import { forwardedFor, peerAddress } from '../guard/client-ip.ts'
import { JSON_TYPE } from './route.ts'
import { secondsText } from './context.ts'
import type { Route, PeekInput } from './route.ts'
import type { PipelineDeps } from './pipeline.ts'
import { SECURITY_HEADERS, EXPOSED, SANE_ID, corsOrigins } from './policy-headers.ts'
import type { RateResult } from '../guard/rate-limit.ts'

const REASONS: Readonly<Record<number, string>> = {
  200: '200 OK', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 414: '414 URI Too Long', 429: '429 Too Many Requests', 500: '500 Internal Server Error', 503: '503 Service Unavailable'
}

export interface FastLaneState { draining: () => boolean, started: () => void, ended: () => void }

export type FastHandler = (res: HttpResponse, req: HttpRequest) => void
// true: answered; false: untouched, for the route's normal handler
export type FirstHandler = (res: HttpResponse, req: HttpRequest) => boolean

type Render = () => { status: number, body: string | Buffer }

// head: the handler for HEAD (uWS routes each method to its own handler)
export interface FastLane {
  fast: (route: Route, head: boolean) => FastHandler | null
  first: (route: Route, head: boolean) => FirstHandler | null
}

const lines = (headers: ReadonlyArray<readonly [string, string]>): string => headers.map(([k, v]) => `\r\n${k}: ${v}`).join('')

// What one response needs besides the route's body.
interface Reply {
  res: HttpResponse
  id: string
  origin: string
  start: number
  limit: RateResult | null
  render: Render
}

// getQuery() is undefined without a query string (uWS 20.30)
const rawQuery = (req: HttpRequest): string => (req.getQuery() as string | undefined) ?? ''
// the request target's length, as the pipeline bounds it (path, "?", query)
const urlLengthOf = (req: HttpRequest, query: string): number => req.getUrl().length + query.length + 1

export function createFastLane (deps: PipelineDeps, state: FastLaneState): FastLane {
  const idPrefix = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}f-`
  let idCounter = 0
  const origins = corsOrigins(deps.corsOrigins)
  const anyOrigin = origins.any
  // After "x-request-id: <id>": the headers every fast response carries.
  const fixed = lines([...SECURITY_HEADERS, ...(anyOrigin ? [] : [['vary', 'Origin'] as const]), ['content-type', JSON_TYPE]])
  const corsAny = lines([['access-control-allow-origin', '*'], ['access-control-expose-headers', EXPOSED]])
  const corsTail = lines([['access-control-expose-headers', EXPOSED], ...(deps.corsCredentials ? [['access-control-allow-credentials', 'true'] as const] : [])])
  const readForwarded = deps.clientIp.trustsProxies

  const cors = (origin: string): string => {
    if (origin === '') return ''
    if (anyOrigin) return corsAny
    return origins.allows(origin) ? `\r\naccess-control-allow-origin: ${origin}${corsTail}` : ''
  }

  // The whole policy and response for one route; render gives the body once the request is let through.
  const serverFor = (route: Route, head: boolean): ((res: HttpResponse, req: HttpRequest, render: Render, urlLength: number) => void) => {
    const limiter = deps.limiters[route.limit]
    const observe = deps.metrics.forRoute(route.path, 'GET')
    const checkKeys = route.admin || deps.access.keysConfigured
    // the last snapshot rendered, and its bytes: a snapshot changes at most every few hundred ms
    let lastBody = ''
    let lastBytes = Buffer.alloc(0)
    const snapshot = route.fast !== undefined

    const write = (r: Reply, status: number, body: string | Buffer, extra: Record<string, string> | undefined): void => {
      const { res, limit } = r
      if (snapshot && typeof body === 'string' && body !== lastBody && status === 200) { lastBody = body; lastBytes = Buffer.from(body) }
      let block = r.id + fixed + cors(r.origin)
      if (limit !== null) block += `\r\nx-ratelimit-limit: ${limit.limit}\r\nx-ratelimit-remaining: ${limit.remaining}\r\nx-ratelimit-reset: ${limit.resetSec}`
      if (extra !== undefined) for (const k in extra) block += `\r\n${k}: ${extra[k] ?? ''}`
      const ms = performance.now() - r.start
      block += `\r\nx-process-time: ${secondsText(ms)}`
      // uWS answers "200 OK" unless told otherwise: one native call less on the hot path
      if (status !== 200) res.writeStatus(REASONS[status] ?? `${status} Status`)
      res.writeHeader('x-request-id', block)
      const payload = snapshot && body === lastBody ? lastBytes : body
      // uWS 20.30 aborts the process on endWithoutBody(length): write the length ourselves.
      if (head) res.writeHeader('content-length', String(Buffer.byteLength(payload))).endWithoutBody()
      else res.end(payload, state.draining())
      observe(status, ms / 1000)
      if (deps.accessLog) deps.log.info({ reqId: r.id, method: head ? 'HEAD' : 'GET', route: route.path, status, ms }, 'request')
      state.ended()
    }

    const fail = (r: Reply, err: unknown): void => {
      const app = err instanceof AppError ? err : new AppError('INTERNAL')
      if (!(err instanceof AppError)) deps.log.error({ err, reqId: r.id, route: route.path }, 'unhandled error')
      write(r, app.statusCode, serializeError(toErrorBody(app, r.id)), app.headers)
    }

    const respond = (r: Reply): void => {
      const limit = r.limit
      if (limit !== null && !limit.allowed) {
        fail(r, new AppError('RATE_LIMITED', 'Rate limit exceeded', { detail: `at most ${limit.limit} requests per window; retry in ${limit.retryAfterSec} s`, headers: { 'retry-after': String(limit.retryAfterSec) } }))
        return
      }
      let out: { status: number, body: string | Buffer }
      try { out = r.render() } catch (err) { fail(r, err); return }
      write(r, out.status, out.body, undefined)
    }

    // A promise from the limiter (Redis): answer later, corked, unless the client left.
    const later = (r: Reply, pending: Promise<RateResult>): void => {
      let aborted = false
      r.res.onAborted(() => { aborted = true; state.ended() })
      pending.then((x) => {
        if (aborted) return
        r.limit = x
        r.res.cork(() => respond(r))
      }, (err: unknown) => { if (!aborted) r.res.cork(() => fail(r, err)) })
    }

    // Runs inside uWS's request callback, where the socket is already corked.
    return (res, req, render, urlLength) => {
      const start = performance.now()
      state.started()
      const sent = req.getHeader('x-request-id')
      const r: Reply = {
        res,
        id: sent !== '' && SANE_ID.test(sent) ? sent : `${idPrefix}${++idCounter}`,
        origin: req.getHeader('origin'),
        start,
        limit: null,
        render
      }
      try {
        if (urlLength > deps.maxUrlLength) throw new AppError('URL_TOO_LONG', `The request URL is longer than ${deps.maxUrlLength} bytes`)
        if (limiter === undefined && !checkKeys) { respond(r); return }
        // uWS's request object is only valid in this call: everything is read here.
        const forwarded = readForwarded ? forwardedFor(req.getHeader('x-forwarded-for'), req.getHeader('forwarded')) ?? '' : ''
        const peer = peerAddress(res.getRemoteAddress())
        let key = null
        if (checkKeys) {
          const authorization = req.getHeader('authorization')
          const apiKey = req.getHeader('x-api-key')
          key = deps.access.identify(authorization === '' ? undefined : authorization, apiKey === '' ? undefined : apiKey)
          deps.access.check({ key, presented: authorization !== '' || apiKey !== '', admin: route.admin, loopback: isLoopback(peer) && !deps.clientIp.isTrusted(peer) })
        }
        if (limiter === undefined) { respond(r); return }
        // An API key is limited by its own count (and its own limit, when it has one).
        const hit = key === null ? limiter.hit(deps.clientIp.resolve(peer, forwarded === '' ? undefined : forwarded)) : limiter.hit(`key:${key.id}`, key.limit ?? undefined)
        if (hit instanceof Promise) { later(r, hit); return }
        r.limit = hit
        respond(r)
      } catch (err) {
        fail(r, err)
      }
    }
  }

  return {
    fast (route, head) {
      const render = route.fast
      if (render === undefined || route.method !== 'get' || route.path.includes(':')) return null
      const serve = serverFor(route, head)
      // uWS matches a static pattern only by the exact path: getUrl() is route.path
      const pathLength = route.path.length + 1
      return (res, req) => serve(res, req, render, pathLength + rawQuery(req).length)
    },
    first (route, head) {
      const peek = route.peek
      if (peek === undefined || route.method !== 'get' || route.maxUrlLength !== undefined) return null
      const serve = serverFor(route, head)
      const names = route.path.split('/').filter((seg) => seg.startsWith(':')).map((seg) => seg.slice(1))
      return (res, req) => {
        // What the pipeline alone answers: an over-long URL (414) or a request with a body.
        const query = rawQuery(req)
        const urlLength = urlLengthOf(req, query)
        if (urlLength > deps.maxUrlLength || req.getHeader('content-length') !== '') return false
        const input: PeekInput = { params: {}, query }
        if (names.length > 0) {
          const params: Record<string, string> = {}
          for (let i = 0; i < names.length; i++) params[names[i] ?? ''] = req.getParameter(i)
          input.params = params
        }
        let body: string | Buffer | null
        try { body = peek(input) } catch { body = null }
        if (body === null) return false
        serve(res, req, () => ({ status: 200, body }), urlLength)
        return true
      }
    }
  }
}
