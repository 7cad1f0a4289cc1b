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
import type { Route, PeekAnswer, PeekInput, Peeked } from '../route.ts'
import type { Admission, Policy, RequestView } from '../policy.ts'

export type UwsHandler = (res: HttpResponse, req: HttpRequest) => void
// true: the lane answers (now, or once a peek's promise settles); false:
// untouched, for `next` (the route's hyper-express handler) at once. A request
// the lane took but cannot answer after all goes to `next` later (see Replay).
export type FirstHandler = (res: HttpResponse, req: HttpRequest, next: UwsHandler) => boolean

// head: the handler for HEAD (uWS routes each method to its own handler)
export interface UwsLane {
  // the handler of a route that takes this lane, else null
  fast: (route: Route, head: boolean) => UwsHandler | null
  // for a route with a peek: answers what the peek can (returns true) and
  // leaves the rest to the route's normal handler
  first: (route: Route, head: boolean) => FirstHandler | null
}

type Render = () => PeekAnswer

// A request handed to hyper-express after uWS's callback returned (a peek
// that went to L2 and missed): uWS's HttpRequest is only valid during the
// callback, so hyper-express reads this copy instead (its Request copies
// url, query, headers and path parameters in its constructor, nothing else),
// with the admission the lane already made, so that the policy runs once.
export class Replay {
  admission: Admission | null = null
  constructor (
    private readonly url: string,
    private readonly query: string | undefined,
    private readonly method: string,
    // name, value, name, value…
    private readonly headers: readonly string[],
    private readonly params: readonly string[]
  ) {}

  static of (req: HttpRequest, params: number): Replay {
    const headers: string[] = []
    req.forEach((k, v) => { headers.push(k, v) })
    const values: string[] = []
    for (let i = 0; i < params; i++) values.push(req.getParameter(i))
    return new Replay(req.getUrl(), req.getQuery() as string | undefined, req.getMethod(), headers, values)
  }

  getUrl (): string { return this.url }
  getQuery (): string | undefined { return this.query }
  getMethod (): string { return this.method }
  getParameter (index: number): string { return this.params[index] ?? '' }
  getHeader (name: string): string {
    for (let i = 0; i + 1 < this.headers.length; i += 2) if (this.headers[i] === name) return this.headers[i + 1] ?? ''
    return ''
  }

  forEach (cb: (key: string, value: string) => void): void {
    for (let i = 0; i + 1 < this.headers.length; i += 2) cb(this.headers[i] ?? '', this.headers[i + 1] ?? '')
  }
}

// The admission of a request the uWS lane handed over (a Replay), for hyper-express's lane; else null.
export function handedOver (raw: unknown): Admission | null {
  return raw instanceof Replay ? raw.admission : null
}

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

const linesOf = (headers: Record<string, string> | undefined): string => {
  let out = ''
  if (headers !== undefined) for (const k in headers) out += `\r\n${k}: ${headers[k] ?? ''}`
  return out
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({})

export function createUwsLane (policy: Policy): UwsLane {
  // After "x-request-id: <id>": the headers every response of this lane carries (and its JSON type).
  const fixed = policy.fixedLines
  const fixedJson = `${fixed}\r\ncontent-type: ${JSON_TYPE}`

  // The policy and response of one route; render gives the answer once the request is let through.
  const serverFor = (route: Route, head: boolean): {
    serve: (res: HttpResponse, v: RequestView, render: Render) => void
    defer: (res: HttpResponse, v: RequestView, answer: Promise<PeekAnswer | null>, handoff: (a: Admission) => void) => void
  } => {
    const rules = policy.route(route, 'uws')
    // the last snapshot rendered, and its bytes: a snapshot changes at most every few hundred ms
    let lastBody = ''
    let lastBytes = Buffer.alloc(0)
    const snapshot = route.fast !== undefined

    const write = (res: HttpResponse, a: Admission, out: PeekAnswer): void => {
      const { status, body, type } = out
      if (snapshot && typeof body === 'string' && body !== lastBody && status === 200) { lastBody = body; lastBytes = Buffer.from(body) }
      let block = a.id + (type === JSON_TYPE ? fixedJson : type === null ? fixed : `${fixed}\r\ncontent-type: ${type}`) + policy.lines(a) + out.lines
      const now = performance.now()
      block += `\r\nx-process-time: ${secondsText(now - a.startMs)}`
      // one native call less on the hot path
      if (status !== 200) res.writeStatus(statusLine(status))
      res.writeHeader('x-request-id', block)
      const payload = snapshot && body === lastBody ? lastBytes : body
      // uWS 20.30 aborts the process on endWithoutBody(length): write the length ourselves.
      // An empty body (a redirect) ends as hyper-express ends it, HEAD or not: uWS writes its length, 0.
      if (head && payload.length > 0) res.writeHeader('content-length', String(Buffer.byteLength(payload))).endWithoutBody()
      else res.end(payload, policy.draining())
      policy.settle(a, status, now)
    }

    const fail = (res: HttpResponse, a: Admission, err: unknown): void => {
      const app = policy.fault(a, err)
      write(res, a, { status: app.statusCode, lines: linesOf(app.headers), body: policy.errorBody(a, app), type: JSON_TYPE })
    }

    const respond = (res: HttpResponse, a: Admission, render: Render): void => {
      if (a.refusal !== null) { fail(res, a, a.refusal); return }
      let out: PeekAnswer
      try { out = render() } catch (err) { fail(res, a, err); return }
      write(res, a, out)
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

    return {
      // Runs inside uWS's request callback, where the socket is already corked.
      serve (res, v, render) {
        const a = rules.admit(v)
        if (a instanceof Promise) later(res, a, render)
        else respond(res, a, render)
      },
      // An answer that comes later: admitted now (the view reads uWS's request,
      // valid only now) while the answer is looked up; once both are there, the
      // answer, the refusal, or (no answer) the request goes to handoff.
      defer (res, v, answer, handoff) {
        const pending = rules.admit(v)
        let a: Admission | null = pending instanceof Promise ? null : pending
        let out: PeekAnswer | null | undefined
        let aborted = false
        res.onAborted(() => { aborted = true })
        const settle = (): void => {
          if (a === null || out === undefined) return
          const admitted = a
          const answered = out
          if (aborted) policy.settle(admitted, 499)
          else if (admitted.refusal !== null || answered !== null) res.cork(() => respond(res, admitted, () => answered as PeekAnswer))
          else {
            res.cork(() => {
              // hyper-express only wraps the request here (its lane answers whatever its handler throws)
              try { handoff(admitted) } catch (err) { try { fail(res, admitted, err) } catch {} }
            })
          }
        }
        if (pending instanceof Promise) void pending.then((x) => { a = x; settle() })
        answer.then((x) => { out = x; settle() }, () => { out = null; settle() })
      }
    }
  }

  return {
    fast (route, head) {
      const render = route.fast
      if (render === undefined || route.method !== 'get' || route.path.includes(':')) return null
      const { serve } = serverFor(route, head)
      const method = head ? 'HEAD' : 'GET'
      // uWS matches a static pattern only by the exact path: getUrl() is route.path
      const pathBytes = route.path.length
      const answer = (): PeekAnswer => {
        const out = render()
        return { status: out.status, body: out.body, lines: '', type: JSON_TYPE }
      }
      return (res, req) => {
        const query = rawQuery(req)
        serve(res, view(res, req, method, query === '' ? pathBytes : pathBytes + 1 + query.length), answer)
      }
    },
    first (route, head) {
      const peek = route.peek
      if (peek === undefined || route.method !== 'get') return null
      const { serve, defer } = serverFor(route, head)
      const method = head ? 'HEAD' : 'GET'
      const names = route.path.split('/').filter((seg) => seg.startsWith(':')).map((seg) => seg.slice(1))
      return (res, req, next) => {
        // The peek first: it counts nothing, and a miss leaves the request to the route's normal handler.
        const query = rawQuery(req)
        const input: PeekInput = { params: NO_PARAMS, query, header: (name) => req.getHeader(name) }
        if (names.length > 0) {
          const params: Record<string, string> = {}
          for (let i = 0; i < names.length; i++) params[names[i] ?? ''] = req.getParameter(i)
          input.params = params
        }
        let out: Peeked
        try { out = peek(input) } catch { out = null }
        if (out === null) return false
        const path = req.getUrl()
        const v = view(res, req, method, query === '' ? path.length : path.length + 1 + query.length)
        if (!(out instanceof Promise)) {
          const answer = out
          serve(res, v, () => answer)
          return true
        }
        // A request body streams to the route's handler as it arrives: such a request goes there at once.
        const length = req.getHeader('content-length')
        if ((length !== '' && length !== '0') || req.getHeader('transfer-encoding') !== '') {
          out.catch(() => {})
          return false
        }
        const replay = Replay.of(req, names.length)
        defer(res, v, out, (a) => {
          replay.admission = a
          next(res, replay as unknown as HttpRequest)
        })
        return true
      }
    }
  }
}
