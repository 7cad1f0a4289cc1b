// One request's state as the HTTP layer keeps it (id, timing, client, status for
// metrics, the abort controller), and the helpers that read it. Only src/http/
// uses these: services below it get plain values (an AbortSignal, a writer).
import type { Response } from 'hyper-express'

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
