// What the byte proxy and the media services need of one request and its
// response, as plain values and calls. src/http/ fills it from its own request
// and response objects (http/hyper-exchange.ts); nothing here knows the server.

export interface BodySink {
  // Sends the status and every header set so far; length null → chunked.
  start: (status: number, length: number | null) => void
  // Status and headers only (HEAD); length null → no Content-Length.
  headOnly: (status: number, length: number | null) => void
  // false: back off until drained. A sized body's chunk may still be held by
  // the sink then (the part the socket did not take): it must stay unchanged
  // until drained.
  write: (chunk: Buffer) => boolean
  drained: () => Promise<void>
  // the same as a callback: called once, when the client took what was held or left
  whenDrained: (cb: () => void) => void
  // Ends a chunked body; a sized body that is still short is cut off instead.
  end: () => void
  close: () => void
  readonly gone: () => boolean
  readonly finished: () => boolean
}

export interface MediaExchange {
  // the request: HEAD (status and headers only), its Range and If-Range headers
  readonly head: boolean
  readonly range: string | undefined
  readonly ifRange: string | null
  // aborted when the client goes away
  readonly signal: AbortSignal
  // a response header, sent with the status line
  header: (name: string, value: string) => void
  // a whole response: the status, the headers set so far and X-Process-Time,
  // then the body (HEAD: its Content-Length and no body)
  send: (status: number, body?: string) => void
  // a streamed response (X-Process-Time is set now): the status and headers
  // go out with the sink's start() or headOnly()
  sink: () => BodySink
}
