// A route is data (method, path, docs for OpenAPI, policy) plus a handler.
// JSON routes return a value that their precompiled serializer turns into the body.
import type { Request, Response } from 'hyper-express'
import type { JsonSchema, Serializer } from '../schemas/compile.ts'
import { processTime } from './context.ts'
import type { RequestContext } from './context.ts'

export type Method = 'get' | 'post' | 'put' | 'delete'

export interface ParamDoc { name: string, in: 'query' | 'path' | 'header', required?: boolean, description: string, schema?: JsonSchema }

export interface ResponseDoc { description: string, schema?: JsonSchema, contentType?: string }

export interface RouteDoc {
  summary: string
  tags: readonly string[]
  params?: readonly ParamDoc[]
  body?: { schema: JsonSchema, contentType?: string, description?: string }
  responses: Readonly<Record<number, ResponseDoc>>
  // a GET whose HEAD answer is part of its contract: /openapi.json lists the head operation too
  head?: boolean
}

export type LimitClass = 'none' | 'default' | 'extract'

export interface Route {
  readonly method: Method
  readonly path: string
  readonly doc: RouteDoc
  readonly limit: LimitClass
  readonly admin: boolean
  // the handler needs to know who calls (API key id, admin) even without keys configured (owned resources)
  readonly caller?: boolean
  // a long-lived media response, counted against STREAM_MAX_PER_CLIENT
  readonly stream?: boolean
  // replaces MAX_URL_LENGTH for this route (signed proxy links are long)
  readonly maxUrlLength?: number
  readonly handle: (req: Request, res: Response, ctx: RequestContext) => void | Promise<void>
  // a GET whose response needs nothing from the request: served by the fast lane
  readonly fast?: () => { status: number, body: string }
  // a GET that can often be answered from a cache (a cached info body, a 302
  // to cached media): the uWS lane calls this first (lanes/uws.ts) and serves
  // an answer itself; null hands the request to the route's handler. Must
  // not throw or count anything (the policy counts what the lane serves).
  readonly peek?: (input: PeekInput) => Peeked
}

// What a peek may read of the request: the route's path parameters, the raw
// query string, and a header by its lower-case name ('' when absent), the
// last only while the peek runs (uWS's request is gone afterwards).
export interface PeekInput { params: Readonly<Record<string, string>>, query: string, header: (name: string) => string }

// An answer the uWS lane writes: the status, header lines of the route's own
// ("\r\nname: value" each, written after the policy's), the body, and its
// Content-Type (null: none, as for a redirect).
export interface PeekAnswer { readonly status: number, readonly lines: string, readonly body: string | Buffer, readonly type: string | null }

// A peek's verdict: an answer now; an answer later (a promise, e.g. an L2
// read), where null hands the request to the route's handler after all; or
// null now, for the route's handler.
export type Peeked = PeekAnswer | Promise<PeekAnswer | null> | null

export interface JsonInput {
  req: Request
  res: Response
  ctx: RequestContext
  params: Readonly<Record<string, string>>
  query: Readonly<Record<string, unknown>>
}

export interface JsonRouteSpec<T> {
  method: Method
  path: string
  doc: Omit<RouteDoc, 'responses'> & { responses?: RouteDoc['responses'], description?: string }
  serialize: Serializer<T>
  limit?: LimitClass
  admin?: boolean
  caller?: boolean
  status?: (value: T) => number
  headers?: (value: T) => Record<string, string>
  // Reuse the serialized body for this long: for system endpoints whose data
  // is a periodically refreshed snapshot anyway.
  cacheMs?: number
  // the cached body is dropped at once when this value changes (e.g. the cluster state)
  cacheTag?: () => unknown
  handle?: (input: JsonInput) => T | Promise<T>
  // an input-free, synchronous producer (a snapshot): the route can take the fast lane
  snapshot?: () => T
}

export const JSON_TYPE = 'application/json; charset=utf-8'

// HEAD gets the same status and headers with an explicit length and no body
// (uWS would otherwise send the body, which corrupts a keep-alive connection).
export function sendRaw (req: Request, res: Response, ctx: RequestContext, type: string, body: string | Buffer): void {
  res.header('content-type', type).header('x-process-time', processTime(ctx))
  if (req.method === 'HEAD') res.header('content-length', String(Buffer.byteLength(body))).send()
  else res.send(body)
}

export function sendJson (req: Request, res: Response, ctx: RequestContext, status: number, body: string | Buffer): void {
  sendRaw(req, res.status(status), ctx, JSON_TYPE, body)
}

export function jsonRoute<T> (spec: JsonRouteSpec<T>): Route {
  const status = spec.status
  const headers = spec.headers
  const cacheMs = spec.cacheMs ?? 0
  const snapshot = spec.snapshot
  const produce = spec.handle ?? (snapshot === undefined ? undefined : () => snapshot())
  if (produce === undefined) throw new TypeError(`${spec.path}: a JSON route needs handle or snapshot`)
  const tag = spec.cacheTag ?? (() => null)
  let cached: { body: string, status: number, until: number, tag: unknown } | null = null
  const serialize = (value: T): { status: number, body: string } => {
    const out = { status: status === undefined ? 200 : status(value), body: spec.serialize(value) }
    if (cacheMs > 0) cached = { ...out, until: performance.now() + cacheMs, tag: tag() }
    return out
  }
  const fresh = (): { status: number, body: string } | null =>
    cacheMs > 0 && cached !== null && performance.now() < cached.until && cached.tag === tag() ? cached : null
  const route: Route = {
    method: spec.method,
    path: spec.path,
    limit: spec.limit ?? 'default',
    admin: spec.admin ?? false,
    ...(spec.caller === true ? { caller: true } : {}),
    doc: {
      ...spec.doc,
      responses: { 200: { description: spec.doc.description ?? spec.doc.summary, schema: spec.serialize.schema }, ...spec.doc.responses }
    },
    handle (req, res, ctx) {
      const send = (value: T): void => {
        if (res.completed) return
        const out = serialize(value)
        ctx.status = out.status
        if (headers !== undefined) for (const [k, v] of Object.entries(headers(value))) res.header(k, v)
        sendJson(req, res, ctx, out.status, out.body)
      }
      const hit = fresh()
      if (hit !== null) {
        ctx.status = hit.status
        sendJson(req, res, ctx, hit.status, hit.body)
        return undefined
      }
      const input: JsonInput = {
        req,
        res,
        ctx,
        params: req.path_parameters ?? {},
        get query () { return req.query_parameters }
      }
      // Synchronous handlers (the hot system endpoints) skip the promise machinery.
      const value = produce(input)
      if (value instanceof Promise) return value.then(send)
      send(value)
      return undefined
    }
  }
  if (snapshot === undefined || headers !== undefined) return route
  return { ...route, fast: () => fresh() ?? serialize(snapshot()) }
}
