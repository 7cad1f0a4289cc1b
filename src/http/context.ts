// One request's state as the HTTP layer keeps it (id, timing, client, status for
// metrics, the abort controller), and the helpers that read it. Only src/http/
// uses these: services below it get plain values (an AbortSignal, a writer).
import type { Response } from 'hyper-express'
import type { Requester } from '../extract/fair-queue.ts'

export interface RequestContext {
  readonly id: string
  readonly startMs: number
  readonly ip: string
  readonly peer: string
  readonly method: string
  readonly route: string
  readonly observe: (status: number, seconds: number) => void
  status: number
  scopes: readonly string[]
  keyId: string | null
  // an admin caller (access.ts decides); worked out only on admin routes and routes with `caller`
  admin: boolean
  controller: AbortController | null
  // who the request counts against: key:<id> with an API key, else ip:<address>
  client: string
  // this host itself (a loopback peer, no trusted proxy, relaying nobody: ffmpeg
  // reading our links), exempt from the per-client stream and extraction caps;
  // read on routes that extract or stream
  local: boolean
  // counts `units` more requests against the route's rate limit (a batch's further
  // items); rejects with 429 RATE_LIMITED when the first of them is past the limit.
  // Call it as ctx.charge(n): it reads the context it is called on.
  charge (units: number): Promise<void>
}

// The client an extraction is done for: its turn in the queue, and its cap.
export function requester (ctx: RequestContext): Requester {
  return { id: ctx.client, capped: !ctx.local }
}

// Aborted when the client goes away: handed to extractions and upstream fetches.
export function requestSignal (ctx: RequestContext, res: Response): AbortSignal {
  if (ctx.controller === null) {
    const c = new AbortController()
    ctx.controller = c
    if (res.aborted || res.completed) c.abort()
    else res.once('abort', () => c.abort())
  }
  return ctx.controller.signal
}

export function processTime (ctx: RequestContext): string {
  return secondsText(performance.now() - ctx.startMs)
}

// Milliseconds as seconds with 6 decimals ("0.000125"), for X-Process-Time.
// Sub-second values (all but a few) are built from an integer: toFixed goes
// through printf and costs as much as the rest of a fast-lane response.
export function secondsText (ms: number): string {
  const us = Math.round(ms * 1000)
  if (us >= 0 && us < 1e6) return `0.${String(us + 1e6).slice(1)}`
  return (ms / 1000).toFixed(6)
}
