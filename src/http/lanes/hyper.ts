// The hyper-express lane: every route the uWS lane does not serve (bodies,
// parameters, streams, async work). It fills the policy's view from
// hyper-express's Request, writes what admit() returned, runs the handler and
// turns what it throws into the JSON error shape.
import type { Request, Response } from 'hyper-express'
import { normalizeIp } from '../../guard/client-ip.ts'
import { sendJson } from '../route.ts'
import { createSlicer } from '../slicer.ts'
import { isChunked, readChunked } from '../chunked-body.ts'
import { handedOver } from './uws.ts'
import type { Route } from '../route.ts'
import type { RequestContext } from '../context.ts'
import type { Admission, Policy, RequestView } from '../policy.ts'

export type Handler = (req: Request, res: Response) => void

export interface HyperLane {
  wrap: (route: Route) => Handler
  // A handler outside the route table (preflight, not found, the error
  // handler), counted under `name`: handle answers, or throws what to answer.
  bare: <A extends unknown[]>(name: string, handle: (req: Request, res: Response, ctx: RequestContext, ...args: A) => void) => (req: Request, res: Response, ...args: A) => void
}

// event-loop time per turn for starting extraction requests (slicer.ts)
const SLICE_MS = 2

const view = (req: Request): RequestView => ({
  method: req.method,
  urlBytes: req.url.length,
  header: (name) => req.headers[name] ?? '',
  peer: () => normalizeIp(req.ip)
})

// Routes set their status on hyper-express's Response (res.status(302)),
// which keeps it in _status_code (its statusCode getter reads the same field
// through a passthrough); undefined means uWS's default, 200.
interface WrittenStatus { readonly _status_code?: number }

// The status the client got: the one written, once the response started;
// else (a response never started: the client left, or was cut off) ctx.status.
function statusOf (a: Admission, res: Response): number {
  if (!res.initiated) return a.status
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

export function createHyperLane (policy: Policy): HyperLane {
  const slicer = createSlicer(SLICE_MS)

  function sendError (req: Request, res: Response, a: Admission, err: unknown): void {
    const app = policy.fault(a, err)
    if (res.completed || res.aborted) return
    if (res.initiated) { res.close(); return }
    if (app.headers !== undefined) for (const [k, v] of Object.entries(app.headers)) res.header(k, v)
    sendJson(req, res, a, app.statusCode, policy.errorBody(a, app))
  }

  const settle = (a: Admission, res: Response): void => { policy.settle(a, statusOf(a, res)) }
  const fail = (req: Request, res: Response, a: Admission, err: unknown): void => { sendError(req, res, a, err); settle(a, res) }

  function wrap (route: Route): Handler {
    const rules = policy.route(route, 'hyper')
    const run = (req: Request, res: Response, a: Admission): void => {
      // Handlers resolve once their response is complete (streams included);
      // synchronous ones return undefined and are settled here at once.
      const done = route.handle(req, res, a)
      if (done instanceof Promise) done.then(() => settle(a, res), (err: unknown) => fail(req, res, a, err))
      else settle(a, res)
    }
    // Routes that may start an extraction start in slices (a burst of cold
    // requests must not hold the event loop); a client gone meanwhile costs nothing.
    const start = route.limit !== 'extract'
      ? run
      : (req: Request, res: Response, a: Admission): void => slicer.run(() => {
          if (res.aborted) { a.status = 499; settle(a, res); return }
          try { run(req, res, a) } catch (err) { fail(req, res, a, err) }
        })
    const admitted = (req: Request, res: Response, a: Admission): void => {
      policy.headers(a, res)
      if (a.refusal !== null) { fail(req, res, a, a.refusal); return }
      try { start(req, res, a) } catch (err) { fail(req, res, a, err) }
    }
    return (req, res) => {
      if (policy.draining()) closeAfterResponse(res)
      if (isChunked(req)) readChunked(req, res, policy.settings.maxBodyBytes)
      // a request the uWS lane took, admitted, and handed over
      const a = handedOver(req.raw) ?? rules.admit(view(req))
      if (a instanceof Promise) void a.then((x) => admitted(req, res, x))
      else admitted(req, res, a)
    }
  }

  function bare<A extends unknown[]> (name: string, handle: (req: Request, res: Response, ctx: RequestContext, ...args: A) => void): (req: Request, res: Response, ...args: A) => void {
    const rules = policy.bare(name)
    return (req, res, ...args) => {
      if (policy.draining()) closeAfterResponse(res)
      const a = rules.admit(view(req))
      policy.headers(a, res)
      try { handle(req, res, a, ...args) } catch (err) { sendError(req, res, a, err) }
      settle(a, res)
    }
  }

  return { wrap, bare }
}
