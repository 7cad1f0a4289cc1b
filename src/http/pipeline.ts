// The per-request prelude every route runs through, kept cheap for the hot
// path: request id, security and CORS headers, URL/body bounds, access check,
// rate limit; then the handler; then one place that turns errors into bodies.
import type { Request, Response } from 'hyper-express'
import { randomBytes } from 'node:crypto'
import { AppError, toErrorBody } from '../errors.ts'
import { serializeError } from '../schemas/error.ts'
import { isLoopback } from '../guard/access.ts'
import { sendJson } from './route.ts'
import { createFastLane } from './fast-lane.ts'
import { createSlicer } from './slicer.ts'
import { SECURITY_HEADERS, EXPOSED, SANE_ID, corsOrigins } from './policy-headers.ts'
import type { FastHandler, FirstHandler } from './fast-lane.ts'
import type { Route, LimitClass } from './route.ts'
import type { RequestContext } from './context.ts'
import type { Access } from '../guard/access.ts'
import type { RateLimiter, RateResult } from '../guard/rate-limit.ts'
import { normalizeIp } from '../guard/client-ip.ts'
import type { ClientIpResolver } from '../guard/client-ip.ts'
import { forwardedFor } from '../guard/client-ip.ts'
import type { RequestMetrics, RouteObserver } from '../ops/metrics.ts'
import type { Logger } from '../log.ts'

export interface PipelineDeps {
  log: Logger
  metrics: RequestMetrics
  access: Access
  clientIp: ClientIpResolver
  limiters: Partial<Record<LimitClass, RateLimiter>>
  corsOrigins: readonly string[]
  corsCredentials: boolean
  maxUrlLength: number
  maxBodyBytes: number
  slowRequestMs: number
  accessLog: boolean
  // concurrent streams per API key (or client IP) in this worker; 0 = no cap
  streamCap?: number
}

export type Handler = (req: Request, res: Response) => void
export interface Pipeline {
  wrap: (route: Route) => Handler
  sendError: (req: Request, res: Response, ctx: RequestContext, err: unknown) => void
  context: (req: Request, res: Response, route: string, observe?: RouteObserver) => RequestContext
  // res: the response, when there is one: its status is the one counted
  finish: (ctx: RequestContext, res?: Response) => void
  corsHeaders: (req: Request, res: Response) => void
  inflight: () => number
  // requests started so far: a draining server waits until this stops moving
  seen: () => number
  // the uWS-level handler of a route that can take the fast lane, else null
  fast: (route: Route, head: boolean) => FastHandler | null
  // for a route with a peek: a uWS-level handler that answers what the peek
  // can (returns true) and leaves the rest to the route's normal handler
  first: (route: Route, head: boolean) => FirstHandler | null
  drain: () => void
}

// event-loop time per turn for starting extraction requests (slicer.ts)
const SLICE_MS = 2
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])

// Routes set their status on hyper-express's Response (res.status(302)),
// which keeps it in _status_code (its statusCode getter reads the same field
// through a passthrough); undefined means uWS's default, 200.
interface WrittenStatus { readonly _status_code?: number }

// The status the client got: the one written, once the response started;
// else (a response never started: the client left, or was cut off) ctx.status.
function statusOf (ctx: RequestContext, res: Response | undefined): number {
  if (res === undefined || !res.initiated) return ctx.status
  return (res as unknown as WrittenStatus)._status_code ?? 200
}

// A draining worker closes each keep-alive connection after its next response,
// so the client reconnects to a live worker. uWS ignores a Connection: close
// header set by us (the socket stays open until the process exits, and the
// client's next request on it fails); only end(body, true) closes it.
function closeAfterResponse (res: Response): void {
  const send = res.send.bind(res)
  res.send = (body, close) => send(body, close ?? true)
}

export function createPipeline (deps: PipelineDeps): Pipeline {
  const idPrefix = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}-`
  let idCounter = 0
  let inflight = 0
  let seen = 0
  let draining = false
  const streams = new Map<string, number>()
  const keyLimits = new Map<string, number | null>()
  const slicer = createSlicer(SLICE_MS)
  const origins = corsOrigins(deps.corsOrigins)

  // Only browsers send Origin, and only they read CORS headers.
  function corsHeaders (req: Request, res: Response): void {
    const origin = req.headers.origin
    if (origins.any) {
      if (origin === undefined) return
      res.header('access-control-allow-origin', '*')
      res.header('access-control-expose-headers', EXPOSED)
      return
    }
    res.header('vary', 'Origin')
    if (origin !== undefined && origins.allows(origin)) {
      res.header('access-control-allow-origin', origin)
      res.header('access-control-expose-headers', EXPOSED)
      if (deps.corsCredentials) res.header('access-control-allow-credentials', 'true')
    }
  }

  function context (req: Request, res: Response, route: string, observe?: RouteObserver): RequestContext {
    const sent = req.headers['x-request-id']
    const id = sent !== undefined && SANE_ID.test(sent) ? sent : idPrefix + (++idCounter).toString(36)
    const peer = normalizeIp(req.ip)
    const ctx: RequestContext = {
      id,
      startMs: performance.now(),
      peer,
      ip: deps.clientIp.resolve(peer, forwardedFor(req.headers['x-forwarded-for'], req.headers.forwarded)),
      method: req.method,
      route,
      observe: observe ?? deps.metrics.forRoute(route, METHODS.has(req.method) ? req.method : 'OTHER'),
      status: 200,
      scopes: [],
      keyId: null,
      controller: null
    }
    inflight++
    seen++
    if (draining) closeAfterResponse(res)
    res.header('x-request-id', id)
    for (const [k, v] of SECURITY_HEADERS) res.header(k, v)
    corsHeaders(req, res)
    return ctx
  }

  function finish (ctx: RequestContext, res?: Response): void {
    inflight--
    const ms = performance.now() - ctx.startMs
    const status = statusOf(ctx, res)
    ctx.observe(status, ms / 1000)
    if (deps.accessLog) deps.log.info({ reqId: ctx.id, method: ctx.method, route: ctx.route, status, ms, ip: ctx.ip }, 'request')
    else if (ms >= deps.slowRequestMs && deps.slowRequestMs > 0) deps.log.warn({ reqId: ctx.id, method: ctx.method, route: ctx.route, status, ms }, 'slow request')
  }

  function sendError (req: Request, res: Response, ctx: RequestContext, err: unknown): void {
    const app = err instanceof AppError ? err : null
    if (app === null) deps.log.error({ err, reqId: ctx.id, route: ctx.route }, 'unhandled error')
    const status = app?.statusCode ?? 500
    ctx.status = status
    if (res.completed || res.aborted) return
    if (res.initiated) { res.close(); return }
    if (app?.headers !== undefined) for (const [k, v] of Object.entries(app.headers)) res.header(k, v)
    sendJson(req, res, ctx, status, serializeError(toErrorBody(err, ctx.id)))
  }

  function applyLimit (res: Response, r: RateResult): void {
    res.header('x-ratelimit-limit', String(r.limit))
    res.header('x-ratelimit-remaining', String(r.remaining))
    res.header('x-ratelimit-reset', String(r.resetSec))
    if (!r.allowed) {
      throw new AppError('RATE_LIMITED', 'Rate limit exceeded', {
        detail: `at most ${r.limit} requests per window; retry in ${r.retryAfterSec} s`,
        headers: { 'retry-after': String(r.retryAfterSec) }
      })
    }
  }

  function prelude (route: Route, req: Request, ctx: RequestContext): void {
    const maxUrlLength = route.maxUrlLength ?? deps.maxUrlLength
    if (req.url.length > maxUrlLength) throw new AppError('URL_TOO_LONG', `The request URL is longer than ${maxUrlLength} bytes`)
    // Every method: an unread body is still buffered while an async handler runs.
    const length = Number(req.headers['content-length'] ?? '0')
    if (length > deps.maxBodyBytes) throw new AppError('PAYLOAD_TOO_LARGE', `The request body is larger than ${deps.maxBodyBytes} bytes`)
    if (route.admin || deps.access.keysConfigured) {
      const key = deps.access.identify(req.headers.authorization, req.headers['x-api-key'])
      const presented = req.headers.authorization !== undefined || req.headers['x-api-key'] !== undefined
      deps.access.check({ key, presented, admin: route.admin, loopback: isLoopback(ctx.peer) && !deps.clientIp.isTrusted(ctx.peer) })
      if (key !== null) { ctx.scopes = key.scopes; ctx.keyId = key.id; keyLimits.set(key.id, key.limit) }
    }
  }

  // Streams in flight per client (API key, else IP); the slot is released when the response completes.
  function takeStreamSlot (ctx: RequestContext): () => void {
    const cap = deps.streamCap ?? 0
    // Loopback peers are exempt: ffmpeg remuxes read their inputs through our own proxy.
    if (cap <= 0 || (isLoopback(ctx.peer) && !deps.clientIp.isTrusted(ctx.peer))) return () => {}
    const who = ctx.keyId === null ? `ip:${ctx.ip}` : `key:${ctx.keyId}`
    const n = streams.get(who) ?? 0
    if (n >= cap) throw new AppError('RATE_LIMITED', 'Too many concurrent streams', { detail: `at most ${cap} streams at once per client`, headers: { 'retry-after': '5' } })
    streams.set(who, n + 1)
    return () => {
      const left = (streams.get(who) ?? 1) - 1
      if (left <= 0) streams.delete(who)
      else streams.set(who, left)
    }
  }

  function wrap (route: Route): Handler {
    const limiter = deps.limiters[route.limit]
    const fail = (req: Request, res: Response, ctx: RequestContext, err: unknown): void => { sendError(req, res, ctx, err); finish(ctx, res) }
    const run = (req: Request, res: Response, ctx: RequestContext): void => {
      const release = route.stream === true ? takeStreamSlot(ctx) : null
      // Handlers resolve once their response is complete (streams included);
      // synchronous ones return undefined and are finished here at once.
      const done = route.handle(req, res, ctx)
      if (done instanceof Promise) {
        done.then(() => { release?.(); finish(ctx, res) }, (err: unknown) => { release?.(); fail(req, res, ctx, err) })
      } else {
        release?.()
        finish(ctx, res)
      }
    }
    // Routes that may start an extraction start in slices (a burst of cold
    // requests must not hold the event loop); a client gone meanwhile costs nothing.
    const start = route.limit !== 'extract'
      ? run
      : (req: Request, res: Response, ctx: RequestContext): void => slicer.run(() => {
          if (res.aborted) { ctx.status = 499; finish(ctx, res); return }
          try { run(req, res, ctx) } catch (err) { fail(req, res, ctx, err) }
        })
    // An API key is limited by its own count (and its own limit, when it has one).
    const hit = (l: RateLimiter, ctx: RequestContext): RateResult | Promise<RateResult> =>
      ctx.keyId === null ? l.hit(ctx.ip) : l.hit(`key:${ctx.keyId}`, keyLimits.get(ctx.keyId) ?? undefined)
    const observe = deps.metrics.forRoute(route.path, route.method.toUpperCase())
    return (req, res) => {
      const ctx = context(req, res, route.path, observe)
      try {
        prelude(route, req, ctx)
        if (limiter === undefined) { start(req, res, ctx); return }
        const r = hit(limiter, ctx)
        if (r instanceof Promise) {
          r.then((x) => { applyLimit(res, x); start(req, res, ctx) }).catch((err: unknown) => fail(req, res, ctx, err))
          return
        }
        applyLimit(res, r)
        start(req, res, ctx)
      } catch (err) {
        fail(req, res, ctx, err)
      }
    }
  }

  const lane = createFastLane(deps, {
    draining: () => draining,
    started: () => { seen++; inflight++ },
    ended: () => { inflight-- }
  })
  return { wrap, sendError, context, finish, corsHeaders, inflight: () => inflight, seen: () => seen, drain: () => { draining = true }, fast: lane.fast, first: lane.first }
}
