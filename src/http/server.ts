// The only file that constructs the hyper-express Server: registers the route
// table on the two lanes (lanes/uws.ts for the hot GETs, lanes/hyper.ts for
// the rest, one policy for both), the CORS preflight, 404/405 in the JSON error
// shape, and drains on shutdown.
import HyperExpress from 'hyper-express'
import type { MiddlewareHandler } from 'hyper-express'
import { AppError } from '../errors.ts'
import { processTime } from './context.ts'
import { createUwsLane } from './lanes/uws.ts'
import { createHyperLane } from './lanes/hyper.ts'
import type { Route } from './route.ts'
import type { Policy } from './policy.ts'
import type { FirstHandler, UwsHandler } from './lanes/uws.ts'

export interface HttpServer {
  listen: (port: number, host: string) => Promise<number>
  shutdown: (timeoutMs: number) => Promise<void>
  readonly inflight: () => number
}

export interface ServerOptions {
  routes: readonly Route[]
  policy: Policy
  corsMethods?: string
}

const QUIET_MS = 250

function patternOf (path: string): RegExp {
  const escaped = path.split('/').map((seg) => seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/')
  return new RegExp(`^${escaped}/?$`)
}

type UwsRegister = (pattern: string, handler: UwsHandler) => unknown

// Registers a route through hyper-express with `first` in front of it: uWS
// calls one handler per method and pattern, and hyper-express binds its own
// with uws_instance[method](pattern, handler) as the route is created. For
// that one call the binding is wrapped so that uWS calls `first`, and hands
// the request to hyper-express's handler only when `first` did not take it
// (or later, with a copy of the request, when `first` took it and could not
// answer after all: lanes/uws.ts Replay).
// uWS 20.30 offers no cleaner way (checked on this build): a second handler
// for the same method and pattern aborts the process ("Internal routing
// error"); req.setYield(true) only falls through to other patterns or to a
// lower-priority any() handler, which would take every method; and a handler
// removed with get(pattern, null) cannot be given back to hyper-express
// except through its private _handle_uws_request.
function firstThen (server: HyperExpress.Server, method: 'get' | 'head', first: FirstHandler | null, register: () => void): void {
  if (first === null) { register(); return }
  const app = server.uws_instance as unknown as Record<'get' | 'head', UwsRegister>
  const bind = app[method]
  const own = Object.getOwnPropertyDescriptor(app, method)
  app[method] = (pattern, handler) => bind.call(app, pattern, (res, req) => { if (!first(res, req, handler)) handler(res, req) })
  try {
    register()
  } finally {
    if (own === undefined) Reflect.deleteProperty(app, method)
    else Object.defineProperty(app, method, own)
  }
}

export function createHttpServer (opts: ServerOptions): HttpServer {
  const { policy } = opts
  const uws = createUwsLane(policy)
  const hyper = createHyperLane(policy)
  const { maxBodyBytes } = policy.settings
  // hyper-express answers a Content-Length above its own limit with a bare 413
  // before any route runs (no JSON, no request id); the policy enforces
  // maxBodyBytes instead, so its limit here is only a backstop it never reaches.
  const server = new HyperExpress.Server({ max_body_length: Number.MAX_SAFE_INTEGER, fast_buffers: true, auto_close: false })
  // hyper-express 6.8 pauses its body stream when a push passes highWaterMark
  // (16 KB by default) and nothing resumes it: req.text() on a larger body never
  // settles. A mark above the largest accepted body means it never pauses.
  // Route-level options are needed: the Server-level `streaming` option is
  // shadowed by the router's per-route default.
  // (Its typings call this `stream_options`; the 6.8 runtime reads `streaming.readable`.)
  const routeOptions = (): { streaming: { readable: { highWaterMark: number } }, middlewares: MiddlewareHandler[] } =>
    ({ streaming: { readable: { highWaterMark: maxBodyBytes + 1 } }, middlewares: [] })
  const table = opts.routes.map((r) => ({ route: r, pattern: patternOf(r.path) }))
  for (const route of opts.routes) {
    const fast = uws.fast(route, false)
    const fastHead = uws.fast(route, true)
    if (fast !== null && fastHead !== null) {
      server.uws_instance.get(route.path, fast)
      server.uws_instance.head(route.path, fastHead)
      continue
    }
    const handler = hyper.wrap(route)
    firstThen(server, 'get', uws.first(route, false), () => server[route.method](route.path, routeOptions(), [], handler))
    // uWS does not route HEAD to GET handlers; every GET route answers HEAD too
    // (sendJson/sendRaw in route.ts send the headers and length only).
    if (route.method === 'get') firstThen(server, 'head', uws.first(route, true), () => server.head(route.path, routeOptions(), [], handler))
  }

  const methods = opts.corsMethods ?? 'GET, HEAD, POST, PUT, DELETE, OPTIONS'
  server.options('/*', hyper.bare('OPTIONS', (req, res, ctx) => {
    ctx.status = 204
    res.header('access-control-allow-methods', methods)
    res.header('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'Content-Type, Authorization, X-API-Key, X-Request-Id, X-Task-Token, Range')
    res.header('access-control-max-age', '86400')
    res.header('x-process-time', processTime(ctx))
    res.status(204).send()
  }))

  server.set_not_found_handler(hyper.bare('not_found', (req, res) => {
    const allowed = table.filter((t) => t.pattern.test(req.path)).flatMap((t) => t.route.method === 'get' ? ['GET', 'HEAD'] : [t.route.method.toUpperCase()])
    // The method is allowed but uWS did not route the path (a trailing slash, a
    // "." or ".." segment): that is no endpoint, not a contradictory 405.
    if (allowed.length > 0 && !allowed.includes(req.method)) {
      res.header('allow', [...new Set(allowed), 'OPTIONS'].join(', '))
      throw new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allowed.join(' or ')}`)
    }
    throw new AppError('NOT_FOUND', `No endpoint at ${req.path.slice(0, 200)}`)
  }))

  server.set_error_handler(hyper.bare('error', (_req, _res, _ctx, err: Error) => { throw err }))

  return {
    async listen (port, host) {
      await server.listen(port, host)
      return server.port
    },
    // Stop accepting, then serve until nothing is in flight and no request has
    // started for QUIET_MS: keep-alive clients may have one in transit, and
    // each is answered with its connection closed (policy drain).
    async shutdown (timeoutMs) {
      policy.drain()
      server.close()
      const deadline = Date.now() + timeoutMs
      let seen = policy.seen()
      let quietSince = Date.now()
      while (Date.now() < deadline) {
        if (policy.inflight() > 0 || policy.seen() !== seen) {
          seen = policy.seen()
          quietSince = Date.now()
        } else if (Date.now() - quietSince >= QUIET_MS) {
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      // Then close the idle keep-alive connections too (FIN now, not at exit or
      // after uWS's 10 s idle timeout). uWS's App.close() does this; this
      // build's typings do not declare it.
      const app: unknown = server.uws_instance
      if (typeof app === 'object' && app !== null && 'close' in app && typeof app.close === 'function') app.close()
    },
    inflight: policy.inflight
  }
}
