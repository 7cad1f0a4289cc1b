// The fast lane for the hottest endpoints (/, health, auth status): JSON GET
// routes whose body is a refreshed snapshot. They run the same policy as the
// pipeline (request id, security and CORS headers, URL bound, API keys, rate
// limit, metrics, drain) directly on uWS, without hyper-express's per-request
// Request/Response objects, which profiles showed to be most of their cost.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import { randomBytes } from 'node:crypto'
import { AppError, toErrorBody } from '../errors.ts'
import { serializeError } from '../schemas/error.ts'
import { isLoopback } from '../access.ts'
import { forwardedFor } from '../client-ip.ts'
import { JSON_TYPE } from './route.ts'
import type { Route } from './route.ts'
import type { PipelineDeps } from './pipeline.ts'
import type { RateResult } from '../rate-limit.ts'

export interface FastLaneState { draining: () => boolean, started: () => void, ended: () => void }

export type FastHandler = (res: HttpResponse, req: HttpRequest) => void

const REASONS: Readonly<Record<number, string>> = {
  200: '200 OK', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 414: '414 URI Too Long', 429: '429 Too Many Requests', 500: '500 Internal Server Error', 503: '503 Service Unavailable'
}
const SECURITY: ReadonlyArray<[string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"]
]
const EXPOSED = 'X-Request-Id, X-Process-Time, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After'
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/
const decoder = new TextDecoder()

export function createFastLane (deps: PipelineDeps, state: FastLaneState): (route: Route) => FastHandler | null {
  const idPrefix = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}f-`
  let idCounter = 0
  const anyOrigin = deps.corsOrigins.includes('*')
  const origins = new Set(deps.corsOrigins.map((o) => o.toLowerCase()))

  return (route) => {
    const render = route.fast
    if (render === undefined || route.method !== 'get' || route.path.includes(':')) return null
    const limiter = deps.limiters[route.limit]
    const observe = deps.metrics.forRoute(route.path, 'GET')
    const checkKeys = route.admin || deps.access.keysConfigured

    return (res, req) => {
      const start = performance.now()
      state.started()
      const head = req.getMethod() === 'head'
      const sent = req.getHeader('x-request-id')
      const id = sent !== '' && SANE_ID.test(sent) ? sent : idPrefix + (++idCounter).toString(36)
      const origin = req.getHeader('origin')
      // getQuery() is undefined without a query string (uWS 20.30)
      const urlLength = req.getUrl().length + ((req.getQuery() as string | undefined)?.length ?? 0) + 1
      const forwarded = forwardedFor(req.getHeader('x-forwarded-for'), req.getHeader('forwarded')) ?? ''
      const authorization = checkKeys ? req.getHeader('authorization') : ''
      const apiKey = checkKeys ? req.getHeader('x-api-key') : ''
      // uWS's request object is only valid in this call: everything is read above.
      const peer = limiter !== undefined || checkKeys ? decoder.decode(res.getRemoteAddressAsText()) : ''
      const ip = peer === '' ? '' : deps.clientIp.resolve(peer, forwarded === '' ? undefined : forwarded)

      const write = (status: number, body: string, limit: RateResult | null, extra: Record<string, string> | undefined): void => {
        res.writeStatus(REASONS[status] ?? `${status} Status`)
        res.writeHeader('x-request-id', id)
        for (const [k, v] of SECURITY) res.writeHeader(k, v)
        if (origin !== '') {
          if (anyOrigin) {
            res.writeHeader('access-control-allow-origin', '*').writeHeader('access-control-expose-headers', EXPOSED)
          } else if (origins.has(origin.toLowerCase())) {
            res.writeHeader('access-control-allow-origin', origin).writeHeader('access-control-expose-headers', EXPOSED)
            if (deps.corsCredentials) res.writeHeader('access-control-allow-credentials', 'true')
          }
        }
        if (!anyOrigin) res.writeHeader('vary', 'Origin')
        if (limit !== null) {
          res.writeHeader('x-ratelimit-limit', String(limit.limit)).writeHeader('x-ratelimit-remaining', String(limit.remaining)).writeHeader('x-ratelimit-reset', String(limit.resetSec))
        }
        if (extra !== undefined) for (const [k, v] of Object.entries(extra)) res.writeHeader(k, v)
        res.writeHeader('content-type', JSON_TYPE)
        res.writeHeader('x-process-time', ((performance.now() - start) / 1000).toFixed(6))
        const close = state.draining()
        // uWS 20.30 aborts the process on endWithoutBody(length): write the length ourselves.
        if (head) res.writeHeader('content-length', String(Buffer.byteLength(body))).endWithoutBody()
        else res.end(body, close)
        observe(status, (performance.now() - start) / 1000)
        state.ended()
      }

      const fail = (err: unknown, limit: RateResult | null): void => {
        const app = err instanceof AppError ? err : new AppError('INTERNAL')
        if (!(err instanceof AppError)) deps.log.error({ err, reqId: id, route: route.path }, 'unhandled error')
        write(app.statusCode, serializeError(toErrorBody(app, id)), limit, app.headers)
      }

      const respond = (limit: RateResult | null): void => {
        if (limit !== null && !limit.allowed) {
          fail(new AppError('RATE_LIMITED', 'Rate limit exceeded', { detail: `at most ${limit.limit} requests per window; retry in ${limit.retryAfterSec} s`, headers: { 'retry-after': String(limit.retryAfterSec) } }), limit)
          return
        }
        let out: { status: number, body: string }
        try { out = render() } catch (err) { fail(err, limit); return }
        write(out.status, out.body, limit, undefined)
      }

      try {
        if (urlLength > deps.maxUrlLength) throw new AppError('URL_TOO_LONG', `The request URL is longer than ${deps.maxUrlLength} bytes`)
        let key = null
        if (checkKeys) {
          key = deps.access.identify(authorization === '' ? undefined : authorization, apiKey === '' ? undefined : apiKey)
          deps.access.check({ key, presented: authorization !== '' || apiKey !== '', admin: route.admin, loopback: isLoopback(peer) && !deps.clientIp.isTrusted(peer) })
        }
        if (limiter === undefined) { res.cork(() => respond(null)); return }
        // An API key is limited by its own count (and its own limit, when it has one).
        const r = key === null ? limiter.hit(ip) : limiter.hit(`key:${key.id}`, key.limit ?? undefined)
        if (r instanceof Promise) {
          let aborted = false
          res.onAborted(() => { aborted = true; state.ended() })
          r.then((x) => { if (!aborted) res.cork(() => respond(x)) }, (err: unknown) => { if (!aborted) res.cork(() => fail(err, null)) })
          return
        }
        res.cork(() => respond(r))
      } catch (err) {
        res.cork(() => fail(err, null))
      }
    }
  }
}
