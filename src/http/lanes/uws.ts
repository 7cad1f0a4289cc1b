// The uWS lane, for the hottest endpoints: JSON GET routes whose body is a
// refreshed snapshot (/, health, auth status), and routes with a peek that
// often has the body in memory (cached video info). It serves them straight on
// uWS, without hyper-express's per-request Request/Response objects, which
// profiles showed to be most of their cost; the policy (policy.ts) is the one
// every route runs.
//
// Per request it makes as few calls into uWS as it can: every uWS call copies
// its strings across the native boundary, and bench/ showed a dozen
// writeHeader calls costing as much as all the policy code. So the header
// block is built as one string and written with one writeHeader call (uWS
// writes "name: value\r\n" verbatim; the value carries the other lines).
// Nothing in that block comes from the request except the request id, which
// is only echoed when it matches SANE_ID, and the CORS origin, which is only
// echoed when it is one of the configured origins.
import { STATUS_CODES } from 'node:http'
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import { peerAddress } from '../../guard/client-ip.ts'
import { JSON_TYPE } from '../route.ts'
import { secondsText } from '../context.ts'
import type { Route, PeekInput } from '../route.ts'
import type { Admission, Policy, RequestView } from '../policy.ts'

export type UwsHandler = (res: HttpResponse, req: HttpRequest) => void
// true: answered; false: untouched, for the route's normal handler
export type FirstHandler = (res: HttpResponse, req: HttpRequest) => boolean

// head: the handler for HEAD (uWS routes each method to its own handler)
export interface UwsLane {
  // the handler of a route that takes this lane, else null
  fast: (route: Route, head: boolean) => UwsHandler | null
  // for a route with a peek: answers what the peek can (returns true) and
  // leaves the rest to the route's normal handler
  first: (route: Route, head: boolean) => FirstHandler | null
}

type Render = () => { status: number, body: string | Buffer }

// getQuery() is undefined without a query string (uWS 20.30)
const rawQuery = (req: HttpRequest): string => (req.getQuery() as string | undefined) ?? ''

const view = (res: HttpResponse, req: HttpRequest, method: string, urlBytes: number): RequestView => ({
  method,
  urlBytes,
  header: (name) => req.getHeader(name),
  peer: () => peerAddress(res.getRemoteAddress())
})

// uWS answers "200 OK" unless told otherwise
const statusLines = new Map<number, string>()
const statusLine = (status: number): string => {
  let line = statusLines.get(status)
  if (line === undefined) { line = `${status} ${STATUS_CODES[status] ?? 'Status'}`; statusLines.set(status, line) }
  return line
}

export function createUwsLane (policy: Policy): UwsLane {
  // After "x-request-id: <id>": the headers every response of this lane carries.
  const fixed = `${policy.fixedLines}\r\ncontent-type: ${JSON_TYPE}`

  // The policy and response of one route; render gives the body once the request is let through.
  const serverFor = (route: Route, head: boolean): ((res: HttpResponse, v: RequestView, render: Render) => void) => {
    const rules = policy.route(route, 'uws')
    // the last snapshot rendered, and its bytes: a snapshot changes at most every few hundred ms
    let lastBody = ''
    let lastBytes = Buffer.alloc(0)
    const snapshot = route.fast !== undefined

    const write = (res: HttpResponse, a: Admission, status: number, body: string | Buffer, extra: Record<string, string> | undefined): void => {
      if (snapshot && typeof body === 'string' && body !== lastBody && status === 200) { lastBody = body; lastBytes = Buffer.from(body) }
      let block = a.id + fixed + policy.lines(a)
      if (extra !== undefined) for (const k in extra) block += `\r\n${k}: ${extra[k] ?? ''}`
      const now = performance.now()
      block += `\r\nx-process-time: ${secondsText(now - a.startMs)}`
      // one native call less on the hot path
      if (status !== 200) res.writeStatus(statusLine(status))
      res.writeHeader('x-request-id', block)
      const payload = snapshot && body === lastBody ? lastBytes : body
      // uWS 20.30 aborts the process on endWithoutBody(length): write the length ourselves.
      if (head) res.writeHeader('content-length', String(Buffer.byteLength(payload))).endWithoutBody()
      else res.end(payload, policy.draining())
      policy.settle(a, status, now)
    }

    const fail = (res: HttpResponse, a: Admission, err: unknown): void => {
      const app = policy.fault(a, err)
      write(res, a, app.statusCode, policy.errorBody(a, app), app.headers)
    }

    const respond = (res: HttpResponse, a: Admission, render: Render): void => {
      if (a.refusal !== null) { fail(res, a, a.refusal); return }
      let out: { status: number, body: string | Buffer }
      try { out = render() } catch (err) { fail(res, a, err); return }
      write(res, a, out.status, out.body, undefined)
    }

    // A limiter that answers later (Redis): respond then, corked, unless the client left.
    const later = (res: HttpResponse, pending: Promise<Admission>, render: Render): void => {
      let aborted = false
      res.onAborted(() => { aborted = true })
      void pending.then((a) => {
        if (aborted) policy.settle(a, 499)
        else res.cork(() => respond(res, a, render))
      })
    }

    // Runs inside uWS's request callback, where the socket is already corked.
    return (res, v, render) => {
      const a = rules.admit(v)
      if (a instanceof Promise) later(res, a, render)
      else respond(res, a, render)
    }
  }

  return {
    fast (route, head) {
      const render = route.fast
      if (render === undefined || route.method !== 'get' || route.path.includes(':')) return null
      const serve = serverFor(route, head)
      const method = head ? 'HEAD' : 'GET'
      // uWS matches a static pattern only by the exact path: getUrl() is route.path
      const pathBytes = route.path.length
      return (res, req) => {
        const query = rawQuery(req)
        serve(res, view(res, req, method, query === '' ? pathBytes : pathBytes + 1 + query.length), render)
      }
    },
    first (route, head) {
      const peek = route.peek
      if (peek === undefined || route.method !== 'get') return null
      const serve = serverFor(route, head)
      const method = head ? 'HEAD' : 'GET'
      const names = route.path.split('/').filter((seg) => seg.startsWith(':')).map((seg) => seg.slice(1))
      return (res, req) => {
        // The peek first: it counts nothing, and a miss leaves the request to the route's normal handler.
        const query = rawQuery(req)
        const input: PeekInput = { params: {}, query, header: (name) => req.getHeader(name) }
        if (names.length > 0) {
          const params: Record<string, string> = {}
          for (let i = 0; i < names.length; i++) params[names[i] ?? ''] = req.getParameter(i)
          input.params = params
        }
        let body: string | Buffer | null
        try { body = peek(input) } catch { body = null }
        if (body === null) return false
        const path = req.getUrl()
        serve(res, view(res, req, method, query === '' ? path.length : path.length + 1 + query.length), () => ({ status: 200, body }))
        return true
      }
    }
  }
}
