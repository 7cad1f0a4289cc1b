// The hyper-express side of a MediaExchange (proxy/exchange.ts): the media
// services read the request and write the response through it.
import type { Request, Response } from 'hyper-express'
import type { BodySink, MediaExchange } from '../proxy/exchange.ts'
import { processTime, requestSignal } from './context.ts'
import type { RequestContext } from './context.ts'
import { createSink } from './sink.ts'

export function mediaExchange (req: Request, res: Response, ctx: RequestContext): MediaExchange {
  const head = req.method === 'HEAD'
  return {
    head,
    get range () { return req.headers.range },
    get ifRange () { return req.headers['if-range'] ?? null },
    // created on first use: a redirect or a playlist never needs one
    get signal () { return requestSignal(ctx, res) },
    header (name, value) { res.header(name, value) },
    send (status, body) {
      res.status(status).header('x-process-time', processTime(ctx))
      if (body === undefined) res.send()
      else if (head) res.header('content-length', String(Buffer.byteLength(body))).send()
      else res.send(body)
    },
    sink (): BodySink {
      res.header('x-process-time', processTime(ctx))
      const sink = createSink(res, requestSignal(ctx, res))
      // the status metrics and logs report if the client leaves before the response starts
      return {
        ...sink,
        start (status, length) { ctx.status = status; sink.start(status, length) },
        headOnly (status, length) { ctx.status = status; sink.headOnly(status, length) }
      }
    }
  }
}
